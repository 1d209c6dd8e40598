"""Revisit: risk prioritisation of household revisits for community policing."""

__version__ = "0.1.0"
