"""Domain errors of the simulator (the CLI turns them into exit codes)."""

from __future__ import annotations


class SimulationError(Exception):
    """Base class of every error the simulator raises on purpose."""


class SimulationConfigError(SimulationError, ValueError):
    """A simulation parameter is out of range (households, window, rates, format)."""
