"""The scored snapshot kept in memory: scores, rankings per jurisdiction, lazily cached reasons.

A :class:`ServingState` is built once (scoring every household in one batch) and
never mutated afterwards, except for its caches (reasons, rendered list pages). A :class:`StateHolder`
owns the current state and replaces it atomically on reload: the new state is
built beside the old one, and a failed build leaves the old one serving.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from serving.config import ServingSettings
from serving.errors import (
    AmbiguousJurisdiction,
    ScoringInputError,
    StateLoadError,
    StateNotReady,
    UnknownHousehold,
    UnknownJurisdiction,
)
from warehouse import jurisdictions as places
from warehouse.contract import (
    DEFAULT_HORIZON_DAYS,
    FEATURE_DAYS_SINCE_LAST_VISIT,
    FEATURE_OPEN_DISPUTES,
    JURISDICTION_COLUMNS,
    TIMEZONE,
)

logger = logging.getLogger(__name__)

#: Jurisdiction levels, coarsest first.
LEVELS: tuple[str, str, str] = ("county", "township", "village")

#: Risk bands by prefecture-wide rank: (band, share of households at or above it).
#: A household is ``high`` when its rank is within the top 1 % of the snapshot,
#: ``elevated`` within the top 5 %, ``moderate`` within the top 20 %, else ``low``.
#: Bands by rank share (not by probability) keep the workload of each band fixed
#: whatever the base rate of the horizon; the score itself is the calibrated probability.
RISK_BANDS: tuple[tuple[str, float], ...] = (
    ("high", 0.01),
    ("elevated", 0.05),
    ("moderate", 0.20),
    ("low", 1.0),
)


class ReasonLike(Protocol):
    """What serving reads from a ``models.reasons.Reason``."""

    code: str
    contribution: float
    text_en: str
    text_zh: str


class ScoringModel(Protocol):
    """The part of ``models.risk_model.EscalationModel`` that serving uses."""

    feature_names_: list[str]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...

    def explain(self, X: pd.DataFrame, top_k: int = 3) -> list[list[Any]]: ...


@dataclass(frozen=True)
class ModelInfo:
    """Identity and evaluation of the served model.

    Parameters
    ----------
    name : str
        Registered model name.
    version : str
        Registry version number (as a string).
    run_id : str or None
        MLflow run that produced it.
    metrics : dict of str to float
        The run's logged metrics (e.g. ``test_average_precision``).
    params : dict of str to str
        The run's logged parameters (training window, horizon, …).
    horizon_days : int
        Label horizon H in days: the score is P(escalation in [as_of, as_of + H)).
    """

    name: str
    version: str
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    horizon_days: int = DEFAULT_HORIZON_DAYS


@dataclass(frozen=True)
class Row:
    """One ranked household as a list shows it (reasons are added by the caller)."""

    rank: int
    position: int
    household_id: str
    county: str
    township: str
    village: str
    score: float
    risk_band: str
    days_since_last_visit: float | None
    open_disputes: float | None


def _as_optional_float(value: float) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def to_local_midnight(day: date | pd.Timestamp) -> pd.Timestamp:
    """Return ``day`` as a local-midnight ``Timestamp`` in Asia/Shanghai."""
    ts = pd.Timestamp(day)
    if ts.tzinfo is None:
        return ts.normalize().tz_localize(TIMEZONE)
    return ts.tz_convert(TIMEZONE).normalize()


def score_frame(model: ScoringModel, frame: pd.DataFrame) -> np.ndarray:
    """Score feature rows with the model in one batch.

    Parameters
    ----------
    model : ScoringModel
        Fitted model with ``predict_proba``.
    frame : DataFrame of shape (n_households, n_columns)
        Feature rows (key and jurisdiction columns are ignored by the model).

    Returns
    -------
    ndarray of shape (n_households,), float64
        Calibrated probability of escalation within the horizon.

    Raises
    ------
    ScoringInputError
        When the model rejects the rows or returns something that is not a
        probability per row.
    """
    try:
        proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
    except (ValueError, KeyError, TypeError) as err:
        raise ScoringInputError(f"the model could not score the rows: {err}") from err
    if proba.ndim != 2 or proba.shape[0] != len(frame) or proba.shape[1] < 2:
        raise ScoringInputError(
            f"expected predict_proba of shape ({len(frame)}, 2), got {proba.shape!r}"
        )
    scores = proba[:, 1]
    if (
        not np.all(np.isfinite(scores))
        or scores.min(initial=0.0) < 0
        or scores.max(initial=0.0) > 1
    ):
        raise ScoringInputError("expected probabilities in [0, 1], got values outside it")
    return np.ascontiguousarray(scores)


@dataclass(frozen=True)
class CachedPage:
    """One rendered page of a list: the response body and what its audit row needs.

    Parameters
    ----------
    body : bytes
        The serialised response (UTF-8 JSON).
    household_ids : tuple of str
        Ids of the returned households, in rank order.
    household_ids_json : str
        ``household_ids`` as the JSON list the audit log stores.
    """

    body: bytes
    household_ids: tuple[str, ...]
    household_ids_json: str

    @property
    def size(self) -> int:
        """Bytes counted against the cache's budget (body + ids; Python overhead not counted)."""
        return len(self.body) + len(self.household_ids_json)


class PageCache:
    """A thread-safe LRU of rendered list pages, bounded by their total size in bytes.

    Parameters
    ----------
    max_bytes : int
        Budget for the cached bodies (``0`` turns caching off); the least recently
        used pages are dropped once the sum of :attr:`CachedPage.size` exceeds it.

    Notes
    -----
    One cache belongs to one :class:`ServingState`, so a reload (a new state)
    starts with an empty cache and the old pages go with the old state.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._pages: OrderedDict[Hashable, CachedPage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def nbytes(self) -> int:
        """Bytes currently held (sum of :attr:`CachedPage.size`)."""
        return self._bytes

    def get(self, key: Hashable) -> CachedPage | None:
        """The page under ``key`` (marked recently used), or ``None``."""
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return page

    def put(self, key: Hashable, page: CachedPage) -> None:
        """Store ``page`` (a page larger than the whole budget is not stored)."""
        if page.size > self.max_bytes:
            return
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._pages[key] = page
            self._bytes += page.size
            while self._bytes > self.max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= dropped.size


class ServingState:
    """An immutable scored snapshot with rankings per jurisdiction.

    Parameters
    ----------
    model : ScoringModel
        The champion model (``predict_proba``, ``explain``, ``feature_names_``).
    frame : DataFrame of shape (n_households, n_columns)
        Feature snapshot at one as-of date: ``household_id`` (unique), ``county``,
        ``township``, ``village``, the model's features, ``visits_all_days_since_last``
        (days) and ``disputes_all_open`` (count).
    model_info : ModelInfo
        Version, metrics and horizon of the model.
    as_of : date or Timestamp
        As-of date of the snapshot (Asia/Shanghai local midnight).
    top_k : int
        Reasons per household.
    reasons_cache_size : int
        Households whose reasons are kept (least recently used are dropped).
    page_cache_bytes : int
        Budget of :attr:`pages`, the rendered list pages of this state (bytes; 0 = off).

    Raises
    ------
    StateLoadError
        When the frame lacks a key or jurisdiction column, repeats a household,
        or the model cannot score it.

    Notes
    -----
    Ranking order is score descending, then ``household_id`` ascending, so ties
    are stable across reloads. Scores are computed once here; a list request is
    a slice of a precomputed position array.
    """

    def __init__(
        self,
        model: ScoringModel,
        frame: pd.DataFrame,
        model_info: ModelInfo,
        as_of: date | pd.Timestamp,
        *,
        top_k: int = 3,
        reasons_cache_size: int = 200_000,
        page_cache_bytes: int = 64 * 2**20,
        suspect_households: frozenset[str] = frozenset(),
    ) -> None:
        started = time.perf_counter()
        #: Households whose recent visits the officer review finds suspect (lists mark them).
        self.suspect_households = suspect_households
        missing = [c for c in ("household_id", *JURISDICTION_COLUMNS) if c not in frame.columns]
        if missing:
            raise StateLoadError(f"snapshot lacks the columns {missing!r}")
        frame = frame.reset_index(drop=True)
        ids = frame["household_id"].astype(str).to_numpy(dtype=object)
        index = pd.Index(ids)
        if not index.is_unique:
            raise StateLoadError("snapshot repeats household ids; expected one row per household")
        try:
            scores = score_frame(model, frame)
        except ScoringInputError as err:
            raise StateLoadError(f"could not score the snapshot: {err}") from err

        self.model = model
        self.frame = frame
        self.model_info = model_info
        self.as_of = to_local_midnight(as_of)
        #: ``as_of`` as an ISO date (``YYYY-MM-DD``), computed once for cache keys and audit rows.
        self.as_of_day = self.as_of.date().isoformat()
        self.top_k = top_k
        self.household_ids = ids
        self.scores = scores
        self._index = index
        self._jur = {lvl: frame[lvl].astype(str).to_numpy(dtype=object) for lvl in LEVELS}
        self.days_since_last_visit = self._optional_column(frame, FEATURE_DAYS_SINCE_LAST_VISIT)
        self.open_disputes = self._optional_column(frame, FEATURE_OPEN_DISPUTES)

        n = len(frame)
        # Global order: score desc, then household_id asc (lexsort: last key is primary).
        order = np.lexsort((ids, -scores)) if n else np.empty(0, dtype=np.int64)
        global_rank = np.empty(n, dtype=np.int64)
        global_rank[order] = np.arange(1, n + 1)
        bands = np.empty(n, dtype=object)
        lower = 0
        for band, share in RISK_BANDS:
            upper = n if share >= 1.0 else math.ceil(share * n)
            bands[order[lower:upper]] = band
            lower = max(lower, upper)
        self.risk_bands = bands
        self.global_rank = global_rank

        # Rankings per place, keyed by full path (county/township/village): names repeat.
        # Places are kept as integer codes per household (no path string per household).
        self._path_codes: dict[str, np.ndarray] = {}
        self._code_of: dict[str, dict[str, int]] = {}
        self._path_names: dict[str, list[str]] = {}
        self._orders: dict[str, dict[str, np.ndarray]] = {}
        for lvl in LEVELS:
            codes, paths = places.path_codes(frame, lvl)
            self._path_codes[lvl] = codes
            self._path_names[lvl] = paths
            self._code_of[lvl] = {p: i for i, p in enumerate(paths)}
            ordered = codes[order]
            by_code = np.argsort(ordered, kind="stable")
            positions = order[by_code]
            counts = np.bincount(ordered, minlength=len(paths))
            splits = np.split(positions, np.cumsum(counts)[:-1]) if len(paths) else []
            self._orders[lvl] = dict(zip(paths, splits, strict=True))
        self._places = {lvl: places.PlaceIndex(lvl, self._orders[lvl]) for lvl in LEVELS}

        self._reasons: OrderedDict[tuple[str, str, str], list[Any]] = OrderedDict()
        self._reasons_lock = threading.Lock()
        self._reasons_cache_size = reasons_cache_size
        self.pages = PageCache(page_cache_bytes)
        #: Days overdue of households whose 回访期限 passed without a visit (a list reason).
        self.followups: dict[str, int] = {}
        self.build_seconds = time.perf_counter() - started
        logger.info(
            "scored snapshot: %d households, model version %s, as_of %s, %.2f s",
            n,
            model_info.version,
            self.as_of.date().isoformat(),
            self.build_seconds,
        )

    @staticmethod
    def _optional_column(frame: pd.DataFrame, name: str) -> np.ndarray:
        if name not in frame.columns:
            return np.full(len(frame), np.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )

    # ----------------------------------------------------------------- lookups
    @property
    def n_households(self) -> int:
        """Number of households in the snapshot."""
        return len(self.household_ids)

    def jurisdictions(self, level: str) -> list[str]:
        """Full paths of the jurisdictions of ``level`` present in the snapshot, sorted."""
        return list(self._places[level].paths)

    def resolve(self, level: str, text: str) -> str:
        """The full path of the one ``level`` place that ``text`` names (path, tail or bare name).

        Raises
        ------
        UnknownJurisdiction
            When ``level`` is unknown or no place matches.
        AmbiguousJurisdiction
            When several places match; ``candidates`` lists their paths.
        """
        if level not in self._places:
            raise UnknownJurisdiction(f"expected a level in {LEVELS!r}, got {level!r}")
        try:
            return self._places[level].resolve(text)
        except places.AmbiguousPlace as err:
            raise AmbiguousJurisdiction(str(err), err.candidates) from err
        except places.UnknownPlace as err:
            raise UnknownJurisdiction(f"no {level} named {text!r} in the snapshot") from err

    def ranking(self, level: str, name: str) -> np.ndarray:
        """Row positions of a jurisdiction's households in ranking order.

        Parameters
        ----------
        level : {"county", "township", "village"}
        name : str
            Full path of the place (see :meth:`resolve`).

        Raises
        ------
        UnknownJurisdiction
            When ``level`` is not county/township/village or ``name`` is not in the snapshot.
        """
        if level not in self._orders:
            raise UnknownJurisdiction(f"expected a level in {LEVELS!r}, got {level!r}")
        try:
            return self._orders[level][name]
        except KeyError as err:
            raise UnknownJurisdiction(f"no {level} named {name!r} in the snapshot") from err

    def contains(self, outer_level: str, outer_name: str, level: str, name: str) -> bool:
        """Whether place (``level``, ``name``) lies within (``outer_level``, ``outer_name``).

        Both are full paths; containment is path prefix (county > township > village).
        """
        return places.contains(outer_level, outer_name, level, name)

    def path_of(self, level: str, position: int) -> str:
        """Full path of the ``level`` place of the household at ``position``."""
        return self._path_names[level][int(self._path_codes[level][position])]

    def position(self, household_id: str) -> int:
        """Row position of a household.

        Raises
        ------
        UnknownHousehold
            When the id is not in the snapshot.
        """
        try:
            loc = self._index.get_loc(household_id)
        except KeyError as err:
            raise UnknownHousehold("no such household in the snapshot") from err
        if not isinstance(loc, int | np.integer):
            raise UnknownHousehold("no such household in the snapshot")
        return int(loc)

    def household_in(self, level: str, name: str, position: int) -> bool:
        """Whether the household at ``position`` lies in the place (``level``, full path ``name``)."""
        code = self._code_of.get(level, {}).get(name)
        return code is not None and int(self._path_codes[level][position]) == code

    def row(self, position: int, rank: int) -> Row:
        """The list row of the household at ``position``, shown with ``rank`` (1-based)."""
        return Row(
            rank=rank,
            position=position,
            household_id=str(self.household_ids[position]),
            county=str(self._jur["county"][position]),
            township=str(self._jur["township"][position]),
            village=str(self._jur["village"][position]),
            score=float(self.scores[position]),
            risk_band=str(self.risk_bands[position]),
            days_since_last_visit=_as_optional_float(self.days_since_last_visit[position]),
            open_disputes=_as_optional_float(self.open_disputes[position]),
        )

    def page(self, level: str, name: str, limit: int, offset: int = 0) -> tuple[list[Row], int]:
        """A slice of a jurisdiction's ranking.

        Parameters
        ----------
        level, name : str
            Jurisdiction.
        limit : int
            Maximum number of rows (≥ 1).
        offset : int
            Rows to skip (≥ 0).

        Returns
        -------
        rows : list of Row
            At most ``limit`` rows, ranks ``offset + 1`` onwards.
        total : int
            Number of households in the jurisdiction.
        """
        positions = self.ranking(level, name)
        chosen = positions[offset : offset + limit]
        rows = [self.row(int(p), offset + i + 1) for i, p in enumerate(chosen)]
        return rows, len(positions)

    # ------------------------------------------------------------------ reasons
    def reasons_for(self, positions: Sequence[int]) -> list[list[Any]]:
        """Top reasons of the households at ``positions``, computed once and cached.

        The cache key is (model version, as-of date, household id); only the
        uncached rows are passed to ``model.explain`` (in one call).

        Returns
        -------
        list of list of Reason
            One list (≤ ``top_k`` reasons) per position, in the order given.
        """
        version = self.model_info.version
        as_of = self.as_of.isoformat()
        keys = [(version, as_of, str(self.household_ids[p])) for p in positions]
        out: list[list[Any] | None] = [None] * len(keys)
        missing: list[int] = []
        with self._reasons_lock:
            for i, key in enumerate(keys):
                hit = self._reasons.get(key)
                if hit is None:
                    missing.append(i)
                else:
                    self._reasons.move_to_end(key)
                    out[i] = hit
        if missing:
            rows = self.frame.iloc[[int(positions[i]) for i in missing]]
            explained = self.model.explain(rows, top_k=self.top_k)
            with self._reasons_lock:
                for i, reasons in zip(missing, explained, strict=True):
                    out[i] = list(reasons)
                    if self._reasons_cache_size:
                        self._reasons[keys[i]] = out[i]  # type: ignore[assignment]
                while len(self._reasons) > self._reasons_cache_size:
                    self._reasons.popitem(last=False)
        return [r if r is not None else [] for r in out]

    def feature_values(self, position: int) -> dict[str, float | str | None]:
        """The model's feature values of one household (the history summary), NaN as ``None``."""
        names = list(getattr(self.model, "feature_names_", []) or [])
        record = self.frame.iloc[position]
        out: dict[str, float | str | None] = {}
        for name in names:
            if name not in record.index:
                continue
            value = record[name]
            if isinstance(value, str):
                out[name] = value
            elif value is None or pd.isna(value):
                out[name] = None
            else:
                try:
                    out[name] = float(value)
                except (TypeError, ValueError):
                    out[name] = str(value)
        return out


# --------------------------------------------------------------------- loading
StateLoader = Callable[[ServingSettings], ServingState]
ChangeProbe = Callable[[ServingSettings], Hashable]


class StateHolder:
    """Owns the current :class:`ServingState` and swaps it atomically on reload.

    Parameters
    ----------
    settings : ServingSettings
        Passed to the loader and the probe.
    loader : callable
        ``loader(settings) -> ServingState``; raises on failure.
    probe : callable or None
        ``probe(settings) -> hashable`` fingerprint of what the state was built
        from; the periodic check reloads when it changes. ``None``: never changes.
    """

    def __init__(
        self,
        settings: ServingSettings,
        loader: StateLoader,
        probe: ChangeProbe | None = None,
    ) -> None:
        self.settings = settings
        self._loader = loader
        self._probe = probe
        self._state: ServingState | None = None
        self._fingerprint: Hashable | None = None
        self._reload_lock = threading.Lock()
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.loaded_at: datetime | None = None
        self.load_seconds: float | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def state(self) -> ServingState | None:
        """The current state, or ``None`` before the first good load."""
        return self._state

    def get(self) -> ServingState:
        """The current state.

        Raises
        ------
        StateNotReady
            When no state has loaded yet.
        """
        state = self._state
        if state is None:
            raise StateNotReady("no scored snapshot is loaded yet")
        return state

    def _fingerprint_now(self) -> Hashable | None:
        if self._probe is None:
            return None
        try:
            return self._probe(self.settings)
        except Exception as err:
            logger.warning("change probe failed: %s", type(err).__name__)
            return None

    def reload(self) -> ServingState:
        """Build a new state beside the current one and swap it in.

        Returns
        -------
        ServingState
            The new state.

        Raises
        ------
        StateLoadError
            When the build fails; the previous state (if any) keeps serving and
            ``last_error`` says why.
        """
        with self._reload_lock:
            fingerprint = self._fingerprint_now()
            started = time.perf_counter()
            try:
                new = self._loader(self.settings)
            except Exception as err:
                self.last_error = f"{type(err).__name__}: {err}"[:500]
                self.last_error_at = datetime.now(UTC)
                logger.error("state reload failed, keeping the previous state: %s", self.last_error)
                if isinstance(err, StateLoadError):
                    raise
                raise StateLoadError(self.last_error) from err
            self._state = new  # atomic swap: readers hold their own reference
            self._fingerprint = fingerprint
            self.last_error = None
            self.last_error_at = None
            self.loaded_at = datetime.now(UTC)
            self.load_seconds = time.perf_counter() - started
            return new

    def check_for_changes(self) -> bool:
        """Reload when the probe's fingerprint differs from the loaded one.

        Returns
        -------
        bool
            Whether a reload was attempted.
        """
        if self._state is not None and self._probe is None:
            return False
        fingerprint = self._fingerprint_now()
        if self._state is not None and (fingerprint is None or fingerprint == self._fingerprint):
            return False
        with contextlib.suppress(StateLoadError):
            self.reload()
        return True

    def start_watcher(self, interval_s: float) -> None:
        """Start the periodic change check in a daemon thread (``interval_s`` ≤ 0: off)."""
        if interval_s <= 0 or self._watcher is not None:
            return
        self._stop.clear()

        def _run() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.check_for_changes()
                except Exception:  # never let the watcher die
                    logger.exception("periodic reload check failed")

        self._watcher = threading.Thread(target=_run, name="revisit-reload", daemon=True)
        self._watcher.start()

    def stop_watcher(self) -> None:
        """Stop the periodic check and wait for its thread."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
