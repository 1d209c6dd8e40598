"""Evaluation figures (training.plots): readable Chinese group names, complete labels, no side effects.

Unit tests of the romanisation and of the label font, then one layer of
behaviour tests run on every figure function: it returns a Figure with a title
and axis labels, saves a non-empty PNG without a single missing-glyph warning
(with or without a CJK font), and leaves its inputs untouched.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text

import training.plots as plots
from training.audit import bias_audit
from training.plots import (
    LabelFont,
    PlotInputError,
    find_cjk_font,
    plot_calibration,
    plot_disparities,
    plot_feature_importance,
    plot_precision_at_k,
    plot_precision_recall,
    romanize,
    save_figure,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TOWNSHIPS = ("屯智街道", "兴义市", "乐安街道", "坝屯乡", "福湾镇", "岭坡镇")


def _has_han(text: str) -> bool:
    return any(0x4E00 <= ord(c) <= 0x9FFF for c in text)


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    """Synthetic test rows: labels, three scorers' probabilities, as-of dates, townships."""
    rng = np.random.default_rng(7)
    n = 1200
    risk = rng.beta(1.0, 12.0, n)
    y = (rng.random(n) < risk).astype("int64")
    return pd.DataFrame(
        {
            "household_id": np.arange(n) % 400,
            "as_of": pd.to_datetime("2026-01-05") + pd.to_timedelta(7 * (np.arange(n) // 400), "D"),
            "label": y,
            "lightgbm": np.clip(risk + rng.normal(0, 0.02, n), 0, 1),
            "logistic": np.clip(risk + rng.normal(0, 0.05, n), 0, 1),
            "township": pd.Series(rng.choice(TOWNSHIPS, n), dtype="category"),
        }
    )


@pytest.fixture(scope="module")
def audit(scored: pd.DataFrame) -> pd.DataFrame:
    frame = scored.assign(selected=scored["lightgbm"] >= scored["lightgbm"].quantile(0.9))
    return bias_audit(
        frame,
        label_col="label",
        selected_col="selected",
        attribute_cols=["township"],
        score_col="lightgbm",
    )


def _figure_cases(scored: pd.DataFrame, audit: pd.DataFrame) -> dict[str, tuple[Callable, dict]]:
    """Every figure function with realistic arguments (some names in Chinese)."""
    y = scored["label"].to_numpy()
    scores = {"lightgbm": scored["lightgbm"].to_numpy(), "逻辑回归": scored["logistic"].to_numpy()}
    importance = pd.Series({"n_visits_90d": 3.0, "本乡镇_incidents_365d": 2.0, "age": 1.0})
    return {
        "precision_recall": (plot_precision_recall, {"y": y, "scores": scores}),
        "precision_at_k": (
            plot_precision_at_k,
            {
                "y": y,
                "scores": scores,
                "as_of": scored["as_of"].to_numpy(),
                "tiebreak": scored["household_id"].to_numpy(),
            },
        ),
        "calibration": (plot_calibration, {"y": y, "probs": scores}),
        "feature_importance": (plot_feature_importance, {"importance": importance}),
        "disparities": (plot_disparities, {"audit": audit, "attribute": "township"}),
    }


FIGURES = ("precision_recall", "precision_at_k", "calibration", "feature_importance", "disparities")


def _draw_strictly(fig: Figure, path: Path) -> Path:
    """Save ``fig`` with every warning (missing glyphs included) turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return save_figure(fig, path)


def _titles_and_labels(fig: Figure) -> tuple[list[str], list[str], list[str]]:
    axes = fig.get_axes()
    titles = [ax.get_title() for ax in axes] + [fig.get_suptitle()]
    xlabels = [ax.get_xlabel() for ax in axes]
    ylabels = [ax.get_ylabel() for ax in axes]
    return titles, xlabels, ylabels


def _all_texts(fig: Figure) -> list[str]:
    fig.canvas.draw()
    texts = [t.get_text() for t in fig.findobj(Text)]
    for ax in fig.get_axes():
        texts += [t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels()]
    return texts


# --- romanisation and label font (unit) ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("屯智街道", "Tunzhi Jiedao"),
        ("兴义市", "Xingyi Shi"),
        ("义龙新区", "Yilong Xinqu"),
        ("坝屯乡", "Batun Xiang"),
        ("长安区", "Chang'an Qu"),
        ("绿村", "Lü Cun"),
    ],
)
def test_place_names_romanise_to_pinyin_words_with_the_unit_apart(name: str, expected: str) -> None:
    assert romanize(name) == expected


def test_romanise_keeps_latin_text_and_normalises_full_width_forms() -> None:
    assert romanize("lightgbm (AP 0.31)") == "lightgbm (AP 0.31)"
    assert romanize("（屯智街道）") == "(Tunzhi Jiedao)"
    assert romanize("n屯智街道2") == "n Tunzhi Jiedao 2"
    assert romanize("本乡镇_incidents").isascii()


def test_group_label_is_bilingual_only_when_a_cjk_font_draws_it() -> None:
    covered = frozenset(ord(c) for c in "Tunzhi Jiedao (屯智街道)")
    with_font = LabelFont(cjk="Noto Sans CJK SC", covered=covered)
    without = LabelFont(cjk=None, covered=covered)
    assert with_font.group("屯智街道") == "Tunzhi Jiedao (屯智街道)"
    assert with_font.text("屯智街道") == "屯智街道"
    assert without.group("屯智街道") == "Tunzhi Jiedao"
    assert without.text("屯智街道") == "Tunzhi Jiedao"
    assert with_font.family == ["sans-serif", "Noto Sans CJK SC"]
    assert without.family == ["sans-serif"]


def test_characters_no_font_can_draw_become_question_marks() -> None:
    fonts = LabelFont(cjk=None, covered=frozenset(ord(c) for c in "Tunzhi Jiedao"))
    assert fonts.text("Tunzhi 한") == "Tunzhi ?"


def test_a_font_named_cjk_that_lacks_the_glyphs_is_not_chosen(monkeypatch: Any) -> None:
    dejavu = font_manager.findfont(font_manager.FontProperties(family=["DejaVu Sans"]))
    fake = font_manager.FontEntry(fname=dejavu, name="Noto Sans CJK SC")
    monkeypatch.setattr(font_manager.fontManager, "ttflist", [fake])
    monkeypatch.setattr(plots, "register_bundled_cjk_font", lambda: None)
    assert find_cjk_font("屯智街道") is None


def test_make_install_brings_a_cjk_font_so_plots_never_fall_back_to_pinyin() -> None:
    assert plots.register_bundled_cjk_font() is not None
    assert find_cjk_font("屯智街道兴义市") is not None


def test_a_found_cjk_font_covers_the_requested_characters() -> None:
    family = find_cjk_font("屯智街道")
    if family is None:
        pytest.skip("no CJK font installed (the pinyin fallback is tested elsewhere)")
    path = font_manager.findfont(font_manager.FontProperties(family=[family]))
    charmap = font_manager.get_font(path).get_charmap()
    assert all(ord(c) in charmap for c in "屯智街道")


def test_the_strict_drawing_check_catches_a_missing_glyph(tmp_path: Path) -> None:
    """The harness used below can fail: raw Chinese in the default font is an error."""
    if find_cjk_font("屯智街道") is not None or (
        ord("屯") in plots._charmap("sans-serif")  # a CJK default font: nothing to catch
    ):
        pytest.skip("the default font or an installed CJK font draws Chinese")
    fig = plots._figure(3, 2)
    fig.add_subplot().set_title("屯智街道")
    with pytest.raises(UserWarning, match="missing from font"):
        _draw_strictly(fig, tmp_path / "raw.png")


# --- every figure function (behaviour) ----------------------------------------------------


@pytest.mark.parametrize("which", FIGURES)
@pytest.mark.parametrize("cjk", ["installed", "absent"])
def test_figure_has_labels_and_saves_a_png_without_glyph_warnings(
    which: str,
    cjk: str,
    scored: pd.DataFrame,
    audit: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    if cjk == "absent":
        monkeypatch.setattr(plots, "find_cjk_font", lambda sample="": None)
    elif find_cjk_font() is None:
        pytest.skip("no CJK font installed here")
    func, kwargs = _figure_cases(scored, audit)[which]
    fig = func(**kwargs)
    assert isinstance(fig, Figure)
    titles, xlabels, ylabels = _titles_and_labels(fig)
    assert any(t.strip() for t in titles), titles
    assert any(x.strip() for x in xlabels), xlabels
    assert any(y.strip() for y in ylabels), ylabels
    path = _draw_strictly(fig, tmp_path / f"{which}.png")
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000
    texts = _all_texts(fig)
    if cjk == "absent":
        assert not any(_has_han(t) for t in texts), [t for t in texts if _has_han(t)]


def test_audit_labels_name_each_group_in_pinyin_with_size_and_reference(
    audit: pd.DataFrame, monkeypatch: Any
) -> None:
    monkeypatch.setattr(plots, "find_cjk_font", lambda sample="": None)
    fig = plot_disparities(audit, attribute="township")
    labels = [t.get_text() for t in fig.get_axes()[0].get_yticklabels()]
    assert len(labels) == len(TOWNSHIPS)
    assert any(label.startswith("Tunzhi Jiedao (n=") for label in labels), labels
    assert sum(label.endswith("[ref]") for label in labels) == 1
    assert "Bias audit by township" in fig.get_suptitle()


def test_audit_labels_carry_the_chinese_name_when_a_cjk_font_exists(audit: pd.DataFrame) -> None:
    if find_cjk_font("".join(TOWNSHIPS)) is None:
        pytest.skip("no CJK font installed here")
    fig = plot_disparities(audit, attribute="township")
    labels = [t.get_text() for t in fig.get_axes()[0].get_yticklabels()]
    assert any(label.startswith("Tunzhi Jiedao (屯智街道) (n=") for label in labels), labels


@pytest.mark.parametrize("which", FIGURES)
def test_figure_functions_leave_their_inputs_unchanged(
    which: str, scored: pd.DataFrame, audit: pd.DataFrame
) -> None:
    func, kwargs = _figure_cases(scored, audit)[which]
    before = copy.deepcopy(kwargs)
    func(**kwargs)
    for key, value in kwargs.items():
        old = before[key]
        if isinstance(value, pd.DataFrame | pd.Series):
            if isinstance(value, pd.DataFrame):
                pd.testing.assert_frame_equal(value, old)
            else:
                pd.testing.assert_series_equal(value, old)
        elif isinstance(value, dict):
            assert value.keys() == old.keys()
            for name in value:
                np.testing.assert_array_equal(value[name], old[name])
        elif value is not None:
            np.testing.assert_array_equal(value, old)


def test_feature_importance_shows_the_largest_features_largest_at_the_top() -> None:
    importance = pd.Series({f"f{i}": float(i) for i in range(40)})
    fig = plot_feature_importance(importance, top_n=5)
    labels = [t.get_text() for t in fig.get_axes()[0].get_yticklabels()]
    assert labels == ["f35", "f36", "f37", "f38", "f39"]  # bottom to top


def test_figures_refuse_unusable_inputs_in_plain_words(audit: pd.DataFrame) -> None:
    with pytest.raises(PlotInputError, match="at least one model"):
        plot_precision_recall([0, 1], {})
    with pytest.raises(PlotInputError, match="not in the audit"):
        plot_disparities(audit, attribute="county")
    with pytest.raises(PlotInputError, match="not a probability"):
        plot_calibration([0, 1], {"m": [0.2, 1.5]})


def test_audit_panels_say_so_when_a_ratio_is_undefined_or_zero(monkeypatch: Any) -> None:
    """A reference group without true positives has precision 0: every precision ratio is NaN."""
    monkeypatch.setattr(plots, "find_cjk_font", lambda sample="": None)
    audit = pd.DataFrame(
        {
            "attribute": "township",
            "group": ["屯智街道", "坝屯乡", "福湾镇"],
            "group_size": [3604, 2532, 2772],
            "is_reference": [True, False, False],
            "selection_rate_disparity": [1.0, 0.69, 1.01],
            "precision_disparity": [np.nan, np.nan, np.nan],
            "fpr_disparity": [1.0, 0.69, 0.94],
            "fnr_disparity": [1.0, np.nan, 0.0],
        }
    )
    fig = plot_disparities(audit)
    panels = {ax.get_title(): ax for ax in fig.get_axes()}
    notes = [t.get_text() for t in panels["precision (PPV)"].texts]
    assert any("no ratio" in note for note in notes), notes
    fnr = panels["false negative rate"]
    assert [t.get_text().strip() for t in fnr.texts] == ["n/a"]  # 坝屯乡's fnr ratio is NaN
    hatched = [p for p in fnr.patches if isinstance(p, Rectangle) and p.get_hatch() == "//"]
    assert len(hatched) == 1  # 福湾镇's ratio 0, drawn to the left edge
    assert hatched[0].get_x() + hatched[0].get_width() == pytest.approx(fnr.get_xlim()[0])
