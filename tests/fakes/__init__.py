"""Local fake servers (HTTP on 127.0.0.1) that speak the real wire formats of external systems."""
