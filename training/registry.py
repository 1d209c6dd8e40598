"""Promotion of a registered model version to ``champion``, behind two evidence gates.

A version is promoted only when, on the test rows of its own training run
(DESIGN.md, "Promotion"; issue #13):

1. **It beats the strongest officer rule**: the lower bound of the 95 %
   household-clustered paired bootstrap interval of its lift over the strongest
   rule at the top 1 % (``test.lift_vs_rule.lightgbm.precision_at_1pct.ci_low``,
   written by :mod:`training.evidence`) is above 1.0; and
2. **It is not worse than the current champion** on the same latest test weeks:
   the lower bound of the paired difference in precision@1 % (challenger minus
   champion, ``vs_champion.diff_precision_at_1pct.ci_low``, written by
   :mod:`training.reviewers` when the run found a champion) is at least −0.005.
   A run that compared with another version than today's champion (or with
   none, while one exists) has no valid comparison: retrain, or override.

Every decision (promotion, refusal, override) is recorded on the version as
tags ``promotion.decision``, ``promotion.reason``, ``promotion.figures`` and
``promotion.at``. A reviewer may override a refusal with ``force=True`` and a
reason (small prefectures have too few events for a tight interval); the
override, its reason and the figures are also appended to the version's model
card (``model_card.md`` of its run). Reviewers may still set the alias by hand
in the MLflow UI; this is the checked path.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"
#: The capacity the gates judge: precision@k at the top 1 % of each as-of date.
GATE_METRIC = "precision_at_1pct"
#: Run metric keys written by :func:`training.train.run_training`.
MODEL_KEY = "test.lightgbm.{metric}"
HAND_RULE_KEY = "test.hand_rule.{metric}"
LIFT_KEY = "test.lift_vs_rule.lightgbm.{metric}"
STRONGEST_RULE_KEY = "test.strongest_rule.{metric}"
CHAMPION_DIFF_KEY = "vs_champion.diff_{metric}"
#: Run tag naming the champion version the run was compared with.
COMPARED_CHAMPION_TAG = "vs_champion.version"
#: Gate 1: the lift interval's lower bound must exceed this (ratio).
MIN_LIFT_LOW = 1.0
#: Gate 2: the paired difference's lower bound must be at least this (precision).
MIN_CHAMPION_DIFF_LOW = -0.005
#: Kept for callers of the former single-figure gate.
DEFAULT_METRIC = GATE_METRIC


class RegistryError(RuntimeError):
    """The registry lacks what a promotion needs (model, version, alias, metric)."""


class PromotionRefused(RegistryError):
    """The version fails a gate; the message names the figures and the gate."""

    def __init__(self, message: str, figures: dict[str, float] | None = None) -> None:
        super().__init__(message)
        self.figures = dict(figures or {})


@dataclass(frozen=True)
class PromotionResult:
    """Outcome of :func:`promote`.

    Attributes
    ----------
    model_name, version : str
        The promoted version.
    previous_champion : str or None
        Version that held ``champion`` before, if any.
    metric : str
        Capacity metric judged (``precision_at_1pct``).
    model_value, rule_value : float
        Test precision of the version and of the strongest officer rule (probabilities).
    strongest_rule : str
        Name of that rule (``prior-escalations``, ``open-disputes``, ``combined``).
    figures : dict of str to float
        Every figure the gates read (lift and its interval, champion difference...).
    forced : bool
        Promoted by a reviewer's override despite a failed gate.
    reason : str
        Why: the gates passed, or the reviewer's reason with the failed gate.
    run_id : str
        Training run of the version.
    """

    model_name: str
    version: str
    previous_champion: str | None
    metric: str
    model_value: float
    rule_value: float
    strongest_rule: str
    run_id: str
    figures: dict[str, float] = field(default_factory=dict)
    forced: bool = False
    reason: str = ""


def _alias_version(client: object, model_name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)  # type: ignore[attr-defined]
    except MlflowException:
        return None


def _fmt(value: float) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def gate_failures(
    figures: dict[str, float],
    *,
    champion: str | None,
    compared_champion: str | None,
    version: str,
    metric: str = GATE_METRIC,
) -> list[str]:
    """The gates a version fails, in plain words (empty: it may be promoted).

    Parameters
    ----------
    figures : dict of str to float
        The run's metrics (``LIFT_KEY`` and ``CHAMPION_DIFF_KEY`` with ``.ci_low``...).
    champion : str or None
        Today's champion version.
    compared_champion : str or None
        The champion version the run was compared with (run tag), if any.
    version : str
        The version judged.
    metric : str
        Capacity metric.

    Returns
    -------
    list of str
        One sentence per failed gate.
    """
    failures = []
    lift_low = figures.get(LIFT_KEY.format(metric=metric) + ".ci_low", math.nan)
    lift = figures.get(LIFT_KEY.format(metric=metric), math.nan)
    if not (math.isfinite(lift_low) and lift_low > MIN_LIFT_LOW):
        failures.append(
            f"the lift over the strongest officer rule at {metric} is {_fmt(lift)} with lower "
            f"bound {_fmt(lift_low)}; it must be above {MIN_LIFT_LOW:g}"
        )
    if champion is not None and champion != version:
        diff_key = CHAMPION_DIFF_KEY.format(metric=metric)
        diff, diff_low = (
            figures.get(diff_key, math.nan),
            figures.get(diff_key + ".ci_low", math.nan),
        )
        if compared_champion != champion:
            failures.append(
                f"the run compared with champion version {compared_champion or 'none'}, but the "
                f"champion is version {champion}: retrain to compare on the same latest weeks"
            )
        elif not (math.isfinite(diff_low) and diff_low >= MIN_CHAMPION_DIFF_LOW):
            failures.append(
                f"against champion version {champion} on the same latest weeks the difference in "
                f"{metric} is {_fmt(diff)} with lower bound {_fmt(diff_low)}; it must be at "
                f"least {MIN_CHAMPION_DIFF_LOW:g}"
            )
    return failures


def _figures_text(figures: dict[str, float], metric: str) -> str:
    keys = [
        MODEL_KEY.format(metric=metric),
        STRONGEST_RULE_KEY.format(metric=metric),
        LIFT_KEY.format(metric=metric),
        LIFT_KEY.format(metric=metric) + ".ci_low",
        LIFT_KEY.format(metric=metric) + ".ci_high",
        CHAMPION_DIFF_KEY.format(metric=metric),
        CHAMPION_DIFF_KEY.format(metric=metric) + ".ci_low",
        CHAMPION_DIFF_KEY.format(metric=metric) + ".ci_high",
    ]
    return "; ".join(f"{k}={_fmt(figures[k])}" for k in keys if k in figures)


def _record(
    client: Any,
    model_name: str,
    version: str,
    decision: str,
    reason: str,
    figures_text: str,
) -> None:
    """Write the decision, its reason and the figures on the version (tags; never raises)."""
    from mlflow.exceptions import MlflowException

    tags = {
        "promotion.decision": decision,
        "promotion.reason": reason[:4000],
        "promotion.figures": figures_text[:4000],
        "promotion.at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        for key, value in tags.items():
            client.set_model_version_tag(model_name, version, key, value)
    except MlflowException as err:  # the decision stands; say the record failed
        logger.warning("could not record the %s decision on version %s: %s", decision, version, err)


def _append_to_model_card(client: Any, run_id: str, text: str) -> None:
    """Append ``text`` to the run's ``model_card.md`` (created when absent; never raises)."""
    import tempfile
    from pathlib import Path

    from mlflow.exceptions import MlflowException

    card = ""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(run_id, "model_card.md", tmp)
            card = Path(path).read_text(encoding="utf-8")
    except (MlflowException, OSError):
        card = ""
    try:
        client.log_text(run_id, card.rstrip("\n") + "\n\n" + text + "\n", "model_card.md")
    except (MlflowException, OSError) as err:
        logger.warning("could not append the override to the model card of run %s: %s", run_id, err)


def promote(
    *,
    tracking_uri: str,
    model_name: str,
    version: str | int | None = None,
    metric: str = GATE_METRIC,
    force: bool = False,
    reason: str | None = None,
) -> PromotionResult:
    """Move the ``champion`` alias to a version that passes both gates (module docstring).

    Parameters
    ----------
    tracking_uri : str
        MLflow tracking URI.
    model_name : str
        Registered model name (``household-escalation``).
    version : str, int or None
        Version to promote; ``None``: the current ``challenger``.
    metric : str
        Capacity metric of the gates; default precision@k at the top 1 %.
    force : bool
        Promote despite failed gates (a reviewer's override); needs ``reason``.
    reason : str, optional
        The reviewer's reason for an override (recorded on the version and model card).

    Returns
    -------
    PromotionResult

    Raises
    ------
    RegistryError
        No such model, version or challenger; the run lacks the evidence metrics;
        ``force`` without a reason.
    PromotionRefused
        A gate failed and ``force`` is false; ``figures`` holds what the gates read.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    if force and not (reason or "").strip():
        raise RegistryError("an override (--force) needs a reason: --reason TEXT")
    client = mlflow.MlflowClient(tracking_uri, registry_uri=tracking_uri)
    if version is None:
        version = _alias_version(client, model_name, CHALLENGER_ALIAS)
        if version is None:
            raise RegistryError(
                f"no version of {model_name!r} has the alias {CHALLENGER_ALIAS!r}: "
                f"run revisit train first, or name one with --version"
            )
    version = str(version)
    try:
        mv = client.get_model_version(model_name, version)
    except MlflowException as err:
        raise RegistryError(
            f"expected a registered version {version!r} of {model_name!r}, found none"
        ) from err
    if not mv.run_id:
        raise RegistryError(
            f"version {version} of {model_name!r} has no training run to read metrics from"
        )
    run = client.get_run(mv.run_id)
    figures = {k: float(v) for k, v in run.data.metrics.items()}
    needed = [MODEL_KEY.format(metric=metric), STRONGEST_RULE_KEY.format(metric=metric)]
    missing = [k for k in needed if k not in figures]
    if missing:
        raise RegistryError(
            f"expected metrics {missing!r} in run {mv.run_id} of version {version}, found none: "
            f"was it trained by a revisit train with the officers' rules? retrain it"
        )
    champion = _alias_version(client, model_name, CHAMPION_ALIAS)
    failures = gate_failures(
        figures,
        champion=champion,
        compared_champion=run.data.tags.get(COMPARED_CHAMPION_TAG),
        version=version,
        metric=metric,
    )
    text = _figures_text(figures, metric)
    if failures and not force:
        message = (
            f"version {version} of {model_name!r} is not promoted: "
            + "; and ".join(failures)
            + f". Figures: {text}. Champion left unchanged"
            + (f" (version {champion})" if champion else "")
            + "; a reviewer may override with --force --reason TEXT"
        )
        _record(client, model_name, version, "refused", "; ".join(failures), text)
        raise PromotionRefused(message, figures)
    if failures:
        why = f"override by a reviewer: {reason}. Failed gates: " + "; ".join(failures)
        decision = "forced"
        _append_to_model_card(
            client,
            str(mv.run_id),
            f"## Promotion override\n\nVersion {version} was promoted to `champion` on "
            f"{datetime.now(UTC).date().isoformat()} despite failed gates.\n\n"
            f"- Reason given: {reason}\n- Failed gates: "
            + "; ".join(failures)
            + f"\n- Figures: {text}",
        )
    else:
        why = (
            f"lift over the strongest officer rule at {metric} above {MIN_LIFT_LOW:g} "
            f"and not worse than the champion (lower bound ≥ {MIN_CHAMPION_DIFF_LOW:g})"
        )
        decision = "promoted"
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
    _record(client, model_name, version, decision, why, text)
    logger.info(
        "%s version %s is now %s (was %s): %s", model_name, version, CHAMPION_ALIAS, champion, why
    )
    return PromotionResult(
        model_name=model_name,
        version=version,
        previous_champion=champion,
        metric=metric,
        model_value=figures[MODEL_KEY.format(metric=metric)],
        rule_value=figures[STRONGEST_RULE_KEY.format(metric=metric)],
        strongest_rule=str(run.data.tags.get(STRONGEST_RULE_KEY.format(metric=metric), "?")),
        run_id=str(mv.run_id),
        figures=figures,
        forced=bool(failures),
        reason=why,
    )
