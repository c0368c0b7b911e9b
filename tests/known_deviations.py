"""Reads suites/known-kernel-deviations.json (expectations, reports/expectations.schema.json) for
the project's VM tests.

A FAIL is a known kernel deviation only when an expectation applies to it as the runner's
`--expect` would apply it (reports/apply_expectations.h): its case glob matches, its kernel
condition holds for the run's environment, its status is the case's and the reason carries its
reason_contains text. Any other failure of that case is still a failure of the test. Runs made
with `--expect` already say XFAIL for these; this is for results written without it (the VM probe).
"""
import fnmatch
import json
import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "suites",
                    "known-kernel-deviations.json")


def load():
    with open(PATH, encoding="utf-8") as f:
        return json.load(f)["expectations"]


def _kernel_holds(kernels, environment):
    releases = kernels.get("release")
    if releases and not any(fnmatch.fnmatchcase(environment.get("kernel_release", ""), glob)
                            for glob in releases):
        return False
    recorded = environment.get("features", {})
    return all(name in recorded and recorded[name] == wanted
               for name, wanted in kernels.get("features", {}).items())


def applies(entry, case, environment):
    """Whether `entry` turns `case` (a FAIL, ERROR or TIMEOUT) into an XFAIL in `environment`."""
    if "tool" in entry or case.get("tool"):
        return False
    return (fnmatch.fnmatchcase(case["id"], entry["case"])
            and _kernel_holds(entry.get("kernels", {}), environment)
            and case["status"] == entry["status"]
            and entry.get("reason_contains", "") in case.get("reason", ""))


def split_failures(cases, environment):
    """Returns (unexpected, known): ids of cases not PASS/SKIP/XFAIL/XPASS, and of those, the
    ones a shipped expectation explains."""
    entries = load()
    unexpected, known = [], []
    for c in cases:
        if c["status"] in ("PASS", "SKIP", "XFAIL", "XPASS"):
            continue
        if any(applies(entry, c, environment) for entry in entries):
            known.append(c["id"])
        else:
            unexpected.append(c["id"])
    return unexpected, known
