"""The verdict of every row of the LSE family: a status, the reason in words, verified advice.

The status is judged from the RESULT of a row, not from the events on the way (docs/verdicts.md):

* ``undefined``: the exact value does not exist — softmax of a row with no finite maximum (every
  input -inf, a fully masked attention row, pytorch#25110; or +inf, which needs inf − inf), or an
  input that is NaN;
* ``overflow`` / ``underflow`` / ``nan``: the result is not finite (or NaN) although the exact
  value is finite (or infinite and not NaN); the cause is read off the row's flags and
  intermediates (an input beyond the dtype's range, an exponential or the sum overflowing, every
  exponential flushed to 0 so that log(0) = -inf or 0/0 = NaN, inf − inf);
* ``inaccurate``: a finite result that has lost more than half of the dtype's significand bits
  (Herbie's bits of error > p/2), or whose ULP error exceeds ``--max-ulp`` when given;
* ``ok``: everything else.  Intermediate events — a subnormal Σ exp (flag ``underflow``), terms
  flushed to 0 — stay as facts in the row: they do not alone fail it.

The reason says what happened with the numbers that prove it; the advice names the first
candidate fix (another method, ``--acc float32``, a wider dtype) that :mod:`smoothcli.engine.advice`
evaluated on the same inputs through the same engine and found ``ok``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from smoothcli.report.model import number_text

STATUSES = ("ok", "overflow", "underflow", "nan", "inaccurate", "undefined")
OK, OVERFLOW, UNDERFLOW, NAN, INACCURATE, UNDEFINED = range(6)

#: What libraries return for a row whose softmax does not exist.
LIBRARIES_UNDEFINED = ("torch.softmax returns NaN there; the safe softmax of torch's fused "
                       "attention returns zeros (pytorch#25110)")

#: Which library computes what each method computes (the per-dtype answer line).
LIBRARY_METHOD = {
    ("lse", "shifted"): "what torch.logsumexp does",
    ("lse", "log1p"): "what scipy.special.logsumexp does (scipy ≥ 1.15: log1p of the sum "
                      "without the max term)",
    ("lse", "online"): "the online normaliser of Milakov & Gimelshein (2018)",
    ("softmax", "shifted"): "what scipy.special.softmax and torch.softmax do",
    ("softmax", "log1p"): "Blanchard, Higham & Higham (2021), Alg. 4.1",
    ("softmax", "online"): "the online softmax of FlashAttention-style kernels",
}


# --- formatting --------------------------------------------------------------------------

def show(v: Any, fmt: Any = None) -> str:
    """A float to its dtype's precision (max_digits10 significant digits; 17 for float64)."""
    if v is None:
        return "—"
    return number_text(v, fmt.max_digits10 if fmt is not None else 17, nan="NaN")


def short(v: Any, digits: int = 5) -> str:
    return number_text(v, digits, nan="NaN")


def ulps(u: Any) -> str:
    u = float(u)
    if math.isnan(u):
        return "—"
    if math.isinf(u):
        return "inf"
    return "0" if u == 0 else format(u, ".3g")


@lru_cache(maxsize=None)
def _thresholds(name: str) -> dict:
    from smoothcli.commands.exp_range import thresholds
    from smoothcli.core.formats import FORMATS

    return thresholds(FORMATS[name])


# --- statuses ------------------------------------------------------------------------------

def status_codes(ev: Any, s: Any, max_ulp: float | None = None) -> Any:
    """The status (an index into STATUSES) of every row of series ``s``, vectorised."""
    import numpy as np

    a = s.arrays
    p = s.format.precision
    over_in = a["inputs_overflowed"]
    with np.errstate(invalid="ignore"):
        if s.vector:
            exact_nan = a["undefined"]  # NaN, +inf (inf/inf) or no finite max
            bad = ~np.isfinite(a["abs_error"]) | a["nan"]
            value_nan = a["nan"]
            value_pos = np.zeros(s.rows, dtype=bool)
        else:
            v, r = a["value"], a["reference"]
            exact_nan = np.isnan(r)
            bad = (np.isnan(v) & ~exact_nan) | (np.isinf(v) & (v != r))
            value_nan = np.isnan(v)
            value_pos = v > 0
        inacc = a["bits"] > p / 2
        if max_ulp is not None:
            inacc |= a["ulp_error"] > max_ulp
    codes = np.zeros(s.rows, dtype=np.int8)
    codes[inacc] = INACCURATE
    cause = np.where(a["overflow"], OVERFLOW, np.where(
        a["underflow"], UNDERFLOW, np.where(value_nan, NAN, np.where(
            value_pos | s.vector, OVERFLOW, UNDERFLOW))))
    codes[bad] = cause[bad]
    codes[over_in] = OVERFLOW
    codes[exact_nan & ~over_in] = UNDEFINED
    return codes


class Verdicts:
    """The statuses of every series of an evaluation; reasons and advice on demand (a batch of
    262,144 rows never holds 262,144 sentences)."""

    def __init__(self, ev: Any, max_ulp: float | None = None, advise: bool = True):
        self.ev, self.max_ulp, self.advise = ev, max_ulp, advise
        self.codes = {id(s): status_codes(ev, s, max_ulp) for s in ev.series}
        self._advice: dict = {}
        self._reasons: dict = {}

    def status(self, s: Any, i: int) -> str:
        return STATUSES[int(self.codes[id(s)][i])]

    def counts(self, s: Any) -> dict[str, int]:
        import numpy as np

        c = np.bincount(self.codes[id(s)].astype(np.int64), minlength=len(STATUSES))
        return {name: int(c[k]) for k, name in enumerate(STATUSES) if c[k]}

    def reason(self, s: Any, i: int) -> str | None:
        code = int(self.codes[id(s)][i])
        if code == OK:
            return None
        key = (id(s), i)
        if key not in self._reasons:
            self._reasons[key] = _reason(self, s, i, code)
        return self._reasons[key]

    def worst_row(self, s: Any, code: int) -> int | None:
        """The row that speaks for the series' rows of status ``code``: the largest error for
        inaccurate rows, the first one otherwise."""
        import numpy as np

        mask = self.codes[id(s)] == code
        if not mask.any():
            return None
        if code == INACCURATE:
            ulp = np.where(mask, s.arrays["ulp_error"], -1.0)
            ulp = np.where(np.isnan(ulp), np.inf, ulp)
            return int(np.argmax(ulp))
        return int(np.argmax(mask))

    def advice(self, s: Any, i: int) -> str | None:
        """Advice for row i, verified on the worst row of its status (one evaluation of the
        candidates per (series, status))."""
        code = int(self.codes[id(s)][i])
        if code == OK:
            return None
        if code == UNDEFINED and s.method == "safe" and not s.peer:
            return ("none needed if zeros is what such rows should give (their weight then "
                    "vanishes from the attention output); otherwise handle them before the call")
        if code == UNDEFINED:
            return ("no method can fix it: the value does not exist; decide what such rows "
                    "should give (zeros, like a safe softmax) and handle them before the call")
        return self._advised(s, code)[0]

    def _advised(self, s: Any, code: int) -> tuple[str, Any]:
        key = (id(s), code)
        if key not in self._advice:
            self._advice[key] = self._verified(s, self.worst_row(s, code))
        return self._advice[key]

    def _verified(self, s: Any, i: int) -> tuple[str, Any]:
        if not self.advise:
            return "not evaluated", None
        from smoothcli.engine.advice import first_ok

        found, tried = first_ok(self.ev, s, i, lambda ev2, s2: status_codes(
            ev2, s2, self.max_ulp)[0] == OK)
        if found is None:
            return ("none of the fixes tried is ok on these inputs (" + ", ".join(
                c.label for c in tried) + ")"), None
        c = found
        a = c.series.arrays
        what = (f"worst element {ulps(a['ulp_error'][0])} ULP" if c.series.vector else
                f"{show(a['value'][0], c.series.format)}, {ulps(a['ulp_error'][0])} ULP")
        return f"use {c.label}: {what} (verified on these inputs)", c

    def answer(self) -> str:
        """One line per dtype: which method to use (or that every method shown is ok)."""
        kind = self.ev.plan.kind
        parts = []
        for f in self.ev.plan.dtypes:
            mine = [s for s in self.ev.series if s.dtype == f.name and s.transform is None] or \
                [s for s in self.ev.series if s.dtype == f.name]
            if not mine:
                continue
            if kind == "metrics":  # a method answers for every metric it computes
                parts.append(self._metrics_answer(f, mine))
                continue
            good = [s for s in mine if not self.codes[id(s)].any()]
            if len(good) == len(mine):
                parts.append(f"{f.name}: every method shown is ok")
                continue
            undefined = all(int(c) in (OK, UNDEFINED) for s in mine for c in self.codes[id(s)])
            if undefined:
                parts.append(f"{f.name}: no value exists for some rows; handle them before "
                             "the call")
                continue
            if good:
                m = next((s for s in good if s.peer is None), good[0])
                parts.append(f"{f.name}: use {m.method}" + _library(kind, m.method))
                continue
            bad = next(s for s in mine if self.codes[id(s)].any())
            code = max(int(c) for c in self.codes[id(bad)] if c != UNDEFINED)
            text, c = self._advised(bad, code)
            if c is None:
                parts.append(f"{f.name}: {text}")
            else:
                parts.append(f"{f.name}: use {c.label}" + _library(kind, c.method))
        return "answer: " + "; ".join(parts)


    def _metrics_answer(self, f: Any, mine: list) -> str:
        import numpy as np

        methods: dict[str, list] = {}
        for s in mine:
            methods.setdefault(s.method, []).append(s)

        def fine(ss):  # ok, or no value to compute (undefined)
            return all(np.isin(self.codes[id(s)], (OK, UNDEFINED)).all() for s in ss)

        good = [m for m, ss in methods.items() if fine(ss)]
        if len(good) == len(methods):
            return f"{f.name}: every method shown is ok"
        if good:
            return f"{f.name}: use {good[0]}"
        bad = next(s for s in mine if not np.isin(self.codes[id(s)], (OK, UNDEFINED)).all())
        code = max(int(c) for c in self.codes[id(bad)] if c != UNDEFINED)
        text, c = self._advised(bad, code)
        return f"{f.name}: {text}" if c is None else f"{f.name}: use {c.label}"


def _library(kind: str, method: str) -> str:
    text = LIBRARY_METHOD.get((kind, method))
    return f" — {text}" if text else ""


# --- reasons --------------------------------------------------------------------------------

def bits_lost(bits: float, f: Any) -> str:
    """Herbie's bits of error in words: 'b of float16's 11 significand bits are wrong', or, when
    the result is further off than the significand is wide (0 against a tiny exact value: the
    count runs over the exponent range too), 'no bit is right'."""
    p = f.precision
    if bits >= p:
        return f"no bit is right: {bits:.1f} bits of error, {f.name} has {p}"
    return f"{bits:.1f} of {f.name}'s {p} significand bits are wrong"


def _inputs(ev: Any, s: Any, i: int):
    """(given values as float64, the row in the dtype as float64, the arguments of exp)."""
    import numpy as np

    b = ev.batch
    given = np.asarray(b.data[i], dtype=np.float64)
    x64 = b.rounded(i, s.format).astype(np.float64)
    xin = x64
    if s.transform is not None:
        xin = s.transform.apply(b.rounded(i, s.format), s.param, s.format).astype(np.float64)
    return given, x64, xin


def _typed(ev: Any, i: int, j: int, given: Any) -> str:
    b = ev.batch
    if b.numbers is not None and i == 0 and j < len(b.numbers):
        return b.numbers[j].text
    return short(given[j], 17)


def _reason(v: Verdicts, s: Any, i: int, code: int) -> str:
    ev = v.ev
    if getattr(ev, "pointwise", False):
        return _point_reason(v, s, i, code)
    if ev.plan.kind == "metrics":
        return _metric_reason(v, s, code)
    f = s.format
    a = s.arrays
    kind = ev.plan.kind
    grad = kind not in ("lse", "softmax")  # a vector gradient (smoothcli.methods.vjp)
    fn = "the smooth max" if s.transform is not None and s.transform.name == "k" else (
        "gradient" if grad else "softmax" if s.vector else "LSE")
    given, x64, xin = _inputs(ev, s, i)
    import numpy as np

    with np.errstate(all="ignore"):
        finite = np.isfinite(xin)
    top = float(a["max"][i])
    sumexp = float(a["sumexp"][i])
    acc = s.acc_dtype
    naive = s.method in ("naive", "exp-lse")
    if code == UNDEFINED:
        if np.isnan(x64).any():
            return "an input is NaN: the exact value does not exist (NaN in, NaN out)"
        if kind == "softmax" and (x64 == np.inf).any():
            return ("an input is +inf: softmax needs inf/inf (inf − inf after the shift), "
                    f"which has no value; {LIBRARIES_UNDEFINED}")
        if kind == "softmax" and s.method == "safe":
            return ("every input is -inf (a fully masked row): softmax = 0/0 has no value; the "
                    "safe method returns zeros by convention (torch's _safe_softmax, pytorch PR "
                    "#131060): a chosen value, not an accurate one")
        if kind == "softmax" or grad:
            return ("every input is -inf (a fully masked row): softmax = 0/0 has no value; "
                    f"{LIBRARIES_UNDEFINED}")
        return "the exact value does not exist"
    t = _thresholds(f.name)
    big = "inf" if f.has_inf else "NaN"
    fmax = float(f.max_finite)
    if code == OVERFLOW:
        if a["inputs_overflowed"][i]:
            with np.errstate(all="ignore"):
                gone = np.flatnonzero(np.isfinite(given) & ~np.isfinite(xin))
            if gone.size:
                j = int(gone[0])
                if s.transform is not None and np.isfinite(x64[j]):
                    op = "/" if s.transform.name == "temperature" else "·"
                    return (f"x = {show(x64[j], f)} {op} {s.transform.text} is beyond "
                            f"{f.name}'s max {short(fmax, 8)}: it becomes {big}")
                return (f"{_typed(ev, i, j, given)} is beyond {f.name}'s max "
                        f"{short(fmax, 8)}: it rounds to {big}")
            return f"every input rounds to -inf in {f.name}"
        xmax = float(np.max(xin[finite])) if finite.any() else math.nan
        lim = t["largest_finite_x"]
        if naive and xmax > lim:
            tail = {("softmax", "naive"): ", so exp(x)/Σ = inf/inf = NaN",
                    ("softmax", "exp-lse"): ", so LSE = inf and exp(x − LSE) = NaN"}.get(
                        (kind, s.method), ", so Σ and its log are inf")
            return (f"exp({short(xmax, 8)}) = {big}: {f.name}'s exp overflows above x = "
                    f"{short(lim, 17)}" + tail)
        ref = float(a["reference"][i]) if not s.vector else math.nan
        if not s.vector and math.isfinite(ref) and abs(ref) > fmax:
            return (f"the exact {fn} {short(ref, 8)} is beyond {f.name}'s max "
                    f"{short(fmax, 8)}: no {f.name} value holds it")
        if math.isinf(sumexp) or math.isnan(sumexp):
            return (f"each exp(x{'' if naive else ' − m'}) is finite but their sum Σ = "
                    f"{short(sumexp)} passes {acc}'s max {short(fmax, 8)}")
        return f"a step of the {s.method} method overflowed to {big} ({_value_text(s, i)})"
    if code == UNDERFLOW:
        lo = t["smallest_nonzero_x"]
        xmax = float(np.max(xin[finite])) if finite.any() else math.nan
        if sumexp == 0:
            tail = {"lse": "log(0) = -inf"}.get(kind, "exp(x)/Σ = 0/0 = NaN")
            if s.method == "exp-lse":
                tail = "LSE = log(0) = -inf and exp(x − LSE) = inf"
            return (f"every exp(x) rounds to 0 in {acc} (the largest x is {short(xmax, 8)}, "
                    f"below {short(lo, 17)}), so Σ = 0 and {tail}")
        return (f"Σ exp = {short(sumexp)} is subnormal in {acc}, and the result is "
                f"{_value_text(s, i)}")
    if code == NAN:
        if (x64 == np.inf).any() and grad:
            return (f"an input is +inf: x − max = inf − inf = NaN inside the {s.method} method; "
                    "the gradient's limit as that input grows is the one-hot of the +inf "
                    "entries (torch and jax return NaN too)")
        if (x64 == np.inf).any():
            return (f"an input is +inf: x − max = inf − inf = NaN inside the {s.method} method, "
                    f"although the exact {fn} is +inf")
        return f"the result is NaN although the exact {fn} is not"
    # inaccurate
    bits, ulp = float(a["bits"][i]), float(a["ulp_error"][i])
    p = f.precision
    if bits <= p / 2 and v.max_ulp is not None:
        return f"{ulps(ulp)} ULP > --max-ulp {v.max_ulp:g}"
    lost = bits_lost(bits, f)
    if not s.vector:
        val, ref = float(a["value"][i]), float(a["reference"][i])
        gap = ref - top if math.isfinite(top) and math.isfinite(ref) else math.nan
        if val == top and gap > 0 and sumexp == 1:
            tt = math.expm1(gap)
            what = "LSE" if top == 0 else "LSE − max"
            return (f"Σ exp(x − m) = 1 + {short(tt, 2)} rounds to 1 in {acc}, so log gives 0 "
                    f"and all of {what} ≈ {short(gap, 2)} is lost ({lost})")
        if a["underflow"][i] and sumexp != 0:
            return (f"Σ exp(x) = {short(sumexp)} is subnormal in {acc} (below "
                    f"{short(float(f.smallest_normal))}): it keeps few bits, so {show(val, f)} "
                    f"is {ulps(ulp)} ULP from the exact {short(ref, 8)} ({lost})")
        return f"{show(val, f)} is {ulps(ulp)} ULP from the exact {short(ref, 8)} ({lost})"
    where_ = _worst_element(s, i)
    if a["underflow"][i] and sumexp != 0:
        return (f"Σ exp = {short(sumexp)} is subnormal in {acc}: the division by it loses "
                f"bits; {where_}{ulps(ulp)} ULP off ({lost})")
    if s.method.endswith("exp-lse"):
        return (f"exp(x − LSE) magnifies LSE's rounding error by |x − LSE|; {where_}"
                f"{ulps(ulp)} ULP off ({lost})")
    return f"{where_}{ulps(ulp)} ULP off ({lost})"


def _worst_element(s: Any, i: int) -> str:
    import numpy as np

    el = s.elements[i] if s.elements is not None else None
    if el is None:
        return "the worst element is "
    u = np.where(np.isnan(el["ulp_errors"]), np.inf, el["ulp_errors"])
    j = int(np.argmax(u))
    return (f"element {j} = {show(el['value'][j], s.format)} (exact "
            f"{short(el['reference'][j], 8)}) is ")


def _value_text(s: Any, i: int) -> str:
    if s.vector:
        return f"worst element {ulps(s.arrays['ulp_error'][i])} ULP off"
    return show(s.arrays["value"][i], s.format)


# --- reasons of pointwise functions (sigmoid family, smooth |x|, the smooth max of two) ------

def point_text(ev: Any, s: Any, q: int) -> str:
    """The point ``q`` as the user gave it: 'x = -12' (the typed token where there is one)."""
    from smoothcli.methods.pointwise import pointwise
    from smoothcli.report.rows import point_input

    name = "x" if pointwise(ev.plan.kind).arity == 1 else "(x, y)"
    return f"{name} = {point_input(ev, q)}"


def _point_reason(v: Verdicts, s: Any, q: int, code: int) -> str:
    from smoothcli.methods.pointwise import pointwise

    ev, f, a = v.ev, s.format, s.arrays
    spec = pointwise(s.function)
    at = point_text(ev, s, q)
    big = "inf" if f.has_inf else "NaN"
    fmax = float(f.max_finite)
    val, ref, e = float(a["value"][q]), float(a["reference"][q]), float(a["exp"][q])
    eform = spec.exp_forms.get(s.method) if s.peer is None else None
    p = f.precision
    if code == UNDEFINED:
        return f"at {at}: an input is NaN, so the exact value does not exist (NaN in, NaN out)"
    if a["inputs_overflowed"][q]:
        return (f"at {at}: the input is beyond {f.name}'s max {short(fmax, 8)}: it rounds to "
                f"{big}")
    exp_over = eform is not None and not math.isfinite(e)
    lim = _thresholds(f.name)["largest_finite_x"]
    over_text = (f"{eform} = {big} in {f.name} (its exp overflows above {short(lim, 17)})"
                 if eform and eform.startswith("e^") else f"{eform} = {big} in {f.name}")
    why = _explained(spec, s, q)
    if code == OVERFLOW:
        if abs(ref) > fmax:
            return (f"at {at}: the exact value {short(ref, 8)} is beyond {f.name}'s max "
                    f"{short(fmax, 8)}: no {f.name} value holds it")
        if why:
            return f"at {at}: {why}, so the result is {show(val, f)}"
        if exp_over:
            return f"at {at}: {over_text}, so the result is {show(val, f)}"
        return f"at {at}: a step of the {s.method} method overflowed ({show(val, f)})"
    if code == NAN:
        if why:
            return f"at {at}: {why}; the exact value is {short(ref, 8)}"
        if exp_over:
            return (f"at {at}: {over_text}, and the {s.method} form turns it into NaN "
                    f"(inf/inf or inf − inf)")
        return f"at {at}: the result is NaN although the exact value {short(ref, 8)} is not"
    bits, ulp = float(a["bits"][q]), float(a["ulp_error"][q])
    if bits <= p / 2 and v.max_ulp is not None:
        return f"at {at}: {ulps(ulp)} ULP > --max-ulp {v.max_ulp:g}"
    lost = bits_lost(bits, f)
    off = f"{show(val, f)} is {ulps(ulp)} ULP from the exact {short(ref, 8)} ({lost})"
    if why:
        return f"at {at}: {why}: {off}"
    if exp_over:
        return f"at {at}: {over_text}, so {off}"
    if eform is not None and math.isfinite(e) and e > 0 and "1 + e" in _steps(spec, s.method):
        one = f.np.type(1)
        if one + f.np.type(e) == one:
            return (f"at {at}: 1 + {eform} = 1 + {short(e, 3)} rounds to 1 in {f.name}, so "
                    f"the term is lost: {off}")
    if s.method == "cosh" and e == 1:
        return f"at {at}: cosh(kx/2) rounds to 1 in {f.name}, so its log is 0: {off}"
    if a["underflow"][q]:
        return (f"at {at}: the result {show(val, f)} is 0 or subnormal in {f.name} although "
                f"the exact {short(ref, 8)} is not ({lost})")
    return f"at {at}: {off}"


def _explained(spec: Any, s: Any, q: int) -> str | None:
    """The function's own words for point ``q`` of series ``s`` (the gradient forms name the
    backward step that lost the value: :mod:`smoothcli.report.gradient_steps`), or None.  The
    method is run again on that one point, in the dtype, to read its intermediates."""
    from smoothcli.report.gradient_steps import STEPS, explain

    if s.method not in STEPS.get(spec.name, {}) or s.peer is not None or spec.arity != 1:
        return None
    import numpy as np

    x = np.array([s.arrays["x"][q]]).astype(s.format.np)
    trace = spec.run(s.method, (x,), None if s.param is None else s.format.np.type(s.param))
    return explain(spec.name, s.method, trace, s.format)


def _steps(spec: Any, method: str) -> tuple:
    """The names of the intermediates a pointwise method records (evaluated on one point)."""
    import numpy as np

    key = (spec.name, method)
    if key not in _STEPS:
        x = np.array([1.0] * spec.arity, dtype=np.float64)
        cols = tuple(x[j:j + 1] for j in range(spec.arity))
        _STEPS[key] = tuple(spec.run(method, cols, np.float64(1.0) if spec.param else None
                                     ).steps)
    return _STEPS[key]


_STEPS: dict = {}


# --- reasons of the metrics ------------------------------------------------------------------

#: Why a metric has no exact value: the denominator that vanishes.
METRIC_UNDEFINED = {
    "precision": "Σσ(s) = 0: no sample has any weight on the positive class",
    "recall": "there are no positive labels (Σt = 0), so recall = Σσt/Σt = 0/0",
    "f1": "Σt + Σσ(s) = 0",
}


def _metric_reason(v: Verdicts, s: Any, code: int) -> str:
    f, a = s.format, s.arrays
    name = s.function
    val, ref = float(a["value"][0]), float(a["reference"][0])
    acc = s.acc_dtype
    if code == UNDEFINED:
        return METRIC_UNDEFINED.get(name, "the exact value does not exist")
    if code == OVERFLOW:
        return (f"k·s, an exponential or a sum over the batch overflowed {f.name} (max "
                f"{short(float(f.max_finite), 8)}), so {name} = {show(val, f)} against the exact "
                f"{short(ref, 8)}")
    if code == UNDERFLOW:
        return (f"a denominator (Σσ(s) or Σ exp) was computed as 0 or subnormal in {acc}, so "
                f"{name} = {show(val, f)} against the exact {short(ref, 8)}")
    if code == NAN:
        if name == "bce" and s.method == "naive":
            return (f"σ(s) or 1 − σ(s) rounded to 0 in {f.name}, so log gives -inf and "
                    f"0·(−inf) = NaN in the naive bce; the exact bce is {short(ref, 8)}")
        return f"{name} is NaN although the exact value {short(ref, 8)} is not"
    bits, u = float(a["bits"][0]), float(a["ulp_error"][0])
    p = f.precision
    if bits <= p / 2 and v.max_ulp is not None:
        return f"{ulps(u)} ULP > --max-ulp {v.max_ulp:g}"
    lost = bits_lost(bits, f)
    off = f"{show(val, f)} is {ulps(u)} ULP from the exact {short(ref, 8)} ({lost})"
    if name == "accuracy_loss" and s.method == "naive":
        return f"1 − accuracy cancels when the accuracy is close to 1: {off}"
    n = v.ev.batch.n
    if acc in ("float16", "bfloat16") and s.order == "sequential" and n > 2 ** (p - 1):
        return (f"the Σ over {n:,} samples ran left to right in {acc}: once the running sum "
                f"passes 2^{p} each added term ≤ 1 is rounded away; {off}")
    return off
