"""MLflow pyfunc wrapper of :class:`models.risk_model.EscalationModel`.

MLflow's LightGBM flavour rejects pandas ``category`` inputs and knows nothing
of calibration or reasons, so the registered model is this ``PythonModel``:
``mlflow.pyfunc.load_model("models:/household-escalation@champion")`` returns
calibrated probabilities (and reasons on request) for a feature frame, and
``load_model(uri).unwrap_python_model().model`` gives back the
``EscalationModel`` itself (what ``serving/`` uses).

The signature declares every numeric feature as ``double`` (so nullable counts
with missing values are accepted) and every category feature as ``any``, plus a
params schema ``reasons: boolean = False``. Why ``any`` and not ``string``:
MLflow 3.17's schema enforcement refuses a pandas ``category`` column for a
``string`` column spec ("Can not safely convert category to <U0"), and the
feature frame of ``features/`` carries ``context_all_household_type`` as a
``category``; with ``any`` MLflow passes str/category/object values through and
the model maps them onto its training categories (unseen -> missing). Loading needs the ``models``
and ``features`` packages importable (the ``revisit`` distribution installed);
the logged ``pip_requirements`` pin the library versions used for training.

Serialisation: the wrapper is logged as a Python object, so MLflow pickles it
with cloudpickle (and warns that unpickling runs code). It is for analysts
only: :func:`log_model` also logs the model as data (:mod:`models.bundle`,
LightGBM's text model + JSON), and serving loads only that, after checking the
promotion signature (:mod:`models.signing`); it never unpickles.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, DataType, ParamSchema, ParamSpec, Schema
from mlflow.types.schema import AnyType

from models.errors import FeatureFrameError
from models.risk_model import EscalationModel

logger = logging.getLogger(__name__)

#: Libraries the loaded model needs, pinned to the installed versions at logging time.
_REQUIREMENTS = ("mlflow", "lightgbm", "pandas", "numpy", "scikit-learn", "pyarrow")


class EscalationPyfunc(PythonModel):
    """``PythonModel`` returning calibrated escalation probabilities and reasons.

    Parameters
    ----------
    model : EscalationModel
        A fitted model.
    """

    def __init__(self, model: EscalationModel) -> None:
        self.model = model

    # ``pd.DataFrame`` is a hint MLflow 3 infers no schema from (and so adds no
    # type-hint validation); the explicit signature of ``log_model`` applies.
    def predict(  # type: ignore[override]
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Score a feature frame.

        Parameters
        ----------
        context : mlflow.pyfunc.PythonModelContext or None
            Unused.
        model_input : DataFrame of shape (n_households, n_columns)
            Feature columns of ``model.feature_names_`` (any order; NaN allowed;
            category features as ``str``/``category``/``object``).
        params : dict, optional
            ``{"reasons": True}`` adds the ``reasons`` column (top 3 by default;
            ``"top_k"`` may set it).

        Returns
        -------
        DataFrame of shape (n_households, 1 or 2)
            ``score`` (float64, calibrated probability of escalation within H
            days) and, on request, ``reasons``: a JSON string per row, a list of
            ``{"code", "text_en", "text_zh", "contribution"}`` (contribution in
            log-odds units), largest first.

        Raises
        ------
        FeatureFrameError
            The input is not a DataFrame or lacks a feature column.
        """
        if not isinstance(model_input, pd.DataFrame):
            raise FeatureFrameError(
                f"model_input: expected a pandas DataFrame, got {type(model_input).__name__}"
            )
        params = params or {}
        scores = self.model.predict_proba(model_input)[:, 1].astype(np.float64)
        out = pd.DataFrame({"score": scores}, index=model_input.index)
        if bool(params.get("reasons", False)):
            top_k = int(params.get("top_k", 3))
            explained = self.model.explain(model_input, top_k=top_k)
            out["reasons"] = [
                json.dumps(
                    [
                        {
                            "code": r.code,
                            "text_en": r.text_en,
                            "text_zh": r.text_zh,
                            "contribution": round(r.contribution, 6),
                        }
                        for r in row
                    ],
                    ensure_ascii=False,
                )
                for row in explained
            ]
        return out


def signature_for(model: EscalationModel) -> ModelSignature:
    """MLflow signature of a fitted model.

    Parameters
    ----------
    model : EscalationModel
        Fitted model.

    Returns
    -------
    ModelSignature
        Inputs: each feature, ``double`` for numeric features (nullable
        counts: send them as float64 with NaN; MLflow refuses int64 and
        ``Int64`` columns for ``double``), ``any`` for category features. Outputs: ``score`` (double)
        and optional ``reasons`` (string, JSON). Params: ``reasons`` (boolean,
        default False) and ``top_k`` (long, default 3).
    """
    inputs = Schema(
        [
            ColSpec(AnyType() if name in model.categories_ else DataType.double, name)
            for name in model.feature_names_
        ]
    )
    outputs = Schema(
        [ColSpec(DataType.double, "score"), ColSpec(DataType.string, "reasons", required=False)]
    )
    params = ParamSchema(
        [ParamSpec("reasons", DataType.boolean, False), ParamSpec("top_k", DataType.long, 3)]
    )
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


def to_signature_frame(model: EscalationModel, frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of the feature columns of ``frame`` in the signature's types.

    Numeric features become float64 (missing = NaN), category features
    ``object`` columns of ``str`` (missing = None). Used for the input example;
    callers may use it to send JSON-safe frames to a served model.

    Parameters
    ----------
    model : EscalationModel
        Fitted model.
    frame : DataFrame of shape (n, n_columns)
        Contains every feature column. Not modified.

    Returns
    -------
    DataFrame of shape (n, n_features)
    """
    model._check_fitted()
    missing = [n for n in model.feature_names_ if n not in frame.columns]
    if missing:
        raise FeatureFrameError(f"frame: missing feature column(s) {missing!r}")
    data: dict[str, Any] = {}
    for name in model.feature_names_:
        column = frame[name]
        if name in model.categories_:
            data[name] = pd.Series(
                [None if pd.isna(v) else str(v) for v in column.astype(object)],
                dtype=object,
                index=frame.index,
            )
        else:
            data[name] = pd.to_numeric(column.astype(object), errors="coerce").astype("float64")
    return pd.DataFrame(data, index=frame.index)


def _pip_requirements() -> list[str]:
    pins = []
    for dist in _REQUIREMENTS:
        try:
            pins.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pins.append(dist)
    return pins


def log_model(
    model: EscalationModel,
    *,
    name: str,
    input_example: pd.DataFrame,
    registered_model_name: str | None = None,
) -> ModelInfo:
    """Log a fitted model as an MLflow pyfunc model in the active run.

    Parameters
    ----------
    model : EscalationModel
        Fitted model.
    name : str
        Name of the logged model (``mlflow.pyfunc.log_model(name=...)``).
    input_example : DataFrame of shape (n, n_columns)
        A few feature rows (no personal data: feature frames hold none); cut
        to at most 5 rows and converted to the signature's types.
    registered_model_name : str, optional
        When given, also registers a new version of this registered model
        (e.g. ``"household-escalation"``); aliases are set by ``training/``.

    Returns
    -------
    mlflow.models.model.ModelInfo
        ``model_uri`` loads with ``mlflow.pyfunc.load_model``.

    Raises
    ------
    ModelNotFittedError
        When ``model`` is not fitted.
    FeatureFrameError
        When ``input_example`` lacks a feature column.
    """
    model._check_fitted()
    example = to_signature_frame(model, input_example.head(5))
    log_serving_bundle(model)
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=EscalationPyfunc(model),
        signature=signature_for(model),
        input_example=example,
        registered_model_name=registered_model_name,
        pip_requirements=_pip_requirements(),
    )


def log_serving_bundle(model: EscalationModel) -> dict[str, str]:
    """Log the model as data (LightGBM text + JSON, :mod:`models.bundle`) in the active run.

    The files go to the run's ``serving_bundle/`` artifacts; serving loads them
    (after checking the promotion signature) and never this module's pickle.

    Returns
    -------
    dict of str to str
        SHA-256 of each bundle file.
    """
    import tempfile

    from models.bundle import BUNDLE_ARTIFACT_PATH, save_bundle

    with tempfile.TemporaryDirectory(prefix="revisit-bundle-") as tmp:
        hashes = save_bundle(model, Path(tmp))
        mlflow.log_artifacts(tmp, artifact_path=BUNDLE_ARTIFACT_PATH)
    return hashes


@contextlib.contextmanager
def mlflow_uris(uri: str) -> Iterator[None]:
    """Point mlflow's global tracking and registry URIs at ``uri`` for a block, then restore
    them and the environment variables that ``mlflow.set_*_uri`` also sets.

    Shared by training (logging a run) and serving (loading the champion), so that
    neither leaves a process-wide tracking URI behind it.

    Parameters
    ----------
    uri : str
        Tracking (and registry) URI, e.g. ``sqlite:////abs/home/mlflow.db``.
    """
    from mlflow.tracking._tracking_service.utils import is_tracking_uri_set

    env_keys = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved_env = {k: os.environ.get(k) for k in env_keys}
    # What was *set* (None when unset), not what mlflow would resolve by default: restoring a
    # resolved default would pin it for the rest of the process.
    saved_tracking = mlflow.get_tracking_uri() if is_tracking_uri_set() else None
    saved_registry = saved_env["MLFLOW_REGISTRY_URI"]
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved_tracking)  # type: ignore[arg-type]  # None unsets it
        mlflow.set_registry_uri(saved_registry)  # type: ignore[arg-type]
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
