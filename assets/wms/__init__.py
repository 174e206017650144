"""WMS: per-client stock snapshots, orders, receipts and reservations."""
