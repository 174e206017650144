"""Fake Bitrix24 REST: the project's simulator (devkit/bitrix_sim.py), which logs every request."""

from devkit.bitrix_sim import BitrixSimulator as FakeBitrix24
from devkit.bitrix_sim import matches, php_query

__all__ = ["FakeBitrix24", "matches", "php_query"]
