#!/usr/bin/env python3
"""Rerun every command shown in README.md (and docs/*.md) and replace its output with the real one.

A command is marked by a fenced block opened with ```console whose first line is ``$ smooth ...``
(optionally ``; echo "exit $?"``); everything after that line up to the closing fence is
replaced by what the installed ``smooth`` prints now (stdout and stderr, as a terminal user
would see them in a pipe).  Blocks with several commands, commented commands and commands that
fail for want of a file are left as they are.  Run it after a change to the output:

    python tools/refresh_readme.py README.md docs/verdicts.md
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BLOCK = re.compile(r"(```console\n)(\$ [^\n]+\n)(.*?)(```)", re.S)


def run(command: str) -> tuple[int, str]:
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **_path()})
    return proc.returncode, proc.stdout + proc.stderr


def _path() -> dict:
    import os

    return {"PATH": os.path.dirname(sys.executable) + ":" + os.environ.get("PATH", ""),
            "COLUMNS": "100", "NO_COLOR": "1", "LANG": "C.UTF-8"}


def refresh(path: Path) -> int:
    text = path.read_text()
    count = 0

    def replace(m: re.Match) -> str:
        nonlocal count
        if "\n$ " in m.group(3) or "#" in m.group(2):  # several commands, or an annotated one
            return m.group(0)
        code, out = run(m.group(2)[2:].strip())
        if code not in (0, 1) and "echo" not in m.group(2):  # a file that is not here: keep
            return m.group(0)
        count += 1
        return m.group(1) + m.group(2) + out + ("" if out.endswith("\n") else "\n") + m.group(4)

    path.write_text(BLOCK.sub(replace, text))
    return count


if __name__ == "__main__":
    for name in sys.argv[1:] or ["README.md"]:
        print(f"{name}: {refresh(Path(name))} commands rerun")
