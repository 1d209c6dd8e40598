"""Promotion of a registered model version to ``champion``.

A version is promoted only if, on the test rows of its own training run, its
precision@k at the headline capacity (top 5 % of households per as-of date by
default) beats the officers' hand rule on the same rows. Reviewers may also set
the alias by hand in the MLflow UI; this is the checked path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"
#: Run metric keys written by :func:`training.train.run_training`.
MODEL_KEY = "test.lightgbm.{metric}"
HAND_RULE_KEY = "test.hand_rule.{metric}"
DEFAULT_METRIC = "precision_at_5pct"


class RegistryError(RuntimeError):
    """The registry lacks what a promotion needs (model, version, alias, metric)."""


class PromotionRefused(RegistryError):
    """The version does not beat the hand rule; the message names both figures."""


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
        Metric compared (e.g. ``precision_at_5pct``).
    model_value, hand_rule_value : float
        Test values of the version and of the hand rule (probabilities).
    run_id : str
        Training run of the version.
    """

    model_name: str
    version: str
    previous_champion: str | None
    metric: str
    model_value: float
    hand_rule_value: float
    run_id: str


def _alias_version(client: object, model_name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)  # type: ignore[attr-defined]
    except MlflowException:
        return None


def _sign(client: object, model_name: str, version: str, signing_key: object | None) -> None:
    """Sign the version before the alias moves (serving refuses unsigned versions)."""
    from models.signing import sign_version

    sign_version(client, model_name, version, signing_key)


def promote(
    *,
    tracking_uri: str,
    model_name: str,
    version: str | int | None = None,
    metric: str = DEFAULT_METRIC,
    signing_key: object | None = None,
) -> PromotionResult:
    """Move the ``champion`` alias to a version that beats the hand rule.

    Parameters
    ----------
    tracking_uri : str
        MLflow tracking URI.
    model_name : str
        Registered model name (``household-escalation``).
    version : str, int or None
        Version to promote; ``None``: the current ``challenger``.
    metric : str
        Test metric compared, logged by the run as ``test.lightgbm.<metric>``
        and ``test.hand_rule.<metric>``; default precision@k at the top 5 %.
    signing_key : str, bytes, SecretStr or None
        ``$REVISIT_SIGNING_KEY``: the promoted version is signed with it before the
        alias moves (:func:`models.signing.sign_version`); serving loads only signed versions.

    Returns
    -------
    PromotionResult

    Raises
    ------
    RegistryError
        No such model, version or challenger; the run lacks the metrics.
    PromotionRefused
        The version's test ``metric`` is not strictly above the hand rule's.
    models.signing.SigningError
        No signing key (or shorter than 32 bytes), or the version has no serving bundle.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

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
    run_metrics = client.get_run(mv.run_id).data.metrics
    model_key, rule_key = MODEL_KEY.format(metric=metric), HAND_RULE_KEY.format(metric=metric)
    missing = [k for k in (model_key, rule_key) if k not in run_metrics]
    if missing:
        raise RegistryError(
            f"expected metrics {missing!r} in run {mv.run_id} of version {version}, found none: "
            f"was it trained by revisit train?"
        )
    model_value, rule_value = float(run_metrics[model_key]), float(run_metrics[rule_key])
    if not model_value > rule_value:
        raise PromotionRefused(
            f"version {version} of {model_name!r} does not beat the hand rule on test {metric}: "
            f"{model_value:.4f} for the model vs {rule_value:.4f} for the hand rule; "
            f"champion left unchanged"
        )
    previous = _alias_version(client, model_name, CHAMPION_ALIAS)
    _sign(client, model_name, version, signing_key)
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
    logger.info("%s version %s is now %s (was %s)", model_name, version, CHAMPION_ALIAS, previous)
    return PromotionResult(
        model_name=model_name,
        version=version,
        previous_champion=previous,
        metric=metric,
        model_value=model_value,
        hand_rule_value=rule_value,
        run_id=str(mv.run_id),
    )
