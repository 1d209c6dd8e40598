"""The campaign cases against the demo's own model (20 000 households, two years).

The fast behavioural tests (``test_behaviour_cases.py``) use the small e2e prefecture,
whose model cannot yet order case (a) above case (b). Issue #7 asks for the order
with the demo's model; this test builds exactly the demo's prefecture (same size,
window and seed as ``make demo``, default training configuration), appends the four
cases and checks what an experienced officer would expect. It takes minutes: slow.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.data.cases.make_cases import CASE_IDS, write_cases
from tests.e2e_support import cli_env, run_cli

pytestmark = pytest.mark.slow

DEMO_HOUSEHOLDS = 20_000
DEMO_START = "2024-11-29"
DEMO_END = "2026-11-29"
AS_OF = "2026-11-30"
DEMO_TIMEOUT_S = 1200.0


@pytest.fixture(scope="module")
def ranked_cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Simulate, ingest and train the demo prefecture, add the cases, rank their village."""
    root = tmp_path_factory.mktemp("demo_cases")
    home, exports = root / "home", root / "exports"
    env = cli_env(home)
    args = ["--households", str(DEMO_HOUSEHOLDS), "--start", DEMO_START, "--end", DEMO_END]
    run_cli(["simulate", *args, "--seed", "0", "--out", str(exports)], home, env=env)
    run_cli(["ingest", str(exports)], home, env=env, timeout=DEMO_TIMEOUT_S)
    train = ["train", "--ground-truth", str(exports / "ground_truth")]
    run_cli(train, home, env=env, timeout=DEMO_TIMEOUT_S)
    # a champion to rank with, whatever the gates say (they are tested in test_registry.py)
    reason = "behaviour cases need a champion; the gates are tested elsewhere"
    run_cli(["promote", "--force", "--reason", reason], home, env=env)

    snapshot = root / "before.parquet"
    run_cli(["features", "--as-of", AS_OF, "--out", str(snapshot)], home, env=env)
    import pandas as pd

    frame = pd.read_parquet(snapshot, columns=["county", "township", "village"])
    county, township, village = frame.value_counts().sort_index().idxmax()
    cases = write_cases(
        root / "cases",
        county=county,
        township=township,
        village=village,
        end=dt.date.fromisoformat(DEMO_END),
    )
    run_cli(["ingest", *map(str, cases)], home, env=env)
    out = run_cli(
        ["rank", "--village", village, "--limit", "500", "--format", "json", "--as-of", AS_OF],
        home,
        env=env,
    )
    items = json.loads(out.stdout)["items"]
    by_id = {item["household_id"]: item for item in items}
    return {case: by_id[hid] for case, hid in CASE_IDS.items()}


def test_with_the_demo_model_open_dispute_and_self_harm_cases_rank_above_settled_and_fraud(
    ranked_cases: dict[str, dict],
) -> None:
    ranks = {case: item["rank"] for case, item in ranked_cases.items()}
    assert max(ranks["a"], ranks["d"]) < min(ranks["b"], ranks["c"]), ranks


def test_with_the_demo_model_reasons_name_the_cases_facts(ranked_cases: dict[str, dict]) -> None:
    def texts(case: str) -> str:
        return " | ".join(r["text_en"] for r in ranked_cases[case]["reasons"]).lower()

    assert any(w in texts("a") for w in ("family-dispute call", "dispute", "released")), texts("a")
    assert any(w in texts("d") for w in ("escalation", "self-harm")), texts("d")
