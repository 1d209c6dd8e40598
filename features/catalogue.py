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
  escalation set (``warehouse.contract.DEFAULT_ESCALATION_CATEGORIES`` unless
  configured otherwise).
* Counts are 0 when nothing happened; days-since and shares are missing (NaN)
  when there is nothing to measure: LightGBM handles missing values.

Reasons. The model uses every feature; an officer is shown a feature as a
reason (``FeatureSpec.reason``) only when it states a fact about the household's
own situation that the officer can check and act on. Not reasons:

* how records are kept (the ``quality`` family: rejected records, entry
  delays), which describes the police's record keeping, not the household;
* how often police visited and whom they met (``visits_*_count``,
  ``visits_*_persons_met_mean``, ``visits_*_share_nobody_met``): the police's
  own activity, and frequent visits mostly follow earlier concern, so citing
  them would be circular (the gap since the last visit stays a reason: it is
  what a revisit fixes);
* area rates (``context_365d_{village,township}_*_rate``): a statement about
  the neighbours, and citing it would invite judging a household by where it
  lives.

Some reasons are shown only in a range of values (``reason_min`` /
``reason_max``): the days since the last incident or dispute only
up to ``RECENT_DAYS`` (since the last escalation up to ``ESCALATION_RECENT_DAYS``) (a long gap's positive contribution comes from the event
having happened at all, which the count features state plainly, while "252
days since" reads as recency); the share of disputes resolved only up to 50 %
(a high share is not a risk to act on; 0 % is shown); the dispute trend only
when rising by at least half a record per month. English templates have a
singular form (``reason_en_one``) for counts and days; texts of every template
are checked for every kind of value in ``tests/test_reason_texts.py``.
"""

from __future__ import annotations

from typing import Final

from features.spec import FeatureSpec
from warehouse.contract import (
    DISPUTE_SEVERITIES,
    DISPUTE_TYPES,
    INCIDENT_CATEGORIES,
    RISK_HAZARDS,
)

#: Window name -> length in days (``None``: all history before the as-of date).
WINDOWS: Final[dict[str, int | None]] = {"30d": 30, "90d": 90, "365d": 365, "all": None}

_WIN_EN: Final = {
    "30d": "in the last 30 days",
    "90d": "in the last 90 days",
    "365d": "in the last year",
    "all": "in total",
}
_WIN_ZH: Final = {"30d": "近30天", "90d": "近90天", "365d": "近一年", "all": "累计"}

DISPUTE_TYPE_EN: Final[dict[str, str]] = {
    "marriage_family": "marriage/family",
    "neighbour": "neighbour",
    "land_forest": "land/forest",
    "property_inheritance": "property/inheritance",
    "debt_economic": "debt/economic",
    "labour_wage": "labour/wage",
    "other": "other-type",
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
#: Incident category -> English (singular, plural).
INCIDENT_EN: Final[dict[str, tuple[str, str]]] = {
    "family_dispute_call": ("family-dispute call", "family-dispute calls"),
    "neighbour_dispute_call": ("neighbour-dispute call", "neighbour-dispute calls"),
    "fight": ("fight", "fights"),
    "assault_injury": ("assault/injury incident", "assault/injury incidents"),
    "domestic_violence": ("domestic-violence incident", "domestic-violence incidents"),
    "self_harm": ("self-harm incident", "self-harm incidents"),
    "mass_incident": ("mass incident", "mass incidents"),
    "homicide": ("homicide", "homicides"),
    "fraud": ("fraud incident", "fraud incidents"),
    "theft": ("theft", "thefts"),
    "other": ("other incident", "other incidents"),
}

#: Windows for which per-category incident counts are generated (30 days is too sparse).
INCIDENT_CATEGORY_WINDOWS: Final[tuple[str, ...]] = ("90d", "365d", "all")
#: Windows for the record-quality family.
QUALITY_WINDOWS: Final[tuple[str, ...]] = ("365d", "all")
#: Families never shown to officers as reasons (see "Reasons" in the module docstring).
NOT_REASON_FAMILIES: Final[frozenset[str]] = frozenset({"quality"})
#: Days-since-last-incident/escalation/dispute are reasons only up to this many days.
RECENT_DAYS: Final[float] = 90.0
#: Escalations stay news for longer: one within a year is what the officers' combined rule
#: looks at, so "last escalation 201 days ago" is shown (a sampled model leans on it).
ESCALATION_RECENT_DAYS: Final[float] = 365.0


def _of(noun: str, window: str) -> str:
    """English "visits in the last year" / "all visits" after a share."""
    return f"all {noun}" if window == "all" else f"{noun} {_WIN_EN[window]}"


def _per_visit(window: str) -> str:
    """English window phrase after a mean per visit."""
    return "over all visits" if window == "all" else _WIN_EN[window]


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
        *,
        en_one: str | None = None,
        dtype: str = "float",
        reason: bool = True,
        reason_min: float | None = None,
        reason_max: float | None = None,
        whole_days: bool = False,
    ) -> None:
        name = f"{family}_{window}_{metric}"
        if not name.isascii() or name in out:
            raise ValueError(f"feature name must be ASCII and unique, got {name!r}")
        out[name] = FeatureSpec(
            name,
            family,
            source,
            window,
            metric,
            dtype,
            description,
            en,
            zh,
            reason_en_one=en_one,
            reason=reason and family not in NOT_REASON_FAMILIES,
            reason_min=reason_min,
            reason_max=reason_max,
            whole_days=whole_days,
        )

    # --- visits (the police's own activity: never reasons, except the gap) --
    for w in WINDOWS:
        add(
            "visits",
            "visits",
            w,
            "count",
            f"Number of approved visits {_WIN_EN[w]} (count).",
            f"{{value:g}} approved visits {_WIN_EN[w]}",
            f"{_WIN_ZH[w]}走访{{value:g}}次",
            en_one=f"1 approved visit {_WIN_EN[w]}",
            reason=False,
        )
        add(
            "visits",
            "visits",
            w,
            "persons_met_mean",
            f"Mean number of persons met per approved visit {_WIN_EN[w]} (persons; NaN when unknown).",
            f"{{value:.1f}} persons met per visit on average {_per_visit(w)}",
            f"{_WIN_ZH[w]}平均每次走访见到{{value:.1f}}人",
            en_one=f"1 person met per visit on average {_per_visit(w)}",
            reason=False,
        )
        add(
            "visits",
            "visits",
            w,
            "share_nobody_met",
            f"Share in [0, 1] of approved visits {_WIN_EN[w]} with persons_met recorded where nobody was met (NaN when none).",
            f"nobody met at {{value:.0%}} of {_of('visits', w)}",
            f"{_WIN_ZH[w]}{{value:.0%}}的走访未见到人",
            reason=False,
        )
    add(
        "visits",
        "visits",
        "all",
        "days_since_last",
        "Days from the latest approved visit to the as-of date (days; NaN when none).",
        "last visit {value:.0f} days ago",
        "距上次走访已{value:.0f}天",
        en_one="last visit 1 day ago",
        whole_days=True,
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
            en_one=f"1 dispute record {_WIN_EN[w]}",
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
                en_one=f"1 {en} dispute record {_WIN_EN[w]}",
            )
        for code, (zh_label, _) in DISPUTE_SEVERITIES.items():
            en = SEVERITY_EN[code]
            add(
                "disputes",
                "visits",
                w,
                f"count_{code}",
                f"Number of dispute records of severity {en} {_WIN_EN[w]} (count).",
                f"{{value:g}} dispute records of {en} severity {_WIN_EN[w]}",
                f"{_WIN_ZH[w]}{zh_label}纠纷记录{{value:g}}次",
                en_one=f"1 dispute record of {en} severity {_WIN_EN[w]}",
            )
        add(
            "disputes",
            "visits",
            w,
            "share_resolved",
            f"Share in [0, 1] of dispute records {_WIN_EN[w]} whose status is resolved (NaN when none).",
            f"{{value:.0%}} of {_of('dispute records', w)} marked resolved",
            f"{_WIN_ZH[w]}纠纷记录化解率{{value:.0%}}",
            reason_min=0.0,
            reason_max=0.5,
        )
        add(
            "disputes",
            "visits",
            w,
            "mediation_agreements",
            f"Number of dispute records {_WIN_EN[w]} with a signed mediation agreement (count).",
            f"{{value:g}} mediation agreements signed {_WIN_EN[w]}",
            f"{_WIN_ZH[w]}签订调解协议{{value:g}}份",
            en_one=f"1 mediation agreement signed {_WIN_EN[w]}",
        )
    add(
        "disputes",
        "visits",
        "all",
        "open",
        "Number of open disputes: (household, dispute type) pairs whose latest record is not resolved (count).",
        "{value:g} open (unresolved) disputes",
        "未化解矛盾纠纷{value:g}起",
        en_one="1 open (unresolved) dispute",
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
        "a dispute open for {value:.0f} days",
        "纠纷未化解已{value:.0f}天",
        en_one="a dispute open for 1 day",
        whole_days=True,
    )
    add(
        "disputes",
        "visits",
        "all",
        "days_since_last",
        "Days from the latest dispute record to the as-of date (days; NaN when none).",
        "last dispute recorded {value:.0f} days ago",
        "距上次记录纠纷{value:.0f}天",
        en_one="last dispute recorded 1 day ago",
        reason_max=RECENT_DAYS,
        whole_days=True,
    )
    add(
        "disputes",
        "visits",
        "30d",
        "trend",
        "Dispute records in the last 30 days minus half of those in the 60 days before (records per 30 days).",
        "dispute records in the last 30 days up by {value:g} on the monthly average of the two months before",
        "近30天纠纷记录较前两月月均增加{value:g}次",
        reason_min=0.5,
    )

    # --- dispute episodes (features.episodes): what precedes a first escalation --
    add(
        "disputes", "visits", "all", "open_max_severity",
        "Highest severity of the latest record of an open dispute: 1 general, 2 serious, 3 major (level; NaN when none open).",
        "an open dispute of severity level {value:g} of 3",
        "未化解纠纷等级{value:g}级（共3级）",
    )  # fmt: skip
    add(
        "disputes", "visits", "all", "open_severity_rise",
        "Largest rise in severity from the first to the latest record of an open dispute's current episode (levels; NaN when none open).",
        "an open dispute's severity rose by {value:g} levels since first recorded",
        "未化解纠纷等级较首次记录上升{value:g}级",
        en_one="an open dispute's severity rose by 1 level since first recorded",
        reason_min=1.0,
    )  # fmt: skip
    add(
        "disputes", "visits", "all", "open_min_age_days",
        "Age in days of the youngest open dispute, from the first record of its current episode (days; NaN when none open).",
        "a dispute first recorded {value:.0f} days ago is still open",
        "纠纷首次记录{value:.0f}天，仍未化解",
        en_one="a dispute first recorded 1 day ago is still open",
        whole_days=True,
    )  # fmt: skip
    add(
        "disputes", "visits", "all", "open_recurring",
        "Open disputes of a type that had been resolved before: recurring, not new (count).",
        "{value:g} open disputes recurring after being resolved",
        "{value:g}起纠纷化解后再次发生",
        en_one="1 open dispute recurring after being resolved",
    )  # fmt: skip
    add(
        "disputes", "visits", "all", "open_max_parties",
        "Most parties recorded on the latest record of an open dispute (persons; NaN when unknown or none open).",
        "{value:g} parties involved in an open dispute",
        "未化解纠纷涉及{value:g}人",
    )  # fmt: skip
    add(
        "disputes", "visits", "all", "followup_overdue_days",
        "Days since the follow-up date of an open dispute's latest record passed with no visit since (days; NaN when none overdue).",
        "dispute follow-up overdue by {value:.0f} days",
        "纠纷回访已逾期{value:.0f}天",
        en_one="dispute follow-up overdue by 1 day",
        whole_days=True,
    )  # fmt: skip
    add(
        "incidents", "incidents", "all", "days_since_last_dispute_call",
        "Days from the latest family or neighbour dispute call to the as-of date (days; NaN when none).",
        "last dispute call to the police {value:.0f} days ago",
        "距上次纠纷报警{value:.0f}天",
        en_one="last dispute call to the police 1 day ago",
        reason_max=RECENT_DAYS,
        whole_days=True,
    )  # fmt: skip
    add(
        "incidents", "incidents", "30d", "dispute_calls",
        "Family or neighbour dispute calls to the police in the last 30 days (count).",
        "{value:g} dispute calls to the police in the last 30 days",
        "近30天纠纷报警{value:g}次",
        en_one="1 dispute call to the police in the last 30 days",
    )  # fmt: skip
    add(
        "incidents", "incidents", "all", "dispute_calls_after_last_dispute",
        "Family or neighbour dispute calls reported after the household's latest dispute record (count; 0 without a record).",
        "{value:g} dispute calls since the last dispute record",
        "上次纠纷记录后又有{value:g}次纠纷报警",
        en_one="1 dispute call since the last dispute record",
    )  # fmt: skip

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
        "{value:g} risk hazards on record",
        "累计记录{value:g}类风险隐患",
        en_one="1 risk hazard on record",
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
            en_one=f"1 police incident {_WIN_EN[w]}",
        )
        add(
            "incidents",
            "incidents",
            w,
            "escalations",
            f"Number of prior escalation incidents (escalation set) {_WIN_EN[w]} (count).",
            f"{{value:g}} prior escalations {_WIN_EN[w]}",
            f"{_WIN_ZH[w]}发生过激事件{{value:g}}起",
            en_one=f"1 prior escalation {_WIN_EN[w]}",
        )
    for w in INCIDENT_CATEGORY_WINDOWS:
        for code, (zh_label, _) in INCIDENT_CATEGORIES.items():
            one, many = INCIDENT_EN[code]
            add(
                "incidents",
                "incidents",
                w,
                f"count_{code}",
                f"Number of {many} {_WIN_EN[w]} (count).",
                f"{{value:g}} {many} {_WIN_EN[w]}",
                f"{_WIN_ZH[w]}{zh_label}警情{{value:g}}起",
                en_one=f"1 {one} {_WIN_EN[w]}",
            )
    add(
        "incidents",
        "incidents",
        "all",
        "days_since_last",
        "Days from the latest police incident to the as-of date (days; NaN when none).",
        "last police incident {value:.0f} days ago",
        "距上次警情{value:.0f}天",
        en_one="last police incident 1 day ago",
        reason_max=RECENT_DAYS,
        whole_days=True,
    )
    add(
        "incidents",
        "incidents",
        "all",
        "days_since_last_escalation",
        "Days from the latest escalation incident to the as-of date (days; NaN when none).",
        "last escalation {value:.0f} days ago",
        "距上次过激事件{value:.0f}天",
        en_one="last escalation 1 day ago",
        reason_max=ESCALATION_RECENT_DAYS,
        whole_days=True,
    )

    # --- context (area rates are never reasons) ------------------------------
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
            reason=False,
        )
        add(
            "context",
            "incidents",
            "365d",
            f"{level}_escalation_rate",
            f"Share in [0, 1] of the other cohort households of the same {level} with an escalation in the last year (NaN when alone).",
            f"{{value:.0%}} of other households in the {level} had an escalation in the last year",
            f"近一年{level_zh}其他户{{value:.0%}}发生过激事件",
            reason=False,
        )

    # --- record quality (record keeping: never reasons) ---------------------
    for w in QUALITY_WINDOWS:
        add(
            "quality",
            "visits",
            w,
            "share_rejected",
            f"Share in [0, 1] of the household's visit records {_WIN_EN[w]} rejected on review by the as-of date (NaN when none).",
            f"{{value:.0%}} of {_of('visit records', w)} rejected on review",
            f"{_WIN_ZH[w]}{{value:.0%}}的走访记录被退回",
        )
        add(
            "quality",
            "visits",
            w,
            "recording_delay_days",
            f"Mean delay in days from visit to entry (recorded_at - visited_at) of approved visits {_WIN_EN[w]} (days; NaN when none).",
            f"visit records entered {{value:.1f}} days after the visit on average {_per_visit(w)}",
            f"{_WIN_ZH[w]}走访平均延迟{{value:.1f}}天录入",
            en_one=f"visit records entered 1 day after the visit on average {_per_visit(w)}",
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
