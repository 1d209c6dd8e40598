"""Synthetic personal data for the exports: names, ID numbers, phones, addresses.

All generated, none real: names are random combinations of common surnames
and given-name characters; ID numbers use region prefixes 522391-522399,
which are not real region codes (so they cannot be a real person's number),
random birth dates and sequence numbers, and a valid GB 11643-1999 check
digit; phone numbers are random 11-digit mobile-style numbers.  They exist
only so that ingestion's removal of personal columns is exercised.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛"
)
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅建国志文斌辉宇浩凯鹏飞云翠琴珍凤海林波"
)

#: GB 11643-1999 weights of the first 17 digits and the check characters by sum mod 11.
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = "10X98765432"


def _pick(rng: np.random.Generator, chars: list[str], n: int) -> pa.Array:
    idx = pa.array(rng.integers(0, len(chars), n).astype(np.int32))
    return pa.DictionaryArray.from_arrays(idx, pa.array(chars)).dictionary_decode()


def names(rng: np.random.Generator, n: int) -> pa.Array:
    """Random two- or three-character Chinese names.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Number of names.

    Returns
    -------
    pyarrow.StringArray of length n
    """
    surname = _pick(rng, SURNAMES, n)
    g1 = _pick(rng, GIVEN, n)
    g2 = _pick(rng, GIVEN, n)
    two = pa.array(rng.random(n) < 0.35)
    g2 = pc.if_else(two, "", g2)
    return pc.binary_join_element_wise(surname, g1, g2, "")


def _digits_to_str(digits: np.ndarray) -> pa.Array:
    raw = (digits.astype(np.uint8) + 48).tobytes()
    width = digits.shape[1]
    out = np.frombuffer(raw, dtype=f"S{width}")
    return pa.array(out, type=pa.binary(width)).cast(pa.string())


def id_check_digit(first17: str) -> str:
    """GB 11643-1999 check character of the first 17 digits of an ID number.

    Parameters
    ----------
    first17 : str
        Seventeen digits.

    Returns
    -------
    str
        One of ``0-9`` or ``X``.
    """
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def id_numbers(rng: np.random.Generator, prefixes: np.ndarray, birth_years: np.ndarray) -> pa.Array:
    """18-character resident ID numbers with a valid check character.

    Parameters
    ----------
    rng : numpy.random.Generator
    prefixes : ndarray of int, shape (n,)
        Six-digit region prefixes (fictitious, see the module docstring).
    birth_years : ndarray of int, shape (n,)
        Year of birth of the household head.

    Returns
    -------
    pyarrow.StringArray of length n
    """
    n = prefixes.shape[0]
    month = rng.integers(1, 13, n)
    day = rng.integers(1, 29, n)
    seq = rng.integers(0, 1000, n)
    d = np.zeros((n, 17), dtype=np.int64)
    for k, (val, width) in enumerate(
        ((prefixes, 6), (birth_years, 4), (month, 2), (day, 2), (seq, 3))
    ):
        offset = sum(w for _, w in ((None, 6), (None, 4), (None, 2), (None, 2), (None, 3))[:k])
        for j in range(width):
            d[:, offset + j] = (val // 10 ** (width - 1 - j)) % 10
    check = (d * ID_WEIGHTS).sum(axis=1) % 11
    first = _digits_to_str(d)
    last = pa.DictionaryArray.from_arrays(
        pa.array(check.astype(np.int32)), pa.array(list(ID_CHECK))
    ).dictionary_decode()
    return pc.binary_join_element_wise(first, last, "")


def phones(rng: np.random.Generator, n: int) -> pa.Array:
    """Random 11-digit mobile-style phone numbers (``1[3-9]x xxxx xxxx``).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int

    Returns
    -------
    pyarrow.StringArray of length n
    """
    d = rng.integers(0, 10, (n, 11))
    d[:, 0] = 1
    d[:, 1] = rng.integers(3, 10, n)
    return _digits_to_str(d)
