"""Jurisdictions are paths: names repeat across counties (issue #10, finding 2)."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from revisit.cli import app
from serving.auth import TokenStore
from simulation.world import SimulationConfig, build_world
from tests.warehouse_factory import random_warehouse, write_warehouse
from warehouse.jurisdictions import (
    AmbiguousPlace,
    PlaceIndex,
    UnknownPlace,
    contains,
    path_column,
)

VILLAGES = ["兴仁市/城南街道/李桃村", "兴仁市/城南街道/新华村", "安龙县/城南街道/李桃村"]


def test_a_bare_name_of_two_places_is_refused_with_both_paths() -> None:
    index = PlaceIndex("village", VILLAGES)
    with pytest.raises(AmbiguousPlace) as info:
        index.resolve("李桃村")
    assert info.value.candidates == ["兴仁市/城南街道/李桃村", "安龙县/城南街道/李桃村"]
    with pytest.raises(AmbiguousPlace):
        index.resolve("城南街道/李桃村")  # the township name repeats too
    assert index.resolve("安龙县/城南街道/李桃村") == "安龙县/城南街道/李桃村"
    assert index.resolve(" 兴仁市 / 城南街道 / 李桃村 ") == "兴仁市/城南街道/李桃村"
    assert index.resolve("新华村") == "兴仁市/城南街道/新华村"  # unique: accepted
    for text in ("", "兴仁市//李桃村", "无名村", "a/b/c/d", "兴仁市/新华村"):
        with pytest.raises(UnknownPlace):
            index.resolve(text)


def test_containment_is_by_path_prefix_not_by_name() -> None:
    assert contains("county", "兴仁市", "village", "兴仁市/城南街道/李桃村")
    assert not contains("county", "兴仁市", "village", "安龙县/城南街道/李桃村")
    assert not contains("county", "兴仁", "county", "兴仁市")  # a prefix of a name is not a path
    assert not contains("village", "兴仁市/城南街道/李桃村", "township", "兴仁市/城南街道")
    frame = pd.DataFrame({"county": ["A"], "township": ["T"], "village": ["V"]})
    assert list(path_column(frame, "village")) == ["A/T/V"]


def test_simulated_names_repeat_across_counties_but_never_within_one() -> None:
    world = build_world(SimulationConfig(households=3000), np.random.default_rng(3))
    village_county = world.township_county[world.village_township]
    by_name = collections.defaultdict(set)
    for name, county in zip(world.village_names, village_county, strict=True):
        by_name[name].add(int(county))
    repeated = [n for n, counties in by_name.items() if len(counties) > 1]
    assert len(repeated) >= 0.05 * len(world.village_names)
    assert len(set(zip(village_county, world.village_names, strict=True))) == len(
        world.village_names
    )
    townships = collections.Counter(world.township_names)
    assert any(c > 1 for c in townships.values())
    assert len(set(zip(world.township_county, world.township_names, strict=True))) == len(
        world.township_names
    )


def _two_county_home(home: Path) -> Path:
    """A warehouse whose county C2 repeats C1's township and village names."""
    visits, incidents = random_warehouse(1, n_households=12, n_villages=3)
    twin_v, twin_i = visits.copy(), incidents.copy()
    for frame in (twin_v, twin_i):
        frame["county"] = "C2"
        frame["household_id"] = "Z" + frame["household_id"].astype(str)
    twin_v["visit_id"] = "Z" + twin_v["visit_id"].astype(str)
    twin_i["incident_id"] = "Z" + twin_i["incident_id"].astype(str)
    write_warehouse(
        home,
        pd.concat([visits, twin_v], ignore_index=True),
        pd.concat([incidents, twin_i], ignore_index=True),
    )
    return home


def test_token_issue_refuses_an_ambiguous_name_and_stores_the_path(tmp_path: Path) -> None:
    home = _two_county_home(tmp_path)
    village = str(pd.read_parquet(home / "warehouse" / "visits.parquet")["village"].iloc[0])
    args = ["token", "issue", "--role", "officer", "--name", "unit", "--home", str(home)]
    refused = CliRunner().invoke(app, [*args, "--village", village])
    assert refused.exit_code == 1
    assert "ambiguous" in refused.output and "C1/" in refused.output and "C2/" in refused.output
    assert not (home / "tokens.json").exists()
    path = next(p for p in refused.output.split() if p.startswith("C2/") and p.endswith(village))
    ok = CliRunner().invoke(app, [*args, "--village", path])
    assert ok.exit_code == 0, ok.output
    token = ok.stdout.strip().splitlines()[-1]
    assert TokenStore(home / "tokens.json").authenticate(token).jurisdiction == path
