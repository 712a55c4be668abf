"""Shared test fixtures and helpers: drive the CLI in-process and parse its output.

Everything that reads what the tool prints (strict JSON, the "inf" / "nan" strings, rows of a
document) is here; the independent values the tests compare against live in tests/oracle.py
(no smoothcli imports there).
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import mpmath
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # make tests/oracle.py importable everywhere

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------
# reading the tool's output

def loads_strict(text: str):
    """json.loads that rejects the NaN / Infinity / -Infinity literals (RFC 8259 has none)."""
    def reject(name):
        raise ValueError(f"non-RFC-8259 literal {name} in JSON output")

    return json.loads(text, parse_constant=reject)


def num(v) -> float:
    """A JSON number or one of the strings "inf", "-inf", "nan", as a float."""
    if isinstance(v, str):
        assert v in ("inf", "-inf", "nan"), v
        return float(v)
    assert isinstance(v, (int, float)) and not isinstance(v, bool), v
    return float(v)


def close(got, want, rel: float = 1e-9) -> bool:
    """got (a JSON number or "inf"/"-inf"/"nan") equals want up to rel (nan == nan)."""
    g = num(got)
    if math.isnan(want):
        return math.isnan(g)
    if math.isinf(want) or want == 0:
        return g == want
    return math.isclose(g, want, rel_tol=rel, abs_tol=0.0)


def rows_by(doc, key: tuple = ("dtype", "method"), **match) -> dict:
    """A document's rows keyed by the fields ``key``, keeping those whose fields equal ``match``
    (``rows_by(doc, function="lse")``)."""
    return {tuple(r[k] for k in key): r for r in doc["rows"]
            if all(r[k] == v for k, v in match.items())}


# --------------------------------------------------------------------------------------------
# running the tool


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def json(self):
        return loads_strict(self.stdout)


def _invoke(args: list[str], env: dict | None = None) -> Run:
    from typer.testing import CliRunner

    from smoothcli.cli import app

    with mpmath.workprec(53):  # mpmath's default, which a user's process has
        result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    return Run(result.exit_code, result.stdout, result.stderr, exc)


@pytest.fixture
def smooth():
    """smooth(*args) -> Run: the CLI run in-process with typer's CliRunner."""
    return lambda *args, env=None: _invoke(list(args), env)


@pytest.fixture
def smooth_json():
    """smooth_json(*args) -> dict: runs with --json, asserts exit 0/1 and no traceback."""

    def run(*args, expect_exit: int | None = None):
        r = _invoke([*args, "--json"])
        assert r.exception is None, repr(r.exception)
        if expect_exit is not None:
            assert r.exit_code == expect_exit, (r.exit_code, r.stderr)
        else:
            assert r.exit_code in (0, 1), (r.exit_code, r.stderr)
        return r.json

    return run


@pytest.fixture(scope="session")
def venv_bin() -> Path:
    """The directory of the running interpreter: the installed ``smooth`` script lives there."""
    return Path(sys.executable).parent


@pytest.fixture(scope="session")
def env_with_smooth(venv_bin) -> dict:
    """os.environ with the venv's bin first on PATH (for subprocess runs of ``smooth``)."""
    env = dict(os.environ)
    env["PATH"] = str(venv_bin) + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONPATH", None)
    return env
