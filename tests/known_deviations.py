"""Reads tests/known_kernel_deviations.json for the project's VM tests.

A FAIL is a known kernel deviation only when its case is listed and its reason carries the
entry's marker text: any other failure of that case is still a failure of the test.
"""
import json
import os

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "known_kernel_deviations.json")


def load():
    with open(_PATH) as f:
        return {d["case"]: d for d in json.load(f)["deviations"]}


def split_failures(cases):
    """Returns (unexpected, known): ids of cases not PASS/SKIP, and of those, the known ones."""
    known_by_case = load()
    unexpected, known = [], []
    for c in cases:
        if c["status"] in ("PASS", "SKIP"):
            continue
        entry = known_by_case.get(c["id"])
        if entry and c["status"] == "FAIL" and entry["marker"] in c.get("reason", ""):
            known.append(c["id"])
        else:
            unexpected.append(c["id"])
    return unexpected, known
