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
  feature in both groups and their ratio.

Every output is an aggregate (counts, means, overlaps): no household id leaves.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
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
    rows: pd.DataFrame, score_col: str, feature_names: Sequence[str], share: float = 0.01
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

    Returns
    -------
    DataFrame
        One row per feature, sorted by ``ratio`` descending: ``feature``,
        ``mean_top``, ``mean_rest`` (feature units, NaN ignored), ``ratio``
        (top / rest; NaN when the rest's mean is 0), ``share_nonzero_top``,
        ``share_nonzero_rest`` (shares of rows with a value above 0).
    """
    on = top_share_mask(rows, score_col, share)
    out = []
    for name in feature_names:
        if name not in rows.columns or not pd.api.types.is_numeric_dtype(rows[name]):
            continue
        x = pd.to_numeric(rows[name], errors="coerce").astype("float64").to_numpy()
        top, rest = x[on], x[~on]
        mt = float(np.nanmean(top)) if np.isfinite(top).any() else math.nan
        mr = float(np.nanmean(rest)) if np.isfinite(rest).any() else math.nan
        out.append(
            {
                "feature": name,
                "mean_top": mt,
                "mean_rest": mr,
                "ratio": mt / mr if mr else math.nan,
                "share_nonzero_top": float(np.mean(np.nan_to_num(top) > 0))
                if top.size
                else math.nan,
                "share_nonzero_rest": float(np.mean(np.nan_to_num(rest) > 0))
                if rest.size
                else math.nan,
            }
        )
    table = pd.DataFrame(out)
    return table.sort_values("ratio", ascending=False, na_position="last").reset_index(drop=True)


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
    """

    champion_version: str | None
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    note: str = ""

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
        """``vs_champion.version`` (``none`` when no champion existed) and a note."""
        tags = {COMPARED_CHAMPION_TAG: self.champion_version or "none"}
        if self.note:
            tags["vs_champion.note"] = self.note[:500]
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
) -> ChampionComparison:
    """Load today's champion (if any) and compare it with the run's model on the latest fold.

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

    Returns
    -------
    ChampionComparison
        ``champion_version`` ``None`` (and a note) when there is no champion or
        it cannot be loaded; the run then records ``vs_champion.version=none``.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from models.pyfunc import mlflow_uris

    client = mlflow.MlflowClient(tracking_uri, registry_uri=tracking_uri)
    try:
        version = str(client.get_model_version_by_alias(model_name, "champion").version)
    except MlflowException:
        return ChampionComparison(None, note="no champion to compare with")
    try:
        with mlflow_uris(tracking_uri):
            loaded = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
        champion = loaded.unwrap_python_model().model
    except Exception as err:  # noqa: BLE001 - any load failure leaves the run uncompared
        logger.warning("champion version %s could not be loaded: %s", version, err)
        return ChampionComparison(None, note=f"champion version {version} could not be loaded")
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
    frame: pd.DataFrame,
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
) -> RunReview:
    """Champion comparison, list stability and the top-1 % crosstab of one run (module docstring)."""
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
    )
    stability = week_to_week_jaccard(scored, model_col, k=20)
    rows = scored[[*KEY_COLUMNS, model_col]].merge(
        frame[[*KEY_COLUMNS, *[c for c in feature_names if c in frame.columns]]],
        on=list(KEY_COLUMNS),
        how="left",
    )
    crosstab = top_share_crosstab(rows, model_col, feature_names, share=0.01)
    from training.list_audit import list_bias_audit

    audit = list_bias_audit(
        scored, model_col, ["county", "township"], k=20, n_boot=min(n_boot, 100),
        random_state=random_state,
    )  # fmt: skip
    return RunReview(champion, stability, crosstab, audit)
