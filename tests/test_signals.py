"""Ctrl-C (SIGINT) at any moment of a short command: one line ``smooth: interrupted`` and exit
status 130, or -- when the command had already finished -- its normal, complete output and exit
0; never a traceback, never death by the signal after the output was written.

The real ``smooth`` console script (and ``python -m smoothcli``) runs in a subprocess: signal
delivery, the handler smoothcli/__init__.py installs before anything heavy is imported, and the
interpreter's own clean-up are what is being tested.  No assertion depends on timing: wherever a
signal lands, the outcome must be one of the allowed ones; the delays only spread the landings
over the whole life of the process.

What no code of smooth can answer: a signal that arrives while the interpreter itself starts --
before Python installs its own SIGINT handler (the process is killed by the signal, nothing is
printed) or while ``site`` and the console script's first lines run (Python prints its own
KeyboardInterrupt traceback, none of whose frames is smooth's).  :func:`classify` recognises
exactly those two outcomes and :func:`test_sigint_at_delays_after_launch` draws such a sample
again a little later; :func:`test_sigint_once_smooth_runs` starts its delays from the moment
smoothcli's package has been imported (reported by ``PYTHONPROFILEIMPORTTIME``), where no outcome
but 130 and 0 is allowed at all.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery")

SMOOTH = str(Path(sys.executable).parent / "smooth")
#: A traceback frame in a file of the package smoothcli (wherever it is installed).
PACKAGE_FRAME = re.compile(r'File "[^"]*[/\\]smoothcli[/\\][^"]*", line')
ARGS = ["lse", "1", "2"]
INTERRUPTED = "smooth: interrupted\n"
#: The exact LSE of [1, 2], log(e + e^2) = 2 + log(1 + 1/e), to 17 significant digits (mpmath,
#: 50 digits: 2.3132616875182228340489954949678556419152800856703...), as the table prints it.
EXACT_LINE = b"exact LSE: 2.3132616875182228\n"

COMMANDS = {"script": [SMOOTH, *ARGS], "module": [sys.executable, "-m", "smoothcli", *ARGS]}


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SMOOTH_DEBUG", "NO_COLOR", "PYTHONIOENCODING", "PYTHONPROFILEIMPORTTIME",
                        "OPENBLAS_NUM_THREADS")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def complete() -> bytes:
    """The output of the uninterrupted command: what a run that finished must have printed."""
    p = subprocess.run(COMMANDS["script"], capture_output=True, timeout=120, env=_env(),
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and p.stderr == b"", (p.returncode, p.stderr)
    assert EXACT_LINE in p.stdout
    return p.stdout


def _launch(cmd: list, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=_env(**extra))


def _imported_smoothcli(line: str) -> bool:
    """``import time:   251 |   2476 |   smoothcli``: the package smoothcli is imported."""
    return line.startswith("import time:") and line.rsplit("|", 1)[-1].strip() == "smoothcli"


def _signal_after(proc: subprocess.Popen, delay: float) -> tuple[int, bytes, str]:
    import time

    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err.decode("utf-8", "replace")


def classify(code: int, out: bytes, err: str, complete: bytes) -> str:
    """"interrupted", "finished", "before-smooth" (the interpreter's own start-up, see the module
    doc) or a description of what is wrong."""
    if code == 130 and err == INTERRUPTED:
        # A Ctrl-C after the table was written (while the command returns) still says so; what
        # was written is the whole table, never a part of it.
        return "interrupted" if out in (b"", complete) else f"130 with partial output {out!r}"
    if code == 0 and err == "" and out == complete:
        return "finished"
    if code == -signal.SIGINT and err == "" and out == b"":
        return "before-smooth"  # killed before Python had installed its own handler
    if (code != 0 and out == b"" and err.rstrip().endswith("KeyboardInterrupt")
            and not PACKAGE_FRAME.search(err)):
        return "before-smooth"  # Python's KeyboardInterrupt from site / the script's first lines
    if (code != 0 and out == b"" and err.startswith("Fatal Python error: init_")
            and not PACKAGE_FRAME.search(err)):
        # the signal interrupted CPython's own initialisation (init_sys_streams: the io module
        # being imported), before site, let alone smooth, ran: no program can answer it
        return "before-smooth"
    return f"status {code}, stderr {err[-1500:]!r}, stdout {len(out)} bytes"


#: Delays after the launch (seconds): the interpreter's start-up, smooth's imports (click,
#: typer, numpy, mpmath, rich), the evaluation, the output and the exit.
DELAYS = [0.0, 0.005, 0.015, 0.03, 0.05, 0.075, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3]


@pytest.mark.parametrize("delay", DELAYS)
def test_sigint_at_delays_after_launch(delay, complete):
    """A SIGINT ``delay`` seconds after the launch: 130 and the one line, or a complete normal
    run.  A sample that landed in the interpreter's own start-up is drawn again later (by 20 ms,
    then 40, 80, ...: on a loaded machine the start-up may take far longer than usual); if every
    draw lands there, the interpreter never got to smooth within the test's patience -- nothing
    of smooth's is tested then, and the test says so by skipping rather than passing."""
    wait = delay
    for attempt in range(8):
        code, out, err = _signal_after(_launch(COMMANDS["script"]), wait)
        outcome = classify(code, out, err, complete)
        assert "Traceback" not in err or outcome == "before-smooth", err
        if outcome != "before-smooth":
            break
        wait += 0.02 * 2 ** attempt
    else:
        pytest.skip(f"every SIGINT up to {wait:.2f} s landed in the interpreter's own start-up")
    assert outcome in ("interrupted", "finished"), outcome


@pytest.mark.parametrize("how", sorted(COMMANDS))
@pytest.mark.parametrize("delay", [0.0, 0.002, 0.01, 0.03, 0.06, 0.1, 0.15, 0.2, 0.3])
def test_sigint_once_smooth_runs(how, delay, complete):
    """From the moment the package smoothcli has been imported -- its first lines take SIGINT --
    every signal ends with 130 and the one line or a complete run (exit 0): no other outcome,
    whatever the timing.  ``PYTHONPROFILEIMPORTTIME`` reports each import on stderr as it
    completes; the report of ``smoothcli`` itself is the moment to start from."""
    proc = _launch(COMMANDS[how], PYTHONPROFILEIMPORTTIME="1")
    seen = []
    for raw in proc.stderr:
        line = raw.decode("utf-8", "replace")
        seen.append(line)
        if _imported_smoothcli(line):
            break
    else:
        proc.wait(timeout=120)
        pytest.fail("smoothcli was never imported: " + "".join(seen[-20:]))
    code, out, rest = _signal_after(proc, delay)
    err = "".join(line for line in rest.splitlines(keepends=True)
                  if not line.startswith("import time:"))
    outcome = classify(code, out, err, complete)
    assert outcome in ("interrupted", "finished"), outcome


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.005, 0.01, 0.02])
def test_sigint_after_the_output_is_not_death_by_signal(delay, complete):
    """The table has been written; the process is returning and the interpreter cleaning up
    (some 20 ms with numpy and mpmath loaded).  A Ctrl-C then must not kill the process (status
    -2, which a shell shows as 130 with no line, after a complete output): the status stays 0,
    or 130 with the one line if it landed before the status was decided."""
    import time

    proc = _launch(COMMANDS["script"])
    got = b""
    while not got.endswith(complete[-40:]):
        chunk = proc.stdout.read1(65536)  # type: ignore[union-attr]
        if not chunk:
            break
        got += chunk
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    outcome = classify(proc.returncode, got + out, err.decode("utf-8", "replace"), complete)
    assert outcome in ("interrupted", "finished"), outcome


def test_some_signal_is_answered_by_smooth(complete):
    """The handler is exercised, not only a race won by the command: a SIGINT as soon as the
    package is imported (the command still has click, typer, numpy and the evaluation ahead of
    it) is answered with the line and 130 -- five tries allow for a machine so loaded that the
    command could finish before the signal is sent."""
    outcomes = []
    for _ in range(5):
        proc = _launch(COMMANDS["script"], PYTHONPROFILEIMPORTTIME="1")
        for raw in proc.stderr:
            if _imported_smoothcli(raw.decode("utf-8", "replace")):
                break
        code, out, rest = _signal_after(proc, 0.0)
        err = "".join(line for line in rest.splitlines(keepends=True)
                      if not line.startswith("import time:"))
        outcomes.append(classify(code, out, err, complete))
        if outcomes[-1] == "interrupted":
            break
    assert outcomes[-1] == "interrupted", outcomes


def test_a_program_importing_smoothcli_keeps_its_own_ctrl_c():
    """A test runner or a notebook importing smoothcli (and smoothcli.cli) keeps Python's
    default SIGINT handling and its environment."""
    code = ("import os, signal, smoothcli, smoothcli.cli\n"
            "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
            "assert 'OPENBLAS_NUM_THREADS' not in os.environ\n"
            "print('kept')\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=_env())
    assert p.returncode == 0 and p.stdout == "kept\n", p.stderr


@pytest.mark.parametrize("argv, module", [
    (["python", "-m", "smoothcli", "lse"], "smoothcli"),
    (["python", "-msmoothcli"], "smoothcli"),
    (["python", "-I", "-m", "smoothcli"], "smoothcli"),
    (["python", "-Im", "smoothcli"], "smoothcli"),
    (["python", "-X", "importtime", "-m", "smoothcli"], "smoothcli"),
    (["python", "-W", "error", "-m", "smoothcli"], "smoothcli"),
    (["python", "-m", "pytest", "-m", "smoothcli"], "pytest"),
    (["python", "-c", "import smoothcli", "-m", "smoothcli"], None),
    (["python", "script.py", "-m", "smoothcli"], None),
    (["python"], None),
])
def test_module_named_by_dash_m(argv, module):
    from smoothcli import _module_run

    assert _module_run(argv) == module


# --- interrupts Python cannot raise where they land ----------------------------------------------

def test_interrupt_in_a_weakref_callback_is_delivered_again():
    """A KeyboardInterrupt raised in a weakref callback (the import machinery's module locks have
    one) is only reported by Python ("Exception ignored in ..."), and the Ctrl-C is lost: smooth's
    unraisable hook delivers it again to the main flow, where smooth answers it."""
    code = ("import sys, time, weakref\n"
            "from smoothcli.cli import _unraisable\n"
            "sys.unraisablehook = _unraisable(sys.unraisablehook)\n"
            "class C: pass\n"
            "def landed(ref): raise KeyboardInterrupt\n"
            "c = C(); r = weakref.ref(c, landed)\n"
            "try:\n"
            "    del c\n"
            "    for _ in range(5000): time.sleep(0.001)\n"
            "    print('lost')\n"
            "except KeyboardInterrupt:\n"
            "    print('delivered')\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=_env())
    assert (p.stdout, p.stderr) == ("delivered\n", "")


def test_other_unraisable_errors_are_reported_as_before():
    code = ("import sys, weakref\n"
            "from smoothcli.cli import _unraisable\n"
            "sys.unraisablehook = _unraisable(sys.unraisablehook)\n"
            "class C: pass\n"
            "def landed(ref): raise ValueError('from the callback')\n"
            "c = C(); r = weakref.ref(c, landed)\n"
            "del c\n"
            "print('went on')\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=_env())
    assert p.stdout == "went on\n" and "ValueError: from the callback" in p.stderr


def test_an_error_caused_by_an_interrupt_is_an_interruption():
    """Python 3.11 turns a KeyboardInterrupt raised while a class is created (a dataclass field's
    ``__set_name__``, as a module is imported) into a RuntimeError; smooth answers it as the
    interruption it is, not as an internal error (status 70)."""
    from smoothcli.cli import _caused_by_interrupt

    class Landed:
        def __set_name__(self, owner, name):
            raise KeyboardInterrupt

    try:
        type("Settings", (), {"accumulation": Landed()})
    except BaseException as e:  # noqa: BLE001 - RuntimeError (3.11) or KeyboardInterrupt
        caught = e
    assert _caused_by_interrupt(caught)
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise OSError("while answering it")  # noqa: B904 - the implicit context
    except OSError as e:
        assert _caused_by_interrupt(e)
    assert not _caused_by_interrupt(RuntimeError("a bug"))
    assert not _caused_by_interrupt(RuntimeError("a bug").with_traceback(None))
