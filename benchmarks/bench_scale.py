#!/usr/bin/env python3
"""Scale benchmark: vocabulary-sized rows, a 64-row batch, typed input, the per-element mpmath
reference, and cold starts — side by side in one run, as medians with peak RSS.

    python benchmarks/bench_scale.py                 # 5 runs each (3 for the batch)
    python benchmarks/bench_scale.py --runs 3 --quick
    python benchmarks/bench_scale.py --memory         # also a 10**7-element row: bytes per element
    python benchmarks/bench_scale.py --compare-typer DIR   # DIR: an unpacked newer typer wheel

What it measures (every command is a fresh process: a cold start, a full report):

* baseline   ``python -c "import numpy, mpmath, rich.console"`` — the bare imports; then the
  same plus typer, and plus the modules ``smooth lse`` imports (where a cold start goes);
* help       ``smooth --help``;
* lse_cold   ``smooth lse 710 12 --dtype float16``;
* row_lse    ``smooth lse --file row.npy``      (1 × 262,144 float32; three dtypes, both methods,
  with the reference);
* row_softmax ``smooth softmax --file row.npy``;
* batch_softmax ``smooth softmax --file batch.npy`` (64 × 262,144 float32);
* long_rows_softmax, short_rows_softmax, short_rows_lse: 200 × 20,000 float32 values, read as
  200 rows of 20,000 and (``--axis 0``) as 20,000 rows of 200: the ratio is what many short
  rows cost beyond their values;
* mnist_softmax, mnist_lse: the 2,500 MNIST pre-softmax vectors of 10 logits in tests/data/bhh
  (rows short enough for the exact reference, one per row);
* typed_softmax ``smooth softmax 1 2 … 100000`` (numbers typed on the command line take the same
  engine as files);
* mpmath path: the per-element mpmath Ziv reference (``reference.fast.mpmath_row``, what every
  element cost before the vectorised reference) on a subsample of the row, extrapolated
  linearly to 262,144 elements (its cost is linear in n).

The logits are generated, not downloaded: normal (σ = 2) plus a Student-t(3) heavy tail, as
float32; every fourth row of the batch is scaled by 4 so that exp overflows float16 there (the
single row is one of those).  Targets are checked and printed; results
go to benchmarks/out/bench_scale.json and a Markdown table to benchmarks/out/bench_scale.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

N = 262_144
ROWS = 64
METRIC_SAMPLES = 100_000
SHORT_ROWS = 20_000
HERE = Path(__file__).resolve().parent


def generate(out: Path) -> tuple[Path, Path]:
    """Write the logits, in a child process: this process must stay small, because a child's
    peak RSS (wait4) includes the moment between fork and exec, when it is a copy of us."""
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_scale as b; "
            f"b._generate(__import__('pathlib').Path({str(out)!r}))")
    subprocess.run([sys.executable, "-c", code], check=True)
    return out / "row.npy", out / "batch.npy"


def _generate(out: Path) -> tuple[Path, Path]:
    import numpy as np

    rng = np.random.default_rng(2024)
    batch = (rng.standard_normal((ROWS, N)) * 2.0 + rng.standard_t(3, (ROWS, N)) * 0.5)
    batch[::4] *= 4.0  # these rows overflow exp in float16 (max logit > 11.09)
    batch = batch.astype(np.float32)
    row_path, batch_path = out / "row.npy", out / "batch.npy"
    np.save(batch_path, batch)
    np.save(row_path, batch[0])
    # smooth metrics: 100,000 binary samples (logits and 0/1 labels); many short rows: 200 ×
    # 20,000 float32 logits read along axis 0 (20,000 rows of 200)
    np.save(out / "logits.npy", rng.standard_normal(METRIC_SAMPLES) * 3.0)
    np.save(out / "labels.npy", (rng.random(METRIC_SAMPLES) < 0.4).astype(np.int64))
    np.save(out / "short_rows.npy", rng.standard_normal((200, SHORT_ROWS)).astype(np.float32))
    return row_path, batch_path


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds) of one fresh process; stdout discarded."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err}")
    return wall, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime  # Linux: KiB


def measure(name: str, cmd: list[str], runs: int, env: dict | None = None) -> dict:
    timed(cmd, env)  # warm the page cache and .pyc files: cold process, warm disk
    walls, rss, cpus = [], [], []
    for _ in range(runs):
        w, r, c = timed(cmd, env)
        walls.append(w)
        rss.append(r)
        cpus.append(c)
    res = {"name": name, "cmd": " ".join(cmd), "median_s": statistics.median(walls),
           "min_s": min(walls), "max_s": max(walls), "peak_rss_mib": max(rss), "runs": runs,
           "median_cpu_s": statistics.median(cpus)}
    print(f"  {name:20s} {res['median_s']:8.3f} s  (min {res['min_s']:.3f}, max "
          f"{res['max_s']:.3f}; CPU {res['median_cpu_s']:.3f} s)  peak RSS "
          f"{res['peak_rss_mib']:6.1f} MiB", flush=True)
    return res


def mpmath_path(row_path: Path, sample: int, runs: int) -> dict:
    """The per-element mpmath reference on ``sample`` elements, extrapolated to N."""
    import numpy as np

    from smoothcli.reference.fast import mpmath_row

    row = np.load(row_path)
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(N, sample, replace=False))
    pick[0] = int(np.argmax(row))  # keep the max: the same overflow behaviour
    x = row[np.sort(pick)].astype(np.float64)
    out = {}
    for name, softmax in (("lse", False), ("softmax", True)):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            mpmath_row(x, softmax)
            times.append(time.perf_counter() - t0)
        per = statistics.median(times) / sample
        out[name] = {"sample": sample, "per_element_us": per * 1e6,
                     "extrapolated_s": per * N}
        print(f"  mpmath {name:8s} {per * 1e6:8.1f} µs/element → {per * N:8.1f} s for "
              f"{N} elements (subsample {sample}, extrapolated)", flush=True)
    return out


def machine() -> dict:
    code = ("import json, numpy as np; print(json.dumps([np.__version__, "
            "int(np.finfo(np.longdouble).nmant)]))")
    np_version, nmant = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                                  capture_output=True, text=True).stdout)
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np_version, "platform": platform.platform(),
            "longdouble_nmant": nmant,
            "loadavg_at_start": load}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batch-runs", type=int, default=3)
    ap.add_argument("--sample", type=int, default=400, help="mpmath subsample size")
    ap.add_argument("--quick", action="store_true", help="skip the 64-row batch")
    ap.add_argument("--memory", action="store_true",
                    help="also one 10**7-element row (lse, softmax): peak memory per element")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--compare-typer", type=Path, default=None,
                    help="a directory holding an unpacked newer typer (put first on PYTHONPATH)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    smooth = shutil.which("smooth") or sys.exit("the smooth console script is not installed")
    print("generating logits …", flush=True)
    row, batch = generate(args.out)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['loadavg_at_start']}")
    py = sys.executable
    res: dict = {"machine": info, "results": {}}
    r = res["results"]
    r["baseline"] = measure("baseline", [py, "-c", "import numpy, mpmath, rich.console"],
                            args.runs)
    # where a cold start goes beyond the baseline: the CLI framework, then the tool's modules
    r["baseline_typer"] = measure("baseline + typer", [
        py, "-c", "import numpy, mpmath, rich.console, typer"], args.runs)
    r["baseline_cli"] = measure("baseline + smooth's modules", [
        py, "-c", "import numpy, mpmath, rich.console, smoothcli.cli, smoothcli.commands.lse, "
        "smoothcli._format.table, rich.table"], args.runs)
    r["help"] = measure("help", [smooth, "--help"], args.runs)
    r["lse_cold"] = measure("lse_cold", [smooth, "lse", "710", "12", "--dtype", "float16"],
                            args.runs)
    r["lse12_cold"] = measure("lse12_cold", [smooth, "lse", "1", "2"], args.runs)
    r["metrics_100k"] = measure("metrics_100k", [
        smooth, "metrics", "--logits", str(args.out / "logits.npy"), "--labels",
        str(args.out / "labels.npy")], args.runs)
    r["row_lse"] = measure("row_lse", [smooth, "lse", "--file", str(row)], args.runs)
    r["row_softmax"] = measure("row_softmax", [smooth, "softmax", "--file", str(row)],
                               args.runs)
    r["typed_softmax"] = measure("typed_softmax", [smooth, "softmax", *map(str, range(1, 100001)),
                                                    "--dtype", "float32"], args.runs)
    if not args.quick:
        r["batch_softmax"] = measure("batch_softmax", [smooth, "softmax", "--file", str(batch)],
                                     args.batch_runs)
        short_path = str(args.out / "short_rows.npy")
        # the same 4,000,000 values as 200 rows of 20,000 (the baseline: per-row costs vanish)
        r["long_rows_softmax"] = measure("long_rows_softmax", [
            smooth, "softmax", "--file", short_path], args.batch_runs)
        r["short_rows_softmax"] = measure("short_rows_softmax", [
            smooth, "softmax", "--file", short_path, "--axis", "0"], args.batch_runs)
        r["short_rows_lse"] = measure("short_rows_lse", [
            smooth, "lse", "--file", short_path, "--axis", "0"], args.batch_runs)
    # real data: the 2,500 MNIST pre-softmax vectors of 10 logits (Blanchard, Higham & Higham)
    mnist = HERE.parent / "tests" / "data" / "bhh" / "presoftmax.npy"
    r["mnist_softmax"] = measure("mnist_softmax", [smooth, "softmax", "--file", str(mnist)],
                                 args.runs)
    r["mnist_lse"] = measure("mnist_lse", [smooth, "lse", "--file", str(mnist)], args.runs)
    if args.memory:
        big = args.out / "row1e7.npy"
        subprocess.run([py, "-c", "import numpy as np; np.save(%r, (np.random.default_rng(1)"
                        ".standard_normal(10**7) * 3).astype(np.float32))" % str(big)],
                       check=True)
        for name in ("lse", "softmax"):
            r[f"row1e7_{name}"] = measure(f"row1e7_{name}", [smooth, name, "--file", str(big)],
                                          1)
    res["mpmath"] = mpmath_path(row, args.sample, 1)
    if args.compare_typer:
        env = dict(os.environ, PYTHONPATH=str(args.compare_typer))
        r["help_newer_typer"] = measure("help, newer typer", [py, "-m", "smoothcli", "--help"],
                                        args.runs, env)
        r["lse_cold_newer_typer"] = measure(
            "lse, newer typer", [py, "-m", "smoothcli", "lse", "710", "12", "--dtype",
                                 "float16"], args.runs, env)
    res["machine"]["loadavg_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    res["targets"] = targets(r, res["mpmath"])
    (args.out / "bench_scale.json").write_text(json.dumps(res, indent=2) + "\n")
    md = markdown(res)
    (args.out / "bench_scale.md").write_text(md)
    print()
    print(md)


def targets(r: dict, mp: dict) -> list[dict]:
    base = r["baseline"]["median_s"]
    cold = r["lse_cold"]["median_s"]
    out = [
        {"target": "smooth lse 710 12 --dtype float16 ≤ 1.25 × bare import",
         "value": cold / base, "limit": 1.25, "unit": "×"},
        {"target": "smooth --help ≤ 0.6 × bare import",
         "value": r["help"]["median_s"] / base, "limit": 0.6, "unit": "×"},
    ]
    out.append({"target": "metrics, 100,000 binary samples, 3 dtypes ≤ 3 × cold smooth lse 1 2",
                "value": r["metrics_100k"]["median_s"] / r["lse12_cold"]["median_s"],
                "limit": 3.0, "unit": "×"})
    for name in ("row_lse", "row_softmax"):
        out.append({"target": f"{name}: full report ≤ 1.5 × cold smooth lse 710 12",
                    "value": r[name]["median_s"] / cold, "limit": 1.5, "unit": "×"})
    kind = {"row_lse": "lse", "row_softmax": "softmax"}
    for name in ("row_lse", "row_softmax"):
        speed = mp[kind[name]]["extrapolated_s"] / r[name]["median_s"]
        out.append({"target": f"{name}: ≥ 30 × faster than the per-element mpmath path",
                    "value": speed, "limit": 30, "unit": "×", "at_least": True})
    if "batch_softmax" in r:
        out.append({"target": "64 × 262,144 softmax ≤ 6 s", "value": r["batch_softmax"]
                    ["median_s"], "limit": 6.0, "unit": "s"})
        out.append({"target": "64 × 262,144 softmax ≤ 400 MiB peak RSS",
                    "value": r["batch_softmax"]["peak_rss_mib"], "limit": 400, "unit": "MiB"})
    if "short_rows_softmax" in r:
        out.append({"target": "20,000 rows of 200: softmax ≤ 3 × the same values as 200 rows",
                    "value": r["short_rows_softmax"]["median_s"]
                    / r["long_rows_softmax"]["median_s"], "limit": 3.0, "unit": "×"})
    for name, limit in (("row1e7_lse", 130), ("row1e7_softmax", 280)):
        if name in r:  # the bytes per element promised in docs/performance.md
            out.append({"target": f"{name}: ≤ {limit} bytes of peak memory per element",
                        "value": r[name]["peak_rss_mib"] * 2**20 / 1e7, "limit": limit,
                        "unit": "B"})
    for t in out:
        t["met"] = t["value"] >= t["limit"] if t.get("at_least") else t["value"] <= t["limit"]
    return out


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy "
             f"{m['numpy']}, long double {m['longdouble_nmant'] + 1}-bit significand; load "
             f"average {fmt_load(m['loadavg_at_start'])} at start, "
             f"{fmt_load(m['loadavg_at_end'])} at end.", "",
             "| measurement | median wall | min wall | median CPU (user+sys) | peak RSS |",
             "|---|---:|---:|---:|---:|"]
    for v in res["results"].values():
        lines.append(f"| {v['name']}: `{short(v['cmd'])}` | {v['median_s']:.3f} s | "
                     f"{v['min_s']:.3f} s | {v['median_cpu_s']:.3f} s | "
                     f"{v['peak_rss_mib']:.0f} MiB |")
    for k, v in res["mpmath"].items():
        lines.append(f"| per-element mpmath reference {k}, {v['sample']}-element subsample "
                     f"extrapolated to 262,144 | {v['extrapolated_s']:.1f} s | "
                     f"({v['per_element_us']:.0f} µs/element) | | |")
    lines += ["", "| target | measured | limit | met |", "|---|---:|---:|:---:|"]
    for t in res["targets"]:
        cmp = "≥" if t.get("at_least") else "≤"
        lines.append(f"| {t['target']} | {t['value']:.2f} {t['unit']} | {cmp} {t['limit']} "
                     f"{t['unit']} | {'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def fmt_load(load) -> str:
    return "n/a" if not load else "/".join(f"{v:.2f}" for v in load)


def short(cmd: str) -> str:
    parts = cmd.split()
    parts[0] = Path(parts[0]).name
    text = " ".join(Path(p).name if "/" in p else p for p in parts)
    return text if len(text) <= 90 else text[:60] + " … " + text[-25:]


if __name__ == "__main__":
    main()
