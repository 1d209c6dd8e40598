"""Command-centre reports on a hand-written warehouse with known answers.

The warehouse (two counties, three officers, six counted visits) is small
enough to count by hand; every expected number below is such a count.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from campaign.appraisal import appraise
from campaign.bulletin import build_report, scope_frames
from campaign.render import render_html, to_json, write_xlsx
from campaign.reports import (
    ReportError,
    Window,
    headline,
    household_units,
    known_visits,
    period_figures,
    period_windows,
    wan,
)
from warehouse.contract import TIMEZONE
from warehouse.store import conform, empty_incidents

AS_OF = pd.Timestamp("2025-02-28", tz=TIMEZONE)
SEED_WINDOW = Window(pd.Timestamp("2025-01-20", tz=TIMEZONE), AS_OF)


def _ts(text: str | None) -> pd.Timestamp | None:
    return None if text is None else pd.Timestamp(text, tz=TIMEZONE)


def visit(
    vid: str,
    hh: str,
    officer: str,
    at: str,
    persons: int,
    *,
    county: str = "兴义市",
    township: str = "丰都街道",
    dispute: str | None = None,
    status: str | None = None,
    due: str | None = None,
    hazards: str = "",
    review: str = "approved",
    recorded: str | None = None,
) -> dict[str, object]:
    return {
        "visit_id": vid,
        "household_id": hh,
        "visited_at": _ts(at),
        "recorded_at": _ts(recorded or at),
        "officer_id": officer,
        "station": f"{township}派出所",
        "county": county,
        "township": township,
        "village": "红星村",
        "persons_met": persons,
        "household_type": "ordinary",
        "has_dispute": dispute is not None,
        "dispute_type": dispute,
        "dispute_severity": None if dispute is None else "general",
        "dispute_parties": None,
        "risk_hazards": hazards,
        "resolution_status": status,
        "mediation_agreement": None,
        "followup_due": _ts(due),
        "review_status": review,
        "reviewed_at": None,
        "source_file": "hand.csv",
        "source_row": 2,
    }


def hand_visits() -> pd.DataFrame:
    rows = [
        # before the window: H5 is known, not visited in it
        visit("v0", "H5", "O2", "2025-01-10 10:00", 2),
        # O1 on 21 Jan: H1 twice (one officer-day, one household), H2 with two hazards
        visit("v1", "H1", "O1", "2025-01-21 10:00", 2, dispute="neighbour", status="resolved"),
        visit("v2", "H2", "O1", "2025-01-21 11:00", 3, hazards="drug_use|released_prisoner"),
        visit("v3", "H1", "O1", "2025-01-21 15:00", 1),
        # O2: an open dispute with a follow-up date that has passed at the as-of date
        visit(
            "v4",
            "H3",
            "O2",
            "2025-02-03 09:00",
            1,
            dispute="marriage_family",
            status="mediating",
            due="2025-02-10",
        ),
        # O3 in another county: an unresolved dispute (not handled)
        visit(
            "v5",
            "H4",
            "O3",
            "2025-02-05 16:00",
            1,
            county="安龙县",
            township="德卧镇",
            dispute="land_forest",
            status="unresolved",
        ),
        # O1 revisits H2 later: its hazards count as followed up
        visit("v6", "H2", "O1", "2025-02-20 10:00", 2),
        # never counted: rejected, and recorded after the as-of date
        visit("v7", "H6", "O2", "2025-02-21 10:00", 5, review="rejected"),
        visit("v8", "H7", "O2", "2025-02-27 10:00", 4, recorded="2025-03-02 09:00"),
    ]
    return conform(pd.DataFrame(rows), "visits")


def hand_incidents() -> pd.DataFrame:
    rows = []
    for iid, hh, at, cat, county, town in [
        ("i1", "H4", "2025-02-10 20:00", "fight", "安龙县", "德卧镇"),
        ("i2", "H4", "2024-02-01 20:00", "domestic_violence", "安龙县", "德卧镇"),
        ("i3", "H1", "2025-02-11 09:00", "fraud", "兴义市", "丰都街道"),
    ]:
        rows.append(
            {
                "incident_id": iid,
                "household_id": hh,
                "reported_at": _ts(at),
                "recorded_at": _ts(at),
                "county": county,
                "township": town,
                "village": "红星村",
                "category": cat,
                "source_file": "hand.csv",
                "source_row": 2,
            }
        )
    frame = pd.DataFrame(rows)
    return conform(pd.concat([empty_incidents(), frame], ignore_index=True), "incidents")


def figures(level: str, window: Window = SEED_WINDOW, **kw: object) -> pd.DataFrame:
    known = known_visits(hand_visits(), AS_OF)
    return period_figures(
        known, household_units(known), hand_incidents(), window, AS_OF, level, **kw
    )


def test_headline_reproduces_the_seed_form_exactly_from_the_hand_warehouse() -> None:
    text = headline(figures("county"), SEED_WINDOW)
    assert text == (
        "1月20日至2月27日，共投入警力4人次，走访群众4户10人，排查化解矛盾纠纷3起、处置率66.67%"
    )
    assert headline(figures("county"), SEED_WINDOW, "en") == (
        "20 Jan to 27 Feb: 4 officer-days; 4 households and 10 people visited; "
        "3 disputes found and mediated, 66.67 % handled"
    )


def test_headline_writes_large_counts_as_the_seed_does() -> None:
    seed = pd.DataFrame(
        {
            "officer_days": [56995],
            "households_visited": [675_432],
            "people_met": [943_210],
            "disputes_found": [65_213],
            "disputes_handled": [65_102],
            "escalations": [0],
        }
    )
    window = Window(
        pd.Timestamp("2025-01-20", tz=TIMEZONE), pd.Timestamp("2025-02-28", tz=TIMEZONE)
    )
    assert headline(seed, window) == (
        "1月20日至2月27日，共投入警力56995人次，走访群众67.5万余户94.3万余人，"
        "排查化解矛盾纠纷6.52万余起、处置率99.83%"
    )


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (9999, "9999"),
        (10_000, "1.00万"),
        (675_000, "67.5万"),
        (675_001, "67.5万余"),
        (1_234_567, "123万余"),
    ],
)
def test_wan_truncates_to_three_digits_and_says_more(n: int, text: str) -> None:
    assert wan(n) == text


def test_county_figures_match_hand_counts() -> None:
    f = figures("county").set_index("county")
    a, b = f.loc["兴义市"], f.loc["安龙县"]
    assert (a["officer_days"], a["households_visited"], a["households_known"]) == (3, 3, 4)
    assert a["visited_share"] == pytest.approx(0.75)
    assert a["people_met"] == 9
    assert (a["disputes_found"], a["disputes_handled"], a["handled_rate"]) == (2, 2, 1.0)
    assert (a["hazards_found"], a["hazards_handled"]) == (2, 2)
    assert a["overdue_followups"] == 1  # H3: mediating, follow-up due 10 Feb
    assert a["escalations"] == 0  # fraud is no escalation
    assert (b["disputes_found"], b["disputes_handled"], b["escalations"]) == (1, 0, 1)
    assert pd.isna(a["tasks_issued"]) and pd.isna(a["suspect_visits"])


def test_officer_level_counts_each_officers_days_and_households() -> None:
    f = figures("officer").set_index("officer_id")
    assert f.loc["O1", "officer_days"] == 2  # 21 Jan and 20 Feb
    assert f.loc["O1", "households_visited"] == 2
    assert (
        f.loc["O2", "officer_days"] == 1
    )  # the rejected and the late-recorded visits do not count
    assert set(f.index) == {"O1", "O2", "O3"}


def test_suspect_visits_and_tasks_are_counted_when_given() -> None:
    tasks = pd.DataFrame(
        {
            "task_id": ["t1", "t2", "t3"],
            "household_id": ["H1", "H2", "H3"],
            "county": ["兴义市"] * 3,
            "township": ["丰都街道"] * 3,
            "village": ["红星村"] * 3,
            "officer_id": ["O1", "O1", "O2"],
            "kind": ["revisit"] * 3,
            "status": ["done", "done", "open"],
            "issued_at": [_ts("2025-02-01 08:00")] * 3,
            "due": [_ts("2025-02-07"), _ts("2025-02-07"), _ts("2025-02-07")],
            "completed_at": [_ts("2025-02-05 10:00"), _ts("2025-02-12 10:00"), None],
        }
    )
    f = figures("county", tasks=tasks, suspect_ids=pd.Series(["v2", "v5"])).set_index("county")
    a = f.loc["兴义市"]
    assert (a["tasks_issued"], a["tasks_on_time"], a["tasks_overdue"]) == (3, 1, 1)
    assert a["list_adherence"] == pytest.approx(2 / 3)
    assert a["suspect_visits"] == 1 and f.loc["安龙县", "suspect_visits"] == 1


def test_windows_compare_previous_period_and_a_year_earlier() -> None:
    w = period_windows("weekly", "2025-02-28")
    assert w["current"].start == pd.Timestamp("2025-02-21", tz=TIMEZONE)
    assert w["previous"].start == pd.Timestamp("2025-02-14", tz=TIMEZONE)
    assert w["year_ago"].end == pd.Timestamp("2024-02-28", tz=TIMEZONE)
    m = period_windows("monthly", "2025-03-01")
    assert (m["current"].start, m["current"].last_day) == (
        pd.Timestamp("2025-02-01", tz=TIMEZONE),
        pd.Timestamp("2025-02-28", tz=TIMEZONE),
    )
    with pytest.raises(ReportError, match="'yearly'"):
        period_windows("yearly", "2025-03-01")


def test_monthly_report_carries_year_on_year_escalations_and_an_appraisal() -> None:
    rep = build_report("monthly", hand_visits(), hand_incidents(), as_of="2025-02-28")
    county = rep.levels["county"].set_index("county")
    assert county.loc["安龙县", "escalations"] == 1
    assert county.loc["安龙县", "escalations_yoy"] == 1  # 1 Feb 2024 in [28 Jan, 28 Feb) 2024
    assert county.loc["安龙县", "escalations_change_yoy"] == 0.0
    assert rep.appraisal is not None
    assert list(rep.appraisal["rank"]) == [1, 2]
    assert rep.headline_zh.startswith("1月28日至2月27日，共投入警力")
    payload = json.loads(to_json(rep))
    assert payload["levels"]["county"][0]["tasks_issued"] is None  # "n/a" without tasks


def test_appraisal_score_is_the_weighted_mean_of_its_components() -> None:
    units = pd.DataFrame(
        {
            "visited_share": [0.9, 0.5],
            "handled_rate": [1.0, 0.8],
            "households_known": [100, 100],
            "households_visited": [90, 50],
            "overdue_followups": [0, 5],
            "escalations": [1, 4],
            "escalations_yoy": [2, 2],
            "suspect_visits": [0, 10],
            "list_adherence": [pd.NA, pd.NA],
        }
    )
    out = appraise(units, {"coverage": 1.0, "handled_rate": 1.0})
    assert out["score"].tolist() == [100.0, 50.0]
    assert out.loc[0, "c_coverage"] == 1.0 and out.loc[1, "c_coverage"] == 0.5
    with pytest.raises(ReportError, match="nonsense"):
        appraise(units, {"nonsense": 1.0})


def test_scope_keeps_only_the_jurisdiction() -> None:
    v, i, scope = scope_frames(hand_visits(), hand_incidents(), township="德卧镇")
    assert set(v["household_id"]) == {"H4"} and set(i["household_id"]) == {"H4"}
    assert scope == {"township": "德卧镇"}
    with pytest.raises(ReportError):
        scope_frames(hand_visits(), hand_incidents(), county="a", township="b")


def test_xlsx_has_a_print_ready_sheet_per_level_and_html_has_plots(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    rep = build_report("monthly", hand_visits(), hand_incidents(), as_of="2025-02-28")
    path = write_xlsx(rep, tmp_path / "r.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["概要", "县市区", "乡镇", "派出所", "民警", "考评"]
    ws = wb["乡镇"]
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$2:$2"
    assert ws.cell(row=2, column=1).value == "县市区"
    assert "n/a" in [c.value for c in ws[3]]  # task figures without tasks
    page = render_html(rep)
    assert page.count("data:image/png;base64,") == 2
    assert rep.headline_zh in page and "viewport" in page


def test_a_period_without_hazards_invents_no_unit() -> None:
    """Regression: an empty hazard frame once produced a unit with missing keys."""
    w = period_windows("monthly", AS_OF)["current"]  # no visit of the month records a hazard
    f = figures("township", window=w)
    assert f[["county", "township"]].notna().all().all()
    assert set(f["township"]) == {"丰都街道", "德卧镇"}


def test_a_record_sent_twice_counts_once_in_its_latest_known_version() -> None:
    v = hand_visits()
    again = v[v["visit_id"] == "v1"].copy()
    again["persons_met"] = 4  # corrected on 1 Feb, known before the as-of date
    again["recorded_at"] = pd.Timestamp("2025-02-01 09:00", tz=TIMEZONE)
    late = again.copy()
    late["persons_met"] = 7  # a correction made after the as-of date changes nothing
    late["recorded_at"] = pd.Timestamp("2025-03-05 09:00", tz=TIMEZONE)
    versions = pd.concat([v, again, late], ignore_index=True)
    known = known_visits(versions, AS_OF)
    f = period_figures(
        known, household_units(known), hand_incidents(), SEED_WINDOW, AS_OF, "county"
    ).set_index("county")
    assert f.loc["兴义市", "people_met"] == 9 - 2 + 4
    assert f.loc["兴义市", "disputes_found"] == 2


def test_a_period_without_visits_says_so_instead_of_a_silent_zero_bulletin() -> None:
    """A daily report on a day nobody visited printed a bulletin of zeros without a word."""
    quiet = build_report("daily", hand_visits(), hand_incidents(), as_of="2025-01-16")
    assert quiet.totals["current"]["households_visited"] == 0
    assert any(
        n == "no visits recorded in the period 2025-01-15 to 2025-01-15: the latest visit "
        "known by the report date is on 2025-01-10"
        for n in quiet.notes
    )
    assert "no visits recorded" in render_html(quiet, "en")
    # a date before any record: every figure 0 and the note, not a server error (schemathesis
    # found GET /v1/reports/daily?as_of=2000-01-01 answered 500: TypeError)
    before = build_report("daily", hand_visits(), hand_incidents(), as_of="2000-01-01")
    assert before.totals["current"]["households_visited"] == 0
    assert "no visits recorded in the period 1999-12-31 to 1999-12-31" in before.notes
    busy = build_report("daily", hand_visits(), hand_incidents(), as_of="2025-01-22")
    assert busy.totals["current"]["households_visited"] == 2
    assert not any(n.startswith("no visits recorded") for n in busy.notes)


def test_malformed_dates_and_places_are_input_errors_in_plain_words() -> None:
    """``revisit report --as-of 0001-01-01`` and ``--county /`` ended in tracebacks."""
    from campaign.reports import ReportInputError
    from campaign.service import resolve_as_of

    for bad in ("0001-01-01", "2300-01-01"):
        with pytest.raises(ReportInputError, match=f"from 1970-01-01 to 2199-12-31, got {bad}"):
            resolve_as_of(hand_visits(), hand_incidents(), bad)
    assert resolve_as_of(hand_visits(), hand_incidents(), "2025-02-28") == pd.Timestamp(
        "2025-02-28", tz=TIMEZONE
    )
    for level, text in (("county", "/"), ("township", "a//b"), ("village", " ")):
        with pytest.raises(ReportInputError, match=f"{level}: expected a name or a path"):
            scope_frames(hand_visits(), hand_incidents(), **{level: text})
