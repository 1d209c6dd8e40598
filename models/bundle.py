"""The serving bundle: a fitted model as data that loading cannot turn into code.

The API must never unpickle (a registry entry would otherwise run code inside
it). So next to the MLflow pyfunc flavour (kept for analysts), training logs the
model as two plain files in the run's ``serving_bundle/`` artifact folder:

``booster.txt``
    LightGBM's own text model (``Booster.model_to_string``), truncated to the
    best iteration; it carries the pandas categories of the category features.
``bundle.json``
    Everything else as JSON data: the feature spec (names in training order,
    categories of each category feature), the best iteration, the calibration
    map as its fitted arrays, the hyper-parameters, and a format version.

:func:`load_bundle` rebuilds an :class:`~models.risk_model.EscalationModel`
from those files with ``lightgbm.Booster(model_str=...)`` and ``json.loads``:
no pickle, cloudpickle or joblib is involved. The calibration map is
serialised generically from what is fitted, not from how it was fitted
(sample weights or a capped top step change the arrays, not the format):

* isotonic: the step function's knots ``x`` (raw log-odds) and ``y``
  (probability), evaluated as ``numpy.interp`` with the inputs clipped to
  ``[x[0], x[-1]]`` (what ``IsotonicRegression(out_of_bounds="clip")`` does),
  blended with the booster's probability by ``ISOTONIC_TIE_BREAK``;
* sigmoid: Platt's ``coef`` and ``intercept``, ``p = expit(coef * s + intercept)``;
* none: the booster's own probability ``expit(s)``.

:func:`save_bundle` checks that the rebuilt map reproduces the fitted one on a
dense grid of raw scores and refuses to write a bundle that does not, so a
change of the calibrator that this format cannot express fails at training
time, not as silently different scores in serving.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from scipy.special import expit

from models.risk_model import ISOTONIC_TIE_BREAK, EscalationModel

#: Artifact folder of the bundle inside a training run.
BUNDLE_ARTIFACT_PATH = "serving_bundle"
BOOSTER_FILE = "booster.txt"
SPEC_FILE = "bundle.json"
#: Files of a bundle, in the order they are hashed and signed.
BUNDLE_FILES: tuple[str, str] = (BOOSTER_FILE, SPEC_FILE)
FORMAT_VERSION = 1
#: Largest difference (probability) allowed between the fitted and the rebuilt calibration map.
_CALIBRATION_TOLERANCE = 1e-12


class BundleError(ValueError):
    """A bundle cannot be written or read (missing file, bad JSON, unknown format)."""


class ArrayCalibrator:
    """Calibration map rebuilt from its fitted arrays (see the module docstring).

    Parameters
    ----------
    spec : dict
        ``{"kind": "isotonic", "x": [...], "y": [...]}``,
        ``{"kind": "sigmoid", "coef": a, "intercept": b}`` or ``{"kind": "none"}``, each with
        ``"tie_break": eps`` and ``"max_prob": cap`` (the highest validation probability).

    Raises
    ------
    BundleError
        When the kind is unknown or the arrays are malformed.
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        kind = spec.get("kind")
        if kind not in ("isotonic", "sigmoid", "none"):
            raise BundleError(f"calibration kind: expected isotonic, sigmoid or none, got {kind!r}")
        self.method = str(kind)
        self.spec = spec
        self._eps = float(spec.get("tie_break", ISOTONIC_TIE_BREAK))
        self._max_prob = float(spec.get("max_prob", 1.0))
        if not 0.0 <= self._max_prob <= 1.0:
            raise BundleError(
                f"calibration max_prob: expected a probability, got {self._max_prob!r}"
            )
        if kind == "isotonic":
            x = np.asarray(spec.get("x", []), dtype=np.float64)
            y = np.asarray(spec.get("y", []), dtype=np.float64)
            if x.ndim != 1 or x.shape != y.shape or len(x) < 1 or np.any(np.diff(x) < 0):
                raise BundleError(
                    f"isotonic calibration: expected sorted knots x and values y of one length, "
                    f"got {x.shape!r} and {y.shape!r}"
                )
            self._x, self._y = x, y
        elif kind == "sigmoid":
            self._coef = float(spec["coef"])
            self._intercept = float(spec["intercept"])

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probability, float64 of shape (n,), from raw log-odds of shape (n,).

        The map, capped at the highest probability validation saw (``max_prob``), blended
        with ``tie_break`` of the booster's own probability so that order is strict within a
        step (as :meth:`models.risk_model.ScoreCalibrator.predict` does).
        """
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "isotonic":
            mapped = np.interp(raw, self._x, self._y)
        elif self.method == "sigmoid":
            mapped = expit(self._coef * raw + self._intercept)
        else:
            mapped = expit(raw)
        prob = np.minimum(np.asarray(mapped, dtype=np.float64), self._max_prob)
        prob = (1.0 - self._eps) * prob + self._eps * expit(raw)
        return np.clip(np.asarray(prob, dtype=np.float64), 0.0, 1.0)

    def __repr__(self) -> str:
        return f"ArrayCalibrator(method={self.method!r})"


def calibration_spec(calibrator: Any) -> dict[str, Any]:
    """The fitted arrays of a calibrator as JSON-ready data.

    Reads the calibrator's plain fitted state (``x_``, ``y_`` isotonic knots;
    ``coef_``, ``intercept_`` sigmoid; ``max_prob_`` the served cap).

    Parameters
    ----------
    calibrator : models.risk_model.ScoreCalibrator or ArrayCalibrator
        Fitted calibrator.

    Returns
    -------
    dict
        See :class:`ArrayCalibrator`.

    Raises
    ------
    BundleError
        When the fitted map is of a kind this format cannot hold.
    """
    if isinstance(calibrator, ArrayCalibrator):
        return dict(calibrator.spec)
    method = getattr(calibrator, "method", None)
    common = {
        "tie_break": ISOTONIC_TIE_BREAK,
        "max_prob": float(getattr(calibrator, "max_prob_", 1.0)),
    }
    if method == "isotonic" and hasattr(calibrator, "x_") and hasattr(calibrator, "y_"):
        return {
            "kind": "isotonic",
            "x": [float(v) for v in np.asarray(calibrator.x_, dtype=np.float64)],
            "y": [float(v) for v in np.asarray(calibrator.y_, dtype=np.float64)],
            **common,
        }
    if method == "sigmoid" and hasattr(calibrator, "coef_"):
        return {
            "kind": "sigmoid",
            "coef": float(calibrator.coef_),
            "intercept": float(calibrator.intercept_),
            **common,
        }
    if method == "none":
        return {"kind": "none", **common}
    raise BundleError(
        f"calibration: expected a fitted isotonic, sigmoid or none calibrator, got "
        f"{type(calibrator).__name__!r} with method {method!r}"
    )


def _check_calibration(model: EscalationModel, rebuilt: ArrayCalibrator) -> None:
    """Refuse a calibration spec that does not reproduce the fitted map."""
    grid = np.concatenate([np.linspace(-20.0, 20.0, 4001), [-1e3, 1e3]])
    spec = rebuilt.spec
    if spec.get("kind") == "isotonic":
        grid = np.concatenate([grid, np.asarray(spec["x"], dtype=np.float64)])
    expected = np.asarray(model.calibrator_.predict(grid), dtype=np.float64)
    got = rebuilt.predict(grid)
    worst = float(np.max(np.abs(expected - got))) if len(grid) else 0.0
    if not worst <= _CALIBRATION_TOLERANCE:
        raise BundleError(
            f"the calibration map cannot be saved as data: the rebuilt map differs from the "
            f"fitted one by up to {worst!r} (expected at most {_CALIBRATION_TOLERANCE!r})"
        )


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_hashes(directory: Path) -> dict[str, str]:
    """SHA-256 of each bundle file under ``directory``, keyed by file name.

    Raises
    ------
    BundleError
        When a bundle file is missing.
    """
    directory = Path(directory)
    out: dict[str, str] = {}
    for name in BUNDLE_FILES:
        path = directory / name
        if not path.is_file():
            raise BundleError(
                f"expected the bundle file {name!r} in {str(directory)!r}, found none"
            )
        out[name] = file_sha256(path)
    return out


def save_bundle(model: EscalationModel, directory: Path) -> dict[str, str]:
    """Write a fitted model as ``booster.txt`` + ``bundle.json`` under ``directory``.

    Parameters
    ----------
    model : EscalationModel
        Fitted model.
    directory : Path
        Created if absent; the two files are overwritten.

    Returns
    -------
    dict of str to str
        SHA-256 of each written file (see :func:`bundle_hashes`).

    Raises
    ------
    models.errors.ModelNotFittedError
        When ``model`` is not fitted.
    BundleError
        When the calibration map cannot be expressed as data (see the module docstring).
    """
    model._check_fitted()
    cal = calibration_spec(model.calibrator_)
    _check_calibration(model, ArrayCalibrator(cal))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    best = int(model.best_iteration_)
    booster_text = model.booster_.model_to_string(num_iteration=best)
    (directory / BOOSTER_FILE).write_text(booster_text, encoding="utf-8")
    spec = {
        "format": "revisit-escalation-bundle",
        "format_version": FORMAT_VERSION,
        "feature_names": list(model.feature_names_),
        "categories": {k: list(v) for k, v in model.categories_.items()},
        "best_iteration": best,
        "calibration_method": str(getattr(model, "calibration_method_", cal["kind"])),
        "calibration": cal,
        "params": {k: _jsonable(v) for k, v in model.get_params(deep=False).items()},
    }
    (directory / SPEC_FILE).write_text(
        json.dumps(spec, ensure_ascii=False, indent=1, allow_nan=False), encoding="utf-8"
    )
    return bundle_hashes(directory)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def load_bundle(directory: Path) -> EscalationModel:
    """Rebuild the scorer from ``booster.txt`` + ``bundle.json`` (no pickle anywhere).

    Parameters
    ----------
    directory : Path
        Folder written by :func:`save_bundle` (or downloaded from a run).

    Returns
    -------
    EscalationModel
        Fitted: ``predict_proba`` and ``explain`` behave as the saved model's.

    Raises
    ------
    BundleError
        When a file is missing, the JSON is malformed or of another format,
        or LightGBM cannot read the text model.
    """
    directory = Path(directory)
    try:
        spec = json.loads((directory / SPEC_FILE).read_text(encoding="utf-8"))
        booster_text = (directory / BOOSTER_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"could not read the bundle in {str(directory)!r}: {err}") from err
    if not isinstance(spec, dict) or spec.get("format") != "revisit-escalation-bundle":
        raise BundleError(
            f"{SPEC_FILE}: expected format 'revisit-escalation-bundle', "
            f"got {spec.get('format') if isinstance(spec, dict) else type(spec).__name__!r}"
        )
    if spec.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{SPEC_FILE}: expected format_version {FORMAT_VERSION}, got {spec.get('format_version')!r}"
        )
    try:
        booster = lgb.Booster(model_str=booster_text)
        names = [str(n) for n in spec["feature_names"]]
        categories = {str(k): [str(v) for v in vals] for k, vals in spec["categories"].items()}
        best = int(spec["best_iteration"])
        calibrator = ArrayCalibrator(dict(spec["calibration"]))
    except (KeyError, TypeError, ValueError, lgb.basic.LightGBMError) as err:
        raise BundleError(f"could not rebuild the model from {str(directory)!r}: {err}") from err
    params = {
        k: v
        for k, v in dict(spec.get("params", {})).items()
        if k in EscalationModel().get_params(deep=False)
    }
    model = EscalationModel(**params)
    model.feature_names_ = names
    model.categories_ = categories
    model.n_features_in_ = len(names)
    model.classes_ = np.array([0, 1])
    model.unseen_counts_ = {}
    model.booster_ = booster
    model.best_iteration_ = best
    model.calibration_method_ = str(spec.get("calibration_method", calibrator.method))
    model.calibration_scores_ = {}
    model.calibrator_ = calibrator  # type: ignore[assignment]
    return model


__all__ = [
    "BUNDLE_ARTIFACT_PATH",
    "BUNDLE_FILES",
    "ArrayCalibrator",
    "BundleError",
    "bundle_hashes",
    "calibration_spec",
    "load_bundle",
    "save_bundle",
]
