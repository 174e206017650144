"""Storage access shared by the pipeline and the app: DuckDB, the app DB and what it keeps (staff, notes, the chat log,
the ledgers of what went out), aliases, the search index."""
