"""Reviewers' tools (DSSG triage's post-modelling): what a sceptical reviewer checks in MLflow.

* **Champion vs challenger** on the same latest test weeks: the current
  champion scores the feature rows of the run's latest test fold, the
  challenger's fold model scored them already (it never saw those weeks);
  precision@k of both and the paired difference (challenger − champion) with a
  household-clustered paired bootstrap interval. The champion may have been
  trained on those weeks (its window ends later than the fold's training
  block): the comparison then favours the champion, which is the cautious side.
* **List stability**: Jaccard overlap ``|A ∩ B| / |A ∪ B|`` of each township's
  top 20 from one test week to the next (same model), and between champion and
  challenger on the same week.
* **Crosstabs**: how the top 1 % differs from the rest: the mean of every
  feature in both groups and their ratio, and the share of the top 1 % that
  officers would be shown each reason for (``models.reasons``: the fold
  model's top reasons of each top row; computed for those rows only, as
  LightGBM's ``pred_contrib`` costs about 1.4 ms a row).

The champion is loaded as serving loads it (:func:`models.signing.load_verified`:
the signed bundle of LightGBM's text model and JSON, never MLflow's pickled
pyfunc). A champion that is unsigned, whose signature does not check, or a run
without ``REVISIT_SIGNING_KEY`` is not compared: the run says why in the tag
``vs_champion.warning`` (and ``revisit promote`` then refuses without ``--force``).

Every output is an aggregate (counts, means, overlaps): no household id leaves.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training.bootstrap import bootstrap_draws
from training.evidence import top_share_mask
from training.metrics import KValue, k_label
from warehouse.contract import KEY_COLUMNS, LABEL_COLUMN

logger = logging.getLogger(__name__)

CHALLENGER, CHAMPION = "challenger", "champion"
#: Run tag naming the champion version compared with (read by ``training.registry``).
COMPARED_CHAMPION_TAG = "vs_champion.version"
#: Run tag saying why the champion was not compared (unsigned, unverifiable, no key).
CHAMPION_WARNING_TAG = "vs_champion.warning"
#: Explains rows as officers see them: (rows) -> one list of reasons per row.
Explainer = Callable[[pd.DataFrame], list[list[Any]]]
#: Crosstab row giving the share of top rows without any reason.
NO_REASON = "(no reason shown)"


def top_k_per_group(
    scored: pd.DataFrame, score_col: str, k: int, group_col: str = "township"
) -> pd.Series:
    """The top ``k`` rows by score of each (as-of date, group), ties by household id.

    Returns
    -------
    Series of bool, index of ``scored``
    """
    ranked = scored.sort_values([score_col, "household_id"], ascending=[False, True], kind="stable")
    position = ranked.groupby(["as_of", group_col], sort=False).cumcount()
    return (position < k).reindex(scored.index)


def _jaccard(a: set[Any], b: set[Any]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else math.nan


def week_to_week_jaccard(
    scored: pd.DataFrame, score_col: str, k: int = 20, group_col: str = "township"
) -> pd.DataFrame:
    """Jaccard overlap of each group's top ``k`` between consecutive as-of dates.

    Parameters
    ----------
    scored : DataFrame
        Scored rows with ``household_id``, ``as_of``, ``group_col``, ``score_col``
        and, when present, ``fold`` (pairs are taken within a fold: one model).
    score_col : str
        Score column.
    k : int
        List length per group.
    group_col : str
        Group of the lists.

    Returns
    -------
    DataFrame
        One row per (group, consecutive pair of dates): ``group_col``, ``as_of``
        (the later date), ``jaccard`` (float64 in [0, 1]).
    """
    on = scored[top_k_per_group(scored, score_col, k, group_col).to_numpy(dtype=bool)]
    by = ["fold"] if "fold" in on.columns else []
    lists = on.groupby([*by, group_col, "as_of"], sort=True)["household_id"].agg(set)
    rows = []
    for key, part in lists.groupby(level=list(range(len(by) + 1)), sort=False):
        values = part.to_list()
        dates = part.index.get_level_values("as_of")
        group = key[-1] if isinstance(key, tuple) else key
        for i in range(1, len(values)):
            rows.append(
                {group_col: group, "as_of": dates[i], "jaccard": _jaccard(values[i - 1], values[i])}
            )
    return pd.DataFrame(rows, columns=[group_col, "as_of", "jaccard"])


def between_lists_jaccard(
    scored: pd.DataFrame, a_col: str, b_col: str, k: int = 20, group_col: str = "township"
) -> pd.DataFrame:
    """Jaccard overlap of two scorers' top ``k`` per (as-of date, group) on the same rows.

    Returns
    -------
    DataFrame
        ``as_of``, ``group_col``, ``jaccard`` (float64 in [0, 1]).
    """
    out = []
    a = scored[top_k_per_group(scored, a_col, k, group_col).to_numpy(dtype=bool)]
    b = scored[top_k_per_group(scored, b_col, k, group_col).to_numpy(dtype=bool)]
    la = a.groupby(["as_of", group_col])["household_id"].agg(set)
    lb = b.groupby(["as_of", group_col])["household_id"].agg(set)
    for key in la.index.union(lb.index):
        sa = la.get(key, set())
        sb = lb.get(key, set())
        out.append({"as_of": key[0], group_col: key[1], "jaccard": _jaccard(sa, sb)})
    return pd.DataFrame(out, columns=["as_of", group_col, "jaccard"])


def top_share_crosstab(
    rows: pd.DataFrame,
    score_col: str,
    feature_names: Sequence[str],
    share: float = 0.01,
    explain: Explainer | None = None,
) -> pd.DataFrame:
    """Mean of every numeric feature in the top ``share`` of each as-of date vs the rest.

    Parameters
    ----------
    rows : DataFrame
        Test rows with ``as_of``, ``household_id``, ``score_col`` and the features.
    score_col : str
        Score defining the list.
    feature_names : sequence of str
        Features compared (non-numeric ones are skipped).
    share : float
        Top share of each as-of date (0.01 = top 1 %).
    explain : callable (top rows) -> list of lists of Reason, optional
        The reasons officers are shown for each of the top rows (e.g.
        :meth:`models.risk_model.EscalationModel.explain`), called once, on the
        top rows only. Omitted: the reason columns are NaN.

    Returns
    -------
    DataFrame
        One row per feature, sorted by ``ratio`` descending: ``feature``,
        ``mean_top``, ``mean_rest`` (feature units, NaN ignored), ``ratio``
        (top / rest; NaN when the rest's mean is 0), ``share_nonzero_top``,
        ``share_nonzero_rest`` (shares of rows with a value above 0), and the
        reason columns: ``reason_code`` (the reason's code, empty when the
        feature was never shown), ``reason_share_top`` (share of the top rows
        shown this reason among their reasons), ``reason_first_share_top``
        (share shown it first). A last row, ``feature`` ``(no reason shown)``,
        gives the share of top rows with no reason at all.
    """
    on = top_share_mask(rows, score_col, share)
    return _crosstab([(rows, on)], feature_names, explain)


def top_share_crosstab_by_date(
    scored: pd.DataFrame,
    read_features: Callable[[pd.Timestamp], pd.DataFrame],
    score_col: str,
    feature_names: Sequence[str],
    share: float = 0.01,
    explain: Explainer | None = None,
) -> pd.DataFrame:
    """:func:`top_share_crosstab`, reading one as-of date's features at a time.

    The same table, accumulated date by date (sums, counts of values and of
    values above 0, in the top and in the rest), so that only one test week's
    features and the top rows are ever held: every test week of a 1 000 000
    household prefecture is about 7.5 GB of features.

    Parameters
    ----------
    scored : DataFrame
        Scored test rows: ``household_id``, ``as_of``, ``score_col`` (and
        ``fold``, kept for ``explain``).
    read_features : callable (as_of) -> DataFrame
        The keys and features of one as-of date's rows.
    score_col, feature_names, share, explain
        As :func:`top_share_crosstab`.

    Returns
    -------
    DataFrame
        As :func:`top_share_crosstab`.
    """
    keep = [*KEY_COLUMNS, *(["fold"] if "fold" in scored.columns else []), score_col]

    def parts() -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        for as_of in sorted(set(scored["as_of"])):
            part = scored.loc[scored["as_of"] == as_of, keep].reset_index(drop=True)
            rows = part.merge(read_features(as_of), on=list(KEY_COLUMNS), how="left")
            yield rows, top_share_mask(rows, score_col, share)

    return _crosstab(parts(), feature_names, explain)


#: Top rows explained at most for the reason shares (a seeded sample beyond): the shares'
#: standard error is then at most 0.4 points, and 1 000 000 households' 120 000 top rows
#: would cost about three minutes of contributions (1.4 ms a row).
MAX_EXPLAINED_ROWS = 20_000


def _crosstab(
    parts: Iterable[tuple[pd.DataFrame, np.ndarray]],
    feature_names: Sequence[str],
    explain: Explainer | None,
) -> pd.DataFrame:
    """The crosstab table of (rows, top mask) parts, summed part by part (one date, or all rows).

    The reason shares are those of every top row, or of a seeded sample of
    :data:`MAX_EXPLAINED_ROWS` of them when there are more.
    """
    sums: dict[str, np.ndarray] = {}  # sum, values, above 0: top then rest
    n_top = n_rest = 0
    tops = []
    for rows, on in parts:
        n_top, n_rest = n_top + int(on.sum()), n_rest + int((~on).sum())
        for name in feature_names:
            if name not in rows.columns or not pd.api.types.is_numeric_dtype(rows[name]):
                continue
            x = pd.to_numeric(rows[name], errors="coerce").astype("float64").to_numpy()
            acc = sums.setdefault(name, np.zeros(6))
            for offset, values in ((0, x[on]), (3, x[~on])):
                seen = ~np.isnan(values)
                acc[offset] += values[seen].sum()
                acc[offset + 1] += seen.sum()
                acc[offset + 2] += (np.nan_to_num(values) > 0).sum()
        if explain is not None:
            tops.append(rows.loc[on])
    reasons = None
    if explain is not None:
        top = pd.concat(tops, ignore_index=True) if tops else pd.DataFrame()
        if len(top) > MAX_EXPLAINED_ROWS:
            top = top.sample(n=MAX_EXPLAINED_ROWS, random_state=0).sort_index()
        reasons = reason_shares(top, explain)
    out = []
    for name, acc in sums.items():
        mt = acc[0] / acc[1] if acc[1] else math.nan
        mr = acc[3] / acc[4] if acc[4] else math.nan
        out.append(
            {
                "feature": name,
                "mean_top": float(mt),
                "mean_rest": float(mr),
                "ratio": mt / mr if mr else math.nan,
                "share_nonzero_top": acc[2] / n_top if n_top else math.nan,
                "share_nonzero_rest": acc[5] / n_rest if n_rest else math.nan,
            }
        )
    table = pd.DataFrame(out)
    if not len(table):
        table = pd.DataFrame(columns=["feature", "mean_top", "mean_rest", "ratio"])
    table = table.sort_values("ratio", ascending=False, na_position="last").reset_index(drop=True)
    return _with_reasons(table, reasons)


def reason_shares(top: pd.DataFrame, explain: Explainer) -> pd.DataFrame:
    """Share of the top rows shown each reason (any rank, and first).

    Parameters
    ----------
    top : DataFrame
        The top rows, with the features ``explain`` reads.
    explain : callable (rows) -> list of lists of Reason
        One list of :class:`models.reasons.Reason` per row, most important first.

    Returns
    -------
    DataFrame
        One row per feature shown as a reason, plus :data:`NO_REASON`:
        ``feature``, ``reason_code``, ``reason_share_top``,
        ``reason_first_share_top`` (float64 in [0, 1], over ``len(top)`` rows).
    """
    columns = ["feature", "reason_code", "reason_share_top", "reason_first_share_top"]
    n = len(top)
    if n == 0:
        return pd.DataFrame(columns=columns)
    explained = explain(top.reset_index(drop=True))
    if len(explained) != n:
        raise ValueError(f"explain: expected {n} lists of reasons, got {len(explained)}")
    codes: dict[str, str] = {}
    shown: dict[str, int] = {}
    first: dict[str, int] = {}
    for reasons in explained:
        for rank, reason in enumerate(reasons):
            codes[reason.feature] = reason.code
            shown[reason.feature] = shown.get(reason.feature, 0) + 1
            if rank == 0:
                first[reason.feature] = first.get(reason.feature, 0) + 1
    rows = [
        {
            "feature": f,
            "reason_code": codes[f],
            "reason_share_top": shown[f] / n,
            "reason_first_share_top": first.get(f, 0) / n,
        }
        for f in codes
    ]
    none = sum(1 for reasons in explained if not reasons) / n
    rows.append(
        {"feature": NO_REASON, "reason_code": "", "reason_share_top": none,
         "reason_first_share_top": none}
    )  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _with_reasons(table: pd.DataFrame, reasons: pd.DataFrame | None) -> pd.DataFrame:
    """The crosstab with the reason columns (NaN when no reasons were computed)."""
    if reasons is None:
        return table.assign(
            reason_code="", reason_share_top=math.nan, reason_first_share_top=math.nan
        )
    # the crosstab's rows in its order, then reasons on features it skips (category
    # features), then the share of top rows without a reason
    merged = table.merge(reasons, on="feature", how="left", sort=False)
    extra = reasons[~reasons["feature"].isin(table["feature"])]
    merged = pd.concat([merged, extra[extra["feature"] != NO_REASON],
                        extra[extra["feature"] == NO_REASON]], ignore_index=True)  # fmt: skip
    merged["reason_code"] = merged["reason_code"].fillna("").astype("str")
    for col in ("reason_share_top", "reason_first_share_top"):
        merged[col] = merged[col].fillna(0.0).astype("float64")
    return merged


@dataclass
class ChampionComparison:
    """Champion vs challenger on the run's latest test weeks.

    Attributes
    ----------
    champion_version : str or None
        The champion compared with (``None``: no champion, nothing compared).
    table : DataFrame
        One row per capacity metric: ``metric``, ``challenger``, ``champion``
        (precision), ``diff`` with ``diff_low``, ``diff_high`` (paired 95 % interval),
        ``jaccard_top20`` (mean overlap of the per-township lists), ``n_rows``.
    note : str
        Why nothing was compared, when so.
    warning : str
        Set when a champion exists but was not loaded because its signature
        could not be checked (unsigned, altered, another key, no key): logged
        as the run tag ``vs_champion.warning``.
    """

    champion_version: str | None
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    note: str = ""
    warning: str = ""

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics ``vs_champion.diff_<metric>[.ci_low|.ci_high]`` and both values."""
        out: dict[str, float] = {}
        for r in self.table.to_dict("records"):
            m = r["metric"]
            for key, col in (
                (f"vs_champion.diff_{m}", "diff"),
                (f"vs_champion.diff_{m}.ci_low", "diff_low"),
                (f"vs_champion.diff_{m}.ci_high", "diff_high"),
                (f"vs_champion.champion.{m}", "champion"),
                (f"vs_champion.challenger.{m}", "challenger"),
            ):
                if np.isfinite(r[col]):
                    out[key] = float(r[col])
        if not self.table.empty and np.isfinite(self.table["jaccard_top20"].iloc[0]):
            out["vs_champion.jaccard_top20_per_township"] = float(
                self.table["jaccard_top20"].iloc[0]
            )
        return out

    def tags(self) -> dict[str, str]:
        """``vs_champion.version`` (``none`` when nothing was compared), a note and a warning."""
        tags = {COMPARED_CHAMPION_TAG: self.champion_version or "none"}
        if self.note:
            tags["vs_champion.note"] = self.note[:500]
        if self.warning:
            tags[CHAMPION_WARNING_TAG] = self.warning[:500]
        return tags


def compare_champion(
    latest: pd.DataFrame,
    challenger_scores: np.ndarray,
    champion_scores: np.ndarray,
    champion_version: str,
    *,
    ks: Sequence[KValue],
    group_ks: Sequence[KValue],
    group_col: str = "township",
    n_boot: int = 200,
    random_state: int = 0,
) -> ChampionComparison:
    """Paired comparison of two scorers on identical rows (module docstring).

    Parameters
    ----------
    latest : DataFrame of shape (n_rows, ...)
        The latest test weeks' rows: ``household_id``, ``as_of``, ``group_col``, label.
    challenger_scores, champion_scores : ndarray of float64, shape (n_rows,)
        Both scorers' scores of those rows.
    champion_version : str
        Version of the champion.
    ks, group_ks, group_col, n_boot, random_state
        As :func:`training.evidence.compare_with_rules`.

    Returns
    -------
    ChampionComparison
    """
    rows = latest[["household_id", "as_of", group_col, LABEL_COLUMN]].reset_index(drop=True).copy()
    rows[CHALLENGER] = np.asarray(challenger_scores, dtype=np.float64)
    rows[CHAMPION] = np.asarray(champion_scores, dtype=np.float64)
    point, draws = bootstrap_draws(
        rows,
        {CHALLENGER: CHALLENGER, CHAMPION: CHAMPION},
        LABEL_COLUMN,
        as_of_col="as_of",
        group_col=group_col,
        cluster_col="household_id",
        tiebreak_col="household_id",
        ks=ks,
        group_ks=group_ks,
        n_boot=n_boot,
        random_state=random_state,
        capacity_only=True,
    )
    overlap = between_lists_jaccard(rows, CHALLENGER, CHAMPION, k=20, group_col=group_col)
    jaccard = float(overlap["jaccard"].mean()) if len(overlap) else math.nan
    metrics = [f"precision_at_{k_label(k)}" for k in ks] + [
        f"precision_at_{k_label(k)}_per_{group_col}" for k in group_ks
    ]
    table = []
    for m in metrics:
        d = draws[CHALLENGER][m] - draws[CHAMPION][m]
        d = d[np.isfinite(d)]
        lo, hi = np.quantile(d, [0.025, 0.975]) if d.size else (math.nan, math.nan)
        table.append(
            {
                "metric": m,
                "challenger": point[CHALLENGER][m],
                "champion": point[CHAMPION][m],
                "diff": point[CHALLENGER][m] - point[CHAMPION][m],
                "diff_low": float(lo),
                "diff_high": float(hi),
                "jaccard_top20": jaccard,
                "n_rows": len(rows),
            }
        )
    return ChampionComparison(champion_version, pd.DataFrame(table))


def champion_comparison_for_run(
    frame: pd.DataFrame,
    scored: pd.DataFrame,
    *,
    tracking_uri: str,
    model_name: str,
    ks: Sequence[KValue],
    group_ks: Sequence[KValue],
    n_boot: int,
    random_state: int,
    model_col: str = "lightgbm",
    signing_key: Any = None,
) -> ChampionComparison:
    """Load today's champion (if any) and compare it with the run's model on the latest fold.

    The champion is loaded only through its signed serving bundle
    (:func:`models.signing.load_verified`: hashes and HMAC checked, then
    LightGBM's text model and JSON read; nothing is unpickled).

    Parameters
    ----------
    frame : DataFrame
        The run's labelled feature frame (keys, features).
    scored : DataFrame
        Pooled scored test rows with ``fold`` and ``model_col``.
    tracking_uri, model_name : str
        Registry holding the champion.
    ks, group_ks, n_boot, random_state
        As :func:`compare_champion`.
    model_col : str
        The challenger's score column.
    signing_key : str, bytes, SecretStr or None
        ``$REVISIT_SIGNING_KEY``, the key ``revisit promote`` signed with.

    Returns
    -------
    ChampionComparison
        ``champion_version`` ``None`` (and a note) when there is no champion or
        it cannot be loaded; the run then records ``vs_champion.version=none``.
        When the champion's signature cannot be checked (unsigned version,
        altered artifact, other key, no key) ``warning`` says so and nothing
        of the champion is loaded.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from models.bundle import BundleError
    from models.signing import SigningError, SigningKeyError, load_verified

    client = mlflow.MlflowClient(tracking_uri, registry_uri=tracking_uri)
    try:
        version = str(client.get_model_version_by_alias(model_name, "champion").version)
    except MlflowException:
        return ChampionComparison(None, note="no champion to compare with")
    try:
        champion = load_verified(client, model_name, version, signing_key).model
    except SigningKeyError as err:
        warning = (
            f"champion version {version} not compared: its signature cannot be checked ({err}); "
            f"it was not loaded"
        )
        logger.warning("%s", warning)
        return ChampionComparison(None, note=warning, warning=warning)
    except SigningError as err:
        warning = f"champion version {version} not compared and never loaded: {err}"
        logger.warning("%s", warning)
        return ChampionComparison(None, note=warning, warning=warning)
    except BundleError as err:
        logger.warning("champion version %s: its signed bundle does not read: %s", version, err)
        return ChampionComparison(
            None, note=f"champion version {version} could not be loaded from its signed bundle"
        )
    last_fold = scored.groupby("fold")["as_of"].max().idxmax()
    latest = scored[scored["fold"] == last_fold].reset_index(drop=True)
    rows = latest[list(KEY_COLUMNS)].merge(
        frame, on=list(KEY_COLUMNS), how="left", validate="one_to_one"
    )
    try:
        champion_scores = champion.predict_proba(rows)[:, 1]
    except Exception as err:  # noqa: BLE001 - e.g. the champion needs a feature dropped since
        logger.warning("champion version %s could not score the latest weeks: %s", version, err)
        return ChampionComparison(
            None, note=f"champion version {version} could not score this run's features"
        )
    return compare_champion(
        latest,
        latest[model_col].to_numpy(dtype=np.float64),
        champion_scores,
        version,
        ks=ks,
        group_ks=group_ks,
        n_boot=n_boot,
        random_state=random_state,
    )


@dataclass
class RunReview:
    """Every reviewer's table of one run (aggregates only).

    Attributes
    ----------
    champion : ChampionComparison
    stability : DataFrame
        :func:`week_to_week_jaccard` of the model's per-township top 20.
    crosstab : DataFrame
        :func:`top_share_crosstab` of the model's top 1 %.
    list_audit : DataFrame
        :func:`training.list_audit.list_bias_audit` of the per-township top 20.
    """

    champion: ChampionComparison
    stability: pd.DataFrame
    crosstab: pd.DataFrame
    list_audit: pd.DataFrame = field(default_factory=pd.DataFrame)

    def metrics(self) -> dict[str, float]:
        """Champion metrics and ``stability.jaccard_top20_week_to_week.{mean,p10}``."""
        out = self.champion.metrics()
        j = (
            self.stability["jaccard"].to_numpy(dtype=np.float64)
            if len(self.stability)
            else np.empty(0)
        )
        j = j[np.isfinite(j)]
        if len(j):
            out["stability.jaccard_top20_week_to_week.mean"] = float(j.mean())
            out["stability.jaccard_top20_week_to_week.p10"] = float(np.quantile(j, 0.1))
        if len(self.list_audit):
            flags = [c for c in self.list_audit.columns if c.endswith("_flag")]
            pooled = self.list_audit[self.list_audit["scope"] == "pooled"]
            out["list_audit.pooled_flags"] = float(pooled[flags].to_numpy(dtype=bool).sum())
        return out

    def tags(self) -> dict[str, str]:
        """The champion comparison's tags."""
        return self.champion.tags()

    def write(self, out: Any) -> None:
        """Write ``vs_champion.csv``, ``stability_top20.csv`` (per township: mean, min) and
        ``crosstab_top_1pct.csv`` into the folder ``out``."""
        from pathlib import Path

        out = Path(out)
        self.champion.table.to_csv(out / "vs_champion.csv", index=False)
        if len(self.stability):
            summary = self.stability.groupby(self.stability.columns[0])["jaccard"].agg(
                ["mean", "min", "count"]
            )
            summary.to_csv(out / "stability_top20.csv")
        self.crosstab.to_csv(out / "crosstab_top_1pct.csv", index=False)
        if len(self.list_audit):
            self.list_audit.to_csv(out / "bias_audit_lists_top20.csv", index=False)


def review_run(
    read_features: Callable[[Sequence[pd.Timestamp]], pd.DataFrame],
    scored: pd.DataFrame,
    feature_names: Sequence[str],
    *,
    tracking_uri: str,
    model_name: str,
    ks: Sequence[KValue],
    group_ks: Sequence[KValue],
    n_boot: int,
    random_state: int,
    model_col: str = "lightgbm",
    signing_key: Any = None,
    fold_models: Mapping[str, Any] | None = None,
) -> RunReview:
    """Champion comparison, list stability and the top-1 % crosstab of one run (module docstring).

    ``read_features`` (as-of dates -> keys and features of those dates' test rows) is
    called for the latest fold's weeks (the champion) and then for one week at a time
    (the crosstab), so that every test week's features are never held at once.

    ``signing_key`` checks the champion's signature (:func:`champion_comparison_for_run`);
    ``fold_models`` (fold name -> the fold's fitted model) gives the reasons of the top-1 %
    rows, each explained by the model that scored it (:func:`top_share_crosstab`).
    """
    last_fold = scored.groupby("fold")["as_of"].max().idxmax() if len(scored) else None
    latest_dates = sorted(set(scored.loc[scored["fold"] == last_fold, "as_of"]))
    frame = read_features(latest_dates) if latest_dates else pd.DataFrame(columns=KEY_COLUMNS)
    champion = champion_comparison_for_run(
        frame,
        scored,
        tracking_uri=tracking_uri,
        model_name=model_name,
        ks=ks,
        group_ks=group_ks,
        n_boot=n_boot,
        random_state=random_state,
        model_col=model_col,
        signing_key=signing_key,
    )
    stability = week_to_week_jaccard(scored, model_col, k=20)
    del frame
    with_fold = "fold" in scored.columns
    explain = fold_explainer(fold_models) if fold_models and with_fold else None
    crosstab = top_share_crosstab_by_date(
        scored, lambda d: read_features([d]), model_col, feature_names, share=0.01, explain=explain
    )
    from training.list_audit import list_bias_audit

    audit = list_bias_audit(
        scored, model_col, ["county", "township"], k=20, n_boot=min(n_boot, 100),
        random_state=random_state,
    )  # fmt: skip
    return RunReview(champion, stability, crosstab, audit)


def fold_explainer(fold_models: Mapping[str, Any], top_k: int = 3) -> Explainer:
    """Explain each row with the model of its ``fold`` (the one that scored it).

    Parameters
    ----------
    fold_models : mapping of str to EscalationModel
        Fold name -> the fold's fitted model.
    top_k : int
        Reasons per row (serving's default, ``REVISIT_REASONS_TOP_K``, is 3).

    Returns
    -------
    callable (rows with ``fold``) -> list of lists of Reason, in the rows' order

    Raises
    ------
    KeyError
        (when called) A row's fold has no model.
    """

    def explain(rows: pd.DataFrame) -> list[list[Any]]:
        out: list[list[Any]] = [[] for _ in range(len(rows))]
        positions = pd.Series(np.arange(len(rows)), index=rows.index)
        for fold, part in rows.groupby("fold", sort=True):
            name = str(fold)
            if name not in fold_models:
                raise KeyError(f"expected a model of fold {name!r}, got {sorted(fold_models)!r}")
            for at, reasons in zip(
                positions.loc[part.index], fold_models[name].explain(part, top_k), strict=True
            ):
                out[int(at)] = list(reasons)
        return out

    return explain
