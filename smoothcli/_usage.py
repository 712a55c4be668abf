"""Usage errors on one line, like every other bad input: ``smooth: error: ...`` and exit 2.

click prints a usage error as three lines (``Usage: ...``, ``Try '... --help'``, ``Error: ...``)
while :class:`smoothcli.core.errors.InputError` gives one line ``smooth: error: ...``.  A script that
greps stderr, or shows the last line of a failed CI step, should not need to know which layer
refused its arguments, so the root group re-raises click's usage errors (unknown option, missing
option value, unknown command, a value click itself could not convert) as one line that keeps
click's message (and its "Did you mean ...?" suggestion) and points to the subcommand's help.

``smooth`` with no arguments still prints the help (click's ``NoArgsIsHelpError``).

This module also holds what every line smooth prints needs, whatever goes wrong with the streams
(README, "Exit codes and errors"):

* :func:`say` writes one line on stderr and never raises: when stderr is closed or full the exit
  status must still be the documented one (a traceback there would end the process with 1, which
  scripts read as "--check found a problem");
* :class:`GuardedStdout` stands in for ``sys.stdout`` while the CLI runs: a write that fails (a full
  disk, a closed descriptor) becomes :class:`OutputError` — one line, exit :data:`EX_IOERR` — while
  a reader that went away (EPIPE) is still a BrokenPipeError, handled quietly;
* :func:`for_encoding` replaces the non-ASCII symbols smooth uses (Σ, −, ≤, …) by ASCII stand-ins
  when the output's encoding cannot hold them (``PYTHONIOENCODING=ascii``, a latin-1 terminal).
"""

from __future__ import annotations

import errno
import os
import re
import sys
from typing import Any, Optional

import click
from typer.core import TyperGroup

#: ctx.meta key of the command line as given (shared by every context of one invocation).
ARGS_KEY = "smoothcli.args"

# click >= 8.2 signals "no arguments: show the help" with a UsageError subclass; keep it as is.
_HELP_REQUEST = getattr(click.exceptions, "NoArgsIsHelpError", ())


class UsageLine(click.ClickException):
    """A click usage error, shown as one line on stderr; exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: D102 - click's interface
        say(f"smooth: error: {self.message}")


def one_line(error: click.UsageError) -> UsageLine:
    """click's message on one line, with a pointer to the help of the command concerned."""
    text = " ".join(error.format_message().split())
    # typer (TyperGroup.resolve_command) and click >= 8.2 both append a suggestion, worded
    # differently ("Did you mean 'lse', 'sweep'? (Did you mean one of: 'lse', 'sweep'?)"):
    # keep the first only.
    text = re.sub(r"( Did you mean [^?]*\?)\1+", r"\1", text)
    if text.count("Did you mean") > 1:
        text = re.sub(r" \(Did you mean one of: [^)]*\)", "", text)
    if error.ctx is not None:
        text += f" (see '{error.ctx.command_path} --help')"
    return UsageLine(text)


class OneLineErrors(TyperGroup):
    """The root command group: usage errors raised while parsing the group's own options, while
    resolving the subcommand or while parsing its options and values become one line."""

    def make_context(self, *args, **kwargs):  # noqa: D102
        # The command line as given (click's parser consumes the list): after '--' every token
        # is a value, which smoothcli.cli._values must know to report '--json' there as "not a
        # number" rather than as a mistyped option.
        given = args[1] if len(args) > 1 else kwargs.get("args", [])
        raw = list(given or [])
        try:
            ctx = super().make_context(*args, **kwargs)
        except click.UsageError as e:
            if isinstance(e, _HELP_REQUEST):
                raise
            raise one_line(e) from None
        ctx.meta[ARGS_KEY] = raw
        return ctx

    def invoke(self, ctx):  # noqa: D102
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            if isinstance(e, _HELP_REQUEST):
                raise
            raise one_line(e) from None


# --- streams -------------------------------------------------------------------------------------

#: Exit status when the output cannot be written (a full disk, a closed stdout): EX_IOERR of
#: sysexits.h, distinct from 1 (--check found a problem) and 2 (bad input).
EX_IOERR = 74

#: ASCII stand-ins for the symbols smooth prints, for an output whose encoding lacks them.
ASCII_WORDS = {
    "Σ": "sum", "−": "-", "≤": "<=", "≥": ">=", "…": "...", "×": "x", "·": "*", "σ": "sigma",
    "—": "-", "–": "-", "→": "->", "±": "+/-", "∞": "inf", "≈": "~", "≠": "!=", "½": "1/2",
    "²": "^2", "§": "section ", "Δ": "Delta", "µ": "u", "•": "*", "◆": "<>", "∈": "in",
    "⊂": "subset of", "∩": "and", "∫": "integral", "ŷ": "y^", "ĝ": "g^", "│": "|", "─": "-",
    "┈": "-", "┬": "+", "└": "+", "┤": "+", "┼": "+", "█": "#", "░": ".", "ε": "eps",
    "λ": "lambda", "μ": "mu", "√": "sqrt", "⌈": "ceil(", "⌉": ")", "⌊": "floor(", "⌋": ")",
}
#: One character for one: for text whose columns must stay aligned (the terminal charts).
ASCII_CHARS = {
    "×": "x", "•": "@", "◆": "&", "·": ".", "│": "|", "─": "-", "┈": "-", "┬": "+", "└": "+",
    "┤": "+", "┼": "+", "█": "#", "░": ":", "−": "-", "—": "-", "–": "-", "σ": "s", "Σ": "S",
    "≤": "<", "≥": ">", "∞": "~", "≈": "~", "…": ":", "→": ">", "±": "~", "½": "h",
}


def encodable(text: str, encoding: Optional[str]) -> bool:
    """Whether ``text`` can be written in ``encoding`` as it is (lone surrogates cannot)."""
    try:
        text.encode(encoding or "utf-8")
    except UnicodeEncodeError:
        return False
    except LookupError:  # an encoding Python does not know: assume UTF-8
        return encodable(text, "utf-8")
    return True


def for_encoding(text: str, encoding: Optional[str], table: Optional[dict] = None) -> str:
    """``text`` with every character ``encoding`` cannot hold replaced by its ASCII stand-in
    (``table``, default :data:`ASCII_WORDS`), else by a backslash escape; unchanged when it fits."""
    if encodable(text, encoding):
        return text
    table = ASCII_WORDS if table is None else table
    out = []
    for ch in text:
        if ch < "\x80" or encodable(ch, encoding):
            out.append(ch)
        else:
            out.append(table.get(ch) or ch.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(out)


def stream_encoding(stream: Any) -> str:
    return getattr(stream, "encoding", None) or "utf-8"


def _silence(fd: int) -> None:
    """Point file descriptor ``fd`` at /dev/null, so that the interpreter's final flush of a
    stream that failed cannot fail again (that would turn the exit status into 120)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        if devnull != fd:
            os.dup2(devnull, fd)
            os.close(devnull)
    except OSError:
        pass


def say(line: str) -> None:
    """Write ``line`` and a newline on stderr; never raise.  When stderr is closed, full or
    otherwise unwritable the line is lost, and the exit status alone tells what happened."""
    err = sys.stderr
    if err is None:
        return
    try:
        err.write(for_encoding(line, stream_encoding(err)) + "\n")
        err.flush()
    except Exception:  # noqa: BLE001 - whatever failed, the status must survive
        quiet_stderr()


def quiet_stderr() -> None:
    """stderr failed: send what is still buffered (and anything later) to /dev/null."""
    try:
        fd = sys.stderr.fileno()
    except Exception:  # noqa: BLE001 - closed, or no real descriptor (a test's StringIO)
        return
    _silence(fd)


class OutputError(Exception):
    """Standard output could not be written (other than a reader that went away)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class GuardedStdout:
    """``sys.stdout`` while the CLI runs (see the module doc).

    It deliberately has no ``buffer`` attribute: click then writes text through it (even when the
    encoding is ASCII, where it would otherwise re-wrap the binary buffer and bypass it)."""

    def __init__(self, stream: Any):
        self._stream = stream

    @property
    def stream(self) -> Any:
        return self._stream

    @property
    def encoding(self) -> str:
        return stream_encoding(self._stream)

    @property
    def errors(self) -> Optional[str]:
        return getattr(self._stream, "errors", None)

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # a text stream (click probes with b"")
            raise TypeError("write() argument must be str, not " + type(text).__name__)
        if not text:
            return 0
        if self._stream is None:
            raise OutputError(f"{os.strerror(errno.EBADF)} (standard output is closed)")
        try:
            try:
                return self._stream.write(text)
            except UnicodeEncodeError:  # nothing was written: the encoder refused the whole text
                return self._stream.write(for_encoding(text, self.encoding))
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(e.strerror or str(e)) from None
        except ValueError as e:  # I/O on a closed file
            raise OutputError(str(e)) from None

    def flush(self) -> None:
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(e.strerror or str(e)) from None
        except ValueError as e:
            raise OutputError(str(e)) from None

    def isatty(self) -> bool:
        try:
            return self._stream is not None and bool(self._stream.isatty())
        except (OSError, ValueError, AttributeError):
            return False

    def fileno(self) -> int:
        if self._stream is None:
            import io

            raise io.UnsupportedOperation("standard output is closed")
        return self._stream.fileno()

    def writable(self) -> bool:
        return self._stream is not None

    @property
    def closed(self) -> bool:
        return self._stream is None or bool(getattr(self._stream, "closed", False))
