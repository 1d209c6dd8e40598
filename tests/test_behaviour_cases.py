"""Model behaviour: four hand-written campaign cases, ranked as an experienced officer would.

The cases of ``tests/data/cases/make_cases.py`` are written into the largest village
of the session's trained small prefecture (a copy of its warehouse, the same champion),
ingested through the real CLI, the snapshot is rebuilt (``revisit features``) and the
village is ranked with the champion (``revisit rank --format json``):

(a) reconstituted family, open serious inheritance dispute, released prisoner, recent
    family-dispute call; (b) decade-old land dispute just settled with a signed
    agreement; (c) fraud target, no dispute; (d) self-harm attempt after a marriage
    quarrel, self-harm signs recorded since.

An officer would go back to (a) and (d) before (b) and (c), and expect the reasons
to name the facts that put them there.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import load_workbook

from tests.data.cases.make_cases import (
    CASE_IDS,
    DEFAULT_COUNTY,
    DEFAULT_TOWNSHIP,
    DEFAULT_VILLAGE,
    HERE,
    INCIDENT_HEADERS,
    INCIDENTS,
    INCIDENTS_FILE,
    PII,
    VISIT_HEADERS,
    VISITS,
    VISITS_FILE,
    incident_rows,
    visit_rows,
    write_cases,
)
from tests.e2e_support import (  # noqa: F401  (pytest fixture)
    END,
    TrainedPrefecture,
    cli_env,
    run_cli,
    trained_prefecture,
)
from warehouse.store import read_incidents, read_visits

_DEFAULT_PLACE = (DEFAULT_COUNTY, DEFAULT_TOWNSHIP, DEFAULT_VILLAGE)

AS_OF = (dt.date.fromisoformat(END) + dt.timedelta(days=1)).isoformat()


@dataclass(frozen=True)
class CasesRanked:
    """The cases' warehouse, feature rows and ranked village list."""

    home: Path
    county: str
    township: str
    village: str
    ingest_stdout: str
    features: pd.DataFrame
    ranked: dict[str, Any]

    def item(self, case: str) -> dict[str, Any]:
        """The list item of case ``a`` … ``d``."""
        hid = CASE_IDS[case]
        (found,) = [it for it in self.ranked["items"] if it["household_id"] == hid]
        return found

    def codes(self, case: str) -> list[str]:
        return [r["code"] for r in self.item(case)["reasons"]]

    def feature(self, case: str, name: str) -> float:
        row = self.features.loc[self.features["household_id"] == CASE_IDS[case]]
        assert len(row) == 1, f"expected one feature row of {CASE_IDS[case]}, got {len(row)}"
        return float(row[name].iloc[0])


@pytest.fixture(scope="module")
def cases(
    trained_prefecture: TrainedPrefecture,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> CasesRanked:
    """Append the four cases to a copy of the trained warehouse, rebuild, rank their village."""
    root = tmp_path_factory.mktemp("cases")
    home = root / "home"
    shutil.copytree(trained_prefecture.home / "warehouse", home / "warehouse")
    # the champion of the trained prefecture, read from its (unchanged) registry
    env = cli_env(
        home, MLFLOW_TRACKING_URI=f"sqlite:///{(trained_prefecture.home / 'mlflow.db').resolve()}"
    )

    visits = read_visits(home)
    latest = visits.sort_values(["household_id", "recorded_at"]).drop_duplicates(
        "household_id", keep="last"
    )
    sizes = (
        latest.groupby(["county", "township", "village"])
        .size()
        .reset_index(name="n")
        .sort_values(["n", "county", "township", "village"], ascending=[False, True, True, True])
    )
    county, township, village = (str(sizes.iloc[0][c]) for c in ("county", "township", "village"))

    exports = root / "exports"
    write_cases(
        exports,
        county=county,
        township=township,
        village=village,
        end=dt.date.fromisoformat(END),
    )
    ingested = run_cli(["ingest", str(exports)], home, env=env)
    features_file = root / "snapshot.parquet"
    run_cli(["features", "--as-of", AS_OF, "--out", str(features_file)], home, env=env)
    ranked = run_cli(
        [
            "rank",
            "--village",
            f"{county}/{township}/{village}",
            "--limit",
            "500",
            "--format",
            "json",
            "--as-of",
            AS_OF,
        ],
        home,
        env=env,
    )
    return CasesRanked(
        home=home,
        county=county,
        township=township,
        village=village,
        ingest_stdout=ingested.stdout,
        features=pd.read_parquet(features_file),
        ranked=json.loads(ranked.stdout),
    )


@pytest.mark.e2e
def test_cases_are_ingested_whole_without_personal_data(cases: CasesRanked) -> None:
    visits = read_visits(cases.home)
    incidents = read_incidents(cases.home)
    case_visits = visits[visits["household_id"].str.startswith("CASE-")]
    case_incidents = incidents[incidents["household_id"].str.startswith("CASE-")]
    assert len(case_visits) == sum(len(v) for v in VISITS.values())
    assert len(case_incidents) == sum(len(v) for v in INCIDENTS.values())
    assert set(case_visits["village"]) == {cases.village}
    assert set(case_visits["review_status"]) == {"approved"}
    cells = [*visits.to_numpy().ravel(), *incidents.to_numpy().ravel()]
    text = "\n".join(map(str, cells))
    for name, id_number, phone, _ in PII.values():
        assert name not in text and id_number not in text and phone not in text


@pytest.mark.e2e
def test_snapshot_features_record_the_cases_facts(cases: CasesRanked) -> None:
    # (a) the inheritance dispute is open, the released prisoner and the calls are known
    assert cases.feature("a", "disputes_all_open") >= 1
    assert cases.feature("a", "hazards_all_latest_released_prisoner") == 1
    assert cases.feature("a", "incidents_90d_count_family_dispute_call") >= 1
    # (b) the land dispute is settled: nothing open, an agreement on record
    assert cases.feature("b", "disputes_all_open") == 0
    assert cases.feature("b", "disputes_365d_mediation_agreements") >= 1
    # (c) no dispute ever, a fraud on record
    assert cases.feature("c", "disputes_all_count") == 0
    assert cases.feature("c", "incidents_90d_count_fraud") == 1
    # (d) a self-harm escalation and the signs recorded since
    assert cases.feature("d", "incidents_90d_count_self_harm") == 1
    assert cases.feature("d", "hazards_all_latest_self_harm_signs") == 1


def _assert_above(cases: CasesRanked, high: str, lows: str) -> None:
    scores = {case: cases.item(case)["score"] for case in "abcd"}
    ranks = {case: cases.item(case)["rank"] for case in "abcd"}
    figures = f"scores {scores}, ranks in {cases.village} {ranks} of {cases.ranked['total']}"
    for low in lows:
        assert scores[high] > scores[low], f"expected ({high}) above ({low}): {figures}"


@pytest.mark.e2e
def test_self_harm_case_ranks_above_settled_and_fraud_cases(cases: CasesRanked) -> None:
    _assert_above(cases, "d", "bc")


@pytest.mark.e2e
# Was a strict xfail (KNOWN MODEL GAP: (a) scored below (b)); the model fitted on the
# case-control sample (training.frame, negative_share 0.1) ranks (a) above (b) and (c).
def test_open_inheritance_dispute_case_ranks_above_settled_and_fraud_cases(
    cases: CasesRanked,
) -> None:
    _assert_above(cases, "a", "bc")


@pytest.mark.e2e
def test_reasons_of_the_inheritance_case_name_its_dispute_prisoner_or_calls(
    cases: CasesRanked,
) -> None:
    codes = cases.codes("a")
    right = ("OPEN", "PROPERTY_INHERITANCE", "RELEASED_PRISONER", "FAMILY_DISPUTE_CALL", "SERIOUS")
    wrong = ("FRAUD", "SELF_HARM", "LAND_FOREST")
    assert any(any(r in c for r in right) for c in codes), codes
    assert not any(any(w in c for w in wrong) for c in codes), codes


@pytest.mark.e2e
def test_reasons_of_the_self_harm_case_name_self_harm_or_the_escalation(
    cases: CasesRanked,
) -> None:
    codes = cases.codes("d")
    right = ("SELF_HARM", "ESCALATION", "MARRIAGE_FAMILY")
    wrong = ("FRAUD", "RELEASED_PRISONER", "PROPERTY_INHERITANCE", "LAND_FOREST")
    assert any(any(r in c for r in right) for c in codes), codes
    assert not any(any(w in c for w in wrong) for c in codes), codes


def _sheet(path: Path) -> list[list[object]]:
    book = load_workbook(path, read_only=True)
    try:
        return [
            ["" if c is None else c for c in row]
            for row in book.worksheets[0].iter_rows(values_only=True)
        ]
    finally:
        book.close()


def test_committed_case_files_match_their_generator() -> None:
    assert _sheet(HERE / VISITS_FILE) == [list(VISIT_HEADERS), *visit_rows(*_DEFAULT_PLACE)]
    assert _sheet(HERE / INCIDENTS_FILE) == [
        list(INCIDENT_HEADERS),
        *incident_rows(*_DEFAULT_PLACE),
    ]
