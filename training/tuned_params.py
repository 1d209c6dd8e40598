"""Hyper-parameters chosen by a search, handed to a run: ``revisit train --params FILE.json``.

``python -m benchmarks.tune`` searches LightGBM's hyper-parameters on a
simulated tuning world (its own seed, never a world the model is reported
on) and writes the best ones as JSON::

    {"lightgbm": {"learning_rate": 0.05, "num_leaves": 15, ...},
     "objective": "validation precision@1% ...", "value": 0.12, "world": {...}}

:func:`apply_params` overrides the run's ``lightgbm`` section with the file's
``lightgbm`` table (or with the whole object when it has none), checked by
:class:`training.config.LightGBMConfig`, and records where they came from in
``TrainConfig.params_source`` (the file's name and SHA-256), which the run
logs as the param ``params_source``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from training.config import ConfigError, LightGBMConfig, TrainConfig

#: Key of the parameters in a tuning result file.
LIGHTGBM_KEY = "lightgbm"


def read_params(path: Path) -> tuple[dict[str, Any], str]:
    """The LightGBM parameters of a JSON file and its SHA-256.

    Parameters
    ----------
    path : Path
        JSON object: a tuning result (parameters under ``"lightgbm"``) or the
        parameters themselves (keys of :class:`training.config.LightGBMConfig`).

    Returns
    -------
    params : dict of str to Any
        The parameters, not yet validated.
    sha256 : str
        Hex SHA-256 of the file's bytes.

    Raises
    ------
    ConfigError
        The file is missing, is not JSON, or holds no object of parameters.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"expected a parameters file (JSON), got {str(path)!r}: {err}") from err
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"could not parse the parameters file {path.name!r}: {err}") from err
    params = data.get(LIGHTGBM_KEY, data) if isinstance(data, dict) else data
    if not isinstance(params, dict) or not params:
        raise ConfigError(
            f"expected a JSON object of LightGBM parameters in {path.name!r} (or one under "
            f"{LIGHTGBM_KEY!r}), got {type(params).__name__}"
        )
    return params, hashlib.sha256(raw).hexdigest()


def apply_params(config: TrainConfig, path: Path) -> TrainConfig:
    """``config`` with its LightGBM parameters overridden by a parameters file.

    Parameters
    ----------
    config : TrainConfig
        The run's configuration (from ``--config`` or the defaults).
    path : Path
        A file read by :func:`read_params`.

    Returns
    -------
    TrainConfig
        A copy whose ``lightgbm`` holds the file's values over the previous
        ones, and ``params_source`` ``"<file name> sha256:<hex>"``.

    Raises
    ------
    ConfigError
        The file cannot be read, or names an unknown parameter or an
        out-of-range value.
    """
    params, digest = read_params(path)
    try:
        lightgbm = LightGBMConfig.model_validate({**config.lightgbm.model_dump(), **params})
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e['input']!r})"
            for e in err.errors(include_url=False)
        )
        raise ConfigError(
            f"invalid LightGBM parameters in {Path(path).name!r}: {problems}"
        ) from err
    return config.model_copy(
        update={"lightgbm": lightgbm, "params_source": f"{Path(path).name} sha256:{digest}"}
    )
