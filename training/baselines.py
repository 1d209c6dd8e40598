"""Baselines a risk model must beat, scored on the same test rows as the model.

1. :func:`hand_rule_scores`: the rule an officer could apply by hand — most open
   disputes first, ties broken by the most recent dispute.
2. :class:`LogisticBaseline`: logistic regression on the same features
   (scikit-learn pipeline: median imputation with missing indicators, one-hot
   categories, standard scaling).
3. :func:`oracle_scores`: on simulated data, the simulator's own escalation
   probability (``<sim>/ground_truth/oracle.parquet``) — the ceiling a model
   could reach. Evaluation only: it is never a feature.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from warehouse.contract import FEATURE_OPEN_DISPUTES, KEY_COLUMNS, TIMEZONE

logger = logging.getLogger(__name__)

#: Feature holding the days since the household's latest dispute (hand rule's tie-break).
FEATURE_DAYS_SINCE_LAST_DISPUTE = "disputes_all_days_since_last"
ORACLE_FILE = "oracle.parquet"


class BaselineError(ValueError):
    """A baseline cannot be computed from the data given."""


def hand_rule_scores(
    frame: pd.DataFrame,
    *,
    open_col: str = FEATURE_OPEN_DISPUTES,
    recency_col: str = FEATURE_DAYS_SINCE_LAST_DISPUTE,
) -> np.ndarray:
    """Score rows by the officers' hand rule: most open disputes, most recent first.

    The score is ``open + 0.5 / (1 + days_since_last_dispute)``: the fraction lies
    in (0, 0.5], so it only breaks ties between equal open-dispute counts, in
    favour of the household whose latest dispute is most recent. Missing counts
    score 0; a missing recency (or a missing ``recency_col``) breaks no tie.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        Feature rows with ``open_col`` (count) and optionally ``recency_col`` (days).
    open_col, recency_col : str
        Column names of the open-dispute count and the days since the latest dispute.

    Returns
    -------
    ndarray of float64, shape (n_rows,)
        A ranking score, not a probability (higher = revisit first).

    Raises
    ------
    BaselineError
        ``open_col`` is not a column of ``frame``.
    """
    if open_col not in frame.columns:
        raise BaselineError(
            f"expected the open-dispute count column {open_col!r} for the hand rule, "
            f"got columns {list(frame.columns)[:10]!r}…"
        )
    open_count = pd.to_numeric(frame[open_col], errors="coerce").astype("float64").fillna(0.0)
    score = open_count.to_numpy(dtype="float64").copy()
    if recency_col in frame.columns:
        days = pd.to_numeric(frame[recency_col], errors="coerce").astype("float64").to_numpy()
        tie = np.where(np.isnan(days), 0.0, 0.5 / (1.0 + np.clip(days, 0.0, None)))
        score += tie
    else:
        logger.warning(
            "hand rule: no %r column; ties between equal counts stay unbroken", recency_col
        )
    return score


#: The officers' rules, by name: what an experienced officer could apply by hand.
OFFICER_RULES: tuple[str, ...] = ("prior-escalations", "open-disputes", "combined")

#: Columns of the feature table each rule reads (all from ``features.catalogue``).
RULE_COLUMNS: dict[str, tuple[str, ...]] = {
    "prior-escalations": ("incidents_all_escalations", "incidents_all_days_since_last_escalation"),
    "open-disputes": (FEATURE_OPEN_DISPUTES, FEATURE_DAYS_SINCE_LAST_DISPUTE),
    "combined": ("incidents_365d_escalations", FEATURE_OPEN_DISPUTES, "incidents_90d_count"),
}


def _count(frame: pd.DataFrame, col: str) -> np.ndarray:
    """A count column as float64 with missing values read as 0."""
    return pd.to_numeric(frame[col], errors="coerce").astype("float64").fillna(0.0).to_numpy()


def officer_rule_scores(frame: pd.DataFrame, rule: str) -> np.ndarray:
    """Score rows by one of the officers' hand rules (a lexicographic order as one number).

    Rules (DESIGN.md, "Evaluation"; issue #13):

    ``prior-escalations``
        most escalation incidents ever, the most recent first:
        ``n + 0.5 / (1 + days_since_last_escalation)``.
    ``open-disputes``
        most open disputes, the most recent dispute first (:func:`hand_rule_scores`).
    ``combined``
        escalations in the past 365 days, then open disputes, then police calls in the past
        90 days: ``1e6·esc365 + 1e3·min(open, 999) + min(calls90, 999)``.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        Feature rows holding the columns of ``RULE_COLUMNS[rule]`` (counts; days for recency).
    rule : {"prior-escalations", "open-disputes", "combined"}
        The rule's name (``OFFICER_RULES``).

    Returns
    -------
    ndarray of float64, shape (n_rows,)
        A ranking score, not a probability (higher = revisit first). Missing counts read as 0.

    Raises
    ------
    BaselineError
        An unknown rule, or a column the rule needs is missing.
    """
    if rule not in RULE_COLUMNS:
        raise BaselineError(f"expected a rule in {OFFICER_RULES!r}, got {rule!r}")
    if rule == "open-disputes":
        return hand_rule_scores(frame)
    missing = [c for c in RULE_COLUMNS[rule] if c not in frame.columns]
    if missing:
        raise BaselineError(f"the rule {rule!r} needs the feature columns {missing!r}")
    if rule == "prior-escalations":
        n = _count(frame, "incidents_all_escalations")
        days = pd.to_numeric(frame["incidents_all_days_since_last_escalation"], errors="coerce")
        d = days.astype("float64").to_numpy()
        tie = np.where(np.isnan(d), 0.0, 0.5 / (1.0 + np.clip(d, 0.0, None)))
        return n + np.where(n > 0, tie, 0.0)
    esc = _count(frame, "incidents_365d_escalations")
    open_ = np.minimum(_count(frame, FEATURE_OPEN_DISPUTES), 999.0)
    calls = np.minimum(_count(frame, "incidents_90d_count"), 999.0)
    return 1e6 * esc + 1e3 * open_ + calls


def _categorical_to_str(X: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as object strings with ``"<missing>"`` for NA (for one-hot)."""
    return X.astype(object).where(X.notna(), "<missing>").astype(str)


class LogisticBaseline:
    """Logistic regression on the model's features, in a scikit-learn pipeline.

    Numeric features: median imputation with missing indicators, then standard
    scaling. Categorical features (``category``/``str`` dtype): one-hot with a
    ``"<missing>"`` level, unknown levels ignored. ``class_weight=None`` so the
    probabilities stay on the base-rate scale.

    Parameters
    ----------
    feature_names : sequence of str
        Columns used; other columns of the frames given are ignored.
    random_state : int
        Seed of the solver.
    max_iter : int
        Solver iterations.
    C : float
        Inverse L2 regularisation strength.
    """

    def __init__(
        self,
        feature_names: Sequence[str],
        *,
        random_state: int = 0,
        max_iter: int = 1000,
        C: float = 1.0,
    ) -> None:
        self.feature_names = list(feature_names)
        self.random_state = random_state
        self.max_iter = max_iter
        self.C = C

    def _pipeline(self, X: pd.DataFrame) -> Pipeline:
        categorical = [
            c
            for c in self.feature_names
            if isinstance(X[c].dtype, pd.CategoricalDtype)
            or pd.api.types.is_string_dtype(X[c].dtype)
        ]
        numeric = [c for c in self.feature_names if c not in categorical]
        transformers: list[tuple[str, object, list[str]]] = []
        if numeric:
            transformers.append(
                (
                    "num",
                    make_pipeline(
                        SimpleImputer(
                            strategy="median", add_indicator=True, keep_empty_features=True
                        ),
                        StandardScaler(),
                    ),
                    numeric,
                )
            )
        if categorical:
            from sklearn.preprocessing import FunctionTransformer

            transformers.append(
                (
                    "cat",
                    make_pipeline(
                        FunctionTransformer(_categorical_to_str, feature_names_out="one-to-one"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    categorical,
                )
            )
        return Pipeline(
            [
                ("prep", ColumnTransformer(transformers, remainder="drop")),
                (
                    "clf",
                    LogisticRegression(
                        C=self.C,
                        class_weight=None,
                        max_iter=self.max_iter,
                        random_state=self.random_state,
                    ),
                ),
            ]
        )

    def _select(self, X: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names if c not in X.columns]
        if missing:
            raise BaselineError(
                f"expected feature columns {missing!r} in the frame, got none of them"
            )
        out = X[self.feature_names].copy()
        for c in self.feature_names:
            if not (
                isinstance(out[c].dtype, pd.CategoricalDtype)
                or pd.api.types.is_string_dtype(out[c].dtype)
            ):
                out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
        return out

    def fit(
        self,
        X: pd.DataFrame,
        y: Sequence[int] | np.ndarray | pd.Series,
        sample_weight: np.ndarray | None = None,
    ) -> LogisticBaseline:
        """Fit the pipeline.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_columns)
            Must contain ``feature_names``.
        y : array-like of {0, 1}, shape (n_rows,)
        sample_weight : ndarray of shape (n_rows,), optional
            Row weights (``1 / share`` for case-control sampled negatives).

        Returns
        -------
        LogisticBaseline
            ``self``, with ``pipeline_`` fitted.

        Raises
        ------
        BaselineError
            A feature is missing or ``y`` has a single class.
        """
        labels = np.asarray(pd.Series(y).astype("float64"), dtype="float64")
        if np.unique(labels[~np.isnan(labels)]).size < 2:
            raise BaselineError("expected both classes in the training labels, got one")
        Xs = self._select(X)
        self.pipeline_ = self._pipeline(Xs)
        self.pipeline_.fit(Xs, labels.astype(int), clf__sample_weight=sample_weight)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of escalation within H days.

        Parameters
        ----------
        X : DataFrame of shape (n_rows, n_columns)

        Returns
        -------
        ndarray of float64, shape (n_rows, 2)
            Columns: P(no escalation), P(escalation).

        Raises
        ------
        BaselineError
            Called before :meth:`fit`.
        """
        if not hasattr(self, "pipeline_"):
            raise BaselineError(
                "expected a fitted LogisticBaseline, got one whose fit was not called"
            )
        return np.asarray(self.pipeline_.predict_proba(self._select(X)), dtype="float64")


def resolve_ground_truth_dir(home: Path, explicit: Path | None) -> Path | None:
    """Where the simulator's ground truth lies, if anywhere.

    Parameters
    ----------
    home : Path
        Revisit home folder.
    explicit : Path or None
        ``--ground-truth DIR`` when given: either the ``ground_truth`` folder
        itself or the simulation output folder that holds it.

    Returns
    -------
    Path or None
        The folder holding ``oracle.parquet``; ``None`` when not given and
        ``<home>/ground_truth`` does not exist (real data: no oracle).

    Raises
    ------
    BaselineError
        ``explicit`` is given but holds no ``oracle.parquet``.
    """
    if explicit is None:
        default = Path(home) / "ground_truth"
        return default if (default / ORACLE_FILE).is_file() else None
    explicit = Path(explicit)
    for candidate in (explicit, explicit / "ground_truth"):
        if (candidate / ORACLE_FILE).is_file():
            return candidate
    raise BaselineError(
        f"expected {ORACLE_FILE} in {str(explicit)!r} or its ground_truth/ folder, found none"
    )


def read_oracle(
    ground_truth_dir: Path, as_of_dates: Sequence[pd.Timestamp] | None = None
) -> pd.DataFrame:
    """The simulator's oracle rows, optionally only those of some as-of dates.

    Parameters
    ----------
    ground_truth_dir : Path
        Folder holding ``oracle.parquet``.
    as_of_dates : sequence of pandas.Timestamp, optional
        Keep only these dates (read with a Parquet filter: a prefecture's oracle
        holds one row per household and week).

    Returns
    -------
    DataFrame
        ``household_id`` (str), ``as_of`` (Asia/Shanghai, ns), ``oracle_prob``.

    Raises
    ------
    BaselineError
        The file is missing or lacks the expected columns.
    """
    path = Path(ground_truth_dir) / ORACLE_FILE
    try:
        oracle = _read_oracle_rows(path, as_of_dates)
    except FileNotFoundError as err:
        raise BaselineError(f"expected the oracle file at {str(path)!r}, found none") from err
    except (KeyError, ValueError) as err:
        raise BaselineError(
            f"expected columns household_id, as_of, oracle_prob in {str(path)!r}: {err}"
        ) from err
    as_of = pd.to_datetime(oracle["as_of"])
    if as_of.dt.tz is None:
        as_of = as_of.dt.tz_localize(TIMEZONE)
    oracle["as_of"] = as_of.dt.tz_convert(TIMEZONE).dt.as_unit("ns")
    if as_of_dates is not None:
        wanted = pd.DatetimeIndex(list(as_of_dates)).tz_convert(TIMEZONE).as_unit("ns")
        oracle = oracle[oracle["as_of"].isin(wanted)]
    oracle["household_id"] = oracle["household_id"].astype(str)
    return oracle.drop_duplicates(list(KEY_COLUMNS), keep="last").reset_index(drop=True)


def _read_oracle_rows(path: Path, as_of_dates: Sequence[pd.Timestamp] | None) -> pd.DataFrame:
    """Oracle columns, only the rows of ``as_of_dates`` when given (an Arrow filter, typed
    like the file's ``as_of`` so that the comparison is of instants)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    if not path.exists():
        raise FileNotFoundError(path)
    dataset = ds.dataset(path, format="parquet")
    expression = None
    if as_of_dates is not None:
        kind = dataset.schema.field("as_of").type
        instants = pd.DatetimeIndex([pd.Timestamp(d) for d in as_of_dates])
        if getattr(kind, "tz", None) is None and instants.tz is not None:
            instants = instants.tz_convert(TIMEZONE).tz_localize(None)
        elif getattr(kind, "tz", None) is not None and instants.tz is None:
            instants = instants.tz_localize(TIMEZONE)
        expression = ds.field("as_of").isin(pa.array(instants, type=kind))
    table = dataset.to_table(columns=[*KEY_COLUMNS, "oracle_prob"], filter=expression)
    return table.to_pandas()


def oracle_scores(
    frame: pd.DataFrame, ground_truth_dir: Path, oracle: pd.DataFrame | None = None
) -> np.ndarray:
    """The simulator's escalation probability for each (household_id, as_of) row.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        With ``household_id`` (str) and ``as_of`` (datetime64[ns, Asia/Shanghai]).
    ground_truth_dir : Path
        Folder holding ``oracle.parquet`` (household_id, as_of, oracle_prob).
    oracle : DataFrame, optional
        Rows already read by :func:`read_oracle` (scoring piece by piece reads
        the file once per fold, not once per piece).

    Returns
    -------
    ndarray of float64, shape (n_rows,)
        Probability in [0, 1]; NaN where the oracle has no such row.

    Raises
    ------
    BaselineError
        The file is missing or lacks the expected columns.
    """
    if oracle is None:
        oracle = read_oracle(ground_truth_dir)
    keys = frame[list(KEY_COLUMNS)].copy()
    keys["household_id"] = keys["household_id"].astype(str)
    as_of = pd.to_datetime(keys["as_of"])
    if as_of.dt.tz is None:
        as_of = as_of.dt.tz_localize(TIMEZONE)
    keys["as_of"] = as_of.dt.tz_convert(TIMEZONE).dt.as_unit("ns")
    merged = keys.merge(oracle, on=list(KEY_COLUMNS), how="left", validate="many_to_one")
    values = merged["oracle_prob"].astype("float64").to_numpy()
    missing = int(np.isnan(values).sum())
    if missing:
        logger.warning("oracle: %d of %d rows have no oracle probability", missing, len(values))
    return values
