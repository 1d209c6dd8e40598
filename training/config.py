"""Typed configuration of a training run (``revisit train --config FILE``).

A :class:`TrainConfig` holds every choice a training run makes: the label
horizon, the escalation set, the as-of window, the split scheme, the LightGBM
parameters, the seed, the number of bootstrap resamples and the revisit
capacities at which ranked lists are judged. Defaults follow DESIGN.md
("Labels", "As-of dates"); a TOML, JSON or YAML file may override any of them.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from warehouse.contract import DEFAULT_ESCALATION_CATEGORIES, DEFAULT_HORIZON_DAYS


class ConfigError(ValueError):
    """A training configuration file is missing, unreadable or invalid."""


class SplitConfig(BaseModel):
    """Rolling-origin out-of-time split scheme over weekly as-of dates.

    Parameters
    ----------
    n_folds : int
        Number of evaluation origins (folds), oldest first.
    test_weeks : int
        Number of weekly as-of dates in each fold's test block.
    val_weeks : int
        Number of weekly as-of dates in each fold's validation block (early
        stopping and calibration of the LightGBM model).
    min_train_weeks : int
        Fewest weekly as-of dates a fold's training block may have.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_folds: int = Field(default=3, ge=1, le=20)
    test_weeks: int = Field(default=4, ge=1)
    val_weeks: int = Field(default=4, ge=1)
    min_train_weeks: int = Field(default=4, ge=1)


class LightGBMConfig(BaseModel):
    """Parameters handed to ``models.risk_model.EscalationModel``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_estimators: int = Field(default=2000, ge=1)
    # Defaults chosen on the 20 000-household demo prefecture by validation AP/AUC on
    # weeks before every test block of the run (num_leaves 15, min_child_samples 1000,
    # learning rate 0.03: validation AP 0.099 vs 0.070 for 31/50/0.05): escalations are
    # rare (~0.5 % of household-weeks), so small, well-populated leaves generalise better.
    learning_rate: float = Field(default=0.03, gt=0, le=1)
    num_leaves: int = Field(default=15, ge=2)
    min_child_samples: int = Field(default=1000, ge=1)
    early_stopping_rounds: int = Field(default=100, ge=1)
    calibration: str = Field(default="auto", pattern="^(auto|isotonic|sigmoid|none)$")
    n_jobs: int = Field(default=2, ge=1)


class TrainConfig(BaseModel):
    """Every choice of one training run.

    Parameters
    ----------
    horizon_days : int
        Label horizon H in days: the label of (household, t) is 1 iff an
        escalation incident is reported in ``[t, t + H)`` (DESIGN.md "Labels").
    escalation_categories : tuple of str
        Incident categories (English codes) that count as escalation.
    as_of_start, as_of_end : str or None
        ISO dates bounding the weekly Monday as-of dates (Asia/Shanghai local
        midnight). ``None``: from the first Monday after the warehouse's
        earliest record plus ``warmup_days``, to the last Monday whose horizon
        is fully observed.
    warmup_days : int
        Days of history required before the first as-of date (days).
    splits : SplitConfig
        Rolling-origin out-of-time split scheme.
    lightgbm : LightGBMConfig
        Parameters of the LightGBM risk model.
    seed : int
        The one seed of the run (model, baselines, bootstrap, SHAP sample).
    n_bootstrap : int
        Bootstrap resamples for the 95 % intervals of the metrics.
    capacity_shares : tuple of float
        Revisit capacities as shares of households per as-of date (0.01 = 1 %).
    capacity_per_township : int
        Revisit capacity as the top-k households per township per as-of date.
    headline_share : float
        The capacity share whose precision@k decides promotion (default 5 %).
    shap_sample : int
        Rows sampled from the test block for the contribution summary.
    max_logistic_rows : int
        Rows the logistic-regression baseline is fitted on at most (a seeded
        sample of the training block; its fit is quadratic-ish in practice).
    negative_share : float
        Case-control sampling of the training frame (``training.frame``): every
        positive household-week and this seeded share of the negatives, each
        weighing ``1 / share``; test weeks are scored in full. 1 keeps every
        row. The default comes from the measurement in README "Scale".
    max_negative_rows : int
        At most about this many negative household-weeks in the sample: on a
        large warehouse the share is lowered to ``max_negative_rows / (households
        x labelled weeks)`` (1 000 000 households: about 0.023), so that fitting
        costs what it costs at 200 000 households. The share used is recorded as
        the run's ``negative_share``. An explicit ``revisit train
        --negative-share`` is used as given.
    max_bootstrap_rows : int
        Test rows times resamples the bootstraps may cost: with more test rows
        than ``max_bootstrap_rows / n_bootstrap`` the run draws
        ``max(50, max_bootstrap_rows // rows)`` resamples instead (1 000 000
        households, 12 M test rows: 50), recorded as the run's
        ``n_bootstrap``; 200 000 households keep 200.
    exclude_suspect_visits : bool
        Build each as-of date's features without the visits the officer review
        finds suspect at that date (``features.visit_review``): missing evidence,
        not evidence of calm. Recorded as a run param; the serving snapshot does
        what the champion's run did. ``false`` keeps every approved visit.
    params_source : str or None
        Where the LightGBM parameters came from when a search chose them
        (``revisit train --params FILE``: the file's name and SHA-256;
        :mod:`training.tuned_params`), logged with the run's params.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon_days: int = Field(default=DEFAULT_HORIZON_DAYS, ge=1, le=365)
    escalation_categories: tuple[str, ...] = DEFAULT_ESCALATION_CATEGORIES
    as_of_start: str | None = None
    as_of_end: str | None = None
    warmup_days: int = Field(default=90, ge=0)
    splits: SplitConfig = SplitConfig()
    lightgbm: LightGBMConfig = LightGBMConfig()
    seed: int = 0
    n_bootstrap: int = Field(default=200, ge=0)
    capacity_shares: tuple[float, ...] = (0.01, 0.05)
    capacity_per_township: int = Field(default=20, ge=1)
    headline_share: float = 0.05
    shap_sample: int = Field(default=2000, ge=10)
    max_logistic_rows: int = Field(default=200_000, ge=100)
    negative_share: float = Field(default=0.1, gt=0, le=1)
    max_negative_rows: int = Field(default=2_000_000, ge=1000)
    max_bootstrap_rows: int = Field(default=600_000_000, ge=1)
    exclude_suspect_visits: bool = True
    params_source: str | None = None

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if not self.escalation_categories:
            raise ValueError("escalation_categories must name at least one incident category")
        if any(not 0 < s < 1 for s in self.capacity_shares):
            raise ValueError(f"capacity_shares must lie in (0, 1), got {self.capacity_shares!r}")
        if self.headline_share not in self.capacity_shares:
            raise ValueError(
                f"headline_share {self.headline_share!r} must be one of capacity_shares "
                f"{self.capacity_shares!r}"
            )
        return self

    def flat_params(self) -> dict[str, str]:
        """Flatten the configuration to MLflow params (``splits.n_folds`` → ``"3"``).

        Returns
        -------
        dict of str to str
            Dotted parameter names and their string values (MLflow params are strings).
        """
        out: dict[str, str] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for key, sub in value.items():
                    walk(f"{prefix}.{key}" if prefix else str(key), sub)
            elif isinstance(value, list | tuple):
                out[prefix] = ",".join(str(v) for v in value)
            else:
                out[prefix] = str(value)

        walk("", self.model_dump())
        return out


def load_config(path: Path | None) -> TrainConfig:
    """Read a :class:`TrainConfig` from a TOML, JSON or YAML file.

    Parameters
    ----------
    path : Path or None
        ``.toml``, ``.json``, ``.yaml``/``.yml`` file; keys are the fields of
        :class:`TrainConfig` (nested tables ``[splits]`` and ``[lightgbm]``).
        ``None`` gives the defaults.

    Returns
    -------
    TrainConfig

    Raises
    ------
    ConfigError
        The file does not exist, cannot be parsed, has an unknown suffix or
        holds an unknown key or an out-of-range value.
    """
    if path is None:
        return TrainConfig()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"expected a configuration file, got {str(path)!r} which does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        elif suffix in (".yaml", ".yml"):
            import yaml  # installed with mlflow

            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        else:
            raise ConfigError(
                f"expected a .toml, .json or .yaml configuration file, got {path.name!r}"
            )
    except ConfigError:
        raise
    except Exception as err:
        raise ConfigError(f"could not parse the configuration file {path.name!r}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a table of settings in {path.name!r}, got {type(data).__name__}"
        )
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or '(top level)'}: {e['msg']}"
            f" (got {e['input']!r})"
            for e in err.errors(include_url=False)
        )
        raise ConfigError(f"invalid training configuration in {path.name!r}: {problems}") from err
