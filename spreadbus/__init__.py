"""Spread 4 compatible group bus: daemon, pure-Python client and libspread shim."""
