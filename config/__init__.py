"""App-wide configuration: settings, the data folder's file modes, the provider factory (which client each setting
selects)."""
