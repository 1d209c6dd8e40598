"""The household escalation risk model.

:class:`EscalationModel` wraps :class:`lightgbm.LGBMClassifier` with the
scikit-learn estimator contract, early stopping on an out-of-time validation
set, and probability calibration on that validation set, so that a score reads
as "probability that the household has an escalation incident reported within
H days of the as-of date" (H = 30 days by default; see ``warehouse.contract``).

It owns its feature list and the categories seen in training, re-applies them
at prediction (unseen category values become missing and are counted), never
modifies the caller's frame and ignores column order. It refuses features whose
names or contents match protected or personal attributes.

Calibration
-----------
``calibration="auto"`` chooses between isotonic regression and Platt's sigmoid
(a one-feature logistic regression on the booster's raw log-odds; Platt 1999,
"Probabilistic outputs for support vector machines") by *cross-validation
within the validation set*: the validation rows are split into stratified folds
(5, fewer when a class has fewer rows), each method is fitted on the other folds
and scored by Brier score on the held-out fold, and the method with the lower
mean Brier score wins (ties go to sigmoid, the simpler map). The winner is then
refitted on all validation rows. So the choice is never judged on the rows it
was fitted on. Caveat, documented rather than hidden: the same validation rows
also pick the boosting round by early stopping, so the booster's raw scores on
them are slightly optimistic; the test split of ``training/`` is the honest
measure. Per-method CV Brier scores are kept in ``calibration_scores_``.

Ties. Isotonic regression is a step function: every household whose raw score
falls in one step gets the same probability, and a ranking would then order
them by household id, arbitrarily. The isotonic output is therefore blended
with the booster's own probability, ``p = (1 - eps) * iso(s) + eps * sigmoid(s)``
with ``eps = ISOTONIC_TIE_BREAK`` (1e-9): ``p`` is strictly increasing in the raw
score ``s`` (a sum of a non-decreasing and a strictly increasing map), stays in
[0, 1], and differs from the isotonic probability by at most 1e-9. So within a
step the order follows the booster's score, and between steps nothing changes.
(Raw scores closer than about 1e-7 log-odds may still round to the same float;
they are ties of the booster itself.) Sigmoid calibration is strictly
increasing already.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from models.calibration import (
    ISOTONIC_TIE_BREAK,
    MIN_TOP_STEP_POSITIVES,
    ScoreCalibrator,
    choose_calibration,
)
from models.errors import FeatureFrameError, ForbiddenFeatureError, ModelNotFittedError
from models.reasons import Reason, load_catalogue, top_reasons
from warehouse import contract

logger = logging.getLogger(__name__)

__all__ = [
    "ISOTONIC_TIE_BREAK",
    "MIN_TOP_STEP_POSITIVES",
    "EscalationModel",
    "RowBlocks",
    "ScoreCalibrator",
    "check_forbidden",
    "choose_calibration",
]

CALIBRATION_METHODS = ("auto", "isotonic", "sigmoid", "none")

#: Columns of the feature table that are never features.
NON_FEATURE_COLUMNS: frozenset[str] = frozenset(
    (*contract.KEY_COLUMNS, *contract.JURISDICTION_COLUMNS, contract.LABEL_COLUMN)
)

# Content patterns of personal data, searched in text feature values.
# 18-digit resident ID number (GB 11643-1999): 17 digits and a check digit 0-9/X.
_ID_NUMBER_RE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
# 11-digit mainland mobile number (1[3-9]x xxxx xxxx), optionally with +86 and
# single spaces or hyphens between the 3-4-4 groups.
_PHONE_RE = re.compile(r"(?<![0-9])1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}(?![0-9])")


def _is_text_like(series: pd.Series) -> bool:
    """Whether a column is a category/text column (becomes a pandas ``category``)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return True
    return pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)


def _as_text(series: pd.Series) -> pd.Series:
    """Values as ``str`` dtype, missing kept missing."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    return series.astype("str")


def _as_float(series: pd.Series, name: str) -> np.ndarray:
    """Numeric/bool/nullable column as float64 (NA -> NaN); text parsed if numeric."""
    if _is_text_like(series):
        try:
            series = pd.to_numeric(series.astype(object), errors="raise")
        except (ValueError, TypeError) as err:
            raise FeatureFrameError(
                f"feature {name!r} was numeric in training but got non-numeric values "
                f"(dtype {series.dtype!s})"
            ) from err
    if not (pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series)):
        raise FeatureFrameError(
            f"feature {name!r}: expected a numeric, boolean or text/category column, "
            f"got dtype {series.dtype!s}"
        )
    # float32 stays float32 (the training frame in pieces is float32: half the memory)
    dtype = "float32" if series.dtype == np.float32 else "float64"
    return series.to_numpy(dtype=dtype, na_value=np.nan)


def check_forbidden(X: pd.DataFrame, feature_names: Sequence[str]) -> None:
    """Refuse protected/personal attributes as features.

    Parameters
    ----------
    X : DataFrame of shape (n_rows, n_columns)
        Training frame.
    feature_names : sequence of str
        Candidate feature columns.

    Raises
    ------
    ForbiddenFeatureError
        When a name contains one of ``warehouse.contract.FORBIDDEN_FEATURE_SUBSTRINGS``
        (case-insensitive), is a key/jurisdiction/label column, or a text
        column holds values that look like 18-digit ID numbers or 11-digit
        mobile phone numbers. The message names the column and the reason,
        never the value.
    """
    for name in feature_names:
        lowered = str(name).lower()
        for needle in contract.FORBIDDEN_FEATURE_SUBSTRINGS:
            if needle.lower() in lowered:
                raise ForbiddenFeatureError(
                    f"feature {name!r} refused: its name contains {needle!r}, which marks a "
                    "protected or personal attribute (warehouse.contract.FORBIDDEN_FEATURE_SUBSTRINGS)"
                )
        if name in NON_FEATURE_COLUMNS:
            raise ForbiddenFeatureError(
                f"feature {name!r} refused: key, jurisdiction and label columns "
                f"{sorted(NON_FEATURE_COLUMNS)!r} are never model features"
            )
    for name in feature_names:
        column = X[name]
        if not _is_text_like(column):
            continue
        values = pd.Series(pd.unique(_as_text(column).dropna()), dtype="str")
        for pattern, what in ((_ID_NUMBER_RE, "18-digit ID numbers"), (_PHONE_RE, "phone numbers")):
            hits = int(values.str.contains(pattern, regex=True).sum())
            if hits:
                raise ForbiddenFeatureError(
                    f"feature {name!r} refused: {hits} distinct value(s) look like {what} "
                    "(personal data is never a model feature)"
                )


def _binary_labels(y: Any, n_rows: int, what: str, *, both: bool = True) -> np.ndarray:
    labels = pd.Series(y).reset_index(drop=True) if not isinstance(y, pd.Series) else y
    if len(labels) != n_rows:
        raise FeatureFrameError(
            f"{what}: expected {n_rows} labels (one per row), got {len(labels)}"
        )
    if labels.isna().any():
        raise FeatureFrameError(
            f"{what}: expected labels 0/1, got {int(labels.isna().sum())} missing "
            "(drop rows whose horizon is not fully observed)"
        )
    try:
        values = labels.to_numpy(dtype="float64")
    except (TypeError, ValueError) as err:
        raise FeatureFrameError(
            f"{what}: expected numeric labels 0/1, got dtype {labels.dtype!s}"
        ) from err
    bad = sorted(set(np.unique(values).tolist()) - {0.0, 1.0})
    if bad:
        raise FeatureFrameError(f"{what}: expected labels in {{0, 1}}, got also {bad[:5]!r}")
    if both and len(np.unique(values)) < 2:
        raise FeatureFrameError(f"{what}: expected both classes 0 and 1, got only {values[0]:g}")
    return values.astype(np.int64)


def _text_values(X: pd.DataFrame, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Distinct non-missing values of each text-like feature column of ``X`` (category candidates)."""
    return {
        name: np.asarray(_as_text(X[name]).dropna().unique(), dtype=object)
        for name in names
        if _is_text_like(X[name])
    }


class RowBlocks(Protocol):
    """Rows held in blocks read one at a time (e.g. one Parquet file per as-of date).

    ``len(blocks)`` is the number of blocks and ``blocks[i]`` reads block ``i``
    as a DataFrame; reading a block twice gives the same rows.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> pd.DataFrame: ...


class EscalationModel(ClassifierMixin, BaseEstimator):
    """Calibrated LightGBM model of household escalation risk.

    Parameters
    ----------
    n_estimators : int, default 2000
        Maximum number of boosting rounds (early stopping usually ends sooner).
    learning_rate : float, default 0.05
        Shrinkage of each tree.
    num_leaves : int, default 31
        Maximum leaves per tree.
    min_child_samples : int, default 50
        Minimum rows in a leaf.
    early_stopping_rounds : int, default 100
        Stop when the validation log-loss has not improved for this many rounds.
    calibration : {"auto", "isotonic", "sigmoid", "none"}, default "auto"
        Probability calibration fitted on the validation set; ``"auto"`` chooses
        isotonic or sigmoid by cross-validation within the validation set (see
        the module docstring); ``"none"`` keeps the booster's probability.
    feature_names : sequence of str or None, default None
        Feature columns. ``None``: every column of ``X`` except
        ``warehouse.contract.KEY_COLUMNS``, ``JURISDICTION_COLUMNS`` and
        ``LABEL_COLUMN``, in the order of ``X``.
    random_state : int, default 0
        Seed of LightGBM and of the calibration folds: same data and seed give
        the same model (``booster_.model_to_string()``).
    n_jobs : int, default 2
        LightGBM threads.

    Attributes
    ----------
    feature_names_ : list of str
        Features used, in the booster's order.
    categories_ : dict of str to list of str
        For each category feature, the values seen in training (sorted).
    booster_ : lightgbm.Booster
        The trained booster.
    best_iteration_ : int
        Boosting rounds used for prediction (chosen by early stopping).
    calibrator_ : ScoreCalibrator
        Map from raw log-odds to calibrated probability.
    calibration_method_ : {"isotonic", "sigmoid", "none"}
        The calibration actually used.
    calibration_scores_ : dict of str to float
        Cross-validated Brier score per method when ``calibration="auto"``.
    unseen_counts_ : dict of str to int
        Per category feature, how many values of the *latest* ``predict_proba``
        / ``explain`` call were not seen in training (they are scored as
        missing). Empty after ``fit``.
    classes_ : ndarray of shape (2,)
        ``array([0, 1])``.
    n_features_in_ : int
        Number of features.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 2000,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        early_stopping_rounds: int = 100,
        calibration: str = "auto",
        feature_names: Sequence[str] | None = None,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.early_stopping_rounds = early_stopping_rounds
        self.calibration = calibration
        self.feature_names = feature_names
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        if self.calibration not in CALIBRATION_METHODS:
            raise ValueError(
                f"calibration: expected one of {CALIBRATION_METHODS!r}, got {self.calibration!r}"
            )
        for name in ("n_estimators", "num_leaves", "min_child_samples", "early_stopping_rounds"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if not (isinstance(self.learning_rate, float | int) and self.learning_rate > 0):
            raise ValueError(
                f"learning_rate: expected a positive number, got {self.learning_rate!r}"
            )

    def _select_features(self, X: pd.DataFrame) -> list[str]:
        if self.feature_names is None:
            return [str(c) for c in X.columns if c not in NON_FEATURE_COLUMNS]
        names = list(self.feature_names)
        if len(set(names)) != len(names):
            raise ValueError(f"feature_names: expected unique names, got {names!r}")
        missing = [n for n in names if n not in X.columns]
        if missing:
            raise FeatureFrameError(f"feature_names: columns {missing!r} are not in X")
        return names

    def fit(
        self,
        X: pd.DataFrame,
        y: Any,
        X_val: pd.DataFrame,
        y_val: Any,
        sample_weight: Any = None,
        val_sample_weight: Any = None,
    ) -> EscalationModel:
        """Train the booster with early stopping on ``X_val``, then calibrate on it.

        Parameters
        ----------
        X : DataFrame of shape (n_train, n_columns)
            Training rows (earlier as-of dates). May contain the key,
            jurisdiction and label columns; they are ignored. Numeric, boolean
            and nullable integer features become float64 (missing = NaN);
            text/``str``/``category`` features become pandas ``category``.
        y : array-like of shape (n_train,)
            Labels 0/1 (escalation within H days), no missing values.
        X_val : DataFrame of shape (n_val, n_columns)
            Out-of-time validation rows (later as-of dates than ``X``).
        y_val : array-like of shape (n_val,)
            Labels 0/1 of ``X_val``; both classes must occur.
        sample_weight, val_sample_weight : array-like of shape (n_train,) / (n_val,), optional
            Row weights of the training and validation rows: ``1 / share`` for
            negatives kept by case-control sampling (``training.frame``), so that
            the booster, early stopping and calibration see the population's
            base rate. ``None``: every row weighs 1.

        Returns
        -------
        self : EscalationModel

        Raises
        ------
        ForbiddenFeatureError
            A feature's name or content matches a protected/personal attribute.
        FeatureFrameError
            A feature is missing, of an unsupported dtype, or the labels are
            not binary 0/1 with both classes present.
        ValueError
            Invalid hyper-parameters.
        """
        started = time.perf_counter()
        self._check_params()
        for frame, what in ((X, "X"), (X_val, "X_val")):
            if not isinstance(frame, pd.DataFrame):
                raise FeatureFrameError(
                    f"{what}: expected a pandas DataFrame, got {type(frame).__name__}"
                )
        names = self._select_features(X)
        if not names:
            raise FeatureFrameError(
                f"X: expected at least one feature column, got columns {list(X.columns)!r}"
            )
        check_forbidden(X, names)
        y_train = _binary_labels(y, len(X), "y")
        self._learn_schema(names, [_text_values(X, names)])
        w_train = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        return self._fit_matrix(
            self._matrix(X, count_unseen=False), y_train, w_train, X_val, y_val,
            val_sample_weight, started,
        )  # fmt: skip

    def fit_blocks(
        self,
        blocks: RowBlocks,
        X_val: pd.DataFrame,
        y_val: Any,
        *,
        label_column: str,
        weight_column: str | None = None,
        val_sample_weight: Any = None,
    ) -> EscalationModel:
        """Train as :meth:`fit` on training rows held in blocks read one at a time.

        The booster is fed one float32 matrix filled block by block (categories
        as their codes), never a frame of every training row: the peak memory
        of a fit is that matrix (4 bytes per row and feature), LightGBM's binned
        dataset (about 1 byte per row and feature) and one block, instead of
        about six times the matrix through :meth:`fit` (measured: 560 MB for
        155 732 rows x 156 features through ``fit``).

        Parameters
        ----------
        blocks : RowBlocks
            ``len(blocks)`` blocks; ``blocks[i]`` a DataFrame of training rows
            with the feature columns, ``label_column`` and (optionally)
            ``weight_column``. Each block is read twice (schema and labels,
            then values).
        X_val, y_val, val_sample_weight
            As :meth:`fit`.
        label_column : str
            Column of the labels 0/1 in every block.
        weight_column : str, optional
            Column of the row weights (``1 / share`` for sampled negatives).

        Returns
        -------
        self : EscalationModel

        Raises
        ------
        ForbiddenFeatureError, FeatureFrameError, ValueError
            As :meth:`fit`; also when there is no block or no row.
        """
        started = time.perf_counter()
        self._check_params()
        if len(blocks) == 0:
            raise FeatureFrameError("blocks: expected at least one block of training rows")
        if not isinstance(X_val, pd.DataFrame):
            raise FeatureFrameError(
                f"X_val: expected a pandas DataFrame, got {type(X_val).__name__}"
            )
        names: list[str] = []
        sizes: list[int] = []
        labels: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        texts: list[dict[str, np.ndarray]] = []
        for i in range(len(blocks)):
            block = blocks[i]
            if i == 0:
                names = self._select_features(
                    block.drop(columns=[label_column, weight_column or label_column])
                )
                if not names:
                    raise FeatureFrameError(
                        f"blocks: expected at least one feature column, got {list(block.columns)!r}"
                    )
            check_forbidden(block, names)
            sizes.append(len(block))
            labels.append(
                _binary_labels(block[label_column], len(block), f"block {i} labels", both=False)
            )
            if weight_column is not None:
                weights.append(block[weight_column].to_numpy(dtype=np.float64))
            texts.append(_text_values(block, names))
        y_train = np.concatenate(labels)
        if len(y_train) == 0 or len(np.unique(y_train)) < 2:
            raise FeatureFrameError(
                f"blocks: expected training rows of both classes, got {len(y_train)} rows "
                f"with labels {sorted(set(y_train.tolist()))!r}"
            )
        self._learn_schema(names, texts)
        matrix = np.empty((len(y_train), len(names)), dtype=np.float32)
        row = 0
        for i in range(len(blocks)):
            block = blocks[i]
            if len(block) != sizes[i]:
                raise FeatureFrameError(
                    f"block {i}: expected the {sizes[i]} rows read first, got {len(block)}"
                )
            matrix[row : row + sizes[i]] = self._matrix(block, count_unseen=False)
            row += sizes[i]
            del block
        w_train = np.concatenate(weights) if weight_column is not None else None
        return self._fit_matrix(matrix, y_train, w_train, X_val, y_val, val_sample_weight, started)

    def _learn_schema(self, names: list[str], texts: Sequence[dict[str, np.ndarray]]) -> None:
        """Feature order and the categories of text features (union over the blocks' values)."""
        categories: dict[str, list[str]] = {}
        text_names = set().union(*(t.keys() for t in texts)) if texts else set()
        for name in names:
            if name in text_names:
                seen = set().union(*(set(t[name].tolist()) for t in texts if name in t))
                categories[name] = sorted(str(v) for v in seen)
        self.feature_names_ = names
        self.categories_ = categories
        self.n_features_in_ = len(names)
        self.classes_ = np.array([0, 1])
        self.unseen_counts_: dict[str, int] = {}

    def _fit_matrix(
        self,
        matrix: np.ndarray,
        y_train: np.ndarray,
        w_train: np.ndarray | None,
        X_val: pd.DataFrame,
        y_val: Any,
        val_sample_weight: Any,
        started: float,
    ) -> EscalationModel:
        """Boost on the float32 training matrix, early stopping and calibration on ``X_val``."""
        names = self.feature_names_
        y_valid = _binary_labels(y_val, len(X_val), "y_val")
        X_val_m = self._matrix(X_val, count_unseen=False)
        categories = self.categories_
        classifier = lgb.LGBMClassifier(
            objective="binary",
            n_estimators=int(self.n_estimators),
            learning_rate=float(self.learning_rate),
            num_leaves=int(self.num_leaves),
            min_child_samples=int(self.min_child_samples),
            random_state=int(self.random_state),
            n_jobs=int(self.n_jobs),
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )
        logger.info(
            "fitting booster: %d training rows, %d validation rows, %d features (%d categorical)",
            len(matrix),
            len(X_val_m),
            len(names),
            len(categories),
        )
        w_val = (
            None if val_sample_weight is None else np.asarray(val_sample_weight, dtype=np.float64)
        )
        classifier.fit(
            matrix,
            y_train,
            sample_weight=w_train,
            eval_X=(X_val_m,),
            eval_y=(y_valid,),
            eval_sample_weight=None if w_val is None else [w_val],
            eval_metric="binary_logloss",
            feature_name=list(names),
            categorical_feature=[j for j, n in enumerate(names) if n in categories],
            callbacks=[
                lgb.early_stopping(
                    int(self.early_stopping_rounds), first_metric_only=True, verbose=False
                )
            ],
        )
        self.booster_ = classifier.booster_
        best = int(classifier.best_iteration_ or 0)
        self.best_iteration_ = best if best > 0 else int(self.booster_.current_iteration())

        raw_val = self._raw_score(X_val_m)
        if self.calibration == "auto":
            method, scores = choose_calibration(raw_val, y_valid, int(self.random_state), w_val)
        else:
            method, scores = str(self.calibration), {}
        self.calibration_method_ = method
        self.calibration_scores_ = scores
        self.calibrator_ = ScoreCalibrator(method).fit(raw_val, y_valid, w_val)
        logger.info(
            "fitted in %.1f s: best iteration %d, calibration %s (CV Brier %s)",
            time.perf_counter() - started,
            self.best_iteration_,
            method,
            {k: round(v, 5) for k, v in scores.items()},
        )
        return self

    # -------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise ModelNotFittedError(
                "this EscalationModel is not fitted yet: call fit(X, y, X_val, y_val) first"
            )

    def _typed_columns(
        self, X: pd.DataFrame, count_unseen: bool
    ) -> Iterator[tuple[str, pd.Categorical | np.ndarray]]:
        """Each feature of ``X`` in training order with its training type, one at a time.

        Category features get exactly the training categories (unseen values
        become missing, counted in ``unseen_counts_`` when ``count_unseen``);
        the others become float arrays (:func:`_as_float`).
        """
        if not isinstance(X, pd.DataFrame):
            raise FeatureFrameError(f"X: expected a pandas DataFrame, got {type(X).__name__}")
        missing = [n for n in self.feature_names_ if n not in X.columns]
        if missing:
            raise FeatureFrameError(
                f"X: missing feature column(s) {missing!r}; the model expects {len(self.feature_names_)} "
                f"features (see feature_names_)"
            )
        unseen: dict[str, int] = {}
        for name in self.feature_names_:
            column = X[name]
            if name in self.categories_:
                text = _as_text(column)
                known = text.isin(self.categories_[name])
                n_unseen = int((text.notna() & ~known).sum())
                if n_unseen:
                    unseen[name] = n_unseen
                # Unseen values become missing before the Categorical is built.
                yield name, pd.Categorical(text.where(known), categories=self.categories_[name])
            else:
                yield name, _as_float(column, name)
        if count_unseen:
            self.unseen_counts_ = unseen
            if unseen:
                logger.warning(
                    "category values not seen in training scored as missing: %s",
                    ", ".join(f"{k}: {v} row(s)" for k, v in unseen.items()),
                )

    def _prepare(self, X: pd.DataFrame, *, count_unseen: bool = True) -> pd.DataFrame:
        """Feature frame for the booster: features in training order, training dtypes.

        Builds a new frame (the caller's is never modified). Category features
        get exactly the training categories; unseen values become missing.
        """
        data = dict(self._typed_columns(X, count_unseen))
        return pd.DataFrame(data, index=pd.RangeIndex(len(X)), columns=self.feature_names_)

    def _matrix(self, X: pd.DataFrame, *, count_unseen: bool = True) -> np.ndarray:
        """The booster's input: float32 of shape (n, n_features), categories as codes.

        Values as :meth:`_prepare` (unseen categories missing), held as one
        C-ordered float32 array instead of a frame, so LightGBM uses it without
        a copy. A category's code is its index in ``categories_[name]``, which
        is also the code LightGBM gives a pandas ``category`` column with those
        categories, so a booster fitted on either form scores both alike.
        """
        if not isinstance(X, pd.DataFrame):
            raise FeatureFrameError(f"X: expected a pandas DataFrame, got {type(X).__name__}")
        out = np.empty((len(X), len(self.feature_names_)), dtype=np.float32)
        for j, (_name, values) in enumerate(self._typed_columns(X, count_unseen)):
            if isinstance(values, pd.Categorical):
                codes = values.codes
                out[:, j] = np.where(codes < 0, np.nan, codes)
            else:
                out[:, j] = values
        return out

    def _raw_score(self, X_prepared: pd.DataFrame | np.ndarray) -> np.ndarray:
        raw = self.booster_.predict(X_prepared, raw_score=True, num_iteration=self.best_iteration_)
        return np.asarray(raw, dtype=np.float64)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of escalation within H days.

        Parameters
        ----------
        X : DataFrame of shape (n_households, n_columns)
            Must contain every column of ``feature_names_`` (any order; extra
            columns are ignored). Not modified.

        Returns
        -------
        ndarray of shape (n_households, 2), float64
            Column 1 is the calibrated probability of escalation, column 0 its
            complement.

        Raises
        ------
        ModelNotFittedError
            Before ``fit`` (a :class:`sklearn.exceptions.NotFittedError`).
        FeatureFrameError
            A feature column is missing or a numeric feature holds text.
        """
        self._check_fitted()
        prob = self.calibrator_.predict(self._raw_score(self._matrix(X)))
        return np.column_stack([1.0 - prob, prob])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class 1 where the calibrated probability is at least 0.5; int64 of shape (n,)."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def explain(self, X: pd.DataFrame, top_k: int = 3) -> list[list[Reason]]:
        """Top reasons per household, computed for the rows given only.

        Parameters
        ----------
        X : DataFrame of shape (n_households, n_columns)
            Rows to explain (typically the top of a priority list). Not modified.
        top_k : int, default 3
            Maximum reasons per household.

        Returns
        -------
        list of n_households lists of Reason
            Features with the largest positive contribution (log-odds units of
            the booster, LightGBM ``pred_contrib``) among those the catalogue
            lets officers see as reasons (``FeatureSpec.reason``, value bounds;
            never missing, zero only where the catalogue allows), largest
            first; texts from the feature catalogue. Every feature still
            counts in the score.

        Raises
        ------
        ModelNotFittedError
            Before ``fit``.
        FeatureFrameError
            A feature column is missing.
        ValueError
            ``top_k`` is negative or not an integer.
        """
        self._check_fitted()
        if not isinstance(top_k, int | np.integer) or isinstance(top_k, bool) or top_k < 0:
            raise ValueError(f"top_k: expected a non-negative integer, got {top_k!r}")
        prepared = self._prepare(X)
        if len(prepared) == 0:
            return []
        contrib = np.asarray(
            self.booster_.predict(prepared, pred_contrib=True, num_iteration=self.best_iteration_),
            dtype=np.float64,
        )
        columns: list[list[float | str | None]] = []
        for name in self.feature_names_:
            column = prepared[name]
            if name in self.categories_:
                columns.append([None if pd.isna(v) else str(v) for v in column.astype(object)])
            else:
                columns.append([None if np.isnan(v) else float(v) for v in column.to_numpy()])
        values = [list(row) for row in zip(*columns, strict=True)]
        return top_reasons(contrib, values, self.feature_names_, int(top_k), load_catalogue())
