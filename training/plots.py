"""Evaluation figures for the MLflow run: PR curves, precision@k, calibration, importance, audit.

Every function returns a :class:`matplotlib.figure.Figure` built with the
object-oriented API on an explicit Agg canvas, inside the function: nothing is
configured at import time, no global ``pyplot`` state or backend is touched,
and figures are not kept alive by a pyplot registry (safe in threads and
servers). Save them with :func:`save_figure` (or ``mlflow.log_figure``).

County and township names are Chinese (e.g. 屯智街道) and matplotlib's
default font (DejaVu Sans) has no CJK glyphs. ``make install`` brings Noto
Sans CJK SC (the ``mplfonts`` package, registered on first use by
:func:`register_bundled_cjk_font`). When matplotlib's font manager
knows a font covering the characters (Noto Sans/Serif CJK, Source Han,
WenQuanYi, AR PL, ...), group labels read "Tunzhi Jiedao (屯智街道)" and that
font is used as a per-glyph fallback; otherwise (e.g. on CI) they read
"Tunzhi Jiedao" (Hanyu Pinyin from :mod:`pypinyin`, without tones). Any
character neither font can draw becomes "?", so no figure ever shows empty
glyph boxes or emits missing-glyph warnings.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

DEFAULT_TOLERANCE: tuple[float, float] = (0.8, 1.25)
_RATE_NAMES = {
    "base_rate": "base rate (prevalence)",
    "selection_rate": "selection rate",
    "precision": "precision (PPV)",
    "fpr": "false positive rate",
    "fnr": "false negative rate",
}


class PlotInputError(ValueError):
    """Data given to a plotting function cannot be drawn."""


# Families known to cover the Han characters of Chinese place names, most preferred first
# (matched case-insensitively as prefixes of the family names matplotlib's font manager lists).
CJK_FAMILY_PREFIXES: tuple[str, ...] = (
    "noto sans cjk",
    "noto sans sc",
    "noto serif cjk",
    "noto serif sc",
    "source han sans",
    "source han serif",
    "wenquanyi",
    "wqy",
    "ar pl",
    "sarasa",
    "droid sans fallback",
    "microsoft yahei",
    "simhei",
    "simsun",
    "pingfang",
    "hiragino sans gb",
    "heiti",
    "songti",
)
# Suffixes of Chinese administrative units, longest first: romanised as a separate word
# ("屯智街道" -> "Tunzhi Jiedao", "兴义市" -> "Xingyi Shi"), as in GB/T 17693 style names.
_ADMIN_SUFFIXES: tuple[str, ...] = (
    "自治县",
    "自治州",
    "自治区",
    "自治旗",
    "开发区",
    "管委会",
    "居委会",
    "村委会",
    "街道",
    "社区",
    "新区",
    "市",
    "县",
    "区",
    "镇",
    "乡",
    "村",
    "州",
    "旗",
    "省",
)
_CJK_PROBE = "中文县市区镇乡街道村社"


def _is_han(char: str) -> bool:
    """Whether ``char`` is a CJK unified or compatibility ideograph."""
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3134F
    )


def _charmap(family_or_path: str) -> set[int]:
    """Code points covered by the font matplotlib resolves for a family name or font file."""
    from matplotlib import font_manager

    path = family_or_path
    if not Path(path).is_file():
        path = font_manager.findfont(
            font_manager.FontProperties(family=[family_or_path]), fallback_to_default=True
        )
    return set(font_manager.get_font(path).get_charmap())


#: The CJK font ``make install`` brings (the ``mplfonts`` package's Noto Sans CJK SC).
BUNDLED_CJK_FONT = "NotoSansCJKsc-Regular.otf"
_bundled_registered = False


def register_bundled_cjk_font() -> Path | None:
    """Add the Noto Sans CJK SC font shipped by ``mplfonts`` to matplotlib's font manager.

    Called by :func:`find_cjk_font`; only the first call does anything. ``mplfonts``
    is not imported (it configures matplotlib at import time): its font file is
    located through the package's install folder.

    Returns
    -------
    Path or None
        The font file registered (or already registered), ``None`` when the package or
        its font is missing.
    """
    global _bundled_registered
    import importlib.util

    from matplotlib import font_manager

    spec = importlib.util.find_spec("mplfonts")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "fonts" / BUNDLED_CJK_FONT
    if not path.is_file():
        return None
    if not _bundled_registered:
        _bundled_registered = True
        if all(Path(e.fname) != path for e in font_manager.fontManager.ttflist):
            font_manager.fontManager.addfont(str(path))
            logger.debug("registered the bundled CJK font %s", path.name)
    return path


def find_cjk_font(sample: str = _CJK_PROBE) -> str | None:
    """Family name of an installed font that draws every Han character of ``sample``.

    Parameters
    ----------
    sample : str, default a few common Han characters (中文县市区镇乡街道村社)
        Text whose Han characters the font must cover; other characters are ignored.

    Returns
    -------
    str or None
        The first family of :data:`CJK_FAMILY_PREFIXES` order that matplotlib's
        font manager lists and whose font covers the sample, else ``None``.
    """
    from matplotlib import font_manager

    register_bundled_cjk_font()
    needed = {ord(c) for c in sample if _is_han(c)} or {ord(c) for c in _CJK_PROBE}
    entries = sorted(
        (
            (rank, entry.name, entry.fname)
            for entry in font_manager.fontManager.ttflist
            for rank, prefix in enumerate(CJK_FAMILY_PREFIXES)
            if entry.name.lower().startswith(prefix)
        ),
    )
    for _, name, fname in entries:
        try:
            if needed <= _charmap(fname):
                return str(name)
        except (OSError, RuntimeError) as err:  # unreadable font file: try the next one
            logger.debug("font %s unreadable: %s", Path(fname).name, err)
    return None


def romanize(text: str) -> str:
    """Text with every run of Han characters replaced by Hanyu Pinyin words (no tones).

    A run ending in an administrative suffix (街道, 镇, 乡, 县, 市, 区, 村, 社区, ...)
    gives two capitalised words, "屯智街道" -> "Tunzhi Jiedao"; an apostrophe
    separates a syllable starting with a, o or e ("长安区" -> "Chang'an Qu").
    Full-width forms are normalised first (NFKC: "（" -> "("); other characters
    are kept.

    Parameters
    ----------
    text : str
        Any text, e.g. a county or township name.

    Returns
    -------
    str
        The romanised text; ``text`` itself when it has no Han character.
    """
    text = unicodedata.normalize("NFKC", str(text))
    if not any(_is_han(c) for c in text):
        return text
    from pypinyin import lazy_pinyin

    out = ""
    after_han = False
    for han, chars in groupby(text, key=_is_han):
        run = "".join(chars)
        if not han:
            out += (" " if after_han and run[0].isalnum() else "") + run
            after_han = False
            continue
        syllables = lazy_pinyin(run, v_to_u=True)
        if len(syllables) != len(run):  # one syllable per Han character expected
            syllables = [lazy_pinyin(c, v_to_u=True)[0] for c in run]
        suffix = next((x for x in _ADMIN_SUFFIXES if run.endswith(x) and len(run) > len(x)), "")
        cut = len(run) - len(suffix)
        words = " ".join(_pinyin_word(w) for w in (syllables[:cut], syllables[cut:]) if w)
        out += (" " if out[-1:].isalnum() else "") + words
        after_han = True
    return out


def _pinyin_word(syllables: Sequence[str]) -> str:
    """Syllables joined into one capitalised word, with the pinyin apostrophe before a, o, e."""
    word = syllables[0]
    for syllable in syllables[1:]:
        word += ("'" if syllable[:1] in ("a", "o", "e") else "") + syllable
    return word[:1].upper() + word[1:]


@dataclass(frozen=True)
class LabelFont:
    """How a figure draws text that may hold Chinese: a CJK fallback font, or pinyin.

    Attributes
    ----------
    cjk : str or None
        Family of an installed CJK font (:func:`find_cjk_font`), or ``None``.
    covered : frozenset of int
        Code points the default font and ``cjk`` can draw together.
    """

    cjk: str | None
    covered: frozenset[int]

    @classmethod
    def for_texts(cls, texts: Iterable[Any], cjk: str | None | bool = True) -> LabelFont:
        """The label font of a figure showing ``texts``.

        Parameters
        ----------
        texts : iterable
            Every user-supplied string of the figure (group, model, feature names, titles).
        cjk : str, None or bool, default True
            ``True``: look for a CJK font covering ``texts`` (:func:`find_cjk_font`);
            ``None``/``False``: pinyin only; a str: that family.

        Returns
        -------
        LabelFont
        """
        sample = "".join(str(t) for t in texts)
        family = find_cjk_font(sample) if cjk is True else (cjk or None)
        covered = _charmap("sans-serif")
        if family is not None:
            covered |= _charmap(family)
        return cls(cjk=family, covered=frozenset(covered))

    @property
    def family(self) -> list[str]:
        """Font family list: the default sans-serif, falling back per glyph to the CJK font."""
        return ["sans-serif", self.cjk] if self.cjk else ["sans-serif"]

    def _drawable(self, text: str) -> str:
        return "".join(c if (c.isspace() or ord(c) in self.covered) else "?" for c in text)

    def text(self, value: Any) -> str:
        """``value`` as drawn: unchanged with a CJK font, else romanised; "?" for any undrawable."""
        raw = unicodedata.normalize("NFKC", str(value))
        return self._drawable(raw if self.cjk else romanize(raw))

    def group(self, value: Any) -> str:
        """A group name: "Tunzhi Jiedao (屯智街道)" with a CJK font, "Tunzhi Jiedao" without."""
        raw = unicodedata.normalize("NFKC", str(value))
        roman = romanize(raw)
        if self.cjk and roman != raw:
            return self._drawable(f"{roman} ({raw})")
        return self._drawable(roman)


def _figure(width: float, height: float) -> Figure:
    """A new Figure attached to its own Agg canvas (no pyplot, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _arrays(y: Any, scores: Mapping[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if not scores:
        raise PlotInputError("scores must map at least one model name to its scores, got none")
    yy = pd.Series(y, copy=False).astype("float64").to_numpy()
    if np.isnan(yy).any() or not np.isin(yy, (0.0, 1.0)).all():
        raise PlotInputError("labels must be 0/1 without missing values")
    out = {}
    for name, s in scores.items():
        arr = pd.Series(s, copy=False).astype("float64").to_numpy()
        if arr.shape != yy.shape or not np.isfinite(arr).all():
            raise PlotInputError(
                f"scores of {name!r} must be {yy.size} finite numbers, got shape {arr.shape!r}"
            )
        out[name] = arr
    return yy, out


def plot_precision_recall(y: Any, scores: Mapping[str, Any], *, title: str | None = None) -> Figure:
    """Precision-recall curves of several models on the same rows.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, 0 or 1.
    scores : mapping of str to array-like of shape (n,)
        Model name -> score (larger = riskier).
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        Recall (x) against precision (y), one line per model with its average
        precision in the legend, and the prevalence as a dotted line.

    Raises
    ------
    PlotInputError
        No model, missing or non-binary labels, scores of the wrong length.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    yy, ss = _arrays(y, scores)
    fonts = LabelFont.for_texts([*ss, title or ""])
    fig = _figure(6.5, 5.0)
    ax = fig.add_subplot()
    for name, s in ss.items():
        precision, recall, _ = precision_recall_curve(yy, s)
        if precision.size > _CURVE_POINTS:  # millions of vertices draw slowly and look the same
            keep = np.unique(np.linspace(0, precision.size - 1, _CURVE_POINTS).astype(np.int64))
            precision, recall = precision[keep], recall[keep]
        ap = average_precision_score(yy, s)
        ax.step(recall, precision, where="post", label=f"{fonts.text(name)} (AP {ap:.3f})")
    ax.axhline(yy.mean(), color="grey", linestyle=":", label=f"prevalence {yy.mean():.3f}")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall (share of escalations found)")
    ax.set_ylabel("precision (share of listed rows that escalate)")
    ax.set_title(fonts.text(title or "Precision-recall on the test rows"), family=fonts.family)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", prop={"family": fonts.family, "size": 8})
    return fig


#: Points of a drawn precision-recall curve at most (a figure's width holds fewer).
_CURVE_POINTS = 4000


def plot_precision_at_k(
    y: Any,
    scores: Mapping[str, Any],
    *,
    k_min: float = 0.001,
    k_max: float = 0.20,
    n_points: int = 60,
    as_of: Any = None,
    tiebreak: Any = None,
    title: str | None = None,
) -> Figure:
    """Precision@k against the capacity k (share of rows), log-scaled, for several models.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, 0 or 1.
    scores : mapping of str to array-like of shape (n,)
        Model name -> score.
    k_min, k_max : float, default 0.001 and 0.20
        Range of capacities (share of rows of each as-of date, 0.1 % to 20 %).
    n_points : int, default 60
        Capacities drawn, log-spaced.
    as_of, tiebreak : array-like of shape (n,), optional
        As in :func:`training.metrics.precision_at_k` (top k per as-of date,
        averaged over dates).
    title : str, optional
        Figure title.

    Returns
    -------
    Figure

    Raises
    ------
    PlotInputError
        Bad labels or scores, or ``not 0 < k_min < k_max <= 1``.
    """
    from training.metrics import _ranking_inputs, _Segmented

    if not 0.0 < k_min < k_max <= 1.0:
        raise PlotInputError(f"expected 0 < k_min < k_max <= 1, got {k_min!r}, {k_max!r}")
    yy, ss = _arrays(y, scores)
    ks = np.unique(np.geomspace(k_min, k_max, n_points))
    fonts = LabelFont.for_texts([*ss, title or ""])
    fig = _figure(6.5, 5.0)
    ax = fig.add_subplot()
    codes = None  # dates and tie-breaks coded once for every model (12 M test rows: ~10 s each)
    for name, s in ss.items():
        if codes is None:
            codes = _ranking_inputs(yy, s, as_of, None, tiebreak)
        y_, _, d, _, t = codes
        seg = _Segmented.build(y_, np.asarray(s, dtype=np.float64), d, None, t)
        precision = [p for p, _ in seg.at_ks([float(k) for k in ks], None)]
        ax.plot(100 * ks, precision, label=fonts.text(name))
    ax.axhline(yy.mean(), color="grey", linestyle=":", label=f"prevalence {yy.mean():.3f}")
    ax.set_xscale("log")
    pct_ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if k_min <= t / 100 <= k_max]
    ax.set_xticks(pct_ticks, [f"{t:g} %" for t in pct_ticks])
    ax.minorticks_off()
    ax.set_xlabel("capacity k (% of households listed per as-of date, log scale)")
    ax.set_ylabel("precision@k (share of listed households that escalate)")
    ax.set_ylim(0, 1.02)
    ax.set_title(fonts.text(title or "Precision at capacity k"), family=fonts.family)
    ax.grid(alpha=0.3, which="both")
    ax.legend(prop={"family": fonts.family, "size": 8})
    return fig


def plot_calibration(
    y: Any, probs: Mapping[str, Any], *, n_bins: int = 10, title: str | None = None
) -> Figure:
    """Reliability diagram (equal-width bins) with the count of rows per bin beneath.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels, 0 or 1.
    probs : mapping of str to array-like of shape (n,)
        Model name -> predicted probability in [0, 1].
    n_bins : int, default 10
        Equal-width bins, as :func:`training.metrics.expected_calibration_error`.
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        Top: mean predicted probability (x) against observed frequency (y) per
        non-empty bin, with the diagonal and each model's ECE in the legend.
        Bottom: rows per bin (log scale).

    Raises
    ------
    PlotInputError
        Bad labels, or a probability outside [0, 1].
    """
    from training.metrics import expected_calibration_error

    yy, ss = _arrays(y, probs)
    fonts = LabelFont.for_texts([*ss, title or ""])
    fig = _figure(6.5, 6.5)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    width = 1.0 / n_bins / (len(ss) + 1)
    for i, (name, p) in enumerate(ss.items()):
        if p.size and (p.min() < 0 or p.max() > 1):
            raise PlotInputError(f"{name!r} is not a probability: range [{p.min()!r}, {p.max()!r}]")
        bins = np.clip(np.ceil(p * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
        count = np.bincount(bins, minlength=n_bins)
        mean_p = np.bincount(bins, p, minlength=n_bins)
        freq = np.bincount(bins, yy, minlength=n_bins)
        ok = count > 0
        ece = expected_calibration_error(yy, p, n_bins=n_bins)
        top.plot(
            mean_p[ok] / count[ok],
            freq[ok] / count[ok],
            marker="o",
            label=f"{fonts.text(name)} (ECE {ece:.3f})",
        )
        left = np.arange(n_bins) / n_bins + (i + 0.5) * width
        bottom.bar(left, count, width=width, align="edge", label=fonts.text(name))
    top.set(xlim=(0, 1), ylim=(0, 1))
    top.set_ylabel("observed escalation frequency")
    top.set_title(
        fonts.text(title or "Calibration (reliability) on the test rows"), family=fonts.family
    )
    top.grid(alpha=0.3)
    top.legend(loc="upper left", prop={"family": fonts.family, "size": 8})
    bottom.set_yscale("log")
    bottom.set_xlabel("predicted probability of escalation within the horizon")
    bottom.set_ylabel("rows per bin")
    bottom.grid(alpha=0.3)
    return fig


def plot_feature_importance(
    importance: Mapping[str, float] | pd.Series,
    *,
    top_n: int = 25,
    kind: str = "gain",
    title: str | None = None,
) -> Figure:
    """Horizontal bar chart of the ``top_n`` most important features.

    Parameters
    ----------
    importance : mapping or Series of str to float
        Feature name -> importance, e.g. LightGBM
        ``dict(zip(booster.feature_name(), booster.feature_importance("gain")))``.
    top_n : int, default 25
        Number of features shown, largest at the top.
    kind : str, default "gain"
        What the numbers are (axis label): ``"gain"`` (total split gain),
        ``"split"`` (times used) or ``"mean |SHAP|"`` (log-odds).
    title : str, optional
        Figure title.

    Returns
    -------
    Figure

    Raises
    ------
    PlotInputError
        No feature, or non-finite importances.
    """
    s = pd.Series(importance, dtype="float64")
    if s.empty or not np.isfinite(s.to_numpy()).all():
        raise PlotInputError(f"expected finite importances of at least one feature, got {s.size}")
    s = s.sort_values(ascending=False, kind="stable").head(top_n)[::-1]
    fonts = LabelFont.for_texts([*map(str, s.index), kind, title or ""])
    fig = _figure(7.5, max(3.0, 0.28 * len(s) + 1.2))
    ax = fig.add_subplot()
    ypos = np.arange(len(s))
    ax.barh(ypos, s.to_numpy(), color="tab:blue")
    ax.set_yticks(ypos, [fonts.text(i) for i in s.index], fontsize=8, family=fonts.family)
    ax.set_ylim(-0.6, len(s) - 0.4)
    ax.set_xlabel(fonts.text(f"importance ({kind})"), family=fonts.family)
    ax.set_ylabel("feature")
    ax.set_title(
        fonts.text(title or f"Feature importance ({kind}), top {len(s)}"), family=fonts.family
    )
    ax.grid(alpha=0.3, axis="x")
    return fig


def plot_disparities(
    audit: pd.DataFrame,
    *,
    attribute: str | None = None,
    rates: Sequence[str] = ("selection_rate", "precision", "fpr", "fnr"),
    tolerance: tuple[float, float] = DEFAULT_TOLERANCE,
    max_groups: int = 30,
    title: str | None = None,
) -> Figure:
    """Disparity ratios of a bias audit per group, with the tolerance band shaded.

    Parameters
    ----------
    audit : DataFrame
        Output of :func:`training.audit.bias_audit`.
    attribute : str, optional
        Attribute to draw; default the first of the table.
    rates : sequence of str
        Rates whose ``<rate>_disparity`` columns are drawn.
    tolerance : (float, float), default (0.8, 1.25)
        Band drawn as unflagged.
    max_groups : int, default 30
        Largest groups shown (the reference group always among them).
    title : str, optional
        Figure title.

    Returns
    -------
    Figure
        One panel per rate; bars are ratios to the reference group on a log
        scale (so 0.8 and 1.25 are symmetric); flagged bars are red. Groups
        are labelled "Tunzhi Jiedao (屯智街道) (n=812)" when a CJK font is
        installed, "Tunzhi Jiedao (n=812)" otherwise (:class:`LabelFont`).
        A ratio of 0 (or infinity) is drawn hatched to the panel's edge; an
        undefined ratio (the reference group's rate is 0) is marked "n/a".

    Raises
    ------
    PlotInputError
        Missing columns or an unknown attribute.
    """
    needed = {"attribute", "group", "group_size", "is_reference"} | {
        f"{r}_disparity" for r in rates
    }
    missing = needed - set(audit.columns)
    if missing:
        raise PlotInputError(f"audit table lacks columns {sorted(missing)!r}")
    attr = attribute if attribute is not None else str(audit["attribute"].iloc[0])
    table = audit[audit["attribute"] == attr]
    if table.empty:
        raise PlotInputError(
            f"attribute {attr!r} not in the audit; got {sorted(set(audit['attribute']))!r}"
        )
    table = table.sort_values("group_size", ascending=False, kind="stable")
    shown = pd.concat(
        [table[table["is_reference"]], table[~table["is_reference"]].head(max_groups - 1)]
    )
    shown = shown.iloc[::-1]
    fonts = LabelFont.for_texts([*map(str, shown["group"]), attr, title or ""])
    labels = [
        f"{fonts.group(g)} (n={n}){' [ref]' if r else ''}"
        for g, n, r in zip(shown["group"], shown["group_size"], shown["is_reference"], strict=True)
    ]
    low, high = tolerance
    fig = _figure(3.2 * len(rates) + 1.5, max(3.0, 0.32 * len(shown) + 1.5))
    axes = np.atleast_1d(fig.subplots(1, len(rates), sharey=True))
    ypos = np.arange(len(shown))
    finite_all = shown[[f"{r}_disparity" for r in rates]].astype("float64").to_numpy()
    finite_all = finite_all[np.isfinite(finite_all) & (finite_all > 0)]
    reach = max(float(np.abs(np.log(finite_all)).max()) if finite_all.size else 0.0, np.log(high))
    lim = (float(np.exp(-1.15 * reach)), float(np.exp(1.15 * reach)))
    ticks = [t for t in (0.25, 0.5, low, high, 2.0, 4.0) if lim[0] <= t <= lim[1]]
    for ax, rate in zip(axes, rates, strict=True):
        ratio = shown[f"{rate}_disparity"].astype("float64").to_numpy()
        finite = np.isfinite(ratio) & (ratio > 0)
        colors = ["tab:red" if (v < low or v > high) else "tab:blue" for v in ratio[finite]]
        ax.axvspan(low, high, color="tab:green", alpha=0.12)
        ax.axvline(1.0, color="grey", linewidth=0.8)
        ax.barh(ypos[finite], ratio[finite] - 1.0, left=1.0, color=colors)  # bars from 1
        # off the log scale: 0 (group rate 0) and +inf drawn hatched to the edge; NaN marked n/a
        for edge, mask in ((lim[0], ratio == 0), (lim[1], np.isposinf(ratio))):
            if mask.any():
                ax.barh(ypos[mask], edge - 1.0, left=1.0, color="tab:red", alpha=0.5, hatch="//")
        for row in ypos[np.isnan(ratio)] if not np.isnan(ratio).all() else []:
            ax.text(1.0, row, " n/a", va="center", fontsize=6, color="dimgrey")
        if np.isnan(ratio).all():
            ax.text(
                0.5,
                0.5,
                "no ratio: the reference group's\nrate is 0 or undefined",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=8,
                color="dimgrey",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
            )
        ax.set_xscale("log")
        ax.set_xlim(*lim)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_title(_RATE_NAMES.get(rate, rate), fontsize=10)
        ax.set_xlabel("ratio to reference group")
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(ypos, labels, fontsize=8, family=fonts.family)
    axes[0].set_ylabel(fonts.text(f"{attr} (n = rows audited)"), family=fonts.family)
    fig.suptitle(
        fonts.text(
            title
            or f"Bias audit by {attr}: ratio to the reference group "
            f"(green band [{low:g}, {high:g}]; red = flagged)"
        ),
        family=fonts.family,
    )
    return fig


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix, e.g. ``.png``), creating parent folders.

    Parameters
    ----------
    fig : Figure
        A figure from this module (or any matplotlib Figure).
    path : str or Path
        Destination file.
    dpi : int, default 120
        Resolution in dots per inch.

    Returns
    -------
    Path
        The path written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=dpi)
    logger.debug("figure written to %s", target.name)
    return target
