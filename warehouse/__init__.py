"""Storage access shared by the pipeline and the app: settings, DuckDB, app DB."""
