"""Follow-through (campaign/): publishing, officers' actions, closing from exports, overdue,
adherence, notices — on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from campaign.adherence import adherence, exposures, overall, slow_units
from campaign.config import (
    CampaignConfigError,
    PublishConfig,
    load_publish_config,
    parse_due_days,
)
from campaign.db import TaskDB, default_db_url, metadata
from campaign.errors import InvalidTaskAction, UnknownTask
from campaign.followup import overdue_followups
from campaign.notice import notice_workbook
from campaign.officers import responsible_officers
from campaign.tasks import (
    acknowledge,
    close_from_visits,
    decline,
    keep_reasons,
    publish,
    record_outcome,
    shared_rank_ranges,
)
from serving.publishing import ranked_for_publication
from tests.pg_support import PgUnavailable, start_postgres
from tests.tasks_support import frame_of, snapshot_visits, visit
from tests.test_serving_support import AS_OF, fake_loader, settings_for

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai on the as-of date
PLACE = ("Xingyi", "Dingxiao", "Xinzhai")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    try:
        gen = start_postgres()
        url = next(gen)
    except PgUnavailable as err:
        pytest.skip(f"POSTGRES TESTS SKIPPED: {err}")
    yield url
    gen.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TaskDB]:
    if request.param == "sqlite":
        store = TaskDB(default_db_url(tmp_path))
    else:
        url = request.getfixturevalue("pg_url")
        store = TaskDB(url)
        metadata.drop_all(store.engine)
        metadata.create_all(store.engine)
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def state():
    return fake_loader()(settings_for(Path("/nonexistent")))


def _publish(db: TaskDB, state, visits=None, capacity: int = 3, now: datetime = NOW, **kw):
    config = PublishConfig(capacity=capacity, **kw)
    ranked = ranked_for_publication(state, config.capacity_of)
    return publish(
        db, ranked, snapshot_visits() if visits is None else visits, AS_OF.date(),
        model_version="7", config=config, actor="test", now=now,
    )  # fmt: skip


# ------------------------------------------------------------------------ publishing
def test_publishing_the_same_week_twice_creates_nothing_new(db: TaskDB, state) -> None:
    first = _publish(db, state)
    n = db.count()
    second = _publish(db, state, capacity=5)
    assert first.created and not second.created
    assert db.count() == n == first.n_model + first.n_followup
    assert (second.n_model, second.n_followup) == (first.n_model, first.n_followup)


def test_each_township_gets_its_top_n_with_path_band_due_reasons_and_version(
    db: TaskDB, state
) -> None:
    report = _publish(db, state, capacity=3)
    frame = db.tasks_frame(kind="model")
    assert report.n_model == 4 * 3 == len(frame)  # four townships in the fake hierarchy
    for (county, township), group in frame.groupby(["county", "township"]):
        top = state.ranking("township", f"{county}/{township}")[:3]  # places are paths
        expected = [state.household_ids[p] for p in top]
        assert sorted(group["household_id"]) == sorted(expected)
        assert set(group["rank"]) == {1, 2, 3}
    row = frame.iloc[0]
    assert row["model_version"] == "7" and row["village"] and row["county"]
    days = {"high": 3, "elevated": 7, "moderate": 14, "low": 21}
    for band, due in zip(frame["risk_band"], frame["due"], strict=True):
        assert (due - AS_OF.date()).days == days[band]
    assert all(isinstance(r, list) for r in frame["reasons"])


def test_capacity_file_overrides_per_township_and_due_days_are_configurable(
    db: TaskDB, state
) -> None:
    _publish(db, state, capacity=2, capacities={("Anlong", "Haizi"): 5},
             due_days=parse_due_days("high=1,elevated=2,moderate=4,low=9"))  # fmt: skip
    frame = db.tasks_frame(kind="model")
    counts = frame.groupby("township").size().to_dict()
    assert counts == {"Dingxiao": 2, "Wanfenglin": 2, "Zhaodi": 2, "Haizi": 5}
    assert {(d - AS_OF.date()).days for d in frame["due"]} <= {1, 2, 4, 9}


def test_responsible_officer_is_the_roster_s_else_the_most_visiting(db: TaskDB, state) -> None:
    roster = pd.DataFrame(
        [{"officer_id": "R42", "county": "Xingyi", "township": "Dingxiao", "village": "Xinzhai"}]
    )
    _publish(db, state, roster=roster)
    frame = db.tasks_frame(kind="model")
    in_roster = frame["village"].eq("Xinzhai") & frame["township"].eq("Dingxiao")
    assert set(frame.loc[in_roster, "officer_id"]) <= {"R42"}
    assert set(frame.loc[in_roster, "officer_source"]) <= {"roster"}
    others = frame[~in_roster]
    assert (others["officer_source"] == "visits").all()
    assert not others["officer_id"].eq("P999").any()  # one old visit loses to two recent ones


def test_most_visiting_officer_counts_only_the_past_year_and_known_approved_visits() -> None:
    hh = pd.DataFrame([{"household_id": "A", "county": "c", "township": "t", "village": "v"}])
    rows = [
        visit("A", ("c", "t", "v"), "2025-01-01", officer_id="OLD"),
        visit("A", ("c", "t", "v"), "2025-01-02", officer_id="OLD"),
        visit("A", ("c", "t", "v"), "2026-11-01", officer_id="NEW"),
        visit("A", ("c", "t", "v"), "2026-11-02", officer_id="REJ", review_status="rejected"),
        visit("A", ("c", "t", "v"), "2026-11-03", officer_id="REJ", review_status="rejected"),
        visit("A", ("c", "t", "v"), "2026-11-29", officer_id="LATE", recorded_at="2026-12-02"),
        visit("A", ("c", "t", "v"), "2026-11-28", officer_id="LATE", recorded_at="2026-12-02"),
    ]
    out = responsible_officers(hh, frame_of(rows), AS_OF)
    assert out.loc[0, "officer_id"] == "NEW" and out.loc[0, "officer_source"] == "visits"


def test_ties_share_one_rank_range() -> None:
    assert shared_rank_ranges([0.9, 0.5, 0.5, 0.5, 0.2], 5) == ["1", "2–4", "2–4", "2–4", "5"]
    # A tie that crosses the capacity still shows its full range.
    assert shared_rank_ranges([0.9, 0.5, 0.5, 0.5], 2) == ["1", "2–4"]
    assert shared_rank_ranges([0.12344, 0.12341], 2) == ["1–2", "1–2"]


def test_tied_households_in_the_fake_snapshot_get_a_shared_range(state) -> None:
    ranked = ranked_for_publication(state, lambda c, t: 3)
    dingxiao = ranked[ranked["township"] == "Dingxiao"]
    assert list(dingxiao["rank_range"]) == ["1–3", "1–3", "1–3"]


def test_negligible_reasons_are_left_out_but_rule_reasons_kept() -> None:
    reasons = [
        {"code": "A", "contribution": 0.8},
        {"code": "HOUSEHOLD_TYPE", "contribution": 0.001},
        {"code": "FOLLOWUP_OVERDUE", "contribution": None},
    ]
    assert [r["code"] for r in keep_reasons(reasons)] == ["A", "FOLLOWUP_OVERDUE"]


# ------------------------------------------------------------------------ follow-ups
def test_followup_past_due_without_a_visit_since_becomes_a_task_once(db: TaskDB, state) -> None:
    report = _publish(db, state)
    late = db.tasks_frame(kind="followup_overdue")
    assert report.n_followup == 1 and list(late["household_id"]) == ["H00005"]
    reason = late.iloc[0]["reasons"][0]
    assert reason["text_en"] == "follow-up overdue by 10 days"
    assert reason["text_zh"] == "回访已超期 10 天"
    # Next week, still missed: no second task for the same missed date.
    nxt = publish(
        db, ranked_for_publication(state, lambda c, t: 0), snapshot_visits(),
        date(2026, 12, 7), model_version="7", config=PublishConfig(capacity=0), actor="t",
        now=NOW,
    )  # fmt: skip
    assert nxt.created and nxt.n_followup == 0


def test_overdue_followups_rule() -> None:
    p = ("c", "t", "v")
    rows = [
        # A: follow-up due 11-20, nothing since -> 10 days overdue
        visit("A", p, "2026-11-01", followup_due="2026-11-20"),
        # B: follow-up due 11-20, visited since (the later visit sets none) -> fine
        visit("B", p, "2026-11-01", followup_due="2026-11-20"),
        visit("B", p, "2026-11-22"),
        # C: due after the as-of date -> fine
        visit("C", p, "2026-11-01", followup_due="2026-12-05"),
        # D: the visit since is only pending review -> still overdue
        visit("D", p, "2026-11-01", followup_due="2026-11-25"),
        visit("D", p, "2026-11-27", review_status="pending"),
        # E: the visit since became known only after the as-of date -> still overdue
        visit("E", p, "2026-11-01", followup_due="2026-11-28"),
        visit("E", p, "2026-11-29", recorded_at="2026-12-01"),
    ]
    late = overdue_followups(frame_of(rows), AS_OF)
    assert dict(zip(late["household_id"], late["days_overdue"], strict=True)) == {
        "A": 10, "D": 5, "E": 2,
    }  # fmt: skip


# --------------------------------------------------------------------- officers' actions
def test_officer_actions_follow_the_life_cycle(db: TaskDB, state) -> None:
    _publish(db, state)
    ids = list(db.tasks_frame(kind="model")["task_id"])
    t1, t2, t3 = ids[:3]
    assert acknowledge(db, t1, actor="tok", role="officer", now=NOW)["status"] == "acknowledged"
    with pytest.raises(InvalidTaskAction, match="status open"):
        acknowledge(db, t1, actor="tok", role="officer", now=NOW)
    done = record_outcome(db, t1, outcome="resolved", visited_at=datetime(2026, 12, 1, 9),
                          actor="tok", role="officer", now=datetime(2026, 12, 1, 3, tzinfo=UTC))  # fmt: skip
    assert (done["status"], done["outcome"], done["closed_by"]) == ("done", "resolved", "officer")
    assert (
        decline(db, t2, reason="moved_away", actor="tok", role="officer", now=NOW)["status"]
        == "declined"
    )
    with pytest.raises(InvalidTaskAction):
        record_outcome(db, t2, outcome="none", visited_at=NOW, actor="tok", role="officer", now=NOW)
    with pytest.raises(InvalidTaskAction, match="expected an outcome"):
        record_outcome(
            db, t3, outcome="he said", visited_at=NOW, actor="t", role="officer", now=NOW
        )
    with pytest.raises(InvalidTaskAction, match="expected a reason"):
        decline(db, t3, reason="free text", actor="t", role="officer", now=NOW)
    with pytest.raises(InvalidTaskAction, match="in the past"):
        record_outcome(db, t3, outcome="none", visited_at=datetime(2027, 1, 1, tzinfo=UTC),
                       actor="t", role="officer", now=NOW)  # fmt: skip
    with pytest.raises(UnknownTask):
        acknowledge(db, "2026W49-99999", actor="t", role="officer", now=NOW)
    events = db.events(t1)
    assert list(events["action"]) == ["issued", "acknowledge", "outcome"]
    assert list(events["actor"])[1:] == ["tok", "tok"]


# ------------------------------------------------------------------ closing from exports
def test_a_later_approved_visit_in_an_export_completes_the_task(db: TaskDB, state) -> None:
    _publish(db, state)
    frame = db.tasks_frame(kind="model")
    target = frame.iloc[0]
    other = frame.iloc[1]
    place = (target["county"], target["township"], target["village"])
    later = frame_of([
        visit(target["household_id"], place, "2026-12-02 15:00", has_dispute=True,
              resolution_status="mediating"),
        visit(other["household_id"], place, "2026-12-02 15:00", review_status="pending"),
        visit(other["household_id"], place, "2026-11-29 15:00"),  # before the task's as-of date
    ])  # fmt: skip
    assert close_from_visits(db, later, now=NOW) == 1
    done = db.get(target["task_id"])
    assert (done["status"], done["closed_by"], done["outcome"]) == ("done", "export", "mediating")
    assert done["visited_at"] == datetime(2026, 12, 2, 7, tzinfo=UTC)
    assert db.get(other["task_id"])["status"] == "open"
    assert close_from_visits(db, later, now=NOW) == 0  # idempotent


# ----------------------------------------------------------------- overdue and adherence
def test_overdue_is_an_open_task_past_its_due_date(db: TaskDB, state) -> None:
    _publish(db, state)
    all_open = db.tasks_frame(status="open")
    assert len(db.tasks_frame(status="overdue", today=AS_OF.date())) == 0
    later = db.tasks_frame(status="overdue", today=date(2026, 12, 30))
    assert len(later) == len(all_open)
    first_due = min(all_open["due"])
    at_due = db.tasks_frame(status="overdue", today=first_due)
    assert len(at_due) == 0  # due today is not overdue yet


def test_adherence_counts_visits_on_time_among_judged_tasks(db: TaskDB, state) -> None:
    _publish(db, state, capacity=2)
    frame = db.tasks_frame(kind="model", place={"township": "Dingxiao"})
    a, b = frame["task_id"]
    due_a = db.get(a)["due"]
    record_outcome(db, a, outcome="none", visited_at=datetime(2026, 11, 30, 15), actor="t",
                   role="officer", now=datetime(2026, 12, 1, tzinfo=UTC))  # fmt: skip
    decline(db, b, reason="disagree", actor="t", role="officer", now=NOW)
    today = date(2026, 12, 31)
    tasks = db.tasks_frame(status="all", kind="model")
    by_town = adherence(tasks, today).set_index("township")
    assert by_town.loc["Dingxiao", "judged"] == 2 and by_town.loc["Dingxiao", "on_time"] == 1
    assert by_town.loc["Dingxiao", "adherence"] == pytest.approx(0.5)
    assert by_town.loc["Zhaodi", "adherence"] == 0.0 and by_town.loc["Zhaodi", "overdue"] == 2
    assert due_a >= AS_OF.date()
    # Before any due date passes, open tasks are not judged yet.
    early = adherence(tasks, AS_OF.date()).set_index("township")
    assert early.loc["Zhaodi", "judged"] == 0 and pd.isna(early.loc["Zhaodi", "adherence"])
    assert overall(tasks, today)["on_time"] == 1
    by_officer = adherence(tasks, today, by=("officer_id",))
    assert by_officer["tasks"].sum() == len(tasks)
    units = slow_units(tasks, today)
    assert units.iloc[-1]["township"] == "Dingxiao"  # the only unit that acted is the least slow


def test_exposures_count_households_read_after_issue() -> None:
    tasks = pd.DataFrame({"task_id": ["T1", "T2"], "household_id": ["A", "B"],
                          "issued_at": [NOW, NOW]})  # fmt: skip
    reads = [
        {"at": "2026-11-29T00:00:00+00:00", "household_ids": '["B"]', "outcome": "ok"},
        {"at": "2026-12-01T00:00:00+00:00", "household_ids": '["A"]', "outcome": "ok"},
        {"at": "2026-12-01T00:00:00+00:00", "household_ids": '["B"]', "outcome": "forbidden"},
    ]
    assert exposures(tasks, reads) == {"T1"}


# --------------------------------------------------------------------------- notices
def test_notice_is_a_county_workbook_a4_landscape_with_repeated_header(db: TaskDB, state) -> None:
    from openpyxl import load_workbook

    _publish(db, state)
    frame = db.tasks_frame(place={"county": "Xingyi"})
    content = notice_workbook(frame, county="Xingyi", unit="州公安局指挥中心",
                              issued_on=AS_OF.date(), band_rule="rule",
                              due_days=parse_due_days(""))  # fmt: skip
    wb = load_workbook(io.BytesIO(content))
    assert sorted(wb.sheetnames) == ["Dingxiao", "Wanfenglin"]
    ws = wb["Dingxiao"]
    text = [[c.value for c in row] for row in ws.iter_rows()]
    flat = [v for row in text for v in row if v is not None]
    notice_no = frame["notice_no"].iloc[0]
    assert notice_no in flat and "州公安局指挥中心" in flat and "7" in flat
    assert "1–3" in flat  # the shared range of the three tied households
    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == "9"
    header_row = next(i for i, row in enumerate(text, 1) if row[0] == "排名")
    assert ws.print_title_rows.replace("$", "") == f"{header_row}:{header_row}"
    reasons_cell = ws.cell(row=header_row + 1, column=9)
    assert reasons_cell.alignment.wrap_text


# ------------------------------------------------------------------------------ config
def test_config_files_and_rules_fail_in_plain_words(tmp_path: Path) -> None:
    (tmp_path / "campaign").mkdir()
    (tmp_path / "campaign" / "roster.csv").write_text(
        "民警警号,县（市、新区）,乡镇（街道）,村（社区）\nA,c,t,v\nB,c,t,v\n", encoding="utf-8"
    )
    with pytest.raises(CampaignConfigError, match="one officer per village"):
        load_publish_config(tmp_path)
    (tmp_path / "campaign" / "roster.csv").write_text("officer_id,county\nA,c\n", encoding="utf-8")
    with pytest.raises(CampaignConfigError, match="missing"):
        load_publish_config(tmp_path)
    with pytest.raises(CampaignConfigError, match="band=days"):
        parse_due_days("urgent=1")
    with pytest.raises(CampaignConfigError, match="expected a file"):
        load_publish_config(tmp_path, roster_file=tmp_path / "nope.csv")
    (tmp_path / "campaign" / "roster.csv").unlink()
    (tmp_path / "campaign" / "capacity.csv").write_text("county,township,capacity\nc,t,5\n")
    assert load_publish_config(tmp_path).capacity_of("c", "t") == 5


def test_the_sqlite_task_database_lives_under_the_home_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    store = TaskDB(default_db_url(tmp_path))
    store.dispose()
    assert (tmp_path / "tasks.db").stat().st_mode & 0o777 == 0o600
