"""No personal data past ingestion, whatever the input (issue #11).

Adversarial exports plant ID numbers, mobile numbers, names and addresses where
they do not belong: a csv without its header row, an ID typed into 户编号, phones
in the village, station and officer columns, a phone in a time cell. After
ingesting them through the real CLI, every byte under the home and every byte
the command printed is swept for the planted values: only keyed hashes may remain.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from warehouse.pii import (
    REDACTED,
    id_check_character,
    looks_like_id_number,
    looks_like_mobile,
    pseudonymous_household_id,
)

ID18 = "522301198001011231"  # valid check digit
ID18_X = "11010519491231002X"
ID15 = "522301800101123"
PHONE = "13912345678"
PHONE_DASHED = "139-1234-5678"
NAME = "张三丰"
ADDRESS = "贵州省兴义市桔山街道88号"
SECRET = "test-secret-for-sweep-0123456789abcdef"
PLANTED = [ID18, ID18_X, ID18_X.lower(), ID15, PHONE, PHONE_DASHED, "1234-5678", NAME, ADDRESS]

HEADER = (
    "走访编号,户编号,走访时间,录入时间,民警警号,派出所,县（市、新区）,乡镇（街道）,村（社区）,"
    "是否存在矛盾纠纷,审核状态,户主姓名,联系电话,住址,户主身份证号"
)
TAIL = f"{NAME},{PHONE},{ADDRESS},{ID18}"


def test_id_and_mobile_recognisers() -> None:
    assert looks_like_id_number(ID18) and looks_like_id_number(ID18_X.lower())
    assert looks_like_id_number(ID15) and looks_like_id_number(f"身份证{ID18}号")
    assert not looks_like_id_number("522301198001011234")  # wrong check digit
    assert not looks_like_id_number("V202610050000000001")  # an id with letters
    assert looks_like_mobile(PHONE) and looks_like_mobile(f"电话 +86 {PHONE_DASHED}")
    assert not looks_like_mobile("110001") and not looks_like_mobile("V13912345678")
    assert id_check_character(ID18[:17]) == ID18[17]


def _adversarial(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        # a csv without its header row: the first data row stands where the header should
        "no_header.csv": [
            f"V900,H900,2026-10-05 09:30,,110001,桔山派出所,兴义市,桔山街道,坪东社区,否,已通过,{TAIL}",
            f"V901,H901,2026-10-05 09:30,,110001,桔山派出所,兴义市,桔山街道,坪东社区,否,已通过,{TAIL}",
        ],
        # ID numbers typed into 户编号; phones and IDs typed into kept text columns
        "misplaced.csv": [
            HEADER,
            f"V910,{ID18},2026-10-05 09:30,,110001,桔山派出所,兴义市,桔山街道,坪东社区,否,已通过,{TAIL}",
            f"V911,{ID18_X.lower()},2026-10-05 09:30,,110001,桔山派出所,兴义市,桔山街道,坪东社区,否,已通过,{TAIL}",
            f"V912,{ID15},2026-10-05 09:30,,110001,桔山派出所,兴义市,桔山街道,坪东社区,否,已通过,{TAIL}",
            f"V913,H913,2026-10-05 09:30,,110001,桔山派出所,兴义市,桔山街道,坪东社区{PHONE},否,已通过,{TAIL}",
            f"V914,H914,2026-10-05 09:30,,110001,派出所{PHONE_DASHED},兴义市,桔山街道,坪东社区,否,已通过,{TAIL}",
            f"V915,H915,2026-10-05 09:30,,{ID18},桔山派出所,兴义市,桔山街道,坪东社区,否,已通过,{TAIL}",
            f"V916,H916,{PHONE},,110001,桔山派出所,兴义市,桔山街道,坪东社区,否,已通过,{TAIL}",
            f"{PHONE},H917,2026-10-05 09:30,,110001,桔山派出所,兴义市,桔山街道,坪东社区,否,已通过,{TAIL}",
            f"V918,H918,2026-10-05 09:30,,110001,桔山派出所,兴义市,桔山街道,坪东社区,{ID15},已通过,{TAIL}",
        ],
        # a header cell holding a phone number and a personal column under a decorated header
        "odd_headers.csv": [
            HEADER.replace("联系电话", "联系电话（手机）") + f",{PHONE}",
            f"V920,H920,2026-10-05 09:30,,110001,桔山派出所,兴义市,桔山街道,坪东社区,否,已通过,{TAIL},x",
        ],
    }
    paths = []
    for name, lines in files.items():
        path = folder / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    # the same adversarial rows as a GB18030 file
    gb = folder / "misplaced_gb.csv"
    gb.write_bytes(
        (folder / "misplaced.csv").read_text("utf-8").replace("V9", "W9").encode("gb18030")
    )
    paths.append(gb)
    return paths


def _sweep(blobs: dict[str, bytes]) -> list[tuple[str, str]]:
    found = []
    for where, data in blobs.items():
        for value in PLANTED:
            for enc in ("utf-8", "gb18030", "utf-16-le"):
                if value.encode(enc) in data:
                    found.append((where, value))
    return found


@pytest.mark.parametrize("secret", [SECRET, None])
def test_byte_sweep_finds_no_planted_personal_value(tmp_path: Path, secret: str | None) -> None:
    _adversarial(tmp_path / "in")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVISIT_")}
    env["COLUMNS"] = "200"
    if secret:
        env["REVISIT_ID_SECRET"] = secret
    cmd = [sys.executable, "-c", "from revisit.cli import main; main()"]
    runs = [
        subprocess.run(
            [*cmd, "ingest", str(tmp_path / "in"), "--home", str(home), *extra],
            capture_output=True,
            env=env,
            timeout=120,
        )
        for extra in (["--no-progress", "--dry-run"], ["--no-progress"], ["--no-progress"])
    ]
    blobs = {}
    for i, run in enumerate(runs):
        blobs[f"stdout {i}"] = run.stdout
        blobs[f"stderr {i}"] = run.stderr
    for path in home.rglob("*"):
        if path.is_file():
            blobs[str(path.relative_to(home))] = path.read_bytes()
            if path.suffix == ".parquet":  # compressed: sweep the decoded values too
                text = pd.read_parquet(path).to_csv(index=False)
                blobs[f"{path.relative_to(home)} (decoded)"] = text.encode("utf-8")
    assert any(p.suffix == ".parquet" for p in home.rglob("*"))
    assert list((home / "quarantine").glob("*.csv"))
    assert _sweep(blobs) == []

    visits = pd.read_parquet(home / "warehouse" / "visits.parquet")
    if secret:  # an ID typed into 户编号 becomes the keyed hash the head's ID would give
        assert pseudonymous_household_id(ID18, secret) in set(visits["household_id"])
    quarantine = pd.concat(
        pd.read_csv(p, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        for p in (home / "quarantine").glob("2*.csv")
        if not p.name.endswith("-conflicts.csv")
    )
    assert {"source_file", "source_row", "record_id", "column", "reason", "value"} <= set(
        quarantine.columns
    )
    assert REDACTED in set(quarantine["value"]) and REDACTED in set(quarantine["record_id"])
    by_id = quarantine.groupby("record_id")["column"].agg(set)
    assert {"village"} <= by_id["V913"] and {"station"} <= by_id["V914"]
    assert {"officer_id"} <= by_id["V915"] and {"visited_at"} <= by_id["V916"]
    # the file without a header row is refused without showing any of its cells
    assert b"is the header row missing" in runs[1].stderr
