"""One chunk of raw cells -> canonical columns, with a reason for every refused row.

Parsing works on whole columns (``warehouse.parsing``), then the pandera models
(``warehouse.schemas``) and the ordering checks run on the parsed frame. Every
problem is a mask over the chunk's rows (:class:`warehouse.quarantine.Problems`).

Personal values typed into the wrong cell are caught here too
(``warehouse.pii``): an ID number typed into 户编号 becomes the same keyed hash
the head's ID number would give (or the row is quarantined without the
secret); an ID or mobile number in any other kept text column (ids, officer,
station, county, township, village) sends the row to quarantine with the value
redacted.

``recorded_at`` (录入时间) is the time a record became known. When the export
has none, the ingestion time stands in for it, never the event time: a record
that arrives late must not reach back into features of earlier dates.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
import pandera.pandas as pa

from warehouse.contract import TABLE_VISITS, Column
from warehouse.errors import IngestError
from warehouse.headers import TABLE_COLUMNS, HeaderMap
from warehouse.parsing import (
    TIMESTAMP_DTYPE,
    parse_bools,
    parse_categories,
    parse_dates,
    parse_datetimes,
    parse_hazard_sets,
    parse_ints,
    parse_text,
)
from warehouse.pii import (
    looks_like_id_number,
    normalise_id_number,
    personal_mask,
    pseudonymous_household_id,
)
from warehouse.quarantine import Problems
from warehouse.schemas import (
    CLOCK_TOLERANCE,
    MAX_DISPUTE_PARTIES,
    MAX_PERSONS_MET,
    NOT_IN_FUTURE,
    incidents_schema,
    visits_schema,
)
from warehouse.store import TABLE_DTYPES, TABLE_EVENT_TIME, TABLE_ID

_LINEAGE: Final = ("source_file", "source_row")
CLOCK_TOLERANCE_TEXT: Final = "1 hour"
#: Text columns whose values are checked for personal data (ID or mobile numbers).
CHECKED_TEXT_COLUMNS: Final = frozenset(
    {"visit_id", "incident_id", "officer_id", "station", "county", "township", "village"}
)


def _vocabulary_hint(col: Column) -> str:
    assert col.vocabulary is not None
    labels = [labels[0] for labels in col.vocabulary.values()]
    return "、".join(labels)


def normalise_chunk(
    raw: pd.DataFrame,
    hmap: HeaderMap,
    source_file: str,
    first_row: int,
    id_secret: str | None,
    now: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Parse one chunk of raw cells into canonical columns.

    Returns the canonical frame (all rows), the quarantine lines and the mask
    of rows to quarantine. ``first_row`` is the sheet row of the chunk's first
    data row (header = row 1).
    """
    n = len(raw)
    rows = np.arange(first_row, first_row + n, dtype="int64")
    out: dict[str, pd.Series] = {}
    by_name = {canonical: rawname for rawname, canonical in hmap.columns.items()}
    index = pd.RangeIndex(n)
    raw = raw.reset_index(drop=True)
    id_header = by_name.get(TABLE_ID[hmap.table])
    problems = Problems(n, raw[id_header] if id_header is not None else None)

    for col in TABLE_COLUMNS[hmap.table]:
        if col.name not in by_name:
            continue
        values = raw[by_name[col.name]]
        header = by_name[col.name]
        if col.kind == "str":
            out[col.name] = parse_text(values)
            if col.name in CHECKED_TEXT_COLUMNS:
                problems.add(
                    personal_mask(values),
                    col.name,
                    f"{header}: holds what looks like an ID or mobile phone number "
                    "(personal data is not stored)",
                    values,
                )
        elif col.kind in ("timestamp", "date"):
            parsed, bad = (parse_datetimes if col.kind == "timestamp" else parse_dates)(values)
            out[col.name] = parsed
            what = "date and time" if col.kind == "timestamp" else "date"
            problems.add(
                bad,
                col.name,
                f"{header}: cannot read this {what} (expected e.g. 2024-01-05 14:20, "
                f"2024/1/5 9:30 or 2024年1月5日)",
                values,
            )
        elif col.kind == "int":
            parsed_i, bad = parse_ints(values)
            out[col.name] = parsed_i
            problems.add(bad, col.name, f"{header}: not a whole number", values)
        elif col.kind == "bool":
            parsed_b, bad = parse_bools(values)
            out[col.name] = parsed_b
            problems.add(bad, col.name, f"{header}: expected 是/否 (yes/no)", values)
        elif col.kind in ("category", "ordinal"):
            assert col.vocabulary is not None
            parsed_c, bad = parse_categories(values, col.vocabulary)
            out[col.name] = parsed_c
            problems.add(
                bad,
                col.name,
                f"{header}: unknown category (expected one of {_vocabulary_hint(col)})",
                values,
            )
        elif col.kind == "set":
            assert col.vocabulary is not None
            parsed_s, bad = parse_hazard_sets(values, col.vocabulary)
            out[col.name] = parsed_s
            problems.add(
                bad,
                col.name,
                f"{header}: unknown risk hazard (expected labels among {_vocabulary_hint(col)}, "
                "separated by 、 ; ，)",
                values,
            )

    dtypes = TABLE_DTYPES[hmap.table]
    for name, dtype in dtypes.items():
        if name not in out and name not in _LINEAGE:
            out[name] = pd.Series(pd.NA if dtype != "str" else None, index=index, dtype=dtype)

    # An ID number typed into 户编号 becomes the keyed hash; other personal values are refused.
    if "household_id" in by_name:
        out["household_id"] = _household_ids(
            out["household_id"], raw[by_name["household_id"]], id_secret, problems
        )
    # Household: given, or derived from the head's ID number by keyed HMAC.
    household = out["household_id"]
    missing_hh = household.isna().to_numpy() & ~problems.has("household_id")
    if missing_hh.any():
        if hmap.id_number is not None:
            ids = raw[hmap.id_number]
            id_text = ids.map(normalise_id_number, na_action="ignore").fillna("")
            has_id = missing_hh & (id_text != "").to_numpy()
            if has_id.any():
                if id_secret:
                    secret = id_secret
                    derived = id_text[has_id].map(lambda v: pseudonymous_household_id(v, secret))
                    household = household.copy()
                    household[has_id] = derived.to_numpy()
                    out["household_id"] = household.astype("str")
                else:
                    problems.add(
                        has_id,
                        "household_id",
                        "household is identified only by the head's ID number (户主身份证号) "
                        "and REVISIT_ID_SECRET is not set, so no pseudonymous id can be derived",
                        None,
                    )
            missing_hh = missing_hh & ~has_id
        problems.add(
            missing_hh,
            "household_id",
            "household is missing: no 户编号 (household_id) and no 户主身份证号",
            None,
        )

    # Knowledge time: 录入时间, else the ingestion time (never the event time).
    recorded = out["recorded_at"]
    filled = recorded.isna().to_numpy()
    out["recorded_at"] = recorded.fillna(now.tz_convert(recorded.dt.tz)).astype(TIMESTAMP_DTYPE)
    if hmap.table == TABLE_VISITS:
        out["risk_hazards"] = out["risk_hazards"].fillna("").astype("str")
        review = out["review_status"]
        if "review_status" in by_name:
            out["review_status"] = review.fillna("pending").where(
                ~problems.has("review_status"), None
            )
        else:
            out["review_status"] = pd.Series("approved", index=index, dtype="str")
    out["source_file"] = pd.Series(source_file, index=index, dtype="str")
    out["source_row"] = pd.Series(rows, index=index, dtype="int64")
    frame = pd.DataFrame(out, index=index)[list(dtypes)].astype(dtypes)

    # Contract checks (pandera) on the parsed frame.
    schema = visits_schema(now) if hmap.table == TABLE_VISITS else incidents_schema(now)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        _add_schema_problems(err.failure_cases, frame, raw, by_name, problems)
    _add_order_problems(frame, hmap.table, by_name, raw, problems, filled)

    return frame, problems.records(source_file, rows), problems.row_mask()


def _add_order_problems(
    frame: pd.DataFrame,
    table: str,
    by_name: dict[str, str],
    raw: pd.DataFrame,
    problems: Problems,
    filled: np.ndarray,
) -> None:
    """Quarantine records entered before their event, or reviewed before being entered.

    ``recorded_at`` may precede the event time (``visited_at`` / ``reported_at``),
    and ``reviewed_at`` may precede ``recorded_at``, by at most
    :data:`warehouse.schemas.CLOCK_TOLERANCE` (1 hour). Missing values pass, and so do
    rows already quarantined for one of these timestamps (unreadable, or in the
    future): one reason is enough.
    """
    event = TABLE_EVENT_TIME[table]
    flagged = problems.has(event) | problems.has("recorded_at") | problems.has("reviewed_at")
    what = "visit happened" if table == TABLE_VISITS else "incident was reported"
    pairs = [("recorded_at", event, f"entered before the {what}")]
    if table == TABLE_VISITS:
        pairs.append(("reviewed_at", "recorded_at", "reviewed before the record was entered"))
    for later, earlier, phrase in pairs:
        if later not in by_name or earlier not in by_name and earlier == "recorded_at":
            # a time the export does not give (recorded_at: the ingestion time) is not checked
            continue
        gap = frame[earlier] - frame[later]
        mask = (gap > CLOCK_TOLERANCE).to_numpy(dtype=bool, na_value=False) & ~flagged & ~filled
        header, other = by_name[later], by_name.get(earlier, earlier)
        problems.add(
            mask,
            later,
            f"{header}: {phrase} (more than {CLOCK_TOLERANCE_TEXT} before {other})",
            raw[header],
        )


def _schema_reason(column: str, check: str, header: str) -> str:
    if check == NOT_IN_FUTURE:
        return f"{header}: lies in the future (after the time of ingestion)"
    if check == "not_nullable":
        return f"{header}: required value is empty"
    if check.startswith("greater_than_or_equal_to"):
        return f"{header}: negative count"
    if check.startswith("less_than_or_equal_to"):
        bound = MAX_PERSONS_MET if column == "persons_met" else MAX_DISPUTE_PARTIES
        return f"{header}: implausibly large count (more than {bound})"
    if check.startswith("isin"):
        return f"{header}: unknown category"
    if check.startswith("str_length"):
        return f"{header}: required value is empty"
    return f"{header}: breaks the data contract ({check})"


def _add_schema_problems(
    failures: pd.DataFrame,
    frame: pd.DataFrame,
    raw: pd.DataFrame,
    by_name: dict[str, str],
    problems: Problems,
) -> None:
    if failures["index"].isna().any():
        # A dtype or column failure: a bug of ours, not a bad row.
        bad = failures[failures["index"].isna()][["column", "check"]].to_dict("records")
        raise IngestError(f"parsed frame does not match the canonical schema: {bad!r}")
    for (column, check), group in failures.groupby(["column", "check"], sort=False):
        col = str(column)
        idx = group["index"].astype("int64").to_numpy()
        mask = np.zeros(len(frame), dtype=bool)
        mask[idx] = True
        mask &= ~problems.has(col)  # already reported as unparseable / missing household
        if col == "household_id":
            continue  # reported above with its own reason
        if col == "recorded_at":
            # Defaulted from the event time: an unreadable event time is reported already.
            mask &= ~problems.has("visited_at") & ~problems.has("reported_at")
        header = by_name.get(col, col)
        raw_values = raw[by_name[col]] if col in by_name else None
        problems.add(mask, col, _schema_reason(col, str(check), header), raw_values)


def _household_ids(
    parsed: pd.Series, raw: pd.Series, id_secret: str | None, problems: Problems
) -> pd.Series:
    """Household ids with personal values handled: an ID number is hashed, others refused.

    A cell that is exactly a resident ID number (after :func:`normalise_id_number`)
    becomes :func:`pseudonymous_household_id` of it, the same id the head's ID
    number column would give; without ``id_secret`` the row is quarantined. Any
    other cell holding an ID or mobile number is quarantined (value redacted).
    """
    personal = personal_mask(raw)
    if not personal.any():
        return parsed
    text = parsed.map(normalise_id_number, na_action="ignore").fillna("")
    exact = personal & text.map(
        lambda v: looks_like_id_number(v) and len(v) in (15, 18) and v[:-1].isdigit()
    ).to_numpy(dtype=bool)
    out = parsed.copy()
    if exact.any() and id_secret:
        secret = id_secret
        out[exact] = text[exact].map(lambda v: pseudonymous_household_id(v, secret)).to_numpy()
    elif exact.any():
        problems.add(
            exact,
            "household_id",
            "户编号 holds a resident ID number and REVISIT_ID_SECRET is not set, so it cannot "
            "be replaced by its keyed hash (personal data is not stored)",
            raw,
        )
        out[exact] = None
    other = personal & ~exact
    problems.add(
        other,
        "household_id",
        "户编号 holds what looks like an ID or mobile phone number (personal data is not stored)",
        raw,
    )
    out[other] = None
    return out.astype("str")
