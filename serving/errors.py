"""Domain errors of the serving layer; only routes and the CLI turn them into HTTP codes or exits."""

from __future__ import annotations


class ServingError(Exception):
    """Base class of the serving layer's domain errors."""


class StateNotReady(ServingError):
    """No scored snapshot has been loaded yet (or every load so far has failed)."""


class StateLoadError(ServingError):
    """The champion model or the feature snapshot could not be loaded or scored."""


class UnknownJurisdiction(ServingError):
    """A county, township or village name that the snapshot does not contain."""


class AmbiguousJurisdiction(ServingError):
    """A bare name (or path tail) that several places share; ``candidates`` are their paths."""

    def __init__(self, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


class UnknownHousehold(ServingError):
    """A household id that the snapshot does not contain (or that the caller may not see)."""


class ScoringInputError(ServingError):
    """Feature rows submitted for scoring do not match what the model expects."""


class AuthError(ServingError):
    """A missing, malformed, unknown or revoked bearer token."""


class ForbiddenError(ServingError):
    """A valid token asking for something outside its role or jurisdiction."""


class TokenStoreError(ServingError):
    """The tokens file cannot be read, parsed or updated."""
