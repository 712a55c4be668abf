"""Shortcuts that decide a question without its full computation must agree with it.

Each shortcut here answers a question the slow computation also answers (do two values print
alike? is a fast reference good enough? how many digits does a bound allow?); the tests pose the
question with the definition written out here, on random and adversarial values (ties of the
17th digit, bounds on a power of ten, LSE on a binade edge)."""

from __future__ import annotations

import random

import mpmath
import pytest

from smoothcli.core.formats import FORMATS
from smoothcli.engine.evaluate import bounded_text
from smoothcli.reference import exact, fast


def texts_agree(a, b) -> bool:
    return exact.decimal_text(a) == exact.decimal_text(b)


def near_ties(rng: random.Random, count: int):
    """Pairs (a, b) that agree to 96 bits, many of them straddling a tie of the 17th digit."""
    out = []
    for _ in range(count):
        digits = "".join(rng.choice("0123456789") for _ in range(16))
        with mpmath.workprec(200):  # (the tie itself, to 200 bits)
            base = mpmath.mpf(f"{rng.randint(1, 9)}.{digits}5e{rng.randint(-30, 30)}")
            tie = base if rng.random() < 0.7 else base * (1 + mpmath.mpf(rng.random()) * 1e-20)
            shift = tie * mpmath.ldexp(rng.uniform(-1, 1), -97)
            out.append((tie + shift, tie - shift))
    return out


def test_same_decimal_is_equal_decimal_text():
    rng = random.Random(11)
    pairs = near_ties(rng, 300)
    with mpmath.workprec(200):
        for _ in range(300):
            b = mpmath.mpf(rng.uniform(-1, 1)) * mpmath.mpf(10) ** rng.randint(-40, 40)
            pairs.append((b * (1 + mpmath.ldexp(rng.uniform(-1, 1), -97)), b))
    differ = 0
    for a, b in pairs:
        assert exact._same_decimal(a, b) == texts_agree(a, b), (a, b)
        differ += not texts_agree(a, b)
    assert differ > 10  # the straddling pairs do print differently


def full_bounded_text(value, bound, digits: int = 17) -> str:
    """The definition: the most digits (at most 17) at which both ends of value ± bound print
    as value does."""
    lo = mpmath.fsub(value, bound, exact=True)
    hi = mpmath.fadd(value, bound, exact=True)
    for d in range(digits, 0, -1):
        text = exact.decimal_text(value, d)
        if exact.decimal_text(lo, d) == text == exact.decimal_text(hi, d):
            return text
    return exact.decimal_text(value, 1) + "?"


def test_bounded_text_starts_where_the_definition_can_first_succeed():
    rng = random.Random(12)
    cases = []
    for _ in range(1500):
        kind = rng.random()
        if kind < 0.4:
            v = mpmath.mpf(rng.choice([1, -1]) * 10 ** rng.uniform(-30, 30))
        elif kind < 0.7:  # just off a power of ten: the decades differ on each side
            v = mpmath.mpf(10) ** rng.randint(-5, 5) * (1 + rng.choice([1, -1])
                                                        * 10 ** rng.uniform(-17, -1))
        else:  # near a tie of some digit
            v = mpmath.mpf(rng.randint(1, 9) * 10 ** rng.randint(-3, 3)) * (
                1 + rng.choice([1, -1]) * rng.choice([0.5, 0.05, 0.55, 0.45])
                * 10 ** rng.randint(-14, -1))
        b = abs(float(v)) * (10 ** rng.uniform(-20, 1) if rng.random() < 0.7
                             else 5 * 10 ** rng.randint(-17, -1))
        cases.append((v, b))
    for v, b in cases:
        assert bounded_text(v, b) == full_bounded_text(v, b), (v, b)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_clearly_good_implies_good_enough(name, monkeypatch):
    """The float pre-check of lse_good_enough never says yes where the exact check says no,
    and says yes for most ordinary values (so it is worth having)."""
    fmt = FORMATS[name]
    rng = random.Random(13)
    quick = fast._clearly_good
    monkeypatch.setattr(fast, "_clearly_good", lambda *a: False)  # the exact check alone
    yes = 0
    for _ in range(3000):
        e = rng.randint(fmt.emin - 3, 40)
        if rng.random() < 0.3:  # on the edge of a binade
            lse = mpmath.ldexp(1 + rng.choice([1, -1]) * 2.0 ** -rng.randint(30, 60), e)
        else:
            lse = mpmath.ldexp(rng.uniform(1, 2), e) * rng.choice([1, -1])
        ulp = 2.0 ** (max(e, fmt.emin) - fmt.precision + 1)
        bound = ulp * fast.TAU * 2.0 ** rng.uniform(-20, 1)
        if quick(float(lse), bound, fmt):
            yes += 1
            assert fast.lse_good_enough(lse, bound, fmt), (lse, bound)
    assert yes > 1000
