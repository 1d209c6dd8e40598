"""Jurisdictions are paths (county / township / village), never bare names.

Village and township names repeat across a prefecture (two counties may each
have a 李桃村), so a place is named by its path from the county down, joined
with ``/``: ``兴仁市`` (a county), ``兴仁市/城南街道`` (a township),
``兴仁市/城南街道/李桃村`` (a village). Tokens, rankings, caches and audit rows
hold full paths.

What people type is resolved against the places that exist: a full path, or
any tail of one (``城南街道/李桃村``, or the bare ``李桃村``), is accepted when it
names exactly one place; a text that names several is refused with the
candidates (:class:`AmbiguousPlace`), one that names none with
:class:`UnknownPlace`. Names themselves may not contain ``/``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

#: Jurisdiction levels, coarsest first (the columns of the visits and incidents tables).
LEVELS: tuple[str, str, str] = ("county", "township", "village")
SEP = "/"


class PlaceError(LookupError):
    """A jurisdiction text that names no place, or several."""


class UnknownPlace(PlaceError):
    """No place of the level has this path or path tail."""


class AmbiguousPlace(PlaceError):
    """Several places of the level end with this text; ``candidates`` are their full paths."""

    def __init__(self, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


def depth(level: str) -> int:
    """Number of path parts of a place of ``level`` (county 1, township 2, village 3).

    Raises
    ------
    ValueError
        When ``level`` is not county, township or village.
    """
    if level not in LEVELS:
        raise ValueError(f"expected a level in {LEVELS!r}, got {level!r}")
    return LEVELS.index(level) + 1


def split_path(text: str) -> tuple[str, ...]:
    """Parts of a path text, each stripped of spaces (``" 兴仁市 / 城南街道"`` -> 2 parts).

    Raises
    ------
    UnknownPlace
        When a part is empty (``"兴仁市//李桃村"``, ``""``).
    """
    parts = tuple(p.strip() for p in str(text).split(SEP))
    if not parts or any(not p for p in parts):
        raise UnknownPlace(f"expected a name or a path such as '县/乡镇/村', got {text!r}")
    return parts


def path_column(frame: pd.DataFrame, level: str) -> np.ndarray:
    """The path of each row's place of ``level``, as an object array of ``str``.

    Parameters
    ----------
    frame : DataFrame of shape (n, ...)
        Has the columns ``county`` .. ``level``.
    level : {"county", "township", "village"}

    Returns
    -------
    ndarray of shape (n,), object
        ``county``, ``county/township`` or ``county/township/village``.
    """
    columns = LEVELS[: depth(level)]
    joined = frame[columns[0]].astype(str)
    for column in columns[1:]:
        joined = joined + SEP + frame[column].astype(str)
    return joined.to_numpy(dtype=object)


def path_codes(frame: pd.DataFrame, level: str) -> tuple[np.ndarray, list[str]]:
    """Each row's place of ``level`` as an integer code, and the path of each code.

    Cheaper than :func:`path_column` for large frames: no path string is built per
    row, only one per distinct place.

    Parameters
    ----------
    frame : DataFrame of shape (n, ...)
        Has the columns ``county`` .. ``level``.
    level : {"county", "township", "village"}

    Returns
    -------
    codes : ndarray of shape (n,), int64
        Index into ``paths``.
    paths : list of str
        Full path of each code, in order of first appearance.
    """
    columns = list(LEVELS[: depth(level)])
    if len(frame) == 0:
        return np.empty(0, dtype=np.int64), []
    codes, uniques = pd.MultiIndex.from_frame(frame[columns].astype(str)).factorize()
    return np.asarray(codes, dtype=np.int64), [SEP.join(map(str, key)) for key in uniques]


def contains(outer_level: str, outer_path: str, level: str, path: str) -> bool:
    """Whether the place (``level``, ``path``) lies within (``outer_level``, ``outer_path``).

    Both are full paths; a place contains itself and every place whose path
    starts with its own followed by ``/``.
    """
    if outer_level not in LEVELS or level not in LEVELS:
        return False
    if LEVELS.index(level) < LEVELS.index(outer_level):
        return False
    return path == outer_path or path.startswith(outer_path + SEP)


class PlaceIndex:
    """The places of one level, resolvable by full path or by an unambiguous tail.

    Parameters
    ----------
    level : {"county", "township", "village"}
    paths : iterable of str
        Full paths of the places (duplicates are ignored).
    """

    def __init__(self, level: str, paths: Iterable[str]) -> None:
        self.level = level
        self._depth = depth(level)
        self.paths: list[str] = sorted({str(p) for p in paths})
        self._set = frozenset(self.paths)
        self._by_tail: dict[tuple[str, ...], list[str]] = {}
        for path in self.paths:
            parts = tuple(path.split(SEP))
            for k in range(1, len(parts) + 1):
                self._by_tail.setdefault(parts[-k:], []).append(path)

    def __contains__(self, path: object) -> bool:
        return path in self._set

    def candidates(self, text: str) -> list[str]:
        """Full paths of the places that ``text`` (a path or a tail of one) names, sorted."""
        try:
            parts = split_path(text)
        except UnknownPlace:
            return []
        if len(parts) > self._depth:
            return []
        return list(self._by_tail.get(parts, []))

    def resolve(self, text: str) -> str:
        """The full path of the one place that ``text`` names.

        Raises
        ------
        UnknownPlace
            No place of the level matches.
        AmbiguousPlace
            Several do; the message and ``candidates`` list their full paths.
        """
        found = self.candidates(text)
        if not found:
            raise UnknownPlace(f"no {self.level} named {text!r}")
        if len(found) > 1:
            shown = ", ".join(found[:10]) + (
                f" (and {len(found) - 10} more)" if len(found) > 10 else ""
            )
            raise AmbiguousPlace(
                f"the {self.level} name {text!r} is ambiguous: {len(found)} places have it "
                f"({shown}); give its path, e.g. {found[0]!r}",
                found,
            )
        return found[0]
