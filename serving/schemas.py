"""Pydantic request and response models of the HTTP API, with bounds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

RiskBand = Literal["high", "elevated", "moderate", "low"]
Language = Literal["en", "zh"]

RISK_BAND_DESCRIPTION = (
    "Band by the household's rank among all households of the snapshot (prefecture-wide): "
    "`high` = top 1 %, `elevated` = top 5 %, `moderate` = top 20 %, `low` = the rest. "
    "Bands by rank share keep each band's workload fixed whatever the base rate; households "
    "with equal (or equally rounded) scores can therefore fall in different bands at a band's "
    "edge (ties are broken by household_id)."
)

MAX_LIST_LIMIT = 500
MAX_SCORE_ROWS = 10_000


def preferred_language(accept_language: str | None) -> Language:
    """``"zh"`` when the ``Accept-Language`` header prefers Chinese, else ``"en"``.

    Parameters
    ----------
    accept_language : str or None
        Header value such as ``"zh-CN,zh;q=0.9,en;q=0.8"``.
    """
    if not accept_language:
        return "en"
    best: tuple[float, str] = (-1.0, "en")
    for i, part in enumerate(accept_language.split(",")[:20]):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        q = 1.0
        for p in pieces[1:]:
            p = p.strip()
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        # earlier entries win ties
        score = q - i * 1e-6
        if tag and score > best[0]:
            best = (score, tag)
    return "zh" if best[1].startswith("zh") else "en"


class ReasonOut(BaseModel):
    """One reason a household ranks where it does."""

    code: str = Field(description="Stable reason code (the feature it comes from).")
    text: str = Field(description="The reason in the language asked for (Accept-Language).")
    text_en: str = Field(description="English text.")
    text_zh: str = Field(description="Chinese text (简体中文).")
    contribution: float = Field(
        description="Contribution of the feature to the score, in the model's log-odds units "
        "(positive raises the risk); 0 for the campaign rule reason `FOLLOWUP_OVERDUE` "
        "(follow-up overdue by N days), which is listed first and is not the model's."
    )


class PriorityItem(BaseModel):
    """One household of a priority list."""

    rank: int = Field(ge=1, description="1-based rank within the jurisdiction asked.")
    household_id: str
    county: str
    township: str
    village: str
    score: float = Field(
        ge=0.0, le=1.0, description="Calibrated probability of an escalation within the horizon."
    )
    risk_band: RiskBand = Field(description=RISK_BAND_DESCRIPTION)
    reasons: list[ReasonOut]
    days_since_last_visit: float | None = Field(
        default=None,
        ge=0,
        description="Days since the last approved visit known at as_of (rounded to 0.1 day).",
    )
    open_disputes: int | None = Field(
        default=None, ge=0, description="Disputes not resolved at as_of (count)."
    )
    note: str | None = Field(
        default=None,
        description="Set when the officer review finds the household's recent visit records "
        "suspect: verify in person.",
    )


class PriorityList(BaseModel):
    """A slice of a jurisdiction's ranking, highest risk first (ties: household_id ascending)."""

    model_version: str
    as_of: date = Field(description="As-of date of the snapshot (Asia/Shanghai).")
    horizon_days: int = Field(ge=1, description="Horizon H of the score, in days.")
    level: Literal["county", "township", "village"]
    jurisdiction: str
    total: int = Field(ge=0, description="Households in the jurisdiction.")
    limit: int = Field(ge=1, le=MAX_LIST_LIMIT)
    offset: int = Field(ge=0)
    language: Language
    items: list[PriorityItem]


class HouseholdOut(BaseModel):
    """Score, reasons and history summary of one household."""

    household_id: str
    county: str
    township: str
    village: str
    score: float = Field(ge=0.0, le=1.0)
    risk_band: RiskBand = Field(description=RISK_BAND_DESCRIPTION)
    rank_in_village: int = Field(ge=1)
    rank_in_township: int = Field(ge=1)
    rank_in_county: int = Field(ge=1)
    reasons: list[ReasonOut]
    days_since_last_visit: float | None = Field(
        default=None, ge=0, description="Days since the last approved visit (rounded to 0.1 day)."
    )
    open_disputes: int | None = Field(
        default=None, ge=0, description="Disputes not resolved at as_of (count)."
    )
    history: dict[str, float | str | None] = Field(
        description="The household's feature values at as_of (counts, days, shares)."
    )
    model_version: str
    as_of: date
    horizon_days: int = Field(ge=1)
    language: Language


class ScoreRequest(BaseModel):
    """Feature rows to score (keys: the model's feature names; optional household_id)."""

    # no other field, and no Infinity or NaN in a feature (JSON has neither; Python's
    # json module reads them, and the model would score them without a word)
    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [{"rows": [{"household_id": "h1", "disputes_all_open": 1.0}]}]
        },
    )

    rows: list[dict[str, float | str | None]] = Field(min_length=1, max_length=MAX_SCORE_ROWS)

    @field_validator("rows", mode="before")
    @classmethod
    def _at_most_max_rows(cls, value: object) -> object:
        """Refuse an over-long batch, or a household_id that is not text, in plain words."""
        if isinstance(value, list) and len(value) > MAX_SCORE_ROWS:
            raise PydanticCustomError(
                "too_long",
                "at most {max_rows} rows, got {n_rows}",
                {"max_rows": MAX_SCORE_ROWS, "n_rows": len(value)},
            )
        if isinstance(value, list):  # a number would come back as "123.0"
            for i, row in enumerate(value):
                hid = row.get("household_id") if isinstance(row, dict) else None
                if hid is not None and not isinstance(hid, str):
                    raise PydanticCustomError(
                        "household_id_text",
                        "household_id in row {row}: expected text, got {kind}",
                        {"row": i, "kind": type(hid).__name__},
                    )
        return value


class ScoreItem(BaseModel):
    """The score of one submitted row."""

    index: int = Field(ge=0, description="Position of the row in the request.")
    household_id: str | None = None
    score: float = Field(ge=0.0, le=1.0)
    reasons: list[ReasonOut] | None = None


class ScoreResponse(BaseModel):
    """Scores of submitted rows, in request order."""

    model_version: str
    horizon_days: int = Field(ge=1)
    items: list[ScoreItem]


class ModelOut(BaseModel):
    """The served model: version, metrics, training parameters, snapshot."""

    name: str
    version: str
    run_id: str | None
    horizon_days: int = Field(ge=1)
    metrics: dict[str, float]
    params: dict[str, str] = Field(description="Run parameters, incl. the training window.")
    feature_names: list[str]
    as_of: date
    n_households: int = Field(ge=0)
    loaded_at: datetime | None


class ReloadOut(BaseModel):
    """Result of a successful reload."""

    model_version: str
    as_of: date
    n_households: int = Field(ge=0)
    load_seconds: float = Field(ge=0)


class HealthOut(BaseModel):
    """Liveness."""

    status: Literal["ok"]


class ReadyOut(BaseModel):
    """Readiness: whether a scored snapshot serves, and the last reload failure."""

    status: Literal["ready", "degraded", "not ready"]
    model_version: str | None = None
    as_of: date | None = None
    n_households: int | None = None
    loaded_at: datetime | None = None
    last_reload_error: str | None = None
    last_reload_error_at: datetime | None = None
    warning: str | None = None


class ErrorOut(BaseModel):
    """An error answer: ``detail`` is a plain sentence, the list of invalid fields (422 from
    validation), or ``{"message", "candidates"}`` for an ambiguous jurisdiction name."""

    detail: str | list[dict[str, object]] | dict[str, object]


#: Error answers every ``/v1`` route may give, documented once (see ``serving.app``).
COMMON_ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "The body is not valid JSON."},
    401: {"model": ErrorOut, "description": "No token, or an invalid or expired one."},
    413: {"model": ErrorOut, "description": "The body is larger than the limit (1 MiB)."},
    415: {"model": ErrorOut, "description": "A body that is not application/json."},
    422: {"model": ErrorOut, "description": "Invalid or ambiguous parameters, in plain words."},
    503: {
        "model": ErrorOut,
        "description": "Not ready, or the read could not be audited (then nothing is answered).",
    },
}
