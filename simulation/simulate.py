"""Run one simulation and write the field exports and the ground truth.

Output layout (``docs/interfaces.md``)::

    OUT/visits_YYYY-MM.{xlsx,csv}, OUT/incidents_YYYY-MM.{xlsx,csv}
    OUT/ground_truth/oracle.parquet      household_id, as_of (Mondays, local midnight), oracle_prob
    OUT/ground_truth/households.parquet  household_id, county, township, village, household_type,
                                         propensity, static_hazards, ...
    OUT/ground_truth/officers.parquet    officer_id, township, kind, share_fabricated,
                                         share_perfunctory
    OUT/ground_truth/manifest.json       seed, window, counts, per-file duplicates/malformed
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from simulation import engine, export
from simulation import world as W
from simulation.errors import SimulationError
from simulation.world import SimulationConfig
from warehouse.contract import HAZARD_SEPARATOR, TIMEZONE

logger = logging.getLogger(__name__)

GROUND_TRUTH = "ground_truth"


@dataclass(frozen=True)
class SimulationSummary:
    """What a run wrote.

    Parameters
    ----------
    out_dir : Path
        The output folder.
    files : list of Path
        Export files written, in order.
    manifest : dict
        The content of ``ground_truth/manifest.json``.
    """

    out_dir: Path
    files: list[Path]
    manifest: dict[str, Any]


def _local_midnight_ns(date: dt.date) -> int:
    """Nanoseconds since the epoch (UTC) of local midnight in Asia/Shanghai (UTC+8, no DST)."""
    return (int(np.datetime64(date, "D").astype(np.int64)) * 86400 - 8 * 3600) * 1_000_000_000


def _officers_table(world: W.World) -> pa.Table:
    """Ground truth of officers' conduct: one row per officer.

    Columns: ``officer_id`` (str, as in the exports), ``township`` (str),
    ``kind`` (str, one of :data:`simulation.world.OFFICER_KINDS`),
    ``share_fabricated`` (float64: share of the officer's visits made up),
    ``share_perfunctory`` (float64: share of visits where nothing was asked).
    """
    kinds = np.array(W.OFFICER_KINDS, dtype=object)[world.officer_kind]
    fab = np.where(world.officer_kind == 1, world.officer_share, 0.0)
    perf = np.where(world.officer_kind == 2, world.officer_share, 0.0)
    n_off = world.officer_township.size
    return pa.table(
        {
            "officer_id": pa.array([str(100001 + k) for k in range(n_off)], pa.string()),
            "township": pa.array(
                [world.township_names[t] for t in world.officer_township], pa.string()
            ),
            "kind": pa.array(kinds, pa.string()),
            "share_fabricated": pa.array(fab, pa.float64()),
            "share_perfunctory": pa.array(perf, pa.float64()),
        }
    )


def simulate(config: SimulationConfig, out_dir: Path) -> SimulationSummary:
    """Simulate the prefecture and write exports + ground truth under ``out_dir``.

    Parameters
    ----------
    config : SimulationConfig
        Run parameters (validated here).
    out_dir : Path
        Output folder (created; existing export files of the same names are overwritten).

    Returns
    -------
    SimulationSummary

    Raises
    ------
    SimulationConfigError
        If a parameter is out of range.
    SimulationError
        If the output folder cannot be written.
    """
    config.validate()
    out_dir = Path(out_dir)
    gt = out_dir / GROUND_TRUTH
    try:
        gt.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SimulationError(f"cannot create output folder {str(out_dir)!r}: {err}") from err
    rng = np.random.default_rng(config.seed)
    world = W.build_world(config, rng)
    ids = export.household_ids(world.n)
    created = dt.datetime.combine(config.end, dt.time(23, 59, 59))

    schema = pa.schema(
        [
            ("household_id", pa.string()),
            ("as_of", pa.timestamp("ns", tz=TIMEZONE)),
            ("oracle_prob", pa.float64()),
        ]
    )
    n_mondays = 0
    with pq.ParquetWriter(gt / "oracle.parquet", schema, use_dictionary=["as_of"]) as writer:

        def on_monday(day: int, prob: np.ndarray) -> None:
            nonlocal n_mondays
            n_mondays += 1
            ns = _local_midnight_ns(config.start + dt.timedelta(days=day))
            as_of = pa.array(np.full(world.n, ns, dtype=np.int64), type=pa.int64()).cast(
                schema.field("as_of").type
            )
            writer.write_table(pa.table([ids, as_of, pa.array(prob, pa.float64())], schema=schema))

        log = engine.run(world, config, rng, on_monday)

    hh = export.build_households(world, rng)
    hazard_codes = np.array(W.HAZARD_CODES, dtype=object)
    static = (
        [HAZARD_SEPARATOR.join(hazard_codes[row]) for row in world.hazards]
        if world.n <= 200_000
        else None
    )
    households = {
        "household_id": ids,
        "county": hh.county,
        "township": hh.township,
        "village": hh.village,
        "household_type": pa.array(
            np.array(W.HOUSEHOLD_TYPE_CODES, dtype=object)[world.household_type], pa.string()
        ),
        "size": pa.array(world.size.astype(np.int64)),
        "propensity": pa.array(world.propensity),
        "village_effect": pa.array(world.village_effect),
        "secretive": pa.array(world.secretive),
        "officer_fabricating": pa.array(world.officer_fabricating[world.officer]),
    }
    if static is None:
        uniq, inv = np.unique(
            np.packbits(world.hazards, axis=1, bitorder="little"), axis=0, return_inverse=True
        )
        texts = [
            HAZARD_SEPARATOR.join(
                hazard_codes[np.unpackbits(u, bitorder="little")[: len(hazard_codes)].astype(bool)]
            )
            for u in uniq
        ]
        households["static_hazards"] = pa.DictionaryArray.from_arrays(
            pa.array(inv.ravel().astype(np.int32)), pa.array(texts)
        ).dictionary_decode()
    else:
        households["static_hazards"] = pa.array(static, pa.string())
    for k, code in enumerate(W.HAZARD_CODES):
        households[f"hazard_{code}"] = pa.array(world.hazards[:, k])
    pq.write_table(pa.table(households), gt / "households.parquet")
    pq.write_table(_officers_table(world), gt / "officers.parquet")

    fmt = config.export_format
    files: dict[str, dict[str, int]] = {}
    written: list[Path] = []
    for kind, tables in (
        ("visits", export.visit_tables(log, world, hh, config, rng)),
        ("incidents", export.incident_tables(log, hh, config, rng)),
    ):
        n_files = 0
        for month, table in tables:
            n_files += 1
            part, n_dup, n_bad = export.inject_noise(table, rng, config, kind)
            name = f"{kind}_{np.datetime64(month, 'M')}.{fmt}"
            path = out_dir / name
            export.write_table(part, path, fmt, created)
            files[name] = {"rows": part.num_rows, "duplicates": n_dup, "malformed": n_bad}
            written.append(path)
        logger.info("wrote %d %s files", n_files, kind)

    esc_cats = {engine.INCIDENT_CODES.index(c) for c in W.ESCALATION_CODES}
    manifest: dict[str, Any] = {
        "seed": config.seed,
        "households": config.households,
        "start": config.start.isoformat(),
        "end": config.end.isoformat(),
        "format": fmt,
        "duplicate_rate": config.duplicate_rate,
        "malformed_rate": config.malformed_rate,
        "timezone": TIMEZONE,
        "horizon_days": 30,
        "oracle": "closed form, latent state frozen at as_of (see simulation.world)",
        "counts": {
            "visits": int(log.visits["hh"].size),
            "incidents": int(log.incidents["hh"].size),
            "escalations": int(np.isin(log.incidents["category"], list(esc_cats)).sum()),
            "dispute_onsets": log.n_onsets,
            "mondays": n_mondays,
            "officers": int(world.officer_township.size),
            "fabricating_officers": int(world.officer_fabricating.sum()),
            "officer_kinds": {
                name: int((world.officer_kind == k).sum()) for k, name in enumerate(W.OFFICER_KINDS)
            },
        },
        "campaign_waves": [
            (config.start + dt.timedelta(days=s)).isoformat() for s in log.wave_starts
        ],
        "files": files,
    }
    (gt / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )
    return SimulationSummary(out_dir=out_dir, files=written, manifest=manifest)
