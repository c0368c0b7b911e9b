#!/usr/bin/env python3
"""netns-conform launcher benchmark: the fork server against `--launcher exec`, side by side.

Prints numbers, never pass/fail (the goals are printed beside them). Each measurement runs both
launchers in alternation within this one invocation, so that a change of machine load hits both
alike:
  - in place, the whole suite at -j 1: the median per-case overhead, i.e. results.json's
    duration_s (the runner's view: request to ending) minus case_s (the case's own time as the
    suite measured it), over every started case;
  - in place, the whole suite at -j 2: wall time;
  - with --vm KERNEL: the whole `run --vm KERNEL` wall time, and the per-case overhead in the
    guest (the guest's runner measures duration_s, so the figure is the guest's own);
  - with --matrix: `netns-conform matrix` over the five default targets, wall time.
Goals (issue "Per-case cost: a fork-server launch path"): in place median overhead <= 3 ms; -j 2
suite >= 1.5x faster; in the debian-6.1-cloud guest overhead <= 20 ms and the whole run <= 0.6 of
exec's; the five-target matrix <= 0.75 of exec's.

usage: launcher_bench.py BIN_FOLDER OUT_FOLDER [--rounds N] [--vm KERNEL]... [--matrix]
                         [--matrix-rounds N] [--json FILE]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

LAUNCHERS = ("exec", "fork-server")


def run(argv, log):
    """Runs argv with its output in log; returns (wall seconds, exit status)."""
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        rc = subprocess.call(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return time.monotonic() - start, rc


def overheads_ms(results_path):
    """duration_s - case_s in ms for every case that ran and reported its own time."""
    with open(results_path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    return [(c["duration_s"] - c["case_s"]) * 1000 for c in cases
            if c.get("case_s", 0) > 0 and c.get("duration_s", 0) > 0]


def verdicts(results_path):
    with open(results_path, encoding="utf-8") as f:
        return {c["id"]: c["status"] for c in json.load(f)["cases"]}


def stats(values):
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {"n": len(values), "median": round(statistics.median(values), 3),
            "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
            "min": round(ordered[0], 3), "max": round(ordered[-1], 3)}


def measure(name, runner_args, rounds, out_dir, results_name="results.json"):
    """Runs `runner_args + [--launcher L, --out DIR]` for both launchers, `rounds` times, in
    alternation. Returns {launcher: {"walls": [...], "overheads": [...], "verdicts": {...}}}."""
    got = {launcher: {"walls": [], "overheads": [], "verdicts": None} for launcher in LAUNCHERS}
    for r in range(rounds):
        order = LAUNCHERS if r % 2 == 0 else tuple(reversed(LAUNCHERS))
        for launcher in order:
            out = os.path.join(out_dir, f"{name}-{launcher}-{r + 1}")
            wall, rc = run(runner_args + ["--launcher", launcher, "--out", out], out + ".log")
            results = os.path.join(out, results_name)
            if rc not in (0, 1) or not os.path.exists(results):
                sys.exit(f"{name} with --launcher {launcher} exited {rc}; see {out}.log")
            got[launcher]["walls"].append(wall)
            if results_name == "results.json":
                got[launcher]["overheads"] += overheads_ms(results)
                got[launcher]["verdicts"] = verdicts(results)
            print(f"  {name:<22} {launcher:<11} round {r + 1}: {wall:7.2f} s", flush=True)
    return got


def report_pair(name, got, goal_text):
    exec_wall = statistics.median(got["exec"]["walls"])
    fork_wall = statistics.median(got["fork-server"]["walls"])
    entry = {"wall_s": {l: [round(w, 3) for w in got[l]["walls"]] for l in LAUNCHERS},
             "median_wall_s": {"exec": round(exec_wall, 3), "fork-server": round(fork_wall, 3)},
             "fork_over_exec_wall": round(fork_wall / exec_wall, 3),
             "speedup": round(exec_wall / fork_wall, 3)}
    if got["exec"]["overheads"]:
        entry["per_case_overhead_ms"] = {l: stats(got[l]["overheads"]) for l in LAUNCHERS}
    if got["exec"]["verdicts"] is not None:
        a, b = got["exec"]["verdicts"], got["fork-server"]["verdicts"]
        entry["verdicts_differ"] = sorted(i for i in set(a) | set(b) if a.get(i) != b.get(i))
    print(f"{name}: median wall exec {exec_wall:.2f} s, fork-server {fork_wall:.2f} s "
          f"(ratio {entry['fork_over_exec_wall']}, speedup {entry['speedup']}x)")
    if "per_case_overhead_ms" in entry:
        o = entry["per_case_overhead_ms"]
        print(f"  per-case overhead median: exec {o['exec'].get('median')} ms, "
              f"fork-server {o['fork-server'].get('median')} ms "
              f"(n={o['fork-server'].get('n')})")
    if entry.get("verdicts_differ"):
        print(f"  verdicts differ between the launchers: {entry['verdicts_differ']}")
    print(f"  goal: {goal_text}")
    entry["goal"] = goal_text
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bin")
    parser.add_argument("out")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--vm", action="append", default=[])
    parser.add_argument("--matrix", action="store_true")
    # A matrix round is about 1.5 min per launcher on 2 TCG cores: one by default.
    parser.add_argument("--matrix-rounds", type=int, default=1)
    parser.add_argument("--json")
    args = parser.parse_args()
    runner = os.path.join(os.path.abspath(args.bin), "netns-conform")
    if not os.access(runner, os.X_OK):
        sys.exit(f"usage: launcher_bench.py BIN_FOLDER OUT_FOLDER ...: no {runner}")
    os.makedirs(args.out, exist_ok=True)
    with open("/proc/loadavg", encoding="utf-8") as f:
        load = f.read().split()[:3]
    report = {"kernel_release": os.uname().release, "cpus": os.cpu_count(),
              "load_average_at_start": load, "rounds": args.rounds}
    print(f"launcher_bench on {os.uname().release}, {os.cpu_count()} CPUs, load {load}")

    got = measure("inplace-j1", [runner, "run", "-j", "1"], args.rounds, args.out)
    report["inplace_j1"] = report_pair("in place -j 1", got,
                                       "fork-server median per-case overhead <= 3 ms")
    got = measure("inplace-j2", [runner, "run", "-j", "2"], args.rounds, args.out)
    report["inplace_j2"] = report_pair("in place -j 2", got, "speedup >= 1.5x")
    for kernel in args.vm:
        got = measure(f"vm-{kernel}", [runner, "run", "--vm", kernel], args.rounds, args.out)
        report[f"vm_{kernel}"] = report_pair(
            f"run --vm {kernel}", got,
            "in-guest fork-server per-case overhead <= 20 ms; wall ratio <= 0.6")
    if args.matrix:
        got = measure("matrix", [runner, "matrix"], args.matrix_rounds, args.out,
                      results_name="matrix.json")
        report["matrix"] = report_pair("matrix (5 targets)", got, "wall ratio <= 0.75")
    with open("/proc/loadavg", encoding="utf-8") as f:
        report["load_average_at_end"] = f.read().split()[:3]
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        print(f"numbers written to {args.json}")


if __name__ == "__main__":
    main()
