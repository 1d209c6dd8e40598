"""The data contract of Revisit, as data.

Everything that DESIGN.md's "Canonical tables" section says about column names,
field-export headers, category labels, personal data and the escalation set is
declared here once, and every other module (ingestion, simulation, features,
training, serving) reads it from here.

Conventions
-----------
* Canonical values are English snake_case codes; field exports may use the
  Simplified Chinese labels, their Traditional forms or the codes themselves.
* Timestamps are local time of Asia/Shanghai (``TIMEZONE``); the warehouse
  stores them as timezone-aware ``datetime64[ns, Asia/Shanghai]``.
* ``risk_hazards`` is stored in the warehouse as the sorted hazard codes joined
  by ``HAZARD_SEPARATOR`` (``""`` when none was recorded).
* Every warehouse table also carries ``source_file`` (str, file name only) and
  ``source_row`` (int64, 1-based spreadsheet row number, header = row 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

TIMEZONE: Final = "Asia/Shanghai"
HAZARD_SEPARATOR: Final = "|"
DEFAULT_HORIZON_DAYS: Final = 30

#: Incident categories whose occurrence within the horizon makes the label 1.
DEFAULT_ESCALATION_CATEGORIES: Final[tuple[str, ...]] = (
    "domestic_violence",
    "fight",
    "assault_injury",
    "self_harm",
    "mass_incident",
    "homicide",
)

# ---------------------------------------------------------------------------
# Category vocabularies: canonical code -> (Simplified label, Traditional label)
# ---------------------------------------------------------------------------

HOUSEHOLD_TYPES: Final[dict[str, tuple[str, str]]] = {
    "ordinary": ("普通户", "普通戶"),
    "left_behind_elderly": ("留守老人户", "留守老人戶"),
    "left_behind_children": ("留守儿童户", "留守兒童戶"),
    "reconstituted_family": ("重组家庭", "重組家庭"),
    "migrant_worker": ("外出务工户", "外出務工戶"),
    "living_alone": ("独居户", "獨居戶"),
}

DISPUTE_TYPES: Final[dict[str, tuple[str, str]]] = {
    "marriage_family": ("婚恋家庭", "婚戀家庭"),
    "neighbour": ("邻里", "鄰里"),
    "land_forest": ("土地山林", "土地山林"),
    "property_inheritance": ("房产继承", "房產繼承"),
    "debt_economic": ("债务经济", "債務經濟"),
    "labour_wage": ("劳资", "勞資"),
    "other": ("其他", "其他"),
}

#: Ordered from least to most severe.
DISPUTE_SEVERITIES: Final[dict[str, tuple[str, str]]] = {
    "general": ("一般", "一般"),
    "serious": ("较大", "較大"),
    "major": ("重大", "重大"),
}

RISK_HAZARDS: Final[dict[str, tuple[str, str]]] = {
    "released_prisoner": ("刑满释放", "刑滿釋放"),
    "severe_mental_illness": ("严重精神障碍", "嚴重精神障礙"),
    "drug_use": ("吸毒", "吸毒"),
    "fraud_target": ("涉诈", "涉詐"),
    "self_harm_signs": ("轻生倾向", "輕生傾向"),
    "controlled_weapon": ("管制器具", "管制器具"),
    "elderly_alone": ("独居老人", "獨居老人"),
    "unattended_minor": ("留守儿童", "留守兒童"),
    "safety_hazard": ("安全隐患", "安全隱患"),
}

RESOLUTION_STATUSES: Final[dict[str, tuple[str, str]]] = {
    "resolved": ("已化解", "已化解"),
    "mediating": ("化解中", "化解中"),
    "unresolved": ("未化解", "未化解"),
    "referred": ("已移交", "已移交"),
}

REVIEW_STATUSES: Final[dict[str, tuple[str, str]]] = {
    "approved": ("已通过", "已通過"),
    "pending": ("待审核", "待審核"),
    "rejected": ("已退回", "已退回"),
}

INCIDENT_CATEGORIES: Final[dict[str, tuple[str, str]]] = {
    "family_dispute_call": ("家庭纠纷", "家庭糾紛"),
    "neighbour_dispute_call": ("邻里纠纷", "鄰里糾紛"),
    "fight": ("打架斗殴", "打架鬥毆"),
    "assault_injury": ("故意伤害", "故意傷害"),
    "domestic_violence": ("家庭暴力", "家庭暴力"),
    "self_harm": ("自杀自伤", "自殺自傷"),
    "mass_incident": ("群体性事件", "群體性事件"),
    "homicide": ("命案", "命案"),
    "fraud": ("诈骗", "詐騙"),
    "theft": ("盗窃", "盜竊"),
    "other": ("其他", "其他"),
}

#: Separators accepted between risk hazards in a field export.
HAZARD_INPUT_SEPARATORS: Final[tuple[str, ...]] = ("、", ";", "；", ",", "，", "|")

#: Boolean spellings accepted in field exports (compared after strip + lower).
TRUE_VALUES: Final = frozenset({"是", "y", "yes", "true", "t", "1", "1.0", "有"})
FALSE_VALUES: Final = frozenset({"否", "n", "no", "false", "f", "0", "0.0", "无", "無"})


@dataclass(frozen=True)
class Column:
    """One canonical column of a warehouse table.

    Parameters
    ----------
    name : str
        Canonical (English) column name used in the warehouse.
    headers : tuple of str
        Field-export headers accepted for it: Simplified, Traditional (the
        canonical name is always accepted too).
    kind : str
        One of ``"str"``, ``"timestamp"``, ``"date"``, ``"int"``, ``"bool"``,
        ``"category"``, ``"ordinal"``, ``"set"``.
    required : bool
        Whether an export without this column is rejected as a whole file.
    vocabulary : dict or None
        For ``category``/``ordinal``/``set`` kinds: code -> (Simplified, Traditional).
    """

    name: str
    headers: tuple[str, ...]
    kind: str
    required: bool = False
    vocabulary: dict[str, tuple[str, str]] | None = None


#: County > township > village, the same three columns in both tables.
_JURISDICTION_COLUMNS: Final[tuple[Column, ...]] = (
    Column(
        "county",
        ("县（市、新区）", "縣（市、新區）", "县(市、新区)", "縣(市、新區)"),
        "str",
        required=True,
    ),
    Column(
        "township",
        ("乡镇（街道）", "鄉鎮（街道）", "乡镇(街道)", "鄉鎮(街道)"),
        "str",
        required=True,
    ),
    Column("village", ("村（社区）", "村（社區）", "村(社区)", "村(社區)"), "str", required=True),
)

VISIT_COLUMNS: Final[tuple[Column, ...]] = (
    Column("visit_id", ("走访编号", "走訪編號"), "str", required=True),
    Column("household_id", ("户编号", "戶編號"), "str"),
    Column("visited_at", ("走访时间", "走訪時間"), "timestamp", required=True),
    Column("recorded_at", ("录入时间", "錄入時間"), "timestamp"),
    Column("officer_id", ("民警警号", "民警警號"), "str"),
    Column("station", ("派出所", "派出所"), "str"),
    *_JURISDICTION_COLUMNS,
    Column("persons_met", ("走访人数", "走訪人數"), "int"),
    Column("household_type", ("户类型", "戶類型"), "category", vocabulary=HOUSEHOLD_TYPES),
    Column("has_dispute", ("是否存在矛盾纠纷", "是否存在矛盾糾紛"), "bool", required=True),
    Column("dispute_type", ("纠纷类型", "糾紛類型"), "category", vocabulary=DISPUTE_TYPES),
    Column("dispute_severity", ("纠纷等级", "糾紛等級"), "ordinal", vocabulary=DISPUTE_SEVERITIES),
    Column("dispute_parties", ("涉及人数", "涉及人數"), "int"),
    Column("risk_hazards", ("风险隐患", "風險隱患"), "set", vocabulary=RISK_HAZARDS),
    Column(
        "resolution_status", ("化解情况", "化解情況"), "category", vocabulary=RESOLUTION_STATUSES
    ),
    Column("mediation_agreement", ("是否签订调解协议", "是否簽訂調解協議"), "bool"),
    Column("followup_due", ("回访期限", "回訪期限"), "date"),
    Column("review_status", ("审核状态", "審核狀態"), "category", vocabulary=REVIEW_STATUSES),
    Column("reviewed_at", ("审核时间", "審核時間"), "timestamp"),
)

INCIDENT_COLUMNS: Final[tuple[Column, ...]] = (
    Column("incident_id", ("警情编号", "警情編號"), "str", required=True),
    Column("household_id", ("户编号", "戶編號"), "str"),
    Column("reported_at", ("报警时间", "報警時間"), "timestamp", required=True),
    Column("recorded_at", ("录入时间", "錄入時間"), "timestamp"),
    Column(
        "category",
        ("警情类别", "警情類別"),
        "category",
        required=True,
        vocabulary=INCIDENT_CATEGORIES,
    ),
    *_JURISDICTION_COLUMNS,
)

#: Header of the household head's ID number, the only personal column that is
#: used (as a keyed HMAC-SHA256 when household_id is absent), never stored.
ID_NUMBER_HEADERS: Final[tuple[str, ...]] = ("户主身份证号", "戶主身份證號", "head_id_number")

#: Personal columns: dropped at ingestion, never stored, logged or modelled.
PERSONAL_HEADERS: Final[frozenset[str]] = frozenset(
    {
        "姓名",
        "户主姓名",
        "戶主姓名",
        "name",
        "head_name",
        "身份证号",
        "身份證號",
        "户主身份证号",
        "戶主身份證號",
        "id_number",
        "head_id_number",
        "联系电话",
        "聯繫電話",
        "聯絡電話",
        "电话",
        "電話",
        "phone",
        "住址",
        "地址",
        "address",
        "备注",
        "備註",
        "notes",
    }
)

#: Protected attributes: never model features; a deployment may declare them audit-only.
PROTECTED_HEADERS: Final[frozenset[str]] = frozenset(
    {"民族", "ethnicity", "宗教", "宗教信仰", "religion", "性别", "性別", "sex", "gender"}
)

#: Substrings that mark a column name as personal or protected (checked by the model).
FORBIDDEN_FEATURE_SUBSTRINGS: Final[tuple[str, ...]] = (
    "ethnic",
    "民族",
    "religion",
    "宗教",
    "name",
    "姓名",
    "id_number",
    "身份证",
    "phone",
    "电话",
    "address",
    "住址",
    "notes",
    "备注",
    "sex",
    "gender",
    "性别",
)

# ---------------------------------------------------------------------------
# Warehouse layout under REVISIT_HOME
# ---------------------------------------------------------------------------

TABLE_VISITS: Final = "visits"
TABLE_INCIDENTS: Final = "incidents"
LINEAGE_COLUMNS: Final[tuple[str, str]] = ("source_file", "source_row")


def warehouse_path(home: Path, table: str) -> Path:
    """Path of a canonical warehouse table.

    Parameters
    ----------
    home : Path
        The Revisit home folder (``--home`` / ``$REVISIT_HOME``).
    table : {"visits", "incidents"}
        Table name.

    Returns
    -------
    Path
        ``<home>/warehouse/<table>.parquet``.
    """
    return Path(home) / "warehouse" / f"{table}.parquet"


# ---------------------------------------------------------------------------
# Feature-table layout (the interface between features/, models/, training/, serving/)
# ---------------------------------------------------------------------------

#: Key of a feature row: household and as-of date (tz-aware Asia/Shanghai local midnight).
KEY_COLUMNS: Final[tuple[str, str]] = ("household_id", "as_of")
#: Jurisdiction of the household at the as-of date (latest known visit); never model features.
JURISDICTION_COLUMNS: Final[tuple[str, str, str]] = ("county", "township", "village")
#: Label: nullable Int8, 1 iff an escalation incident is reported in [as_of, as_of + H).
LABEL_COLUMN: Final = "label"
#: Feature names the serving layer shows next to the score.
FEATURE_DAYS_SINCE_LAST_VISIT: Final = "visits_all_days_since_last"
FEATURE_OPEN_DISPUTES: Final = "disputes_all_open"
