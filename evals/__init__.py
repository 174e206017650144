"""Evaluations of the churn signals (WMS simulator) and of RAG (demo data): `client360 eval-churn`, `eval-rag`."""
