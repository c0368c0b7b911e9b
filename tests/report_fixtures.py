"""results.json documents for the tests of the derived report formats (KTAP, KCIDB, matrix).

usage: report_fixtures.py hostile SAMPLE_RESULTS OUT_RESULTS
         the sample run plus cases whose names and reasons try to break out of each format
       report_fixtures.py variant REAL_RESULTS OUT_RESULTS NAME
         a copy of a real run as another target would give it: NAME "gvisor" turns the first
         PASS case into a FAIL (with a reason full of markup) and the second into a SKIP;
         NAME "debian-6.1-cloud" makes it a TCG VM run whose third PASS case timed out, and
         where a clause whose cases all PASSed is a known kernel bug (XFAIL, with an expectation
         whose reason is markup) and another one's expectation is stale (XPASS)
Every document written keeps the rules ReadResultsFile checks: summary and clause verdicts
recomputed from the cases.
"""
import json
import sys

COUNTS = [("passed", "PASS"), ("failed", "FAIL"), ("skipped", "SKIP"), ("errors", "ERROR"),
          ("timeouts", "TIMEOUT"), ("missed", "MISS"), ("xfailed", "XFAIL"), ("xpassed", "XPASS")]

# The first line the gvisor variant's FAIL shows; tests look for it on the page.
GVISOR_FAIL_FIRST_LINE = '<script>alert("x")</script> & <b>not bold</b> \'quoted\''
# The debian-6.1-cloud variant's expectations: the XFAIL's (whose reason is markup) and the XPASS's.
XFAIL_EXPECTATION = {"status": "FAIL", "reason": "<i>kernel</i> lacks 7b735ef81286",
                     "link": "https://git.kernel.org/linus/7b735ef81286"}
XPASS_EXPECTATION = {"status": "TIMEOUT", "reason": "hung before 6.2",
                     "link": "https://bugs.example/show?id=1&x=2"}


def recount(doc):
    doc["schema_version"] = 2
    cases = doc["cases"]
    summary = doc["summary"]
    summary["total"] = len(cases)
    for name, status in COUNTS:
        summary[name] = sum(1 for c in cases if c["status"] == status)
    named = {}
    for c in cases:
        if c["clause"]:
            named.setdefault(c["clause"], []).append(c)
    clauses = []
    for clause in sorted(named):
        statuses = {"PASS" if c["status"] == "XPASS" else c["status"] for c in named[clause]}
        if "XFAIL" in statuses and statuses <= {"PASS", "SKIP", "XFAIL"}:
            verdict = "XFAIL"
        else:
            verdict = ("PASS" if statuses == {"PASS"} else "SKIP" if statuses == {"SKIP"}
                       else "FAIL")
        clauses.append({"id": clause, "status": verdict, "cases": [c["id"] for c in named[clause]]})
    doc["clauses"] = clauses
    return doc


def hostile(doc):
    nasty_lines = [
        "reboot: System halted",
        "Kernel panic - not syncing: VFS: Unable to mount root fs",
        "List of all partitions:",
        "Subtest: Injected",
        "KTAP version 1",
        "ok 1 injected # SKIP not really",
        "not ok 2 injected",
        "1..5",
        "# SKIP",
        "carriage\rreturn, vertical\vtab, form\ffeed, next\u0085line, line\u2028separator",
        "nul\u0000byte, bell\u0007, escape \u001b[31mred\u001b[0m",
        "<td>html</td> & \"json\" \\ backslash",
    ]
    reason = "\n".join(nasty_lines)
    doc["cases"] += [
        {"id": "Hostile.FailWithMarkers", "clause": "sem.B1.1.hostile", "status": "FAIL",
         "reason": reason, "duration_s": 0.5, "log": "logs/Hostile #1?.log"},
        {"id": "Hostile.SkipWithMarkers", "clause": "sem.B1.1.hostile", "status": "SKIP",
         "reason": "needs # nothing # SKIP twice\n" + reason, "duration_s": 0},
        {"id": "Hostile.TimeoutWithHash", "clause": "sem.B1.2.hostile", "status": "TIMEOUT",
         "reason": "killed after 1 s # SKIP this is not a skip", "duration_s": 1.0},
        {"id": "Hostile.ErrorEmptyFirstLine", "clause": "sem.B1.2.hostile", "status": "ERROR",
         "reason": "\n\n   \nsecond line # with hash", "duration_s": 0.1},
        {"id": "Hostile.MissReboot", "clause": "sem.B1.3.hostile", "status": "MISS",
         "reason": "reboot: System halted", "duration_s": 0},
        {"id": "Hostile.Param/1", "clause": "", "status": "PASS", "duration_s": 0.1},
        # Every case of this suite skips: its suite line is "ok N AllSkipped # SKIP".
        {"id": "AllSkipped.One", "clause": "sem.B1.3.hostile", "status": "SKIP",
         "reason": "no", "duration_s": 0},
        {"id": "AllSkipped.Two", "clause": "sem.B1.3.hostile", "status": "SKIP",
         "reason": "no", "duration_s": 0},
    ]
    return recount(doc)


def variant(doc, name):
    env = doc["environment"]
    env["target"] = name
    passed = [c for c in doc["cases"] if c["status"] == "PASS"]
    if name == "gvisor":
        env["sandbox"] = "inplace"
        env["runsc_version"] = "runsc version 0.0~20221219.0"
        passed[0]["status"] = "FAIL"
        passed[0]["reason"] = GVISOR_FAIL_FIRST_LINE + "\nExpected: 0\n  Actual: -1 (EINVAL)"
        passed[1]["status"] = "SKIP"
        passed[1]["reason"] = "not supported by gVisor's netstack"
    elif name == "debian-6.1-cloud":
        env.update({"sandbox": "vm", "vm_kernel": name, "accelerator": "tcg",
                    "machine": "microvm", "boot_s": 1.2,
                    "kernel_release": "6.1.0-31-cloud-amd64",
                    "kernel_config_source": "/boot/config-6.1.0-31-cloud-amd64"})
        passed[2]["status"] = "TIMEOUT"
        passed[2]["reason"] = "killed after 60 s (timeout)"
        # Two clauses all of whose cases passed: one a known bug here, one a stale expectation.
        by_clause = {}
        for c in doc["cases"]:
            by_clause.setdefault(c["clause"], []).append(c)
        whole = [cl for cl, cs in by_clause.items()
                 if cl and all(c["status"] == "PASS" for c in cs)]
        xfail, xpass = by_clause[whole[0]][0], by_clause[whole[1]][0]
        xfail.update({"status": "XFAIL", "reason": "Expected: EPERM\n  Actual: 0",
                      "expectation": dict(XFAIL_EXPECTATION)})
        xpass.update({"status": "XPASS",
                      "reason": "expected TIMEOUT, but passed: the expectation no longer holds",
                      "expectation": dict(XPASS_EXPECTATION)})
    else:
        sys.exit(f"report_fixtures: unknown variant {name}")
    return recount(doc)


def main(argv):
    if len(argv) < 4 or argv[1] not in ("hostile", "variant"):
        sys.exit(__doc__)
    with open(argv[2], encoding="utf-8") as f:
        doc = json.load(f)
    doc = hostile(doc) if argv[1] == "hostile" else variant(doc, argv[4])
    with open(argv[3], "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv)
