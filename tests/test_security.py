"""Inputs are only ever parsed as numbers: no eval, no pickle, no network, paths opened
read-only, nothing written unless an option names an output file.

Two kinds of evidence: a static reading of every module of smoothcli (the AST, so comments and
docstrings do not count), and the running program watched by a PEP 578 audit hook, which sees
every file opened for writing, every socket, every unpickling and every process started.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "smoothcli"
SOURCES = sorted(PACKAGE.rglob("*.py"))

#: Modules whose import would mean network access or code execution from data.
FORBIDDEN_IMPORTS = {"pickle", "cPickle", "dill", "cloudpickle", "shelve", "marshal", "joblib",
                     "socket", "ssl", "http", "urllib", "urllib3", "requests", "httpx", "ftplib",
                     "smtplib", "telnetlib", "xmlrpc", "asyncio", "subprocess", "multiprocessing",
                     "webbrowser"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "input", "breakpoint"}
#: A write-mode open() is allowed only on a line carrying this marker: the path comes from an
#: option that names an output file (--png/--svg write through matplotlib's savefig instead).
OUTPUT_MARKER = "# output file named by an option"


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"{_name(func.value)}.{func.attr}"
    return ""


def test_sources_are_found():
    assert len(SOURCES) >= 10 and PACKAGE / "cli.py" in SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_eval_pickle_or_network_in_the_source(path: Path):
    text = path.read_text()
    tree = ast.parse(text)
    lines = text.splitlines()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] not in FORBIDDEN_IMPORTS, (path, alias.name)
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in FORBIDDEN_IMPORTS, (path, node.module)
    for call in _calls(tree):
        name = _name(call.func)
        where = f"{path.name}:{call.lineno}"
        # eval(...), exec(...), builtins.eval(...); a method such as re.compile is fine
        assert name.removeprefix("builtins.") not in FORBIDDEN_CALLS, (where, name)
        if name.endswith("os.system") or name.startswith("os.exec") or name.startswith(
                "os.spawn") or name.endswith("os.popen"):
            raise AssertionError(f"{where}: {name} starts a process")
        if name.split(".")[-1] == "load" and name.split(".")[0] in ("np", "numpy"):
            kw = {k.arg: k.value for k in call.keywords}
            ok = isinstance(kw.get("allow_pickle"), ast.Constant) and \
                kw["allow_pickle"].value is False
            assert ok, f"{where}: np.load without allow_pickle=False"
        for k in call.keywords:
            if k.arg == "allow_pickle":
                assert isinstance(k.value, ast.Constant) and k.value.value is False, where
        if name == "open":
            mode = call.args[1] if len(call.args) > 1 else next(
                (k.value for k in call.keywords if k.arg == "mode"), ast.Constant("r"))
            assert isinstance(mode, ast.Constant), f"{where}: open() with a computed mode"
            writes = set(str(mode.value)) & set("wax+")
            assert not writes or OUTPUT_MARKER in lines[call.lineno - 1], \
                f"{where}: open(..., {mode.value!r}) writes without naming an output option"
        if name.endswith("os.open"):
            first = call.args[0] if call.args else None
            assert _name(first) == "os.devnull", f"{where}: os.open of something else"


def test_no_allow_pickle_true_anywhere():
    for path in SOURCES:
        assert "allow_pickle=True" not in path.read_text(), path


# --------------------------------------------------------------------------------------------
# The running program under an audit hook

AUDIT = r'''
import io, json, os, sys

events = []
WATCH = ("socket.", "pickle.find_class", "subprocess.Popen", "os.system", "os.exec",
         "os.posix_spawn", "os.spawn", "os.fork", "urllib.Request", "ftplib.", "smtplib.",
         "webbrowser.open")

def hook(event, args):
    if event == "open":
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        path = os.fsdecode(path) if isinstance(path, (str, bytes)) else str(path)
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        if writes and path != os.devnull and not path.endswith(".pyc") \
                and "__pycache__" not in path:
            events.append(["write", path])
    elif event.startswith(WATCH):
        events.append([event, repr(args)[:200]])

sys.addaudithook(hook)
from smoothcli.cli import main

results = []
for args, stdin in json.loads(sys.argv[1]):
    sys.argv = ["smooth", *args]
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode("latin-1")))
    out, err = io.StringIO(), io.StringIO()
    real = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.stdout, sys.stderr = real
    results.append([args, code, err.getvalue()[-300:]])
print(json.dumps({"events": events, "results": results}))
'''


def _runs(tmp: Path) -> list[tuple[list[str], str]]:
    """Every registered command with values, and every input route (files, stdin, pickles)."""
    import typer.main

    from smoothcli.cli import app

    np.save(tmp / "row.npy", np.linspace(-5, 5, 7, dtype=np.float32))
    np.save(tmp / "batch.npy", np.linspace(-800, 710, 2 * 1500).reshape(2, 1500))
    evil = np.empty(1, dtype=object)
    evil[0] = {"not": "numbers"}
    np.save(tmp / "evil.npy", evil, allow_pickle=True)
    (tmp / "x.csv").write_text("1,2,3\n4,5,6\n")
    runs = [(["lse", "710", "12"], ""), (["softmax", "1", "2", "-3", "--json"], ""),
            (["bounds", "1", "2", "--k", "10"], ""), (["underflow"], ""),
            (["exp-range", "--dtype", "all"], ""), (["lse", "710", "12", "--check"], ""),
            (["lse", "--file", str(tmp / "row.npy")], ""),
            (["softmax", "--file", str(tmp / "batch.npy"), "--dtype", "float16"], ""),
            (["lse", "--file", str(tmp / "x.csv")], ""),
            (["lse", "--file", str(tmp / "evil.npy")], ""),
            (["lse", "--file", "-"], "1 2 3\n"), (["lse"], "4 5 6\n"),
            (["lse", "1", "--dtype", "nope"], "")]
    group = typer.main.get_command(app)
    known = {r[0][0] for r in runs}
    for name, cmd in group.commands.items():  # commands added later, with values if they take
        if name not in known:
            takes_values = any(p.name == "values" for p in cmd.params)
            runs.append(([name, "1", "-2", "0.5"] if takes_values else [name], ""))
    return runs


def test_running_smooth_writes_nothing_opens_no_socket_and_unpickles_nothing(tmp_path: Path):
    runs = _runs(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "SMOOTH_DEBUG"}
    p = subprocess.run([sys.executable, "-c", AUDIT, json.dumps(runs)], capture_output=True,
                       text=True, cwd=tmp_path, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    report = json.loads(p.stdout.splitlines()[-1])
    assert report["events"] == [], report["events"]
    codes = {tuple(a): c for a, c, _ in report["results"]}
    assert codes[("lse", "710", "12")] == 0
    assert codes[("lse", "710", "12", "--check")] == 1
    assert codes[("lse", "--file", str(tmp_path / "evil.npy"))] == 2
    assert codes[("lse", "1", "--dtype", "nope")] == 2
    assert all(c in (0, 1, 2) for c in codes.values()), report["results"]


def test_no_file_appears_in_the_working_directory_or_home(tmp_path: Path):
    """Real runs of the installed program in an empty directory with an empty HOME: both are
    still empty afterwards (no cache, config, log or output file)."""
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("SMOOTH_DEBUG", "MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    for args in (["lse", "710", "12", "--dtype", "all"], ["softmax", "1", "2", "--json"],
                 ["exp-range"], ["underflow"], ["lse", "nope"]):
        p = subprocess.run([sys.executable, "-m", "smoothcli", *args], cwd=work, env=env,
                           capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        assert p.returncode in (0, 2), p.stderr
    assert list(work.rglob("*")) == [] and list(home.rglob("*")) == []
