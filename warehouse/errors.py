"""Errors of ingestion (turned into exit codes by the CLI only)."""

from __future__ import annotations


class IngestError(Exception):
    """Base class of ingestion errors (turned into exit codes by the CLI only)."""


class FileRejectedError(IngestError):
    """A whole export cannot be ingested (unreadable, unknown table, missing column)."""


class NoInputFilesError(IngestError):
    """The given paths hold no supported export (.xlsx, .csv, .parquet) at all."""
