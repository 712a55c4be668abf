"""Stage 1 of the pipeline: turn the tokens a user typed into exact numbers.

A token is parsed as a decimal number into an exact :class:`fractions.Fraction` (``0.1`` is 1/10,
not the float64 nearest to it), so that rounding to each dtype happens once, from the exact value
(see :mod:`smoothcli.core.rounding`).  The grammar is ASCII only: Python's ``float`` also accepts
Unicode digits (``'١٢'``), underscores and hex floats, which are rejected here so that what a
script passes is what the tool reads.  ``inf``, ``-inf``, ``infinity`` and ``nan`` (any case) are
accepted and follow scipy.special.logsumexp's conventions downstream.

What users paste is read too (:func:`split_values`): one argument may hold several values
separated by commas (``1,2,3``) and may be a Python / JSON list (``[0.5, 1.5, -2.0]``, whole or
split by the shell into ``[0.5,`` ``1.5,`` ``-2.0]``).  One form stays refused because it is
ambiguous: two digit groups joined by one comma (``1,5``) may be a decimal comma, so it is an
error that says to write ``1.5`` or ``1 5``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from smoothcli.core.errors import InputError

_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_SPECIAL = re.compile(r"([+-]?)(inf|infinity|nan)", re.ASCII | re.IGNORECASE)
_NUMBER_LIKE = re.compile(r"-(?:\d|\.\d|inf|infinity|nan)", re.ASCII | re.IGNORECASE)

#: The largest decimal exponent accepted.  Fraction("1e-999999999") would build a huge integer:
#: anything beyond float64's range by this much rounds to 0 or is refused anyway.
MAX_EXPONENT = 9999

#: The most digits a decimal may have.  Python refuses to convert strings of more than 4300
#: digits to int (sys.int_info.default_max_str_digits, CVE-2020-10735), which Fraction() needs;
#: the exact decimal expansion of any float64 has at most 1074 digits after the point.
MAX_DIGITS = 4000


def _shorten(token: str, keep: int = 24) -> str:
    """``repr(token)``, cut in the middle when it is long, so that an error stays one line."""
    if len(token) <= 2 * keep:
        return repr(token)
    return f"{token[:keep]!r}…{token[-8:]!r} ({len(token)} characters)"


# Values at or above this round to infinity in float64 (IEEE 754 round to nearest: the midpoint
# between the largest double and 2**1024).
_FLOAT64_OVERFLOW = Fraction(2) ** 1024 - Fraction(2) ** 970


@dataclass(frozen=True)
class Number:
    """One input value: the text typed and its exact value.

    ``exact`` is the exact rational for finite tokens and ``None`` for inf/nan, which are held in
    ``special``.  ``negative`` keeps the sign of ``-0``.
    """

    text: str
    exact: Fraction | None
    special: float | None = None
    negative: bool = False

    @property
    def is_finite(self) -> bool:
        return self.exact is not None

    @classmethod
    def from_float(cls, x: float, text: str | None = None) -> "Number":
        """A Number holding exactly the value of a float (used for file data and demos)."""
        if math.isfinite(x):
            return cls(text if text is not None else repr(float(x)), Fraction(x),
                       negative=math.copysign(1.0, x) < 0)
        return cls(text if text is not None else repr(float(x)), None, special=float(x),
                   negative=x < 0)


def looks_like_number(token: str) -> bool:
    """True when a token that starts with '-' is a negative number rather than an option."""
    return bool(_NUMBER_LIKE.match(token))


def parse_number(token: str) -> Number:
    """Parse one token; raise InputError naming the token when it is not a number we accept."""
    text = token.strip()
    if not text:
        raise InputError("empty value: expected a number")
    m = _SPECIAL.fullmatch(text)
    if m:
        sign, word = m.group(1), m.group(2).lower()
        if word == "nan":
            return Number(token, None, special=math.nan)
        return Number(token, None, special=-math.inf if sign == "-" else math.inf,
                      negative=sign == "-")
    if not _DECIMAL.fullmatch(text):
        hint = ""
        if text.lower().startswith(("0x", "-0x", "+0x")):
            hint = " (hex floats are not accepted; give a decimal)"
        elif "," in text:
            hint = " (use '.' as the decimal point; separate values with spaces)"
        elif not text.isascii():
            hint = " (only ASCII digits are accepted)"
        raise InputError(f"not a number: {token!r}{hint}")
    mantissa, _, exponent = text.lower().partition("e")
    digits = sum(c.isdigit() for c in mantissa)
    if digits > MAX_DIGITS:
        raise InputError(f"too many digits in {_shorten(token)} (at most {MAX_DIGITS})")
    magnitude = exponent.lstrip("+-").lstrip("0") or "0"  # int() of it stays short
    if len(magnitude) > 5 or int(magnitude) > MAX_EXPONENT:
        raise InputError(f"exponent out of range in {_shorten(token)} "
                         f"(at most {MAX_EXPONENT} in magnitude)")
    q = Fraction(mantissa) * Fraction(10) ** (-int(magnitude) if exponent.startswith("-")
                                              else int(magnitude))
    if abs(q) >= _FLOAT64_OVERFLOW:
        raise InputError(f"{token!r} is beyond the float64 range (max ≈ 1.7976931348623157e308)")
    return Number(token, q, negative=text.startswith("-"))


#: Two digit groups joined by one comma: a decimal comma ("1,5") as much as two values.
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+", re.ASCII)
_SEPARATORS = re.compile(r"[\s,]+")


def split_values(tokens: list[str] | tuple[str, ...]) -> list[str]:
    """The value tokens in the arguments typed: ``1,2,3`` is three values, list brackets are
    dropped (``[0.5, 1.5]``, ``[0.5,`` ``1.5]``).  Tokens without a comma or a bracket, the empty
    string included (refused later as an empty value), are kept as they are."""
    out: list[str] = []
    for token in tokens:
        if not any(c in token for c in ",[]"):
            out.append(token)
            continue
        text = token.strip()
        if _DECIMAL_COMMA.fullmatch(text):
            raise InputError(f"not a number: {token!r} (use '.' as the decimal point: "
                             f"{text.replace(',', '.')}; for two values write "
                             f"'{text.replace(',', ' ')}')")
        if text.count("[") > 1 or text.count("]") > 1:
            raise InputError(f"nested lists are not read from the command line ({_shorten(token)}):"
                             " pipe them in instead, e.g. echo '[[1, 2], [3, 4]]' | smooth lse")
        body = text.replace("[", " ").replace("]", " ")
        if re.search(r",\s*,", body):
            raise InputError(f"empty value between commas in {_shorten(token)}: write every "
                             "value (nan for a missing one)")
        out.extend(t for t in _SEPARATORS.split(body) if t)
    return out


def parse_numbers(tokens: list[str] | tuple[str, ...],
                  example: str = "smooth lse 710 12") -> list[Number]:
    """Parse every token; the first bad one raises InputError.  ``example``: the command line
    the "no values" error shows."""
    if not tokens:
        raise InputError(f"no values given: pass numbers, e.g. '{example}'")
    return [parse_number(t) for t in tokens]


def parse_positive(tokens: list[str] | tuple[str, ...] | None, option: str) -> list[Number]:
    """The values of a repeatable option that must be finite and > 0 (``--k``, ``--temperature``);
    errors name the option."""
    out = []
    for t in tokens or []:
        try:
            v = parse_number(t)
        except InputError as e:
            raise InputError(f"{option}: {e}") from None
        if v.exact is None or v.exact <= 0:
            raise InputError(f"{option} must be a finite number > 0, not {t!r}")
        out.append(v)
    return out
