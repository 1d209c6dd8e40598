"""Loading the serving state: the signed champion, the feature snapshot, the scored state.

Split from :mod:`serving.state` (which holds the state itself and its holder).
Nothing here unpickles: the champion is read through
:func:`models.signing.load_verified` (LightGBM's text model plus JSON).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pandas as pd

from serving.config import ServingSettings
from serving.errors import StateLoadError
from serving.state import ModelInfo, ScoringModel, ServingState, to_local_midnight
from warehouse.contract import DEFAULT_HORIZON_DAYS

#: Suspect visits found once for serving's marks and reused by the snapshot:
#: ``(as_of, ascending positions in the visits file)``.
KnownSuspects = tuple[pd.Timestamp, Any]

logger = logging.getLogger(__name__)


def _warehouse_mtimes(home: Path) -> tuple[float, ...]:
    from warehouse.contract import TABLE_INCIDENTS, TABLE_VISITS, warehouse_path

    out = []
    for table in (TABLE_VISITS, TABLE_INCIDENTS):
        path = warehouse_path(home, table)
        out.append(path.stat().st_mtime if path.exists() else -1.0)
    return tuple(out)


def _mlflow_client(settings: ServingSettings) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


NO_TRAINED_MODEL = "no trained model: run revisit train and revisit promote first"


def sqlite_store_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` tracking URI, else ``None`` (other stores).

    ``sqlite:////abs/mlflow.db`` gives ``/abs/mlflow.db``; ``sqlite:///rel.db`` gives
    ``rel.db``; ``sqlite://`` (in memory) gives ``None``.
    """
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    path = uri[len(prefix) :].split("?", 1)[0]
    return Path(path) if path else None


def check_tracking_store(settings: ServingSettings) -> None:
    """Refuse to ask MLflow about a SQLite tracking store that does not exist yet.

    Asking would create an empty ``mlflow.db`` (and log "Creating initial MLflow
    database tables") in a home where nothing was trained.

    Raises
    ------
    StateLoadError
        When the tracking URI is a SQLite file that does not exist.
    """
    path = sqlite_store_path(settings.tracking_uri)
    if path is not None and not path.exists():
        raise StateLoadError(f"{NO_TRAINED_MODEL} (no tracking store at {str(path)!r})")


def champion_version(settings: ServingSettings) -> str:
    """Version number of the model under the served alias.

    Raises
    ------
    StateLoadError
        When the tracking store does not exist (see :func:`check_tracking_store`),
        or the registry has no such model or alias.
    """
    check_tracking_store(settings)
    try:
        mv = _mlflow_client(settings).get_model_version_by_alias(
            settings.model_name, settings.model_alias
        )
    except Exception as err:  # mlflow raises MlflowException and store-specific errors
        raise StateLoadError(
            f"no model {settings.model_name!r} with alias {settings.model_alias!r} in the registry"
        ) from err
    return str(mv.version)


def default_change_probe(settings: ServingSettings) -> Hashable:
    """What a reload watches: the champion's version and the warehouse files' mtimes."""
    return (champion_version(settings), _warehouse_mtimes(settings.home))


def load_champion(settings: ServingSettings) -> tuple[ScoringModel, ModelInfo]:
    """Load the version under ``models:/<name>@<alias>`` from its signed bundle, with its metrics.

    The model is rebuilt from data (LightGBM's text model + JSON, see
    :mod:`models.bundle`) only after the promotion signature of the version
    checks under ``settings.signing_key`` (:mod:`models.signing`); nothing is
    unpickled.

    Raises
    ------
    StateLoadError
        When the registry, the version or its artifacts cannot be read, or the
        version is unsigned or its signature does not check (the message says which).
    """
    from models.signing import SigningError, load_verified

    version = champion_version(settings)
    client = _mlflow_client(settings)
    try:
        # The version the alias pointed to, pinned, so a concurrent promote cannot mix versions.
        verified = load_verified(client, settings.model_name, version, settings.signing_key)
    except SigningError as err:
        raise StateLoadError(f"refused to serve: {err}") from err
    except Exception as err:
        raise StateLoadError(
            f"could not load version {version!r} of {settings.model_name!r}: {type(err).__name__}"
        ) from err
    model = verified.model
    try:
        mv = client.get_model_version(settings.model_name, version)
        metrics: dict[str, float] = {}
        params: dict[str, str] = {}
        if mv.run_id:
            run = client.get_run(mv.run_id)
            metrics = {k: float(v) for k, v in run.data.metrics.items()}
            params = {k: str(v) for k, v in run.data.params.items()}
    except Exception as err:
        raise StateLoadError(
            f"could not read the run of version {version!r} of {settings.model_name!r}: "
            f"{type(err).__name__}"
        ) from err
    horizon = DEFAULT_HORIZON_DAYS
    for key in ("horizon_days", "features.horizon_days", "horizon"):
        if key in params:
            try:
                horizon = int(float(params[key]))
                break
            except ValueError:
                continue
    info = ModelInfo(
        name=settings.model_name,
        version=version,
        run_id=mv.run_id,
        metrics=metrics,
        params=params,
        horizon_days=horizon,
    )
    return model, info


def trained_without_suspect_visits(params: dict[str, str]) -> bool:
    """Whether a run's features left out suspect visits (its ``exclude_suspect_visits`` param).

    A run logged before the param existed kept every visit: ``False``.
    """
    return params.get("exclude_suspect_visits", "False").strip().lower() == "true"


def load_snapshot(
    settings: ServingSettings,
    horizon_days: int,
    *,
    exclude_suspect_visits: bool = False,
    known_suspects: KnownSuspects | None = None,
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Build today's feature snapshot from the warehouse (no labels).

    Parameters
    ----------
    settings : ServingSettings
        Home and as-of date.
    horizon_days : int
        The champion's label horizon (days).
    exclude_suspect_visits : bool, default False
        Leave out the visits the officer review finds suspect at the as-of date, as
        the champion's training run did (:func:`trained_without_suspect_visits`), so
        the snapshot's features mean what the model learned.
    known_suspects : (Timestamp, ndarray of int64), optional
        The suspect visits :func:`load_suspect_marks` found, so that a prefecture's
        snapshot does not read and review the window again (used when the dates agree).

    Returns
    -------
    frame : DataFrame of shape (n_households, n_columns)
        One row per household of the cohort at ``as_of``.
    as_of : Timestamp
        ``settings.as_of`` or the day after the latest ``recorded_at`` (Asia/Shanghai midnight).

    Raises
    ------
    StateLoadError
        When the warehouse is empty or the feature job fails.
    """
    try:
        from features.build import build_feature_table

        frame = build_feature_table(
            settings.home,
            settings.as_of,
            horizon_days=horizon_days,
            with_labels=False,
            exclude_suspect_visits=exclude_suspect_visits,
            known_suspects=known_suspects,
        )
    except Exception as err:
        raise StateLoadError(
            f"could not build the feature snapshot: {type(err).__name__}: {err}"
        ) from err
    if len(frame) == 0:
        raise StateLoadError("the feature snapshot is empty: no household has an approved visit")
    as_of = to_local_midnight(pd.Timestamp(frame["as_of"].iloc[0]))
    return frame, as_of


def load_state(settings: ServingSettings) -> ServingState:
    """Default state loader: champion from the registry + snapshot from the warehouse, scored.

    Raises
    ------
    StateLoadError
        When any part fails; the caller keeps its previous state.
    """
    from serving.publishing import load_followups
    from warehouse.memory import release_memory

    model, info = load_champion(settings)
    # The follow-ups and the officer review read columns of every visit (10 M at
    # 1 000 000 households); done before the snapshot, their reads do not stack on it.
    as_of = _snapshot_date(settings)
    followups = load_followups(settings.home, as_of) if as_of is not None else {}
    suspect, known = (
        load_suspect_marks(settings, as_of) if as_of is not None else (frozenset(), None)
    )
    release_memory()
    frame, snapshot_as_of = load_snapshot(
        settings,
        info.horizon_days,
        exclude_suspect_visits=trained_without_suspect_visits(info.params),
        known_suspects=known,
    )
    release_memory()  # what the feature job read and dropped
    if snapshot_as_of != as_of:  # the date could not be read ahead
        followups = load_followups(settings.home, snapshot_as_of)
        suspect = load_suspect_households(settings, snapshot_as_of)
    state = ServingState(
        model,
        frame,
        info,
        snapshot_as_of,
        top_k=settings.reasons_top_k,
        reasons_cache_size=settings.reasons_cache_size,
        page_cache_bytes=settings.page_cache_bytes,
        suspect_households=suspect,
    )
    state.followups = followups
    release_memory()
    return state


def _snapshot_date(settings: ServingSettings) -> pd.Timestamp | None:
    """The snapshot's as-of date from the warehouse's time columns alone (``None``: unreadable).

    As :func:`load_snapshot` finds it: ``settings.as_of`` at local midnight, else the
    day after the latest ``recorded_at``.
    """
    try:
        if settings.as_of is not None:
            return to_local_midnight(pd.Timestamp(settings.as_of))
        from features.distributed import snapshot_as_of

        return to_local_midnight(snapshot_as_of(settings.home))
    except Exception:  # an empty or unreadable warehouse: load_snapshot says why
        return None


def load_suspect_marks(
    settings: ServingSettings, as_of: pd.Timestamp
) -> tuple[frozenset[str], KnownSuspects | None]:
    """Households with visits the officer review finds suspect at ``as_of``, and those visits.

    Returns
    -------
    households : frozenset of str
        The households the lists mark (empty on failure).
    known_suspects : (Timestamp, ndarray of int64) or None
        ``(as_of, positions in the visits file)`` of the suspect visits, for
        :func:`load_snapshot`; ``None`` on failure (the snapshot then reviews itself).

    A failure here must not keep a snapshot from serving: it is logged and no household
    is marked.
    """
    try:
        from campaign.officer_review import households_with_suspect_visits
        from features.snapshot import suspect_visit_rows

        positions, visits = suspect_visit_rows(settings.home, as_of)  # the window's rows only
        marked = households_with_suspect_visits(visits, visits["visit_id"])
    except Exception as err:  # the review is advisory; serving goes on without the marks
        logger.warning("no suspect-visit marks: %s: %s", type(err).__name__, err)
        return frozenset(), None
    return frozenset(marked["household_id"].astype(str)), (as_of, positions)


def load_suspect_households(settings: ServingSettings, as_of: pd.Timestamp) -> frozenset[str]:
    """The households of :func:`load_suspect_marks` alone (empty on failure)."""
    return load_suspect_marks(settings, as_of)[0]


# ---------------------------------------------------------------------- holder
