"""The SeisComP3 mediator (scmaster), its messaging protocol and the SeisComP3 data model."""
