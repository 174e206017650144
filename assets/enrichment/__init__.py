"""LLM enrichment of what was said: per-interaction signals (and, later, the client profile)."""
