"""Storage of every message's notifiers in SeisComP3's database layout."""
