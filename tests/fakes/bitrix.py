"""Fake Bitrix24 REST: the project's simulator (orchestration/bitrix_sim.py), which logs every request."""

from orchestration.bitrix_sim import BitrixSimulator as FakeBitrix24
from orchestration.bitrix_sim import matches, php_query

__all__ = ["FakeBitrix24", "matches", "php_query"]
