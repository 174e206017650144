"""Dagster assets, one subpackage per source."""
