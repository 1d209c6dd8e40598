"""Turn the event log into field exports: Chinese headers, labels, PII, noise.

The exports look like what the field system would send: Simplified Chinese
headers (``Column.headers[0]`` of :mod:`warehouse.contract`), Chinese category
labels, personal columns (户主姓名, 户主身份证号, 联系电话, 住址, 备注), mixed
date formats (``2024-01-05 09:30`` 70 %, ``2024/1/5 9:30`` 20 %,
``2024年01月05日 09:30`` 10 % of rows), re-sent duplicate rows (exact copies at the
end of the file) and a few malformed rows (unparseable date, negative 走访人数,
unknown category label, no 户编号 and no ID number), counted per file.
Rows recorded after the window end are not exported yet (live data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from simulation import pii
from simulation import world as W
from simulation.engine import EventLog
from simulation.world import SimulationConfig, World
from simulation.xlsx import write_xlsx
from warehouse.contract import (
    DISPUTE_SEVERITIES,
    DISPUTE_TYPES,
    HOUSEHOLD_TYPES,
    INCIDENT_CATEGORIES,
    INCIDENT_COLUMNS,
    RESOLUTION_STATUSES,
    REVIEW_STATUSES,
    RISK_HAZARDS,
    VISIT_COLUMNS,
)

H = {c.name: c.headers[0] for c in VISIT_COLUMNS}
HI = {c.name: c.headers[0] for c in INCIDENT_COLUMNS}
HEAD_NAME, HEAD_ID, PHONE, ADDRESS, NOTES, NAME = (
    "户主姓名",
    "户主身份证号",
    "联系电话",
    "住址",
    "备注",
    "姓名",
)
#: Personal columns added to the exports (all in warehouse.contract.PERSONAL_HEADERS).
VISIT_PII = (HEAD_NAME, HEAD_ID, PHONE, ADDRESS, NOTES)
INCIDENT_PII = (NAME, HEAD_ID, PHONE, ADDRESS, NOTES)

MALFORMED_KINDS_VISITS = ("bad_date", "negative_persons", "unknown_category", "missing_household")
MALFORMED_KINDS_INCIDENTS = ("bad_date", "unknown_category", "missing_household")
BAD_DATE = "2024-13-45 25:61"


def _labels(codes: np.ndarray, labels: list[str]) -> pa.Array:
    """Map integer codes to labels (code < 0 -> null)."""
    idx = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(idx, pa.array(labels, pa.string())).dictionary_decode()


def _ints(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int64), mask=values < 0)


def _timestamps(
    minutes: np.ndarray, fmt: np.ndarray, start: dt.date, *, date_only: bool = False
) -> pa.Array:
    """Format minutes since the window start as local-time text in mixed formats.

    Parameters
    ----------
    minutes : ndarray of int64, shape (n,)
        Minutes since ``start`` 00:00 local time (Asia/Shanghai); < 0 -> empty cell.
    fmt : ndarray of int, shape (n,)
        0 ``2024-01-05 09:30``, 1 ``2024/1/5 9:30``, 2 ``2024年01月05日 09:30``.
    start : datetime.date
    date_only : bool
        Format the date only.
    """
    total = np.datetime64(start, "m") + np.maximum(minutes, 0)
    days = total.astype("datetime64[D]")
    years = days.astype("datetime64[Y]")
    months = days.astype("datetime64[M]")
    month = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    tod = (total - days.astype("datetime64[m]")).astype(np.int64)

    def text(values: np.ndarray, width: int = 0) -> pa.Array:
        out = pc.cast(pa.array(values), pa.string())
        return pc.utf8_lpad(out, width=width, padding="0") if width else out

    y = text(years.astype(np.int64) + 1970)
    m1, m2, d1, d2 = text(month), text(month, 2), text(day), text(day, 2)
    if date_only:
        s0 = pc.binary_join_element_wise(y, "-", m2, "-", d2, "")
        s1 = pc.binary_join_element_wise(y, "/", m1, "/", d1, "")
        s2 = pc.binary_join_element_wise(y, "年", m2, "月", d2, "日", "")
    else:
        h1, h2, mi = text(tod // 60), text(tod // 60, 2), text(tod % 60, 2)
        s0 = pc.binary_join_element_wise(y, "-", m2, "-", d2, " ", h2, ":", mi, "")
        s1 = pc.binary_join_element_wise(y, "/", m1, "/", d1, " ", h1, ":", mi, "")
        s2 = pc.binary_join_element_wise(y, "年", m2, "月", d2, "日 ", h2, ":", mi, "")
    out = pc.choose(pa.array(fmt.astype(np.int8)), s0, s1, s2)
    return pc.if_else(pa.array(minutes < 0), pa.scalar(None, pa.string()), out)


@dataclass
class Households:
    """Per-household export attributes (pyarrow arrays of length n_households)."""

    household_id: pa.Array
    county: pa.Array
    township: pa.Array
    village: pa.Array
    station: pa.Array
    household_type: pa.Array
    head_name: pa.Array
    head_id: pa.Array
    phone: pa.Array
    address: pa.Array


def household_ids(n: int) -> pa.Array:
    """Pseudonymous household ids ``H0000001`` ... (str)."""
    return pc.binary_join_element_wise(
        "H",
        pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width=7, padding="0"),
        "",
    )


def build_households(world: World, rng: np.random.Generator) -> Households:
    """Export attributes of every household, including synthetic PII."""
    n = world.n
    county = _labels(world.county, world.county_names)
    township = _labels(world.township, world.township_names)
    village = _labels(world.village, world.village_names)
    prefixes = np.array([int(p) for p in world.county_prefix])[world.county]
    birth = rng.integers(1940, 2001, n)
    group = pc.cast(pa.array(rng.integers(1, 13, n)), pa.string())
    number = pc.cast(pa.array(rng.integers(1, 200, n)), pa.string())
    return Households(
        household_id=household_ids(n),
        county=county,
        township=township,
        village=village,
        station=pc.binary_join_element_wise(township, "派出所", ""),
        household_type=_labels(world.household_type, [v[0] for v in HOUSEHOLD_TYPES.values()]),
        head_name=pii.names(rng, n),
        head_id=pii.id_numbers(rng, prefixes, birth),
        phone=pii.phones(rng, n),
        address=pc.binary_join_element_wise(
            county, township, village, group, "组", number, "号", ""
        ),
    )


def _hazard_text(mask: np.ndarray) -> pa.Array:
    labels = [v[0] for v in RISK_HAZARDS.values()]
    uniq, inv = np.unique(mask, return_inverse=True)
    texts = ["、".join(labels[k] for k in range(len(labels)) if (int(u) >> k) & 1) for u in uniq]
    codes = np.where(uniq[inv] == 0, -1, inv)
    return _labels(codes, texts)


_NOTE_TEMPLATES = ("家中有矛盾，与", "反映与", "经了解，其与", "民警已约")
_NOTE_ENDINGS = (
    "发生口角，已登记并跟进",
    "存在纠纷，已做调解工作",
    "有矛盾，建议继续关注",
    "到场沟通，情绪稳定",
)


def _notes(rng: np.random.Generator, has: np.ndarray, extra: np.ndarray) -> pa.Array:
    """Free-text remarks naming a made-up person (only where ``has | extra``)."""
    n = has.shape[0]
    who = pii.names(rng, n)
    pre = _labels(np.asarray(rng.integers(0, len(_NOTE_TEMPLATES), n)), list(_NOTE_TEMPLATES))
    post = _labels(np.asarray(rng.integers(0, len(_NOTE_ENDINGS), n)), list(_NOTE_ENDINGS))
    text = pc.binary_join_element_wise(pre, who, post, "")
    return pc.if_else(pa.array(has | extra), text, pa.scalar(None, pa.string()))


def _bursts(
    v: dict[str, np.ndarray],
    mask: np.ndarray,
    rng: np.random.Generator,
    gap: tuple[int, int],
    *,
    evening: bool,
    start_range: tuple[int, int] = (540, 900),
) -> np.ndarray:
    """Minutes of the day of visits logged in one sitting per officer and day.

    Parameters
    ----------
    v : dict of ndarray
        The event log's visit columns (uses ``officer``, ``day``, ``minute``).
    mask : ndarray of bool, shape (n_visits,)
        The visits of the sittings.
    rng : numpy.random.Generator
        Generator of the officers' conduct.
    gap : (int, int)
        Minutes between consecutive visits of a sitting, drawn in ``[gap[0], gap[1])``.
    evening : bool
        Whether a third of the sittings start between 20:00 and 22:00.
    start_range : (int, int)
        Minute of the day the other sittings start, drawn in ``[start_range[0],
        start_range[1])`` (default 09:00-15:00).

    Returns
    -------
    ndarray of int64, shape (n_visits,)
        Minute of the day for the masked visits (the others keep ``v["minute"]``).
    """
    minute = v["minute"].astype(np.int64).copy()
    if not mask.any():
        return minute
    fi = np.flatnonzero(mask)
    key = v["officer"][fi].astype(np.int64) * 100_000 + v["day"][fi]
    order = np.argsort(key, kind="stable")
    sk = key[order]
    first = np.r_[0, np.flatnonzero(np.diff(sk)) + 1]
    sizes = np.diff(np.r_[first, sk.size])
    start = rng.integers(start_range[0], start_range[1], first.size)
    if evening:
        start = np.where(
            rng.random(first.size) < 1 / 3, rng.integers(1200, 1320, first.size), start
        )
    step = rng.integers(gap[0], gap[1], sk.size)
    csum = np.cumsum(step)
    within = csum - np.repeat(csum[first] - step[first], sizes)  # running sum in a sitting
    minute[fi[order]] = np.minimum(np.repeat(start, sizes) + within - step, 1439)
    return minute


def visit_tables(
    log: EventLog, world: World, hh: Households, config: SimulationConfig, rng: np.random.Generator
) -> Iterator[tuple[int, pa.Table]]:
    """Exportable visit rows with contract headers + PII, one table per month.

    Yields
    ------
    month : int
        Month index (months since 1970-01) of ``visited_at``; every month of the window.
    table : pyarrow.Table
        That month's rows sorted by visit time (built one month at a time to bound memory).
    """
    v = log.visits
    minute = v["minute"].astype(np.int64)
    fab = v["fabricating"].astype(bool)
    perf = v["perfunctory"].astype(bool)
    conduct_rng = np.random.default_rng([config.seed, 0xFAB, 1])
    # per-officer habits: half the fabricators are careful, a quarter of the others type
    # each day's records in one evening sitting
    habit = np.random.default_rng([config.seed, 0xFAB, 2]).random(world.officer_township.size)
    careful = fab & (habit[v["officer"]] < 0.5)
    blatant = fab & ~careful
    real = ~fab & ~perf
    # real visits follow a route, 20-45 minutes apart from the morning on; perfunctory
    # visits 4-8 minutes apart; blatant made-up records are typed in one sitting 2-4
    # minutes apart (a third of the sittings late in the evening); careful ones claim
    # daytime visits 8-20 minutes apart
    minute[real] = _bursts(v, real, conduct_rng, (20, 46), evening=False, start_range=(510, 600))[
        real
    ]
    minute[perf] = _bursts(v, perf, conduct_rng, (4, 9), evening=False)[perf]
    minute[blatant] = _bursts(v, blatant, conduct_rng, (2, 5), evening=True)[blatant]
    minute[careful] = _bursts(v, careful, conduct_rng, (8, 21), evening=False)[careful]
    visited = v["day"].astype(np.int64) * 1440 + minute
    m = visited.shape[0]
    delay = np.exp(np.log(360.0) + 1.5 * rng.standard_normal(m))
    tail = rng.random(m) < 0.03
    delay = np.where(tail, rng.uniform(7 * 1440, 40 * 1440, m), delay)
    kind = world.officer_kind[v["officer"]]
    slow = kind == W.OFFICER_KINDS.index("slow_recorder")
    if slow.any():
        delay[slow] = np.exp(
            np.log(W.SLOW_RECORDER_DELAY_MINUTES)
            + 0.8 * conduct_rng.standard_normal(int(slow.sum()))
        )
    if blatant.any():  # typed straight in: recorded minutes after the claimed time
        delay[blatant] = conduct_rng.uniform(1, 15, int(blatant.sum()))
    recorded = visited + np.maximum(1, delay).astype(np.int64)
    # evening sittings: careful fabricators, and honest batch typers' real visits
    batch = careful | (real & ~slow & ~tail & (habit[v["officer"]] >= 0.75))
    typed = v["day"].astype(np.int64) * 1440 + _bursts(
        v, batch, conduct_rng, (1, 4), evening=False, start_range=(1200, 1290)
    )
    recorded = np.where(batch, np.maximum(typed, visited + 5), recorded)
    review_delay = np.exp(np.log(1440.0) + 1.0 * rng.standard_normal(m)).astype(np.int64) + 5
    reviewed = recorded + review_delay
    limit = ((config.end - config.start).days + 1) * 1440
    keep = recorded < limit
    rejected = rng.random(m) < np.where(fab, W.REJECT_RATE_FABRICATING, W.REJECT_RATE)
    review = np.asarray(np.where(reviewed >= limit, 1, np.where(rejected, 2, 0)))
    reviewed = np.where(reviewed >= limit, -1, reviewed)

    order_all = np.lexsort((v["hh"], visited))
    order_all = order_all[keep[order_all]]
    fmt_all = rng.choice(3, size=order_all.size, p=[0.7, 0.2, 0.1])
    months = _month_index(v["day"][order_all], config.start)
    for month, lo, hi in _month_slices(months, config):
        order, fmt = order_all[lo:hi], fmt_all[lo:hi]
        h_idx = pa.array(v["hh"][order])
        due = v["followup_due"][order].astype(np.int64)
        has = v["has_dispute"][order].astype(bool)
        cols: dict[str, pa.Array] = {
            H["visit_id"]: _serial("ZF", lo, hi),
            H["household_id"]: hh.household_id.take(h_idx),
            **_personal_columns(hh, h_idx, HEAD_NAME),
            H["visited_at"]: _timestamps(visited[order], fmt, config.start),
            H["recorded_at"]: _timestamps(recorded[order], fmt, config.start),
            H["officer_id"]: pc.cast(
                pa.array(100001 + v["officer"][order].astype(np.int64)), pa.string()
            ),
            H["station"]: hh.station.take(h_idx),
            H["county"]: hh.county.take(h_idx),
            H["township"]: hh.township.take(h_idx),
            H["village"]: hh.village.take(h_idx),
            H["persons_met"]: _ints(v["persons"][order]),
            H["household_type"]: hh.household_type.take(h_idx),
            H["has_dispute"]: _labels(has.astype(np.int8), ["否", "是"]),
            H["dispute_type"]: _labels(v["dtype"][order], [x[0] for x in DISPUTE_TYPES.values()]),
            H["dispute_severity"]: _labels(
                v["severity"][order], [x[0] for x in DISPUTE_SEVERITIES.values()]
            ),
            H["dispute_parties"]: _ints(v["parties"][order]),
            H["risk_hazards"]: _hazard_text(v["hazmask"][order]),
            H["resolution_status"]: _labels(
                v["status"][order], [x[0] for x in RESOLUTION_STATUSES.values()]
            ),
            H["mediation_agreement"]: _labels(v["agreement"][order], ["否", "是"]),
            H["followup_due"]: _timestamps(
                np.where(due < 0, -1, due * 1440), fmt, config.start, date_only=True
            ),
            H["review_status"]: _labels(review[order], [x[0] for x in REVIEW_STATUSES.values()]),
            H["reviewed_at"]: _timestamps(reviewed[order], fmt, config.start),
            NOTES: _notes(rng, has, rng.random(order.size) < 0.05),
        }
        yield month, pa.table(cols)


def incident_tables(
    log: EventLog, hh: Households, config: SimulationConfig, rng: np.random.Generator
) -> Iterator[tuple[int, pa.Table]]:
    """Exportable incident rows with contract headers + PII, one table per month (see visits)."""
    e = log.incidents
    reported = e["day"].astype(np.int64) * 1440 + e["minute"]
    k = reported.shape[0]
    recorded = reported + np.maximum(1, np.exp(np.log(30.0) + rng.standard_normal(k))).astype(
        np.int64
    )
    limit = ((config.end - config.start).days + 1) * 1440
    order_all = np.lexsort((e["hh"], reported))
    order_all = order_all[recorded[order_all] < limit]
    fmt_all = rng.choice(3, size=order_all.size, p=[0.7, 0.2, 0.1])
    months = _month_index(e["day"][order_all], config.start)
    for month, lo, hi in _month_slices(months, config):
        order, fmt = order_all[lo:hi], fmt_all[lo:hi]
        h_idx = pa.array(e["hh"][order])
        cols: dict[str, pa.Array] = {
            HI["incident_id"]: _serial("JQ", lo, hi),
            HI["household_id"]: hh.household_id.take(h_idx),
            **_personal_columns(hh, h_idx, NAME),
            HI["reported_at"]: _timestamps(reported[order], fmt, config.start),
            HI["recorded_at"]: _timestamps(recorded[order], fmt, config.start),
            HI["category"]: _labels(
                e["category"][order], [x[0] for x in INCIDENT_CATEGORIES.values()]
            ),
            HI["county"]: hh.county.take(h_idx),
            HI["township"]: hh.township.take(h_idx),
            HI["village"]: hh.village.take(h_idx),
            NOTES: _notes(rng, np.zeros(order.size, bool), rng.random(order.size) < 0.3),
        }
        yield month, pa.table(cols)


def _personal_columns(hh: Households, h_idx: pa.Array, name_header: str) -> dict[str, pa.Array]:
    """The synthetic personal columns a field export carries (dropped again at ingestion).

    ``name_header`` is 户主姓名 in visit exports and 姓名 in incident exports.
    """
    return {
        name_header: hh.head_name.take(h_idx),
        HEAD_ID: hh.head_id.take(h_idx),
        PHONE: hh.phone.take(h_idx),
        ADDRESS: hh.address.take(h_idx),
    }


def _serial(prefix: str, lo: int, hi: int) -> pa.Array:
    """Record ids ``prefix`` + 9-digit serial numbers lo + 1 .. hi."""
    digits = pc.utf8_lpad(
        pc.cast(pa.array(np.arange(lo + 1, hi + 1)), pa.string()), width=9, padding="0"
    )
    return pc.binary_join_element_wise(prefix, digits, "")


def _month_slices(months: np.ndarray, config: SimulationConfig) -> Iterator[tuple[int, int, int]]:
    """(month index, lo, hi) for every month of the window, rows sorted by month."""
    first = int(np.datetime64(config.start, "M").astype(np.int64))
    last = int(np.datetime64(config.end, "M").astype(np.int64))
    bounds = np.searchsorted(months, np.arange(first, last + 2))
    for i, month in enumerate(range(first, last + 1)):
        yield month, int(bounds[i]), int(bounds[i + 1])


def _month_index(day: np.ndarray, start: dt.date) -> np.ndarray:
    months = (np.datetime64(start, "D") + day.astype("timedelta64[D]")).astype("datetime64[M]")
    return months.astype(np.int64)


def inject_noise(
    table: pa.Table, rng: np.random.Generator, config: SimulationConfig, kind: str
) -> tuple[pa.Table, int, int]:
    """Make a few rows malformed and append re-sent exact duplicates.

    Parameters
    ----------
    table : pyarrow.Table
        One month's rows.
    rng : numpy.random.Generator
    config : SimulationConfig
        ``malformed_rate`` and ``duplicate_rate`` (probability per row).
    kind : {"visits", "incidents"}

    Returns
    -------
    table : pyarrow.Table
        Rows of the file, duplicates appended at the end.
    duplicates, malformed : int
        Exactly how many of each were injected (a duplicate is never of a malformed row).
    """
    n = table.num_rows
    n_bad = int(rng.binomial(n, config.malformed_rate)) if n else 0
    bad = rng.choice(n, size=n_bad, replace=False) if n_bad else np.zeros(0, int)
    kinds = MALFORMED_KINDS_VISITS if kind == "visits" else MALFORMED_KINDS_INCIDENTS
    which = rng.integers(0, len(kinds), n_bad)
    heads = H if kind == "visits" else HI
    time_col = heads["visited_at" if kind == "visits" else "reported_at"]
    cat_col = heads["household_type" if kind == "visits" else "category"]
    for k, name in enumerate(kinds):
        rows = bad[which == k]
        if not rows.size:
            continue
        mask = np.zeros(n, bool)
        mask[rows] = True
        pmask = pa.array(mask)

        def put(col: str, value: object, tbl: pa.Table, pmask: pa.Array = pmask) -> pa.Table:
            i = tbl.column_names.index(col)
            c = tbl.column(i).combine_chunks()
            return tbl.set_column(i, col, pc.if_else(pmask, pa.scalar(value, c.type), c))

        if name == "bad_date":
            table = put(time_col, BAD_DATE, table)
        elif name == "negative_persons":
            table = put(H["persons_met"], -int(rng.integers(1, 4)), table)
        elif name == "unknown_category":
            table = put(cat_col, "未知类别", table)
        else:
            table = put(heads["household_id"], None, table)
            table = put(HEAD_ID, None, table)
    good = np.setdiff1d(np.arange(n), bad)
    n_dup = int(rng.binomial(good.size, config.duplicate_rate)) if good.size else 0
    dup = np.sort(rng.choice(good, size=n_dup, replace=False)) if n_dup else np.zeros(0, int)
    if n_dup:
        table = table.take(pa.array(np.r_[np.arange(n), dup]))
    return table, n_dup, n_bad


def write_table(table: pa.Table, path: Path, fmt: str, created: dt.datetime) -> None:
    """Write one export file (xlsx or UTF-8 csv) deterministically."""
    if fmt == "csv":
        pacsv.write_csv(table, path)
    else:
        write_xlsx(table, path, sheet_name=path.stem, created=created)
