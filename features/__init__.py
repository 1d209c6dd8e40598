"""Ingestion of field exports, the canonical warehouse, and point-in-time features."""
