#!/usr/bin/env python3
"""Start-up benchmark: how long a cold ``smooth`` takes against the bare imports it cannot avoid.

    python benchmarks/bench_startup.py             # 15 runs of each command, alternating
    python benchmarks/bench_startup.py --runs 31 --json benchmarks/out/bench_startup.json
    python benchmarks/bench_startup.py --compare /tmp/old   # also an older checkout, A/B

Commands (every run is a fresh process; stdout discarded):

* baseline  ``python -c "import numpy, mpmath, rich.console"``;
* lse_cold  ``smooth lse 710 12 --dtype float16`` (the whole command: parse, evaluate against the
  exact reference, verdict, table);
* help      ``smooth --help``;
* baseline_1blas  the baseline with ``OPENBLAS_NUM_THREADS=1``, as smooth runs numpy (it never
  calls BLAS, so it does not start numpy's pool of BLAS threads): smooth's own overhead, like for
  like;
* with ``--compare DIR``: ``lse_cold`` and ``help`` again with ``PYTHONPATH=DIR``, i.e. the
  smoothcli package of another checkout (``git archive REV | tar -x -C DIR``) run by the same
  console script, interleaved with the others: a before/after in one run.

The commands run in turns (baseline, lse, help, baseline, lse, help, ...) rather than one block
after the other, so that a change in the machine's load during the run weighs on every command
alike; the ratios are of medians measured in the same run.  One untimed round first warms the
page cache and the .pyc files: a cold process, a warm disk.

Child processes run without ``PYTHONDONTWRITEBYTECODE`` (which some CI images and containers set):
an installed package has its ``.pyc`` files, and compiling smooth's modules from source at every
start would add ~40 ms that no user pays.

Targets: ``lse_cold`` ≤ 1.25 × baseline; ``help`` ≤ 0.6 × baseline.  The exit status is 0 when
both are met, 1 otherwise (``--no-fail`` always exits 0).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGETS = {"lse_cold": 1.25, "help": 0.6}


BARE = "import numpy, mpmath, rich.console"


def commands(python: str, smooth: str) -> dict[str, list[str]]:
    return {
        "baseline": [python, "-c", BARE],
        # the same imports with the one BLAS thread smooth asks for (smoothcli/__init__.py):
        # what smooth's own overhead is measured against, like for like
        "baseline_1blas": ["env", "OPENBLAS_NUM_THREADS=1", python, "-c", BARE],
        "lse_cold": [smooth, "lse", "710", "12", "--dtype", "float16"],
        "help": [smooth, "--help"],
    }


def child_env(pythonpath: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    proc.returncode = code
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({code}): {err}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    ap.add_argument("--smooth", default=shutil.which("smooth"),
                    help="the smooth console script [default: the one on PATH]")
    ap.add_argument("--compare", metavar="DIR", default=None,
                    help="also time lse_cold and help with PYTHONPATH=DIR (another checkout)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--no-fail", action="store_true", help="exit 0 even if a target is missed")
    args = ap.parse_args()
    if not args.smooth:
        sys.exit("the smooth console script is not installed (pip install -e .)")
    cmds = commands(sys.executable, args.smooth)
    envs = {k: child_env() for k in cmds}
    if args.compare:
        for name in ("lse_cold", "help"):
            cmds[f"{name}@compare"] = cmds[name]
            envs[f"{name}@compare"] = child_env(os.path.abspath(args.compare))
    for name, cmd in cmds.items():  # warm-up, untimed (writes the .pyc files if missing)
        timed(cmd, envs[name])
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    cpus: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(args.runs):
        for name, cmd in cmds.items():
            w, c = timed(cmd, envs[name])
            walls[name].append(w)
            cpus[name].append(c)
    base = statistics.median(walls["baseline"])
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"{args.runs} runs each, alternating; {os.cpu_count()} cores, load "
          f"{'/'.join(f'{v:.2f}' for v in load) if load else 'n/a'}")
    res = {"runs": args.runs, "compare": args.compare, "python": sys.version.split()[0], "cores": os.cpu_count(),
           "loadavg_at_end": load, "results": {}}
    met = True
    for name, cmd in cmds.items():
        med = statistics.median(walls[name])
        row = {"cmd": " ".join(Path(cmd[0]).name if i == 0 else a for i, a in enumerate(cmd)),
               "median_s": med, "min_s": min(walls[name]), "max_s": max(walls[name]),
               "median_cpu_s": statistics.median(cpus[name]), "ratio": med / base}
        res["results"][name] = row
        line = (f"  {name:16s} median {med * 1000:6.1f} ms  (min {row['min_s'] * 1000:6.1f}, "
                f"max {row['max_s'] * 1000:6.1f}; CPU {row['median_cpu_s'] * 1000:6.1f} ms)  "
                f"{row['ratio']:.2f} × baseline")
        if name == "lse_cold":
            row["ratio_1blas"] = med / statistics.median(walls["baseline_1blas"])
            line += f" ({row['ratio_1blas']:.2f} × baseline_1blas)"
        if name in TARGETS:
            ok = row["ratio"] <= TARGETS[name]
            met &= ok
            line += f"  target ≤ {TARGETS[name]} × : {'met' if ok else 'MISSED'}"
        print(line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0 if met or args.no_fail else 1


if __name__ == "__main__":
    sys.exit(main())
