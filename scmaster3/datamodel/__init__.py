"""The SeisComP3 data model: one description of schema 0.11 and the object types built from it."""
