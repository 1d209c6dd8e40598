"""Every reason template of the real catalogue reads correctly for every kind
of value it can take: no unformatted placeholders, no "nan", no "only 100%",
ASCII-clean English, Chinese with CJK characters, singular for 1."""

from __future__ import annotations

import re

import pytest

from features.catalogue import FEATURES
from features.spec import FeatureSpec
from models.reasons import make_reason
from warehouse import contract

CJK = re.compile(r"[\u4e00-\u9fff]")
NUMERIC_VALUES = (0.0, 0.3, 0.5, 1.0, 2.0, 100.0, 365.0, -1.5)
CATEGORY_VALUES = (*contract.HOUSEHOLD_TYPES, "unknown_code")
# Metrics that count things or days: a singular English form must exist.
COUNTED = re.compile(
    r"^(count.*|escalations|open|mediation_agreements|distinct|days_since_last.*|"
    r"open_max_age_days|persons_met_mean|recording_delay_days)$"
)


def values_for(spec: FeatureSpec) -> tuple[float | str, ...]:
    return CATEGORY_VALUES if spec.dtype == "category" else NUMERIC_VALUES


def texts(spec: FeatureSpec, value: float | str) -> tuple[str, str]:
    reason = make_reason(spec.name, value, 0.5, FEATURES)
    return reason.text_en, reason.text_zh


@pytest.mark.parametrize("name", list(FEATURES))
def test_every_template_formats_cleanly_for_representative_values(name: str) -> None:
    spec = FEATURES[name]
    for value in values_for(spec):
        en, zh = texts(spec, value)
        for text in (en, zh):
            assert "{" not in text and "}" not in text, (name, value, text)
            assert "nan" not in text.lower(), (name, value, text)
            assert not text.startswith(f"{name} = "), (name, value, text)  # no generic fallback
        assert "only" not in en.split(), (name, value, en)
        assert en.isascii(), (name, value, en)
        assert CJK.search(zh), (name, value, zh)
        assert en != zh


@pytest.mark.parametrize("name", [n for n, s in FEATURES.items() if COUNTED.match(s.metric)])
def test_counts_and_days_read_singular_for_one_and_plural_for_two(name: str) -> None:
    spec = FEATURES[name]
    assert spec.reason_en_one, name
    one, _ = texts(spec, 1.0)
    two, _ = texts(spec, 2.0)
    # The two texts differ only by the number and plural "-s" endings.
    only_two = set(two.split()) - set(one.split())
    only_one = set(one.split()) - set(two.split())
    assert only_one & {"1", "1.0"} and only_two & {"2", "2.0"}, (one, two)
    plurals = only_two - {"2", "2.0"}
    assert plurals and all(w.endswith("s") for w in plurals), (one, two)
    assert only_one - {"1", "1.0"} == {w[:-1] for w in plurals}, (one, two)


@pytest.mark.parametrize(
    ("value", "en", "zh"),
    [
        (
            1.0,
            "100% of dispute records in the last year marked resolved",
            "近一年纠纷记录化解率100%",
        ),
        (0.5, "50% of dispute records in the last year marked resolved", "近一年纠纷记录化解率50%"),
    ],
)
def test_shares_are_plain_percentages(value: float, en: str, zh: str) -> None:
    assert texts(FEATURES["disputes_365d_share_resolved"], value) == (en, zh)


def test_known_texts_read_naturally_in_both_languages() -> None:
    assert texts(FEATURES["incidents_all_escalations"], 1.0) == (
        "1 prior escalation in total",
        "累计发生过激事件1起",
    )
    assert texts(FEATURES["incidents_all_escalations"], 14.0)[0] == "14 prior escalations in total"
    assert texts(FEATURES["incidents_90d_count_neighbour_dispute_call"], 1.0) == (
        "1 neighbour-dispute call in the last 90 days",
        "近90天邻里纠纷警情1起",
    )
    assert texts(FEATURES["incidents_all_days_since_last_escalation"], 3.4) == (
        "last escalation 4 days ago",
        "距上次过激事件4天",
    )
    assert texts(FEATURES["disputes_all_open"], 2.0) == (
        "2 open (unresolved) disputes",
        "未化解矛盾纠纷2起",
    )
    assert texts(FEATURES["context_all_household_type"], "left_behind_elderly") == (
        "household type: left behind elderly",
        "户类型：留守老人户",
    )


def test_catalogue_declares_the_eligibility_rule() -> None:
    hidden = {n for n, s in FEATURES.items() if not s.reason}
    assert {n for n in FEATURES if n.startswith("quality_")} <= hidden
    assert {f"visits_{w}_count" for w in ("30d", "90d", "365d", "all")} <= hidden
    assert {n for n in FEATURES if "persons_met" in n or "nobody_met" in n} <= hidden
    assert {n for n in FEATURES if n.endswith("_rate")} <= hidden
    shown = set(FEATURES) - hidden
    assert {"visits_all_days_since_last", "disputes_all_open", "incidents_all_escalations"} <= shown
    assert FEATURES["incidents_all_days_since_last_escalation"].reason_max == 365.0
    assert FEATURES["incidents_all_days_since_last"].reason_max == 90.0
