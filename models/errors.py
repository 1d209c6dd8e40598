"""Domain errors raised by the risk model.

Only the command line (``revisit/cli``) and the HTTP routes (``serving/``) turn
these into exit codes or HTTP errors; domain code raises them.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError


class ModelError(Exception):
    """Base class of the errors raised by :mod:`models`."""


class ModelNotFittedError(NotFittedError, ModelError):
    """``predict_proba``/``explain`` was called before ``fit``.

    Subclasses :class:`sklearn.exceptions.NotFittedError` (itself a
    ``ValueError`` and ``AttributeError``) so that scikit-learn tooling and
    ``except NotFittedError`` recognise it.
    """


class ForbiddenFeatureError(ValueError, ModelError):
    """A feature's name or content matches a protected or personal attribute.

    Raised by ``fit``; the message names the column and why it was refused,
    never the personal value itself.
    """


class FeatureFrameError(ValueError, ModelError):
    """The feature frame does not match what the model expects.

    For example a feature column is missing, a numeric feature holds text, or
    the labels are not binary.
    """
