"""The casebook: published numerical failures of softmax, LogSumExp, softplus and friends, each
reproduced by a ``smooth`` command and checked against its public thread.

A :class:`Case` names its source (repository and issue / pull-request number), the inputs, the
command that reproduces the published symptom, the cause in a sentence, the fix the maintainers
adopted (or that none was) and a command that evaluates that fix through the same engine.
:func:`run_case` runs both commands in-process (the CLI itself, through click's test runner) and
returns their real output; ``smooth cases NAME`` prints it, ``tools/refresh_cases.py`` writes it
to docs/cases.md, and tests/test_cases.py checks the symptom and the fix against expectations
computed without smooth (mpmath, exact reasoning on the format, or the framework itself).

Where no ``smooth`` command can express a case yet (torch's softplus takes ``beta``, which no
subcommand has an option for), the case runs the engine directly (:attr:`Case.engine`) and
renders the rows with the same report builder.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

#: Where the Blanchard-Higham-Higham MNIST vectors live in a source checkout.
BHH_DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "bhh" / "presoftmax.npy"


@dataclass(frozen=True)
class Command:
    """One ``smooth`` command: its arguments, and how its input is produced when it is not
    typed (``stdin``: text piped in, shown as ``pipe``; ``files``: files written first, shown as
    ``setup``)."""

    args: tuple[str, ...]
    stdin: str | None = None
    pipe: str | None = None  # the shell producer of stdin, as shown
    files: Callable[[Path], None] | None = None  # writes the input files into a directory
    setup: str | None = None  # the shell line that writes them, as shown

    @property
    def shell(self) -> str:
        line = shlex.join(["smooth", *self.args])
        if self.pipe:
            line = f"{self.pipe} | {line}"
        if self.setup:
            line = f"{self.setup} && {line}"
        return line


@dataclass(frozen=True)
class Case:
    name: str
    source: str  # "pytorch/pytorch#25110"
    title: str
    thread: str  # what the thread says, as checked (state, who said what)
    inputs: str
    command: Command | None
    cause: str
    adopted: str  # the fix the maintainers adopted, or that none was
    fix: Command | None
    fix_note: str  # how the fix maps to smooth
    related: tuple[str, ...] = ()
    needs: str | None = None  # a subcommand this build may lack ("grad")
    engine: Callable[[], tuple[str, str]] | None = None  # (symptom text, fix text) without CLI
    tags: tuple[str, ...] = field(default_factory=tuple)


def _zeros(n: int) -> str:
    return " ".join(["0"] * n) + "\n"


def _zeros_pipe(n: int) -> str:
    return f"python3 -c \"print(' 0' * {n})\""


def _fa1930_files(d: Path) -> None:
    import numpy as np

    for name, i in (("fa1930.npy", 50000), ("fa1930_i0.npy", 0)):
        x = np.full(100000, -np.inf, dtype=np.float32)
        x[i] = 10
        np.save(d / name, x)


_FA_SETUP = ("python3 -c \"import numpy as np; x = np.full(100000, -np.inf, np.float32); "
             "x[50000] = 10; np.save('fa1930.npy', x)\"")


def _bhh_files(d: Path) -> None:
    import shutil

    shutil.copy(BHH_DATA, d / "presoftmax.npy")


# --- cases without a CLI surface: the engine, rendered like the CLI ---------------------------

def _softplus_rows(beta: float, x: str, dtypes: list[str], methods: list[str],
                   peers: list[str] | None = None) -> str:
    from smoothcli._format import get_format
    from smoothcli.commands._common import Settings
    from smoothcli.core.formats import resolve_dtypes
    from smoothcli.core.numbers import parse_numbers
    from smoothcli.engine.evaluate import Plan, evaluate
    from smoothcli.engine.sources import arguments
    from smoothcli.methods.torch_forms import register, softplus_torch_spec
    from smoothcli.report.pointwise import Part, build

    spec = softplus_torch_spec(beta)
    register(spec)
    st = Settings(resolve_dtypes(dtypes), methods, peers=list(peers or []))
    ev = evaluate(Plan(spec.name, st.dtypes, st.methods), arguments(parse_numbers([x])))
    return get_format(False).render(build("softplus", [Part(ev)], st, [], {}, False), [])


def softplus_187180() -> tuple[str, str]:
    head = ("(engine: softplus_torch_spec(beta=1e-6) on x = 1.0; no smooth subcommand takes "
            "beta yet)\n")
    return (head + _softplus_rows(1e-6, "1.0", ["float16"], ["torch-form"]),
            head + _softplus_rows(1e-6, "1.0", ["float32"], ["torch-form", "stable"]))


CASES: tuple[Case, ...] = (
    Case(
        "pytorch-25110", "pytorch/pytorch#25110",
        "softmax of a fully masked row (every input -inf) is NaN",
        "closed as expected behaviour ('0/0 is NaN'); pytorch PR #131060 added a private "
        "_safe_softmax and PR #133882 made scaled_dot_product_attention return zeros for fully "
        "masked rows; the eps request pytorch#55056 is still open",
        "x = [-inf, -inf, -inf] in float32",
        Command(("softmax", "-inf", "-inf", "-inf", "--dtype", "float32", "--method",
                 "shifted")),
        "exp(-inf) = 0 for every input, so softmax = 0/0: the value does not exist",
        "zeros for fully masked rows in fused attention (torch's _safe_softmax); torch.softmax "
        "itself still returns NaN",
        Command(("softmax", "-inf", "-inf", "-inf", "--dtype", "float32", "--method",
                 "shifted,safe")),
        "--method safe is _safe_softmax: zeros, reported as a convention (status undefined: "
        "no exact value exists to be accurate to)",
        ("pytorch/pytorch#131060", "pytorch/pytorch#133882", "pytorch/pytorch#55056")),
    Case(
        "pytorch-6864", "pytorch/pytorch#6864",
        "softmax([0, +inf]) is [nan, nan]",
        "closed; a maintainer answered that the one-hot result holds 'in the limit sense only'",
        "x = [0, inf] in float32",
        Command(("softmax", "0", "inf", "--dtype", "float32")),
        "the shift computes inf − inf = NaN (unshifted: inf/inf); softmax with an infinite input "
        "has no value in floating point",
        "none: NaN is kept (see jax#21495 for the same decision, documented)",
        None, "no method can fix it: smooth reports the row undefined and says what torch returns",
        ("jax-ml/jax#21495",)),
    Case(
        "jax-21495", "jax-ml/jax#21495",
        "jax.nn.softmax([inf, 0]) is [nan, nan]",
        "closed by jax PR #21501, which documents NaN outputs for infinite inputs (the issue "
        "notes scipy and pytorch return NaN too)",
        "x = [inf, 0, inf] in float32 (the issue's second example)",
        Command(("softmax", "inf", "0", "inf", "--dtype", "float32")),
        "inf/inf and inf − inf are undefined in floating point",
        "documentation (jax PR #21501): NaN is the intended output",
        None, "none to evaluate: the row is undefined", ("jax-ml/jax#21501",)),
    Case(
        "tensorflow-11692", "tensorflow/tensorflow#11692",
        "tf.reduce_logsumexp(-inf) is NaN instead of -inf",
        "closed by tensorflow PR #11757 ('Fix tf.reduce_logsumexp to accept -inf', merged)",
        "x = [-inf] in float32",
        Command(("lse", "-inf", "--dtype", "float32", "--method", "shifted-unguarded")),
        "the shift by max(x) = -inf computes −inf − (−inf) = NaN",
        "shift by 0 when the max is not finite (tensorflow PR #11757; scipy's convention)",
        Command(("lse", "-inf", "--dtype", "float32", "--method", "shifted-unguarded,shifted")),
        "--method shifted replaces a non-finite max by 0, as the fix does",
        ("tensorflow/tensorflow#11757",)),
    Case(
        "numpy-22208", "numpy/numpy#22208",
        "a float16 sum stops growing at 2048",
        "closed by the reporter: 'not a bug, but just a precision error' (float16 has 10 "
        "fraction bits, so 2048 + 1 rounds back to 2048)",
        "LSE of 4096 zeros in float16: Σ exp(0) is a sum of 4096 ones, exact LSE = log 4096",
        Command(("lse", "--dtype", "float16", "--sum", "sequential", "--method", "shifted"),
                stdin=_zeros(4096), pipe=_zeros_pipe(4096)),
        "with float16 partial sums, 2048 + 1 rounds back to 2048 (the spacing there is 2), so "
        "Σ stalls at 2048 and LSE = log 2048",
        "accumulate wider (numpy's dtype= argument; np.sum on a contiguous float16 array keeps "
        "float32 partial sums, so smooth's default --sum pairwise does not stall)",
        Command(("lse", "--dtype", "float16", "--sum", "sequential", "--method", "shifted",
                 "--acc", "float32"), stdin=_zeros(4096), pipe=_zeros_pipe(4096)),
        "the sum is Σ exp(x_i) = Σ 1: --sum sequential is the strict float16 sum that stalls; "
        "--acc float32 accumulates wider",
        ("numpy/numpy#7930",)),
    Case(
        "numpy-7930", "numpy/numpy#7930",
        "65,520 float16 ones sum to inf",
        "closed; the maintainer's comment shows np.ones(65519, float16).sum() = 65504 and "
        "np.ones(65520, float16).sum() = inf, and advises sum(dtype=np.float64)",
        "LSE of 65,520 zeros in float16: Σ exp(0) = 65,520 ones, exact LSE = log 65520",
        Command(("lse", "--dtype", "float16", "--method", "shifted"),
                stdin=_zeros(65520), pipe=_zeros_pipe(65520)),
        "65,520 is the midpoint between float16's max 65,504 and 65,536; ties-to-even rounds it "
        "up, beyond the range: the sum is inf and so is its log",
        "accumulate wider: sum(dtype=np.float64) (numpy's advice in the thread)",
        Command(("lse", "--dtype", "float16", "--method", "shifted", "--acc", "float32"),
                stdin=_zeros(65520), pipe=_zeros_pipe(65520)),
        "smooth's default --sum pairwise is numpy's np.sum (float32 partials, rounded once to "
        "float16): the rounding of the total is what overflows; --acc float32 keeps it and its "
        "log in float32",
        ("numpy/numpy#22208",)),
    Case(
        "ml_dtypes-63", "jax-ml/ml_dtypes#63",
        "np.sum of 10,000 bfloat16 draws from U(0, 1) is 256",
        "closed; a jax maintainer shows jnp.sum of the same array gives 4960: JAX accumulates "
        "bfloat16 reductions in float32",
        "LSE of 10,000 zeros in bfloat16: Σ exp(0) = 10,000 ones, exact LSE = log 10000",
        Command(("lse", "--dtype", "bfloat16", "--method", "shifted"),
                stdin=_zeros(10000), pipe=_zeros_pipe(10000)),
        "numpy has no pairwise loop for ml_dtypes' bfloat16: the sum runs left to right in "
        "bfloat16, and at 256 (spacing 2) adding a term ≤ 1 rounds back to 256",
        "accumulate in float32 (what jnp.sum does)",
        Command(("lse", "--dtype", "bfloat16", "--method", "shifted", "--acc", "float32"),
                stdin=_zeros(10000), pipe=_zeros_pipe(10000)),
        "the thread's terms are U(0, 1) draws, these are exp(0) = 1: the same stall at 256, "
        "reached after 256 terms instead of ~512",
        ()),
    Case(
        "executorch-20090", "pytorch/executorch#20090",
        "a uniform bfloat16 softmax over 512 elements gives ~1/256 each instead of 1/512",
        "merged: the portable softmax, log_softmax, mean and sum accumulate in float32 for "
        "Half/BFloat16",
        "softmax of 512 zeros in bfloat16",
        Command(("softmax", "--dtype", "bfloat16", "--method", "shifted"),
                stdin=_zeros(512), pipe=_zeros_pipe(512)),
        "the bfloat16 Σ exp(0) stalls at 256, so every 1/Σ is 1/256",
        "accumulate in float32 (executorch PR #20090)",
        Command(("softmax", "--dtype", "bfloat16", "--method", "shifted,upcast", "--acc",
                 "float32"), stdin=_zeros(512), pipe=_zeros_pipe(512)),
        "--acc float32 is the fix; --method upcast (all of softmax in float32, one rounding) "
        "gives the same 2^-9",
        ()),
    Case(
        "transformers-17433", "huggingface/transformers#17433",
        "OPT in float16 produces NaN during batched generation (padded rows)",
        "fixed by transformers PR #17437 (merged: 'upcast the input to float32 before applying "
        "the Softmax'); the mechanism is in PR #17306: torch.finfo(float16).min + (−16) = −inf, "
        "so a fully masked row becomes [−inf, −inf] and softmax gives NaN; PR #18057 and "
        "#19243 carry the float32 softmax and the clamp torch.max(w, finfo.min) to other models",
        "a fully masked attention row in float16: the mask −65504 plus scores −20 and −26",
        Command(("softmax", "-65524", "-65530", "--dtype", "float16")),
        "−65504 − 20 is beyond float16's range: the scores round to −inf and the row to "
        "[−inf, −inf], whose softmax is 0/0",
        "clamp the masked scores to finfo(float16).min, then softmax in float32 and cast back "
        "(transformers PRs #17437, #18057, #19243)",
        Command(("softmax", "-65504", "-65504", "--dtype", "float16", "--method", "upcast")),
        "the clamped row [−65504, −65504] with --method upcast (softmax in float32, rounded "
        "once to float16): [0.5, 0.5]; on this row the clamp removes the NaN, the upcast is "
        "the rest of the adopted fix",
        ("huggingface/transformers#17437", "huggingface/transformers#17306",
         "huggingface/transformers#18057")),
    Case(
        "pytorch-187180", "pytorch/pytorch#187180",
        "softplus(1.0, beta=1e-6) in float16 is +inf; the exact value is 693147.7",
        "open; a documentation note (PR #187769) is open and a maintainer argued the note "
        "belongs in the numerical-accuracy page; a clamping fix (PR #187235) was closed",
        "x = 1.0, beta = 1e-6, float16",
        None,
        "torch computes in float32 (693147.69, finite) and casts to float16 without a range "
        "check; the exact value is beyond float16's max 65504, so no float16 result exists",
        "none merged",
        None,
        "the exact value needs a wider dtype: in float32 both forms are within 0.2 ULP",
        ("pytorch/pytorch#187769", "pytorch/pytorch#187235"),
        engine=softplus_187180),
    Case(
        "ml_dtypes-260", "jax-ml/ml_dtypes#260",
        "float32 → float8_e4m3fn maps 464 to 448 but 465 to NaN; ONNX Runtime saturates to 448",
        "open; the reporter shows 464 → 448 and 465 → nan and asks for ONNX's saturating "
        "cast; jax-ml/ml_dtypes#400 asks again (closed): the OCP spec leaves overflow "
        "implementation-defined",
        "x = [464, 465] in float8_e4m3fn",
        Command(("lse", "464", "465", "--dtype", "float8_e4m3fn")),
        "464 is the midpoint between 448 and the next step 480, which e4m3fn lacks (its code "
        "is NaN): ties-to-even gives 448; 465 is past the midpoint, so it rounds to NaN",
        "kept: ml_dtypes casts to NaN; ONNX Cast(saturate=1) gives 448",
        Command(("lse", "464", "465", "--dtype", "float8_e4m3fn", "--saturate")),
        "smooth rounds inputs as ml_dtypes does; --saturate rounds them as ONNX's saturating "
        "cast: 465 becomes 448, and LSE(448, 448) = 448 + log 2 is finite again",
        ("jax-ml/ml_dtypes#400",)),
    Case(
        "flash-attention-1930", "Dao-AILab/flash-attention#1930",
        "cross_entropy_loss over 100,000 classes, all −inf but one logit of 10, is NaN",
        "open; the reporter: NaN 'for some values of i (like 0) this doesn't happen'; PR #1948 "
        "(open) guards the online softmax step where the running max is −inf",
        "V = 100,000 float32 logits, x[50000] = 10, the rest −inf, label 50000; cross-entropy "
        "= LSE(x) − x[label], exact 0",
        Command(("lse", "--file", "fa1930.npy", "--dtype", "float32", "--method",
                 "online-unguarded"), files=_fa1930_files, setup=_FA_SETUP),
        "while the running max is −inf, the online step computes exp(−inf − (−inf)) = NaN; a "
        "row whose leading entries are −inf gives NaN, one that starts with the finite logit "
        "does not",
        "none merged (PR #1948 proposes the guard)",
        Command(("lse", "--file", "fa1930.npy", "--dtype", "float32", "--method",
                 "online-unguarded,online,shifted"), files=_fa1930_files, setup=_FA_SETUP),
        "cross-entropy = LSE(x) − x[label]: LSE − 10; --method online is the guarded normaliser "
        "of PR #1948 (LSE = 10, loss 0); the model is smooth's sequential online normaliser, "
        "not the kernel's tiling",
        ("Dao-AILab/flash-attention#1948",)),
    Case(
        "jax-40385", "jax-ml/jax#40385",
        "the gradient of jax.nn.sigmoid at x = 37.42994775023705 is 0.0 in float64",
        "open; PR #40825 (open) computes σ(x)·σ(−x) instead of σ(x)·(1 − σ(x))",
        "x = 37.42994775023705, float64; exact σ'(x) ≈ 5.551115123125775e-17",
        Command(("grad", "sigmoid", "37.42994775023705", "--dtype", "float64")),
        "σ(x) rounds to 1 in float64, so 1 − σ(x) = 0 and the product is 0",
        "none merged (PR #40825 proposes σ(x)·σ(−x))",
        None, "smooth grad evaluates the forms of σ' against the exact derivative",
        ("jax-ml/jax#40825",), needs="grad"),
    Case(
        "torch-softplus-threshold", "smooth's own audit (no public thread)",
        "torch's float64 softplus returns x itself above βx = 20: 3.9e5 ULP off at x = 20.40",
        "no thread: found by smooth --peer torch",
        "x = 20.40, float64",
        Command(("sigmoid", "20.40", "--softplus", "--dtype", "float64", "--peer", "torch")),
        "above its default threshold of 20 torch returns x, dropping log1p(e^(−x)) ≈ 1.38e-9, "
        "which is 3.9e5 float64 ULPs at 20.4; 18.6 bits are wrong, fewer than half of 53, so "
        "the status stays ok unless --max-ulp is given",
        "none",
        Command(("sigmoid", "20.40", "--softplus", "--dtype", "float64", "--peer", "torch",
                 "--check", "--max-ulp", "1")),
        "--check --max-ulp 1 makes the torch row fail; smooth's stable softplus is within "
        "0.002 ULP",
        ()),
    Case(
        "pytorch-62897", "pytorch/pytorch#62897",
        "torch's bfloat16 CPU softmax (non-last dim, vectorised path) skipped the max "
        "subtraction",
        "PR #62897 (closed) pointed it out; PR #63132 ('add subtract of max and testcase') adds "
        "the subtraction and a test with inputs of 1000.0, which gave NaN without it",
        "x = [1000, 996] in bfloat16 (both are bfloat16 values; 999 would round to 1000)",
        Command(("softmax", "1000", "996", "--dtype", "bfloat16", "--method", "naive")),
        "exp(1000) overflows (bfloat16 and float32 both stop near 88.7), so exp(x)/Σ = inf/inf",
        "subtract the max (pytorch PR #63132)",
        Command(("softmax", "1000", "996", "--dtype", "bfloat16", "--method", "naive,shifted")),
        "--method shifted is the restored path",
        ("pytorch/pytorch#63132",)),
    Case(
        "bhh-2021", "higham/logsumexp-softmax-tests (Blanchard, Higham & Higham 2021)",
        "2500 MNIST pre-softmax vectors: float16 basic LSE overflows on 475, shifted on 0",
        "published in IMA J. Numer. Anal. 41(4):2311-2330 (2021); the vectors are in "
        "tests/data/bhh (see its README)",
        "2500 rows of 10 logits, float16",
        Command(("lse", "--file", "presoftmax.npy", "--dtype", "float16", "--method", "naive"),
                files=_bhh_files, setup="cp tests/data/bhh/presoftmax.npy ."),
        "exp(x) overflows float16 above x ≈ 11.09, and 475 of the vectors hold such a logit",
        "the shifted method (the paper's Algorithm 'shifted', and every framework's)",
        Command(("lse", "--file", "presoftmax.npy", "--dtype", "float16", "--method",
                 "naive,shifted"), files=_bhh_files, setup="cp tests/data/bhh/presoftmax.npy ."),
        "the batch summary counts rows per status",
        ()),
)

#: Candidates looked at and left out, with why (docs/cases.md lists them).
LEFT_OUT = (
    ("jax-ml/jax#29058", "logaddexp2 in bfloat16/float16: smooth has no base-2 LSE"),
    ("NVIDIA/TransformerEngine#786", "fp8_max/amax = inf for a tiny amax: a division, not a "
     "softmax/LSE"),
    ("huggingface/transformers#30186", "not found in the searchable threads: not checked, "
     "so not quoted"),
)


def names() -> list[str]:
    return [c.name for c in CASES]


def get(name: str) -> Case:
    from smoothcli.core.errors import InputError

    key = name.strip().lower()
    for c in CASES:
        if c.name.lower() == key:
            return c
    raise InputError(f"unknown case {name!r} (choose from {', '.join(names())})")


def available(case: Case) -> bool:
    """The subcommand the case needs exists in this build."""
    if case.needs is None:
        return True
    from smoothcli.cli import app

    return any((c.name or c.callback.__name__) == case.needs for c in app.registered_commands)


@dataclass
class Ran:
    exit_code: int
    output: str


def run(command: Command, json: bool = False) -> Ran:
    """Run a ``smooth`` command in-process and return its real output (stdout, then stderr)."""
    import os
    import tempfile

    from typer.testing import CliRunner

    from smoothcli.cli import ALL_COMMANDS, app

    args = list(command.args) + (["--json"] if json else [])
    running = app.registered_commands  # `smooth cases` runs with a group of one subcommand
    app.registered_commands = list(ALL_COMMANDS)
    with tempfile.TemporaryDirectory() as d:
        if command.files is not None:
            command.files(Path(d))
        old = os.getcwd()
        os.chdir(d)
        try:
            r = CliRunner().invoke(app, args, input=command.stdin, env={"COLUMNS": "100"})
        finally:
            os.chdir(old)
            app.registered_commands = running
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    text = r.stdout + (r.stderr if r.stderr else "")
    return Ran(r.exit_code, text)


#: Width the casebook's sentences are wrapped to (the commands' own output fits it already).
WRAP = 100


def _wrap(text: str) -> str:
    import textwrap

    return textwrap.fill(text, WRAP, subsequent_indent="    ", break_on_hyphens=False)


def render(case: Case) -> str:
    """The text of ``smooth cases NAME``: source, inputs, command and its real output, cause,
    the adopted fix and how smooth evaluates it."""
    out = [_wrap(f"{case.name}: {case.title}"),
           _wrap(f"source: {case.source}" + (f" (also {', '.join(case.related)})"
                                             if case.related else "")),
           _wrap(f"thread: {case.thread}"),
           _wrap(f"inputs: {case.inputs}"), ""]
    symptom = fixed = None
    if case.engine is not None:
        symptom, fixed = case.engine()
    if case.command is not None:
        out.append(f"$ {case.command.shell}")
        if not available(case):
            out.append(f"(smooth {case.needs} is not available in this build)")
        else:
            out.append(run(case.command).output.rstrip())
    elif symptom is not None:
        out.append(symptom.rstrip())
    out += ["", _wrap(f"cause: {case.cause}"), _wrap(f"fix adopted: {case.adopted}")]
    if case.fix is not None and available(case):
        out += [_wrap(f"fix in smooth: {case.fix_note}"), f"$ {case.fix.shell}",
                run(case.fix).output.rstrip()]
    elif fixed is not None:
        out += [_wrap(f"fix in smooth: {case.fix_note}"), fixed.rstrip()]
    else:
        out.append(_wrap(f"fix in smooth: {case.fix_note}"))
    return "\n".join(out) + "\n"


def listing() -> str:
    width = max(len(c.name) for c in CASES)
    import textwrap

    lines = []
    for c in CASES:  # the title under the name when name and source leave it no room
        head = f"{c.name:<{width}}  {c.source}"
        lines.append(head)
        lines.append(textwrap.fill(c.title, WRAP, initial_indent="    ",
                                   subsequent_indent="    ", break_on_hyphens=False))
    return ("published numerical failures (smooth cases NAME runs one):\n\n" + "\n".join(lines)
            + "\n")
