"""Rules of the follow-through as data: codes, due dates by band, capacities and the roster.

Files an operator may keep under ``<home>/campaign/`` (UTF-8 CSV with a header row;
Chinese headers are accepted):

``roster.csv`` — who is responsible (包保) for which village::

    officer_id,county,township,village        (民警警号,县（市、新区）,乡镇（街道）,村（社区）)

``capacity.csv`` — households listed per township per week, overriding ``--capacity``::

    county,township,capacity                  (县（市、新区）,乡镇（街道）,容量)

A village without a roster row falls back to the officer who visited the household
most often in the past year (:func:`campaign.officers.responsible_officers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pandas as pd

from campaign.errors import CampaignConfigError

#: Kinds of task: ``model`` (the week's ranking), ``followup_overdue`` (a campaign rule:
#: a household whose 回访期限 passed without an approved visit since).
TASK_KINDS: Final[tuple[str, ...]] = ("model", "followup_overdue")

#: Stored statuses. ``overdue`` is not stored: it is an open or acknowledged task past its due date.
STATUSES: Final[tuple[str, ...]] = ("open", "acknowledged", "done", "declined")

#: Status filters of lists: stored statuses plus ``overdue`` and ``all``.
STATUS_FILTERS: Final[tuple[str, ...]] = ("open", "overdue", "done", "declined", "all")

#: Outcome codes of a visit (from an officer or derived from the exported visit).
OUTCOME_CODES: Final[dict[str, tuple[str, str]]] = {
    "dispute_found": ("dispute found", "发现矛盾纠纷"),
    "resolved": ("resolved", "已化解"),
    "mediating": ("mediating", "化解中"),
    "referred": ("referred", "已移交"),
    "none": ("no dispute", "无矛盾纠纷"),
}

#: Reason codes of a decline (never free text: it would carry names).
DECLINE_CODES: Final[dict[str, tuple[str, str]]] = {
    "already_handled": ("already handled", "已处置"),
    "moved_away": ("moved away", "已搬离"),
    "wrong_household": ("wrong household", "户信息有误"),
    "disagree": ("disagree with the list", "不认同预警"),
}

#: Days from the as-of date to the due date, by risk band (high 3, elevated 7, …).
DEFAULT_DUE_DAYS: Final[dict[str, int]] = {"high": 3, "elevated": 7, "moderate": 14, "low": 21}

#: Days to act on a ``followup_overdue`` task (the follow-up is already late).
DEFAULT_FOLLOWUP_DUE_DAYS: Final = 3

#: Households listed per township per week unless a capacity file says otherwise.
DEFAULT_CAPACITY: Final = 20

#: Reasons whose contribution (log-odds) is below this are left out of tasks and notices.
MIN_REASON_CONTRIBUTION: Final = 0.05

#: Code of the rule reason "follow-up overdue by N days".
FOLLOWUP_REASON_CODE: Final = "FOLLOWUP_OVERDUE"

_ROSTER_HEADERS: Final[dict[str, str]] = {
    "民警警号": "officer_id",
    "县（市、新区）": "county",
    "乡镇（街道）": "township",
    "村（社区）": "village",
    "容量": "capacity",
}


def followup_reason(days: int) -> dict[str, object]:
    """The rule reason "follow-up overdue by ``days`` days" in both languages.

    Its ``contribution`` is ``None``: it comes from a campaign rule, not the model.
    """
    return {
        "code": FOLLOWUP_REASON_CODE,
        "text_en": f"follow-up overdue by {days} days",
        "text_zh": f"回访已超期 {days} 天",
        "contribution": None,
    }


@dataclass(frozen=True)
class PublishConfig:
    """How a week's tasks are made.

    Parameters
    ----------
    capacity : int
        Households per township (≥ 0) when ``capacities`` has no entry for it.
    capacities : mapping of (county, township) to int
        Per-township overrides.
    due_days : mapping of band to int
        Days from the as-of date to the due date of a model task, by risk band.
    followup_due_days : int
        Days to act on a ``followup_overdue`` task.
    roster : DataFrame or None
        ``officer_id, county, township, village`` (one officer per village); ``None``:
        the most-visiting officer of the past year is responsible.
    """

    capacity: int = DEFAULT_CAPACITY
    capacities: Mapping[tuple[str, str], int] = field(default_factory=dict)
    due_days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_DUE_DAYS))
    followup_due_days: int = DEFAULT_FOLLOWUP_DUE_DAYS
    roster: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        if self.capacity < 0:
            raise CampaignConfigError(f"expected a capacity ≥ 0, got {self.capacity!r}")
        missing = [b for b in DEFAULT_DUE_DAYS if b not in self.due_days]
        if missing:
            raise CampaignConfigError(
                f"expected due days for every band {tuple(DEFAULT_DUE_DAYS)!r}, missing {missing!r}"
            )
        bad = {b: d for b, d in self.due_days.items() if int(d) < 0}
        if bad or self.followup_due_days < 0:
            raise CampaignConfigError(
                f"expected due days ≥ 0, got {bad or self.followup_due_days!r}"
            )

    def capacity_of(self, county: str, township: str) -> int:
        """Households to list in one township."""
        return int(self.capacities.get((county, township), self.capacity))


def parse_due_days(text: str) -> dict[str, int]:
    """Parse ``"high=3,elevated=7,moderate=14,low=21"`` (bands left out keep their default).

    Raises
    ------
    CampaignConfigError
        On an unknown band or a value that is not a whole number of days ≥ 0.
    """
    out = dict(DEFAULT_DUE_DAYS)
    for part in filter(None, (p.strip() for p in text.split(","))):
        band, sep, value = part.partition("=")
        band = band.strip()
        if not sep or band not in DEFAULT_DUE_DAYS:
            raise CampaignConfigError(
                f"expected band=days with a band in {tuple(DEFAULT_DUE_DAYS)!r}, got {part!r}"
            )
        try:
            days = int(value)
        except ValueError as err:
            raise CampaignConfigError(f"expected whole days for {band!r}, got {value!r}") from err
        if days < 0:
            raise CampaignConfigError(f"expected days ≥ 0 for {band!r}, got {days!r}")
        out[band] = days
    return out


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except (OSError, ValueError) as err:
        raise CampaignConfigError(f"could not read {str(path)!r} as CSV: {err}") from err
    frame = frame.rename(columns=lambda c: _ROSTER_HEADERS.get(str(c).strip(), str(c).strip()))
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise CampaignConfigError(
            f"expected the columns {list(required)!r} in {str(path)!r}, missing {missing!r}"
        )
    frame = frame[list(required)].apply(lambda s: s.str.strip())
    if (frame == "").any(axis=None):
        raise CampaignConfigError(f"expected no empty cells in {str(path)!r}")
    return frame


def read_roster(path: Path) -> pd.DataFrame:
    """The roster file: one responsible officer per village path.

    Returns
    -------
    DataFrame
        ``officer_id, county, township, village`` (str).

    Raises
    ------
    CampaignConfigError
        When the file cannot be read, lacks a column, or names two officers for one village.
    """
    frame = _read_csv(Path(path), ("officer_id", "county", "township", "village"))
    dup = frame.duplicated(["county", "township", "village"], keep=False)
    if dup.any():
        first = frame.loc[dup].iloc[0]
        raise CampaignConfigError(
            f"expected one officer per village in {str(path)!r}, got several for "
            f"{first['county']}/{first['township']}/{first['village']}"
        )
    return frame.reset_index(drop=True)


def read_capacities(path: Path) -> dict[tuple[str, str], int]:
    """The per-township capacity file as ``{(county, township): capacity}``.

    Raises
    ------
    CampaignConfigError
        When the file cannot be read or a capacity is not a whole number ≥ 0.
    """
    frame = _read_csv(Path(path), ("county", "township", "capacity"))
    out: dict[tuple[str, str], int] = {}
    for county, township, value in frame.itertuples(index=False):
        try:
            cap = int(value)
        except ValueError as err:
            raise CampaignConfigError(
                f"expected a whole capacity for {county}/{township}, got {value!r}"
            ) from err
        if cap < 0:
            raise CampaignConfigError(f"expected a capacity ≥ 0 for {county}/{township}, got {cap}")
        out[(str(county), str(township))] = cap
    return out


def campaign_dir(home: Path) -> Path:
    """``<home>/campaign``: where the roster and capacity files are looked for."""
    return Path(home) / "campaign"


def load_publish_config(
    home: Path,
    *,
    capacity: int | None = None,
    capacity_file: Path | None = None,
    roster_file: Path | None = None,
    due_days: Mapping[str, int] | None = None,
) -> PublishConfig:
    """A :class:`PublishConfig` from options, else the files under ``<home>/campaign/``.

    Raises
    ------
    CampaignConfigError
        When a named file is missing or invalid.
    """
    base = campaign_dir(home)
    for given in (capacity_file, roster_file):
        if given is not None and not Path(given).exists():
            raise CampaignConfigError(f"expected a file at {str(given)!r}, found none")
    cap_path = capacity_file or (base / "capacity.csv")
    roster_path = roster_file or (base / "roster.csv")
    return PublishConfig(
        capacity=DEFAULT_CAPACITY if capacity is None else capacity,
        capacities=read_capacities(cap_path) if Path(cap_path).exists() else {},
        due_days=dict(due_days) if due_days is not None else dict(DEFAULT_DUE_DAYS),
        roster=read_roster(roster_path) if Path(roster_path).exists() else None,
    )
