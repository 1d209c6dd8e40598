"""Personal data at the door: recognise it in any cell, keep it only as a keyed hash.

Revisit never writes a personal value anywhere (warehouse, quarantine, logs,
errors, stdout) except as a keyed hash. Personal *columns* are dropped by
header (``warehouse.contract.PERSONAL_HEADERS``); this module catches personal
*values* typed into other columns:

* a Chinese resident ID number: 18 characters, 17 digits and a check
  character whose ISO 7064 MOD 11-2 checksum is valid (GB 11643-1999), or the
  old 15-digit form (all digits);
* a mainland mobile number: 11 digits starting ``1[3-9]``, optionally
  preceded by ``+86``/``86`` and split by spaces or dashes.

Matching is done on NFKC text (full-width digits count) and on substrings
(an address with a phone number in it is personal too), never inside a longer
run of digits or letters-and-digits (``V202401050001`` is an id, not a phone).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from typing import Any, Final

import numpy as np
import pandas as pd

#: Length of the hex HMAC digest kept in a derived household_id.
HOUSEHOLD_HASH_HEX: Final = 16
#: What a quarantine line, log or error shows instead of a personal value.
REDACTED: Final = "[redacted: looks like personal data]"

_D: Final = "[0-9\uff10-\uff19]"
_EDGE: Final = "(?:^|[^0-9A-Za-z\uff10-\uff19])"
_END: Final = "(?:$|[^0-9A-Za-z\uff10-\uff19])"
# RE2-compatible superset of the patterns below (no look-arounds): a run of 15 to 18
# digits (or 17 and X), or a mobile number with optional separators.
_PREFILTER_RE: Final = (
    f"{_EDGE}(?:{_D}{{15}}|{_D}{{17}}[{_D[1:-1]}Xx\uff38\uff58]|"
    f"(?:[+\uff0b]?[8\uff18][6\uff16][\\s-]?)?[1\uff11]{_D}{_D}[\\s-]?{_D}{{4}}[\\s-]?{_D}{{4}}){_END}"
)
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"
# Not preceded or followed by another letter/digit: ids such as V2024... are not numbers.
_ID18_RE: Final = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")
_ID15_RE: Final = re.compile(r"(?<![0-9A-Za-z])(\d{15})(?![0-9A-Za-z])")
_MOBILE_RE: Final = re.compile(
    r"(?<![0-9A-Za-z])(?:\+?86[\s-]?)?(1[3-9]\d[\s-]?\d{4}[\s-]?\d{4})(?![0-9A-Za-z])"
)


def id_check_character(first17: str) -> str:
    """Check character of an 18-character ID number (ISO 7064 MOD 11-2, GB 11643-1999).

    Parameters
    ----------
    first17 : str
        The first 17 digits.

    Returns
    -------
    str
        ``"0"``-``"9"`` or ``"X"``.
    """
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def _nfkc(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value))


def looks_like_id_number(value: Any) -> bool:
    """Whether ``value`` contains a Chinese resident ID number.

    An 18-character number counts only with a valid check character; a
    15-digit number always counts (the old form has no check digit).

    Parameters
    ----------
    value : Any
        A cell as read (text or number).

    Returns
    -------
    bool
    """
    text = _nfkc(value)
    for m in _ID18_RE.finditer(text):
        number = m.group(1).upper()
        if id_check_character(number[:17]) == number[17]:
            return True
    return bool(_ID15_RE.search(text))


def looks_like_mobile(value: Any) -> bool:
    """Whether ``value`` contains a mainland mobile phone number (``1[3-9]`` + 9 digits)."""
    return bool(_MOBILE_RE.search(_nfkc(value)))


def looks_personal(value: Any) -> bool:
    """Whether ``value`` contains an ID number or a mobile number (see module docstring)."""
    if value is None or value is pd.NA:
        return False
    if isinstance(value, float) and np.isnan(value):
        return False
    return looks_like_id_number(value) or looks_like_mobile(value)


def personal_mask(values: pd.Series) -> np.ndarray:
    """Per-row mask of cells that look personal (checked once per distinct value).

    A vectorised pre-filter (pyarrow's RE2 over the distinct values, full-width
    digits included) keeps the values that could hold an ID or mobile number;
    only those are confirmed by :func:`looks_personal` (check digit and all).

    Parameters
    ----------
    values : Series of shape (n,)
        Raw cells, any dtype.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = pa.array(pd.Series(np.asarray(uniques, dtype=object)).astype("str"), type=pa.string())
    maybe = pc.match_substring_regex(text, _PREFILTER_RE).to_numpy(zero_copy_only=False)
    flags = np.zeros(len(uniques) + 1, dtype=bool)  # last slot: missing cells
    candidates = np.asarray(uniques, dtype=object)
    for i in np.flatnonzero(np.asarray(maybe, dtype=bool)):
        flags[i] = looks_personal(candidates[i])
    return flags[np.where(codes < 0, len(uniques), codes)]


def redact(value: Any) -> str:
    """``value`` as text, or :data:`REDACTED` when it looks personal."""
    text = "" if value is None else str(value)
    return REDACTED if looks_personal(text) else text


def normalise_id_number(value: Any) -> str:
    """Normalise a Chinese resident ID number: NFKC, no spaces or dashes, upper-case ``X``.

    Parameters
    ----------
    value : Any
        As read from the export (text, or a number from a spreadsheet).

    Returns
    -------
    str
        ``""`` when the cell is empty.
    """
    text = _nfkc(value)
    return "".join(ch for ch in text if ch not in " -\t").upper()


def pseudonymous_household_id(id_number: str, secret: str) -> str:
    """Derive ``household_id`` from the household head's ID number.

    ``"h_" + hex(HMAC-SHA256(key=secret, msg=normalised id number))[:16]``
    (DESIGN.md, "visits"): the same number always gives the same id; without
    the secret the number cannot be recovered or tested.

    Parameters
    ----------
    id_number : str
        Raw ID number (normalised with :func:`normalise_id_number`).
    secret : str
        ``REVISIT_ID_SECRET``.

    Returns
    -------
    str
        ``h_`` followed by 16 lower-case hex digits.
    """
    digest = hmac.new(
        secret.encode("utf-8"), normalise_id_number(id_number).encode("utf-8"), hashlib.sha256
    )
    return "h_" + digest.hexdigest()[:HOUSEHOLD_HASH_HEX]
