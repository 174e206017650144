"""The `client360` command line (entry point: cli.main:main)."""
