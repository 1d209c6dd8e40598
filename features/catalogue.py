"""The feature catalogue: every feature column of Revisit, declared as data.

Features are generated from small declarations (family, source table, window,
metric) in the Feast / DSSG-triage style; nobody hand-writes the columns.
``features.build`` computes each declared metric; ``models/`` reads the
``reason_en`` / ``reason_zh`` templates to explain scores to officers.

Names are ``{family}_{window}_{metric}`` (ASCII), windows are half-open
``[t - w, t)`` on the event time (``visited_at`` for visits, ``reported_at``
for incidents) with ``w`` in 30, 90, 365 days, or ``all`` history before ``t``.

Definitions (see also ``features.build``):

* A *visit* at ``t`` is a visit row with ``review_status == "approved"``,
  ``recorded_at < t``, ``visited_at < t`` and, when ``reviewed_at`` is
  present, ``reviewed_at < t``. Pending and rejected rows are never visits.
* A *dispute record* is a visit (as above) with ``has_dispute`` true.
* A *dispute* (for "open" disputes) is identified by (household,
  ``dispute_type``); a record without a type belongs to the type ``other``.
  Its status is the ``resolution_status`` of its latest dispute record
  (ordered by ``visited_at``, then ``recorded_at``, then ``visit_id``); it is
  *open* when that status is not ``resolved`` (a missing status is open).
  Its age is measured from the first record after its latest ``resolved``
  record (the start of the current episode).
* An *incident* at ``t`` is an incident row with ``recorded_at < t`` and
  ``reported_at < t``; an *escalation* is an incident whose category is in the
  escalation set (``features.contract.DEFAULT_ESCALATION_CATEGORIES`` unless
  configured otherwise).
* Counts are 0 when nothing happened; days-since and shares are missing (NaN)
  when there is nothing to measure: LightGBM handles missing values.
"""

from __future__ import annotations

from typing import Final

from features.contract import (
    DISPUTE_SEVERITIES,
    DISPUTE_TYPES,
    INCIDENT_CATEGORIES,
    RISK_HAZARDS,
)
from features.spec import FeatureSpec

#: Window name -> length in days (``None``: all history before the as-of date).
WINDOWS: Final[dict[str, int | None]] = {"30d": 30, "90d": 90, "365d": 365, "all": None}

_WIN_EN: Final = {
    "30d": "in the last 30 days",
    "90d": "in the last 90 days",
    "365d": "in the last year",
    "all": "on record",
}
_WIN_ZH: Final = {"30d": "近30天", "90d": "近90天", "365d": "近一年", "all": "累计"}

DISPUTE_TYPE_EN: Final[dict[str, str]] = {
    "marriage_family": "marriage/family",
    "neighbour": "neighbour",
    "land_forest": "land/forest",
    "property_inheritance": "property/inheritance",
    "debt_economic": "debt/economic",
    "labour_wage": "labour/wage",
    "other": "other",
}
SEVERITY_EN: Final[dict[str, str]] = {"general": "general", "serious": "serious", "major": "major"}
HAZARD_EN: Final[dict[str, str]] = {
    "released_prisoner": "released prisoner in the household",
    "severe_mental_illness": "severe mental illness",
    "drug_use": "drug use",
    "fraud_target": "targeted by fraud",
    "self_harm_signs": "signs of self-harm",
    "controlled_weapon": "controlled weapon",
    "elderly_alone": "elderly person living alone",
    "unattended_minor": "unattended minor",
    "safety_hazard": "safety hazard",
}
INCIDENT_EN: Final[dict[str, str]] = {
    "family_dispute_call": "family-dispute calls",
    "neighbour_dispute_call": "neighbour-dispute calls",
    "fight": "fights",
    "assault_injury": "assault/injury incidents",
    "domestic_violence": "domestic-violence incidents",
    "self_harm": "self-harm incidents",
    "mass_incident": "mass incidents",
    "homicide": "homicides",
    "fraud": "fraud incidents",
    "theft": "thefts",
    "other": "other incidents",
}

#: Windows for which per-category incident counts are generated (30 days is too sparse).
INCIDENT_CATEGORY_WINDOWS: Final[tuple[str, ...]] = ("90d", "365d", "all")
#: Windows for the record-quality family.
QUALITY_WINDOWS: Final[tuple[str, ...]] = ("365d", "all")


def _generate() -> dict[str, FeatureSpec]:
    """Generate the catalogue from the declarations above (called lazily)."""
    out: dict[str, FeatureSpec] = {}

    def add(
        family: str,
        source: str,
        window: str,
        metric: str,
        description: str,
        en: str,
        zh: str,
        dtype: str = "float",
    ) -> None:
        name = f"{family}_{window}_{metric}"
        if not name.isascii() or name in out:
            raise ValueError(f"feature name must be ASCII and unique, got {name!r}")
        out[name] = FeatureSpec(name, family, source, window, metric, dtype, description, en, zh)

    # --- visits -----------------------------------------------------------
    for w in WINDOWS:
        add(
            "visits",
            "visits",
            w,
            "count",
            f"Number of approved visits {_WIN_EN[w]} (count).",
            f"{{value:g}} approved visits {_WIN_EN[w]}",
            f"{_WIN_ZH[w]}走访{{value:g}}次",
        )
        add(
            "visits",
            "visits",
            w,
            "persons_met_mean",
            f"Mean number of persons met per approved visit {_WIN_EN[w]} (persons; NaN when unknown).",
            f"on average {{value:.1f}} persons met per visit {_WIN_EN[w]}",
            f"{_WIN_ZH[w]}平均每次走访见到{{value:.1f}}人",
        )
        add(
            "visits",
            "visits",
            w,
            "share_nobody_met",
            f"Share in [0, 1] of approved visits {_WIN_EN[w]} with persons_met recorded where nobody was met (NaN when none).",
            f"nobody met at {{value:.0%}} of visits {_WIN_EN[w]}",
            f"{_WIN_ZH[w]}{{value:.0%}}的走访未见到人",
        )
    add(
        "visits",
        "visits",
        "all",
        "days_since_last",
        "Days from the latest approved visit to the as-of date (days; NaN when none).",
        "{value:.0f} days since the last visit",
        "距上次走访已{value:.0f}天",
    )

    # --- disputes ---------------------------------------------------------
    for w in WINDOWS:
        add(
            "disputes",
            "visits",
            w,
            "count",
            f"Number of dispute records (approved visits with a dispute) {_WIN_EN[w]} (count).",
            f"{{value:g}} dispute records {_WIN_EN[w]}",
            f"{_WIN_ZH[w]}记录矛盾纠纷{{value:g}}次",
        )
        for code, (zh_label, _) in DISPUTE_TYPES.items():
            en = DISPUTE_TYPE_EN[code]
            add(
                "disputes",
                "visits",
                w,
                f"count_{code}",
                f"Number of {en} dispute records {_WIN_EN[w]} (count).",
                f"{{value:g}} {en} dispute records {_WIN_EN[w]}",
                f"{_WIN_ZH[w]}{zh_label}纠纷记录{{value:g}}次",
            )
        for code, (zh_label, _) in DISPUTE_SEVERITIES.items():
            en = SEVERITY_EN[code]
            add(
                "disputes",
                "visits",
                w,
                f"count_{code}",
                f"Number of dispute records of severity {en} {_WIN_EN[w]} (count).",
                f"{{value:g}} {en} disputes recorded {_WIN_EN[w]}",
                f"{_WIN_ZH[w]}{zh_label}纠纷记录{{value:g}}次",
            )
        add(
            "disputes",
            "visits",
            w,
            "share_resolved",
            f"Share in [0, 1] of dispute records {_WIN_EN[w]} whose status is resolved (NaN when none).",
            f"only {{value:.0%}} of disputes {_WIN_EN[w]} recorded as resolved",
            f"{_WIN_ZH[w]}纠纷化解率{{value:.0%}}",
        )
        add(
            "disputes",
            "visits",
            w,
            "mediation_agreements",
            f"Number of dispute records {_WIN_EN[w]} with a signed mediation agreement (count).",
            f"{{value:g}} mediation agreements {_WIN_EN[w]}",
            f"{_WIN_ZH[w]}签订调解协议{{value:g}}份",
        )
    add(
        "disputes",
        "visits",
        "all",
        "open",
        "Number of open disputes: (household, dispute type) pairs whose latest record is not resolved (count).",
        "{value:g} open (unresolved) disputes",
        "未化解矛盾纠纷{value:g}起",
    )
    for code, (zh_label, _) in DISPUTE_TYPES.items():
        en = DISPUTE_TYPE_EN[code]
        add(
            "disputes",
            "visits",
            "all",
            f"open_{code}",
            f"1 when the household's {en} dispute is open (latest record not resolved), else 0 (count).",
            f"open {en} dispute",
            f"{zh_label}纠纷未化解",
        )
    add(
        "disputes",
        "visits",
        "all",
        "open_max_age_days",
        "Age in days of the oldest open dispute, from the first record of its current episode (days; NaN when none open).",
        "an open dispute for {value:.0f} days",
        "纠纷未化解已{value:.0f}天",
    )
    add(
        "disputes",
        "visits",
        "all",
        "days_since_last",
        "Days from the latest dispute record to the as-of date (days; NaN when none).",
        "{value:.0f} days since the last recorded dispute",
        "距上次记录纠纷{value:.0f}天",
    )
    add(
        "disputes",
        "visits",
        "30d",
        "trend",
        "Dispute records in the last 30 days minus half of those in the 60 days before (records per 30 days).",
        "dispute records rising: {value:+g} against the previous two months' monthly rate",
        "近30天纠纷较前两月月均变化{value:+g}次",
    )

    # --- risk hazards -----------------------------------------------------
    for code, (zh_label, _) in RISK_HAZARDS.items():
        en = HAZARD_EN[code]
        add(
            "hazards",
            "visits",
            "all",
            f"ever_{code}",
            f"1 when any approved visit recorded the hazard '{en}', else 0 (indicator).",
            f"hazard on record: {en}",
            f"曾记录风险隐患：{zh_label}",
        )
    for code, (zh_label, _) in RISK_HAZARDS.items():
        en = HAZARD_EN[code]
        add(
            "hazards",
            "visits",
            "all",
            f"latest_{code}",
            f"1 when the latest approved visit recorded the hazard '{en}', else 0 (indicator).",
            f"hazard at the last visit: {en}",
            f"最近一次走访记录风险隐患：{zh_label}",
        )
    add(
        "hazards",
        "visits",
        "all",
        "distinct",
        "Number of distinct risk hazards ever recorded at approved visits (count, 0 to 9).",
        "{value:g} different risk hazards on record",
        "累计记录{value:g}类风险隐患",
    )

    # --- incidents --------------------------------------------------------
    for w in WINDOWS:
        add(
            "incidents",
            "incidents",
            w,
            "count",
            f"Number of police incidents {_WIN_EN[w]} (count).",
            f"{{value:g}} police incidents {_WIN_EN[w]}",
            f"{_WIN_ZH[w]}警情{{value:g}}起",
        )
        add(
            "incidents",
            "incidents",
            w,
            "escalations",
            f"Number of prior escalation incidents (escalation set) {_WIN_EN[w]} (count).",
            f"{{value:g}} prior escalations {_WIN_EN[w]}",
            f"{_WIN_ZH[w]}发生过激事件{{value:g}}起",
        )
    for w in INCIDENT_CATEGORY_WINDOWS:
        for code, (zh_label, _) in INCIDENT_CATEGORIES.items():
            en = INCIDENT_EN[code]
            add(
                "incidents",
                "incidents",
                w,
                f"count_{code}",
                f"Number of {en} {_WIN_EN[w]} (count).",
                f"{{value:g}} {en} {_WIN_EN[w]}",
                f"{_WIN_ZH[w]}{zh_label}警情{{value:g}}起",
            )
    add(
        "incidents",
        "incidents",
        "all",
        "days_since_last",
        "Days from the latest police incident to the as-of date (days; NaN when none).",
        "{value:.0f} days since the last police incident",
        "距上次警情{value:.0f}天",
    )
    add(
        "incidents",
        "incidents",
        "all",
        "days_since_last_escalation",
        "Days from the latest escalation incident to the as-of date (days; NaN when none).",
        "{value:.0f} days since the last escalation",
        "距上次过激事件{value:.0f}天",
    )

    # --- context ----------------------------------------------------------
    add(
        "context",
        "visits",
        "all",
        "household_type",
        "Household type from the latest approved visit that recorded one (category; missing when never recorded).",
        "household type: {value}",
        "户类型：{value}",
        dtype="category",
    )
    for level, level_zh in (("village", "本村"), ("township", "本乡镇")):
        add(
            "context",
            "visits",
            "365d",
            f"{level}_dispute_rate",
            f"Share in [0, 1] of the other cohort households of the same {level} with a dispute record in the last year (NaN when alone).",
            f"{{value:.0%}} of other households in the {level} had a dispute in the last year",
            f"近一年{level_zh}其他户{{value:.0%}}有矛盾纠纷",
        )
        add(
            "context",
            "incidents",
            "365d",
            f"{level}_escalation_rate",
            f"Share in [0, 1] of the other cohort households of the same {level} with an escalation in the last year (NaN when alone).",
            f"{{value:.0%}} of other households in the {level} had an escalation in the last year",
            f"近一年{level_zh}其他户{{value:.0%}}发生过激事件",
        )

    # --- record quality ---------------------------------------------------
    for w in QUALITY_WINDOWS:
        add(
            "quality",
            "visits",
            w,
            "share_rejected",
            f"Share in [0, 1] of the household's visit records {_WIN_EN[w]} rejected on review by the as-of date (NaN when none).",
            f"{{value:.0%}} of visit records {_WIN_EN[w]} rejected on review",
            f"{_WIN_ZH[w]}{{value:.0%}}的走访记录被退回",
        )
        add(
            "quality",
            "visits",
            w,
            "recording_delay_days",
            f"Mean delay in days from visit to entry (recorded_at - visited_at) of approved visits {_WIN_EN[w]} (days; NaN when none).",
            f"visits entered {{value:.1f}} days late on average {_WIN_EN[w]}",
            f"{_WIN_ZH[w]}走访平均延迟{{value:.1f}}天录入",
        )
    return out


#: Every feature column, in output order: name -> FeatureSpec. Building it is a pure
#: declaration of constants (no I/O, no randomness), like the vocabularies of the contract.
FEATURES: Final[dict[str, FeatureSpec]] = _generate()


def feature_names() -> list[str]:
    """Names of every feature column, in the order of the feature table.

    Returns
    -------
    list of str
        ``{family}_{window}_{metric}`` names (ASCII).
    """
    return list(FEATURES)
