"""Floating-point formats: the facts about each dtype that the numerics need.

A format is described by its precision p (significand bits, implicit bit included), the exponent
of its smallest normal number (2**emin) and its largest finite value.  Everything else (unit
roundoff, epsilon, smallest subnormal, the spacing at a value) follows from these, exactly, as
:class:`fractions.Fraction` values, so that the thresholds and ULP errors the tool prints do not
depend on the float64 arithmetic they are meant to check.  numpy (and, for bfloat16/fp8, ml_dtypes)
is only imported when the numpy dtype itself is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from smoothcli.core.errors import InputError


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE-754-style binary floating-point format."""

    name: str
    precision: int  # p: significand bits, including the implicit leading bit
    emin: int  # smallest normal number is 2**emin
    emax: int  # largest finite number lies in [2**emax, 2**(emax+1))
    has_inf: bool = True  # float8_e4m3fn has none: overflow gives NaN
    max_mantissa: int | None = None  # largest finite significand (integer, p bits) if not 2**p - 1
    numpy_name: str | None = None  # name of the numpy / ml_dtypes scalar type

    @property
    def max_finite(self) -> Fraction:
        m = self.max_mantissa if self.max_mantissa is not None else 2**self.precision - 1
        return Fraction(m) * Fraction(2) ** (self.emax - self.precision + 1)

    @property
    def smallest_normal(self) -> Fraction:
        return Fraction(2) ** self.emin

    @property
    def smallest_subnormal(self) -> Fraction:
        return Fraction(2) ** (self.emin - self.precision + 1)

    @property
    def eps(self) -> Fraction:
        """Machine epsilon: the spacing of the format at 1, 2**(1-p)."""
        return Fraction(2) ** (1 - self.precision)

    @property
    def unit_roundoff(self) -> Fraction:
        """u = 2**-p, the bound on the relative error of round-to-nearest (Higham, ASNA 2.2)."""
        return Fraction(2) ** (-self.precision)

    @property
    def max_digits10(self) -> int:
        """Significant decimal digits that always identify a value of this format uniquely
        (at least 3, so that float8_e5m2's 768 prints as 768.0, not 7.7e+02)."""
        return max(3, math.ceil(self.precision * math.log10(2)) + 1)

    def ulp(self, x: Any) -> Fraction:
        """The spacing of this format at the (finite, exact) value ``x``.

        ulp(x) = 2**(max(e, emin) - p + 1) with e = floor(log2|x|): the gap between consecutive
        values of the binade that holds x (Goldberg's definition; above the largest finite value the
        top binade's spacing is extended).  ulp(0) is the smallest subnormal.
        """
        q = Fraction(x) if not isinstance(x, Fraction) else x
        if q == 0:
            return self.smallest_subnormal
        e = floor_log2(abs(q))
        return Fraction(2) ** (max(e, self.emin) - self.precision + 1)

    @property
    def np(self) -> Any:
        """The numpy dtype (imports ml_dtypes for the formats numpy lacks)."""
        return numpy_dtype(self)


def floor_log2(q: Fraction) -> int:
    """floor(log2 q) for a positive rational, exactly."""
    n, d = q.numerator, q.denominator
    e = n.bit_length() - d.bit_length()
    # 2**e <= q  <=>  n * 2**-e >= d; bit lengths leave e one too large at most.
    if (n << max(0, -e)) < (d << max(0, e)):
        e -= 1
    return e


FORMATS: dict[str, FloatFormat] = {
    "float16": FloatFormat("float16", precision=11, emin=-14, emax=15, numpy_name="float16"),
    "float32": FloatFormat("float32", precision=24, emin=-126, emax=127, numpy_name="float32"),
    "float64": FloatFormat("float64", precision=53, emin=-1022, emax=1023, numpy_name="float64"),
    # The ML formats of ml_dtypes (imported only when one of them is asked for).  bfloat16 is
    # float32 with 8 significand bits (Intel, "BFLOAT16 - Hardware Numerics Definition", 2018).
    # The float8 formats are the OCP 8-bit floating point specification's (Micikevicius et al.,
    # "FP8 formats for deep learning", 2022): E5M2 is IEEE-like (infinities, NaNs); E4M3FN has
    # no infinity ("fn": finite + NaN) and spends exponent 15 on numbers up to 1.110b * 2**8 =
    # 448, leaving only significand 1.111b there for NaN, so overflow rounds to NaN.
    "bfloat16": FloatFormat("bfloat16", precision=8, emin=-126, emax=127, numpy_name="bfloat16"),
    "float8_e4m3fn": FloatFormat("float8_e4m3fn", precision=4, emin=-6, emax=8, has_inf=False,
                            max_mantissa=0b1110, numpy_name="float8_e4m3fn"),
    "float8_e5m2": FloatFormat("float8_e5m2", precision=3, emin=-14, emax=15,
                          numpy_name="float8_e5m2"),
}

#: Formats numpy lacks, provided by the ml_dtypes package.
ML_DTYPES = ("bfloat16", "float8_e4m3fn", "float8_e5m2")

#: The dtypes evaluated when ``--dtype`` is not given.
DEFAULT_DTYPES = ("float16", "float32", "float64")

#: Other names of the formats (listed in every --dtype help; docs/cli.md).
_ALIASES = {"half": "float16", "single": "float32", "double": "float64",
            "f16": "float16", "f32": "float32", "f64": "float64", "fp16": "float16",
            "fp32": "float32", "fp64": "float64", "bf16": "bfloat16",
            "e4m3": "float8_e4m3fn", "e4m3fn": "float8_e4m3fn", "fp8_e4m3": "float8_e4m3fn",
            "e5m2": "float8_e5m2", "fp8_e5m2": "float8_e5m2"}


def get_float_format(name: str) -> FloatFormat:
    """The format called ``name`` (or one of its aliases), or an InputError naming it."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return FORMATS[key]
    except KeyError:
        known = ", ".join(list(FORMATS) + ["all"])
        raise InputError(f"unknown dtype {name!r} (choose from {known}, or an alias such as "
                         "bf16, fp16, e4m3: see --help)") from None


def resolve_dtypes(names: list[str] | tuple[str, ...] | None) -> list[FloatFormat]:
    """Parse repeatable / comma-separated ``--dtype`` values, keeping order, without duplicates."""
    if not names:
        return [FORMATS[n] for n in DEFAULT_DTYPES]
    out: list[FloatFormat] = []
    for item in names:
        for part in item.split(","):
            if not part.strip():
                raise InputError(f"empty dtype name in --dtype {item!r}")
            fmts = list(FORMATS.values()) if part.strip().lower() == "all" else [get_float_format(part)]
            for fmt in fmts:
                if fmt not in out:
                    out.append(fmt)
    return out


def numpy_dtype(fmt: FloatFormat) -> Any:
    import numpy as np

    if fmt.numpy_name in ML_DTYPES:
        try:
            import ml_dtypes  # registers bfloat16 / float8 with numpy; only imported when asked for
        except ImportError:
            raise InputError(f"{fmt.name} needs the ml_dtypes package "
                             "(pip install ml_dtypes)") from None
        return np.dtype(getattr(ml_dtypes, fmt.numpy_name))
    return np.dtype(fmt.numpy_name)


def is_wider(acc: FloatFormat, fmt: FloatFormat) -> bool:
    """True when every value of ``fmt`` is a value of ``acc`` and ``acc`` has more precision
    (float32 is wider than float16 and bfloat16; bfloat16 and float16 are not comparable)."""
    return (acc.precision > fmt.precision and acc.emin <= fmt.emin and acc.emax >= fmt.emax)
