"""Stage 4 at scale: a vectorised reference for LSE and softmax with a proven error bound, and
mpmath exactly where that bound is not good enough.

The per-element mpmath reference of :mod:`smoothcli.reference.exact` costs ~15 µs per element: minutes
for a batch of vocabulary-sized rows.  This module computes the same exact quantities — LSE(x) and
softmax(x) of the dtype-rounded inputs x — with numpy, and carries an error bound along.  The
bound decides, row by row and target dtype by target dtype, whether the fast value is used or the
row (or a single element) is recomputed with the mpmath Ziv loop.  Agreement we guarantee with
the exact value: at most ``TAU`` = 1/128 ULP of the target dtype (tests/test_fastref.py checks
0.01 ULP against mpmath on random and adversarial rows).

The computation (m = max x, one row, n elements; every bound below is relative unless said so)::

    d_i = x_i - m                 exact (TwoSum: d_i = hi_i + lo_i) or rounded, see the paths
    t_i = exp(d_i)                 every t_i <= 1, and t_k = 1 for the max
    S   = sum t_i                  exact-high-part sum: h_i = t_i rounded to a 2**-g grid (Dekker's
                                   (t + C) - C split), so sum h_i is EXACT in any order while
                                   n <= 2**20 per chunk; the low parts |l_i| <= 2**-(g+1) add an
                                   absolute error <= n * m * u * 2**-(g+1), m = min(n, CHUNK):
                                   each chunk of m terms sums its low parts (|l_i| <= 2**-(g+1))
                                   with error <= (m - 1) u sum |l_i| in any order (Higham, ASNA
                                   (4.4)), and the chunk sums are added exactly
    LSE = m + log(S)               in mpmath at 160 bits from the exact S = H + L (one call per row)
    y_i = t_i / S                  the softmax

Error bound (Higham, "Accuracy and Stability of Numerical Algorithms", ch. 2-4):

    e_t  >= |computed t_i / exp(x_i - m) - 1|   per term, from the exp and the argument
    e_S  = e_t + (n*m * u * 2**-(g+1) + n * 2**-1074) / S      relative error of S (S >= 1)
    E    = e_S / (1 - e_S) + |LSE| * 2**-150                     absolute error of LSE
    e_y  = e_t + e_S + 2u                                          relative error of each y_i

Two paths, by the precision p of the most demanding target dtype sharing the inputs:

* p <= 24 (float16, float32): float64, u = 2**-53.  d_i = fl(x_i - m) has relative error u and
  |d_i| <= 746 whenever exp(d_i) is not below 2**-1074, so the argument costs 746u; numpy's float64
  exp is assumed accurate to 2**-44 (glibc and numpy's SIMD exp are within 4 ULP = 2**-51; the
  margin costs nothing here).  e_t = 2**-44 + 746 * 2**-53 ~ 2**-42.9, e_y ~ 2**-41.9:
  ~2**-18 ULP of float32.
* p <= 53 (float64) when numpy's long double is the x87 80-bit format (64-bit significand,
  ``finfo(longdouble).nmant >= 63``): d_i = hi_i + lo_i exactly (TwoSum in float64),
  t_i = expl(hi_i) * (1 + lo_i) in long double, u = 2**-64; glibc documents expl within 1 ULP on
  x86-64 (libm-test-ulps), we assume 2 ULP = 2**-62.  e_t = 2**-62 + 2**-63 (the (1 + lo) factor),
  e_y ~ 2.5 * 2**-62: at most 2.5 * 2**-9 ~ 0.0049 ULP of float64 (y/ulp(y) < 2**53).
  Where long double is plain float64 (MSVC, Apple silicon), float64 targets use mpmath.

A softmax reference carries the LSE only as the float64 m + log S with its bound (it enters
nothing but the leading-order error bound of the softmax, :mod:`smoothcli.measure.bounds`): the
160-bit logarithm and the TAU promise below are for LSE references.

Where the bound is not enough, mpmath decides (the switch is exactly the bound's verdict):

* LSE cancellation (|LSE| << m, e.g. m = -log n): E > TAU * ulp(|LSE| - E) for some target;
* LSE within E of a power of two: the target's ULP at the reference is ambiguous;
* a softmax element within e_y of a power of two (recomputed alone, from the mpmath LSE).  A
  softmax value is *exactly* a power of two only when all finite inputs are equal (their count a
  power of two): exp(x_i)/sum exp(x_j) = 2**k with distinct rational exponents would contradict
  the Lindemann-Weierstrass theorem.  Rows of equal values (and single values) are therefore
  computed exactly: LSE = x + log c and softmax = 1/c.

Special values follow :mod:`smoothcli.reference.exact` (scipy's conventions): a NaN gives NaN, a +inf
gives LSE +inf and softmax NaN at the infinities and 0 elsewhere, -inf terms contribute 0, and a
row of -inf has LSE -inf and softmax NaN.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

#: mpmath keeps its working precision in a global context: code that may run on several threads
#: (smoothcli.engine.evaluate) does every mpmath step under this lock.
MP_LOCK = threading.RLock()

#: The largest reference error, in ULPs of a target dtype, the fast path may leave.
TAU = 1.0 / 128
#: Assumed relative accuracy of numpy's float64 exp (documented/measured: <= 4 ULP = 2**-51).
F64_EXP_REL = 2.0 ** -44
#: Assumed relative accuracy of long double exp (glibc x86-64 expl: <= 1 ULP = 2**-63).
LD_EXP_REL = 2.0 ** -62
U64 = 2.0 ** -53
ULD = 2.0 ** -64
#: Rows are summed in chunks of at most this many elements (the exact-high-part sum needs it).
CHUNK = 1 << 20
#: Granularity exponents g of the high parts: sum of <= 2**20 terms <= 1 on a 2**-g grid needs
#: 20 + g bits: 52 in float64, 63 in the x87 format.
_G64, _GLD = 32, 43
#: mpmath working precision for log(S) and m + log(S).
_PREC = 160
#: Below TINY a double-double pair loses bits (its low part reaches the subnormal range): such
#: softmax elements are also kept scaled by 2**TINY_SCALE (exact) for float64 targets.
TINY = 2.0 ** -960
TINY_SCALE = 1074


def longdouble_ok() -> bool:
    """True when numpy's long double has at least a 64-bit significand (x87 or IEEE quad)."""
    import numpy as np

    return int(np.finfo(np.longdouble).nmant) >= 63


#: Whether float64 targets may use the long double path (tests switch it off).
LONGDOUBLE_OK: bool | None = None


def _ld_enabled() -> bool:
    global LONGDOUBLE_OK
    if LONGDOUBLE_OK is None:
        LONGDOUBLE_OK = longdouble_ok()
    return LONGDOUBLE_OK


@dataclass
class RowReference:
    """The exact LSE and softmax of one row's inputs, with how they were obtained.

    ``softmax_hi + softmax_lo`` is the softmax reference (``softmax_lo`` may be None: zero).  The
    arrays live in a :class:`Workspace` and are overwritten by the next row.
    """

    kind: str  # fast-float64 | fast-longdouble | exact | special | mpmath
    lse: Any  # mpf
    lse_bound: Any  # absolute error bound of lse (float, or mpf for mpmath results)
    softmax_hi: Any = None
    softmax_lo: Any = None
    softmax_rel_bound: float = 0.0
    mpmath_elements: int = 0  # softmax elements recomputed with mpmath (power-of-two proximity)
    lse_mpmath: bool = False  # the LSE needed mpmath (cancellation or power-of-two proximity)
    sum_parts: Any = None  # (H, L): S = Σ exp(x_i - m) as computed is exactly H + L
    sum_exact: Any = None  # H + L as an exact mpf, once exact_sum() has formed it
    sum_rel: float = 0.0  # |S_true / S - 1| <= sum_rel
    has_zero: bool | None = None  # the softmax reference holds zeros (filled in by batch)
    frexp: Any = None  # (mantissas, exponents) of softmax_hi, when computed
    # Softmax elements below TINY (float64's subnormal range is near): hi + lo cannot hold them to
    # the accuracy a float64 target needs, so (indices, hi, lo) of y * 2**TINY_SCALE are kept too.
    tiny: Any = None
    softmax_mpf: Any = None  # the mpmath row's elements (mpf), for their decimal text
    text: str | None = None  # the LSE's decimal text, once written (engine.evaluate.lse_text)
    pair: Any = None  # the LSE as (hi, lo) doubles, once split (engine.evaluate)

    def exact_sum(self) -> Any:
        """S = H + L as an exact mpf (formed once, when first asked for)."""
        import mpmath

        if self.sum_exact is None:
            H, L = (v if isinstance(v, mpmath.mpf) else _mpf(v) for v in self.sum_parts)
            self.sum_exact = mpmath.fadd(H, L, exact=True)
        return self.sum_exact

    @property
    def nan(self) -> bool:
        import mpmath

        return bool(mpmath.isnan(self.lse))


class Workspace:
    """Reusable buffers (``out=`` targets): fresh multi-megabyte temporaries for every row would
    cost a page fault per 4 KiB page."""

    def __init__(self) -> None:
        self._bufs: dict = {}

    def get(self, name: str, dtype: Any, n: Any):
        """A buffer of ``n`` elements, or of shape ``n`` (a tuple: a block of rows)."""
        import numpy as np

        shape = n if isinstance(n, tuple) else None
        size = math.prod(shape) if shape is not None else n
        key = (name, np.dtype(dtype).str)
        buf = self._bufs.get(key)
        if buf is None or buf.size < size:
            buf = np.empty(max(size, 16), dtype=dtype)
            self._bufs[key] = buf
        return buf[:size] if shape is None else buf[:size].reshape(shape)


def floor_log2_mpf(v: Any) -> int:
    """floor(log2 v) for a positive finite mpf, exactly."""
    man, exp = v.man_exp
    return int(exp) + int(man).bit_length() - 1


def lse_good_enough(lse: Any, bound: float, fmt) -> bool:
    """Whether an LSE known to within ``bound`` fixes the target's ULP and errors to TAU ULP."""
    import mpmath

    if bound == 0 or not mpmath.isfinite(lse):
        return True
    if isinstance(bound, float) and _clearly_good(float(lse), bound, fmt):
        return True
    # exact operations: lse may carry more bits than mpmath's working precision, and rounding
    # |lse| - bound could move it across a power of two
    a = lse if lse >= 0 else mpmath.fneg(lse, exact=True)
    lo, hi = mpmath.fsub(a, bound, exact=True), mpmath.fadd(a, bound, exact=True)
    if lo <= 0:
        return False
    e_lo = max(floor_log2_mpf(lo), fmt.emin)
    e_hi = max(floor_log2_mpf(hi), fmt.emin)
    if e_lo != e_hi:
        return False
    return bool(mpmath.mpf(bound) <= TAU * mpmath.ldexp(1, e_lo - fmt.precision + 1))


def _clearly_good(a: float, bound: float, fmt) -> bool:
    """A sufficient condition for :func:`lse_good_enough`, in floats: ``a`` is the LSE rounded
    to float64 (relative error <= 2**-53); with a margin of 2**-50 for that rounding and the
    float operations here, a - bound and a + bound lie in one binade (or both below the
    format's normal range, where the ULP is the same) and the bound is within TAU of its ULP."""
    a = abs(a)
    if not (0 < a < math.inf):
        return False
    lo = a * (1 - 2.0 ** -50) - bound * (1 + 2.0 ** -50)
    hi = a * (1 + 2.0 ** -50) + bound * (1 + 2.0 ** -50)
    if not lo > 0:
        return False
    e_lo = max(math.frexp(lo)[1] - 1, fmt.emin)
    e_hi = max(math.frexp(hi)[1] - 1, fmt.emin)
    return e_lo == e_hi and bound <= TAU * math.ldexp(1.0, e_lo - fmt.precision + 1)


def softmax_good_enough(rel: float, fmt) -> bool:
    """Whether softmax elements known to relative ``rel`` are within TAU ULP of ``fmt``: a value y
    (normal or not) has y / ulp(y) < 2**p, so the error is below rel * 2**p ULP."""
    return rel * 2.0 ** fmt.precision <= TAU


def _mpf(v: Any):
    """A float64 or long double as an exact mpf (a long double is split into two doubles)."""
    import mpmath
    import numpy as np

    if isinstance(v, np.longdouble):
        if not np.isfinite(v) or v == 0:
            return mpmath.mpf(float(v))
        # v = M * 2**(e - 64) with M an integer below 2**64 (64-bit significand), taken apart
        # into two doubles so that values outside float64's range convert exactly too
        m, e = np.frexp(v)
        big = np.ldexp(m, 64)
        a = float(np.float64(big))
        b = float(np.float64(big - np.longdouble(a)))  # exact: at most 11 bits left
        return mpmath.ldexp(mpmath.fadd(a, b, exact=True), int(e) - 64)
    return mpmath.mpf(float(v))


def _special(x, need_softmax: bool, ws: Workspace) -> RowReference | None:
    """Rows with NaN or +inf, or only -inf: the scipy conventions, exactly."""
    import mpmath
    import numpy as np

    top = x.max()
    if not (np.isnan(top) or top == np.inf or top == -np.inf):
        return None
    hi = None
    if np.isnan(top):
        lse = mpmath.mpf("nan")
        if need_softmax:
            hi = ws.get("y", np.float64, x.size)
            hi.fill(np.nan)
    elif top == np.inf:
        lse = mpmath.mpf("inf")
        if need_softmax:
            hi = ws.get("y", np.float64, x.size)
            hi.fill(0.0)
            hi[x == np.inf] = np.nan
    else:
        lse = mpmath.mpf("-inf")
        if need_softmax:
            hi = ws.get("y", np.float64, x.size)
            hi.fill(np.nan)
    return RowReference("special", lse, 0.0, hi, None, 0.0)


def _ties(x, m: float, c: int, need_softmax: bool, ws: Workspace) -> RowReference:
    """All c finite inputs equal m: LSE = m + log c, softmax 1/c (0 at -inf), exactly."""
    import mpmath
    import numpy as np

    from smoothcli.reference.exact import converge

    lse = mpmath.mpf(m) if c == 1 else converge(lambda: mpmath.mpf(m) + mpmath.log(c))
    hi = lo = None
    if need_softmax:
        q = Fraction(1, c)
        h = float(q)
        low = float(q - Fraction(h))
        hi = ws.get("y", np.float64, x.size)
        lo = ws.get("ylo", np.float64, x.size)
        finite = x != -np.inf
        hi.fill(0.0)
        lo.fill(0.0)
        hi[finite] = h
        lo[finite] = low
    bound = 0.0 if c == 1 else float(abs(lse)) * 2.0 ** -95
    return RowReference("exact", lse, bound, hi, lo, 2.0 ** -105)


def _split_sum(t, grid_exp: int, ws: Workspace, tag: str, exact: bool = True):
    """(H, L) with sum(t) = H + L + err: H exact, |err| <= n*m * u * 2**-(g+1), m = min(n,
    CHUNK) (module doc).

    t holds values in [0, 1]: one row, or a block of rows (2-D: H and L one per row; numpy's
    reduction of a contiguous row along the last axis is the one it applies to a 1-D array, so a
    row's sums do not depend on the block it is in); chunks of at most CHUNK elements.  H and L
    are exact mpfs; without ``exact``, rows of one chunk keep them as arrays of t's dtype (H is
    a value of it, exactly), and :meth:`RowReference.exact_sum` forms H + L only if asked."""
    import mpmath
    import numpy as np

    rows = t.reshape(-1, t.shape[-1])
    dt = t.dtype
    c = dt.type(1.5) * dt.type(2.0) ** (52 - grid_exp if dt == np.float64 else 63 - grid_exp)
    H: Any = [None] * rows.shape[0]
    L: Any = [None] * rows.shape[0]
    for start in range(0, rows.shape[1], CHUNK):
        chunk = rows[:, start:start + CHUNK]
        h = ws.get("h" + tag, dt, chunk.shape)
        low = ws.get("l" + tag, dt, chunk.shape)
        np.add(chunk, c, out=h)
        np.subtract(h, c, out=h)  # t rounded to the 2**-g grid (exact operations, Sterbenz)
        np.subtract(chunk, h, out=low)  # exact
        hs, ls = h.sum(axis=-1), low.sum(axis=-1)  # every partial sum of hs is exact
        if start == 0 and not exact and rows.shape[1] <= CHUNK:
            H, L = hs, ls
            break
        for r in range(rows.shape[0]):
            if start == 0:
                H[r], L[r] = _mpf(hs[r]), _mpf(ls[r])
            else:
                H[r] = mpmath.fadd(H[r], _mpf(hs[r]), exact=True)
                L[r] = mpmath.fadd(L[r], _mpf(ls[r]), exact=True)
    return (H, L) if t.ndim > 1 else (H[0], L[0])


def _sums(H: Any, L: Any):
    """float64(H + L) of every row: for float64 parts the sum rounded once; for long double
    parts the long double sum rounded to float64 (within 1 ULP: it only enters the bounds and
    the float LSE); for mpfs the exact sum rounded once."""
    import mpmath
    import numpy as np

    if isinstance(H, np.ndarray):
        return (H + L).astype(np.float64)
    return np.array([float(mpmath.fadd(h, l_, exact=True)) for h, l_ in zip(H, L)])


def _path(formats) -> str:
    p = max(f.precision for f in formats)
    if p <= 24:
        return "float64"
    if p <= 53 and _ld_enabled():
        return "longdouble"
    return "mpmath"


def row_reference(x, formats: Sequence[Any], need_softmax: bool,
                  ws: Workspace | None = None, exact: bool = False) -> RowReference:
    """The reference for one row ``x`` (1-D float64 holding the dtype-rounded inputs exactly),
    good to TAU ULP in every format of ``formats`` (the targets that share these inputs).

    ``exact``: the mpmath Ziv loop of :mod:`smoothcli.reference.exact` for the whole row (every
    element to 96 bits, the printed reference to 17 correct digits) instead of the fast path;
    special rows and ties are exact either way."""
    import numpy as np

    ws = ws or Workspace()
    special = _special(x, need_softmax, ws)
    if special is not None:
        return special
    m = float(x.max())
    lowest = float(x.min())
    ninf = int(np.count_nonzero(x == -np.inf)) if lowest == -np.inf else 0
    if ninf:
        lowest = float(np.min(x[x != -np.inf]))
    if lowest == m:
        with MP_LOCK:
            return _ties(x, m, x.size - ninf, need_softmax, ws)
    path = "mpmath" if exact else _path(formats)
    if path == "mpmath":
        with MP_LOCK:
            return mpmath_row(x, need_softmax, ws)
    fast = _fast_float64 if path == "float64" else _fast_longdouble
    ref = fast(x[None, :], np.array([m]), need_softmax, ws)[0][0]
    with MP_LOCK:
        return _settle(x, ref, formats, need_softmax, ws)


def block_references(x, formats: Sequence[Any], need_softmax: bool, ws: Workspace,
                     row_ws: Workspace):
    """The references of a block of rows (2-D float64, rows of dtype-rounded inputs) that are
    *regular*: every input finite, not all equal, and a fast path for ``formats``
    (:func:`block_regular`).  Each row's reference is the one :func:`row_reference` gives it:
    the same vectorised steps over the block, then the per-row steps (mpmath's log of S, the
    bound's verdict, the elements near a power of two) row by row, in ``row_ws``.

    Returns (references, hi, lo): the softmax reference of every row in the block arrays hi and
    lo (2-D; each reference's arrays are their rows), or None and None for LSE."""
    import numpy as np

    m = x.max(axis=-1)
    fast = _fast_float64 if _path(formats) == "float64" else _fast_longdouble
    refs, hi, lo = fast(x, m, need_softmax, ws)
    near = None
    if need_softmax:
        if lo is None:
            lo = ws.get("ylo", np.float64, x.shape)
            lo.fill(0.0)  # the float64 path's reference has no low part: zero
        rel = np.array([ref.softmax_rel_bound for ref in refs])
        near = _near_powers_of_two(hi, rel, formats).any(axis=-1)
    with MP_LOCK:
        for r, ref in enumerate(refs):
            _settle(x[r], ref, formats, need_softmax, row_ws,
                    powers=near is None or bool(near[r]))
            if need_softmax:  # what the per-row steps replaced, back into the block arrays
                if ref.softmax_hi is not hi[r]:
                    hi[r] = ref.softmax_hi
                if ref.softmax_lo is not lo[r]:
                    lo[r] = 0.0 if ref.softmax_lo is None else ref.softmax_lo
                ref.softmax_hi, ref.softmax_lo, ref.frexp = hi[r], lo[r], None
    return refs, hi, lo


def block_regular(x, formats: Sequence[Any], exact: bool = False):
    """Which rows of a block (2-D float64) :func:`block_references` takes (the others go to
    :func:`row_reference`: special values, ties, or no fast path for these formats); with
    ``exact`` (the Ziv reference, one row at a time) every row but special values and ties."""
    import numpy as np

    if not exact and _path(formats) == "mpmath":
        return np.zeros(x.shape[0], dtype=bool)
    lo, hi = x.min(axis=-1), x.max(axis=-1)
    return np.isfinite(lo) & np.isfinite(hi) & (lo < hi)


def _settle(x, ref: RowReference, formats, need_softmax: bool, ws: Workspace,
            powers: bool = True) -> RowReference:
    """Apply the bound: mpmath for the LSE / softmax / elements where it is not good enough.
    ``powers`` False: the caller knows that no softmax element is near a power of two."""
    # (a softmax's LSE only enters the leading-order bound of its error, as a float)
    if not need_softmax and not all(lse_good_enough(ref.lse, ref.lse_bound, f)
                                    for f in formats):
        ref.lse = _mpmath_lse(x)
        ref.lse_bound = ziv_bound(ref.lse)
        ref.lse_mpmath = True
    if need_softmax:
        if not all(softmax_good_enough(ref.softmax_rel_bound, f) for f in formats):
            soft = mpmath_row(x, True, ws)
            ref.softmax_hi, ref.softmax_lo = soft.softmax_hi, soft.softmax_lo
            ref.softmax_rel_bound = soft.softmax_rel_bound
            ref.softmax_mpf, ref.tiny = soft.softmax_mpf, soft.tiny
            ref.mpmath_elements = x.size
        elif powers:
            _fix_powers_of_two(x, ref, formats, ws)
    return ref


def ziv_bound(lse: Any) -> float:
    import mpmath

    from smoothcli.reference.exact import TARGET_BITS

    if not mpmath.isfinite(lse):
        return 0.0
    # an mpf: as a float this bound would underflow to 0 for a subnormal LSE
    return mpmath.ldexp(mpmath.fabs(lse), -TARGET_BITS + 1)


def _mpmath_lse(x):
    from smoothcli.reference.exact import lse_reference

    return lse_reference(x.tolist())


def _fast_float64(x, m, need_softmax: bool, ws: Workspace):
    """The float64 path for a block of rows (2-D ``x``, ``m`` each row's max): (references, the
    softmax block or None, None)."""
    import numpy as np

    B, n = x.shape
    d = ws.get("d", np.float64, x.shape)
    t = ws.get("t", np.float64, x.shape)
    with np.errstate(all="ignore"):
        np.subtract(x, m[:, None], out=d)  # -inf stays -inf: exp gives 0
        np.exp(d, out=t)
    Hs, Ls = _split_sum(t, _G64, ws, "64", exact=not need_softmax)
    sums = _sums(Hs, Ls)
    e_t = F64_EXP_REL + 746 * U64
    refs = [_from_sum(float(m[r]), Hs[r], Ls[r], sums[r], n, U64, _G64, e_t, "fast-float64",
                      not need_softmax) for r in range(B)]
    if not need_softmax:
        return refs, None, None
    _float_lse(refs, m, sums)
    np.divide(t, sums[:, None], out=t)
    for r, ref in enumerate(refs):
        ref.softmax_hi = t[r]
        ref.softmax_rel_bound = e_t + ref.sum_rel + 2 * U64
    return refs, t, None


def _from_sum(m: float, H: Any, L: Any, s: float, n: int, u: float, g: int, e_t: float,
              kind: str, need_lse: bool) -> RowReference:
    """One row's reference from its split sum S = H + L of exp(x_i - m) (module doc), ``s``
    being S as a float; without ``need_lse`` its LSE is left to :func:`_float_lse`."""
    rel_s = e_t + (n * min(n, CHUNK) * u * 2.0 ** -(g + 1) + n * 2.0 ** -1074) / s
    ref = RowReference(kind, None, rel_s / (1 - rel_s), sum_parts=(H, L), sum_rel=rel_s)
    if need_lse:
        ref.lse, ref.lse_bound = _lse_from_sum(m, ref.exact_sum(), rel_s)
    return ref


def _float_lse(refs: list, m: Any, sums: Any) -> None:
    """A softmax reference's LSE, which only enters the leading-order error bound (as a
    float): m + log S in float64 for every row at once, S = ``sums`` the rows' sums rounded to
    float64.  Its bound adds to S's the roundings of S, of numpy's log (within 1 ULP) and of
    the addition."""
    import mpmath
    import numpy as np

    with np.errstate(all="ignore"):
        g = np.log(sums)
        y = m + g
    for r, ref in enumerate(refs):
        ref.lse = mpmath.mpf(float(y[r]))
        ref.lse_bound += 2.0 ** -51 * (1 + abs(float(m[r])) + 2 * float(g[r]))


def _fast_longdouble(x, m, need_softmax: bool, ws: Workspace):
    """The long double path for a block of rows (2-D ``x``, ``m`` each row's max):
    (references, softmax hi, softmax lo) or (references, None, None)."""
    import numpy as np

    B, n = x.shape
    ld = np.longdouble
    hi = ws.get("d", np.float64, x.shape)
    lo = ws.get("dlo", np.float64, x.shape)
    w = ws.get("w", np.float64, x.shape)
    col = m[:, None]
    src = x
    if np.isneginf(x).any():
        # -inf contributes exp(-inf) = 0; a finite stand-in far below long double's range keeps
        # TwoSum free of inf - inf.
        src = ws.get("xs", np.float64, x.shape)
        np.copyto(src, x)
        np.copyto(src, col - 2.0 ** 20, where=src == -np.inf)
    # TwoSum (Knuth; Higham ASNA Alg. 4.4): hi + lo = src - m exactly, in any order of magnitude.
    with np.errstate(all="ignore"):
        np.subtract(src, col, out=hi)
        np.subtract(hi, src, out=w)  # bb = s - a
        np.subtract(hi, w, out=lo)  # s - bb
        np.subtract(src, lo, out=lo)  # a - (s - bb)
        np.add(w, col, out=w)  # b - bb = -m - bb  ->  computed as -(bb + m)
        np.subtract(lo, w, out=lo)  # (a - (s - bb)) + (b - bb)
    if not np.isfinite(hi.min()):  # x - m beyond float64's range: exp(-inf) = 0, lo irrelevant
        lo[np.isinf(hi)] = 0.0
    has_lo = np.any(lo, axis=-1)
    t = ws.get("tld", ld, x.shape)
    np.copyto(t, hi)
    with np.errstate(all="ignore"):
        np.exp(t, out=t)
        if has_lo.any():  # (a row without low parts is multiplied by exactly 1)
            f = ws.get("fld", ld, x.shape)
            np.copyto(f, lo)
            np.add(f, ld(1), out=f)
            np.multiply(t, f, out=t)
    Hs, Ls = _split_sum(t, _GLD, ws, "ld", exact=not need_softmax)
    sums = _sums(Hs, Ls)
    e_ts = [LD_EXP_REL + (2 * ULD if has_lo[r] else 0.0) for r in range(B)]
    refs = [_from_sum(float(m[r]), Hs[r], Ls[r], sums[r], n, ULD, _GLD, e_ts[r],
                      "fast-longdouble", not need_softmax) for r in range(B)]
    if not need_softmax:
        return refs, None, None
    _float_lse(refs, m, sums)
    if isinstance(Hs, np.ndarray):  # S rounded once to long double (2**-64 relative)
        s_ld = Hs + Ls
    else:
        s_ld = np.array([_to_longdouble(ref.exact_sum()) for ref in refs], dtype=ld)
    np.divide(t, s_ld[:, None], out=t)
    yhi = ws.get("y", np.float64, x.shape)
    ylo = ws.get("ylo", np.float64, x.shape)
    np.copyto(yhi, t, casting="unsafe")  # round to nearest double
    f = ws.get("fld", ld, x.shape)
    np.subtract(t, yhi, out=f)  # exact (Sterbenz); fits in 11 bits
    np.copyto(ylo, f, casting="unsafe")  # exact
    small = (yhi < TINY).any(axis=-1)
    for r, ref in enumerate(refs):
        ref.softmax_hi, ref.softmax_lo = yhi[r], ylo[r]
        ref.softmax_rel_bound = e_ts[r] + ref.sum_rel + 2 * ULD
        if small[r]:
            idx = np.flatnonzero((yhi[r] < TINY) & (t[r] > 0))
            scaled = np.ldexp(t[r][idx], TINY_SCALE)  # exact in long double's exponent range
            hs = scaled.astype(np.float64)
            keep = hs > 0  # below 2**-2148 an element is 0 to far better than 0.01 ULP
            ref.tiny = (idx[keep], hs[keep], (scaled[keep] - hs[keep]).astype(np.float64))
    return refs, yhi, ylo


def _to_longdouble(v: Any):
    """An mpf rounded to long double (to within 2**-64 relative: two doubles added once)."""
    import mpmath
    import numpy as np

    a = float(v)
    b = float(v - mpmath.mpf(a))
    return np.longdouble(a) + np.longdouble(b)


def _lse_from_sum(m: float, S: Any, rel_s: float):
    """LSE = m + log S at 160 bits and its absolute error bound (module doc)."""
    import mpmath

    with MP_LOCK, mpmath.workprec(_PREC):
        g = mpmath.log1p(mpmath.fsub(S, 1, exact=True))  # S - 1 exact: tiny tails keep their bits
    # m + g added exactly (as smoothcli.reference.exact does): LSE(710, 12) = 710 + 5e-304 must not
    # round to 710, whose binade may differ (m = -2**k).
    lse = mpmath.fadd(m, g, exact=True)
    bound = rel_s / (1 - rel_s) + float(abs(g)) * 2.0 ** -155
    return lse, bound


def split(y: Any) -> tuple[float, float]:
    """An mpf y as hi + lo (doubles, hi = nearest double): the pair keeps y's binade even when
    y - hi underflows (lo is then -/+ the smallest subnormal), because the target ULP at y
    depends on it (1 - 1e-330 lies in the binade below 1)."""
    import mpmath

    from smoothcli.reference.exact import to_float

    h = to_float(y)
    if not mpmath.isfinite(y):
        return h, 0.0
    d = mpmath.fsub(y, h, exact=True)
    low = float(d)
    if low == 0 and d != 0 and h != 0:  # (y below 2**-1075 is 0 + 0: no binade to keep)
        low = 5e-324 if d > 0 else -5e-324
    return h, low


def _fix_powers_of_two(x, ref: RowReference, formats, ws: Workspace) -> None:
    """Settle the softmax elements whose target ULP the bound leaves ambiguous: those within the
    error bound of a power of two, inside some target's normal range.

    The max elements (t = exp(0) = 1 exactly) are y = 1/S, in (1/2, 1) for most rows where one
    logit dominates: their binade follows from S's bound alone, so they are computed as 1/S in
    mpmath (one division) and only go to the full mpmath row when S's bound straddles a power of
    two.  Any other element near a power of two is recomputed from the mpmath LSE."""
    import mpmath
    import numpy as np

    hi = ref.softmax_hi
    n = hi.size
    near, ref.frexp = _near_powers_of_two(hi, ref.softmax_rel_bound, formats, ws)
    if not near.any():
        return
    m = x.max()
    tops = np.flatnonzero(near & (x == m))
    if tops.size:
        S, e = ref.exact_sum(), ref.sum_rel
        margin = mpmath.fmul(S, e, exact=True)
        lo_s, hi_s = mpmath.fsub(S, margin, exact=True), mpmath.fadd(S, margin, exact=True)
        lo_s = max(lo_s, mpmath.mpf(1))  # S_true > 1: some other input is finite (not a tie row)
        if floor_log2_mpf(lo_s) == floor_log2_mpf(hi_s):
            with mpmath.workprec(_PREC):
                y = 1 / S
            if y == 1:
                # S_true > 1: strictly below 1 (S - 1 was below 2**-160)
                y = mpmath.fsub(1, mpmath.ldexp(1, -2000), exact=True)
            h, low = split(y)
            if ref.softmax_lo is None:
                ref.softmax_lo = ws.get("ylo", np.float64, n)
                ref.softmax_lo.fill(0.0)
            hi[tops] = h
            ref.softmax_lo[tops] = low
            near[tops] = False
            _refrexp(ref, tops)
    idx = np.flatnonzero(near)
    if idx.size == 0:
        return
    from smoothcli.reference.exact import converge, lse_at_prec, to_mpf

    values = x.tolist()
    picks = [values[i] for i in idx]

    def evaluate():
        lse = lse_at_prec(values)
        out = []
        for v in picks:
            d = to_mpf(v) - lse
            # as smoothcli.reference.exact.softmax_at_prec: 1 + expm1(d) added exactly, so that
            # 1 - 4.5e-309 keeps its binade below 1
            out.append(mpmath.fadd(1, mpmath.expm1(d), exact=True) if abs(d) < 1
                       else mpmath.exp(d))
        return out

    ys = converge(evaluate)
    lo = ref.softmax_lo
    if lo is None:
        # float64 path: the reference becomes a (hi, lo) pair for these elements
        lo = ws.get("ylo", np.float64, n)
        lo.fill(0.0)
        ref.softmax_lo = lo
    for i, y in zip(idx, ys):
        hi[i], lo[i] = split(y)
        if ref.tiny is not None and 0 < y < TINY:
            pos = int(np.searchsorted(ref.tiny[0], i))
            if pos < ref.tiny[0].size and ref.tiny[0][pos] == i:
                ref.tiny[1][pos], ref.tiny[2][pos] = split(mpmath.ldexp(y, TINY_SCALE))
    _refrexp(ref, idx)
    ref.mpmath_elements = int(idx.size)


def _near_powers_of_two(hi, rel: Any, formats, ws: Workspace | None = None):
    """Which softmax elements ``hi`` (known to relative ``rel``: per row for a block) may lie on
    either side of a power of two inside some target's normal range; with ``ws``, also hi's
    (mantissas, exponents)."""
    import numpy as np

    r = np.asarray(rel, dtype=np.float64) + 2.0 ** -52  # hi alone is within 2**-53 of hi + lo
    if hi.ndim > 1:
        r = r[:, None]
    if ws is None:
        mant, ex = np.frexp(hi)
    else:
        mant = ws.get("fx_mant", np.float64, hi.shape)
        ex = ws.get("fx_ex", np.int32, hi.shape)
        np.frexp(hi, out=(mant, ex))
    smallest_normal = min(2.0 ** f.emin for f in formats)
    near = (mant < 0.5 + r) | (mant > 1 - 2 * r)
    near &= hi >= smallest_normal * (1 - r)
    return near if ws is None else (near, (mant, ex))


def _refrexp(ref: RowReference, idx) -> None:
    """Keep ref.frexp in step with elements of softmax_hi that were replaced."""
    import numpy as np

    if ref.frexp is not None:
        m, e = np.frexp(ref.softmax_hi[idx])
        ref.frexp[0][idx] = m
        ref.frexp[1][idx] = e


def mpmath_row(x, need_softmax: bool, ws: Workspace | None = None,
               values: Sequence[Any] | None = None) -> RowReference:
    """The per-element mpmath reference (the Ziv loop of :mod:`smoothcli.reference.exact`) for
    a whole row: the slow path.  ``values`` (exact Fractions, floats for inf/nan) replace ``x``
    when the row's exact inputs are not float64 values (x/T, k·x)."""
    import mpmath
    import numpy as np

    from smoothcli.reference.exact import lse_reference, softmax_reference

    ws = ws or Workspace()
    if values is None:
        values = x.tolist()
    size = len(values)
    if need_softmax:  # (its LSE only enters the error bound, as a float: no Ziv loop for it)
        from smoothcli.reference.exact import START_PREC, lse_at_prec

        with mpmath.workprec(START_PREC):
            lse = lse_at_prec(values)
        # m + log1p(tail) with m exact and |log1p(tail)| <= log(size): a few roundings of
        # 2**-START_PREC relative in the second term
        bound = math.ldexp(math.log(size) + 1, 4 - START_PREC) if mpmath.isfinite(lse) else 0.0
        ref = RowReference("mpmath", lse, bound, lse_mpmath=True)
    else:
        lse = lse_reference(values)
        ref = RowReference("mpmath", lse, ziv_bound(lse), lse_mpmath=True)
    if need_softmax:
        ys = softmax_reference(values)
        hi = ws.get("y", np.float64, size)
        lo = ws.get("ylo", np.float64, size)
        tiny = []
        for i, y in enumerate(ys):
            hi[i], lo[i] = split(y)
            if mpmath.isfinite(y) and 0 < y < TINY:
                h, low = split(mpmath.ldexp(y, TINY_SCALE))
                if h > 0:
                    tiny.append((i, h, low))
        ref.softmax_hi, ref.softmax_lo = hi, lo
        if tiny:
            ref.tiny = (np.array([t[0] for t in tiny]), np.array([t[1] for t in tiny]),
                        np.array([t[2] for t in tiny]))
        ref.softmax_rel_bound = 2.0 ** -95
        ref.mpmath_elements = size
        ref.softmax_mpf = ys
    return ref


__all__ = ["row_reference", "mpmath_row", "RowReference", "Workspace", "TAU",
           "lse_good_enough", "softmax_good_enough"]
