#!/bin/bash
# Checks the reports of one run: results.json against reports/results.schema.json (JSON Schema
# draft 7, formats checked) with its summary and clause verdicts agreeing with its cases,
# junit.xml well-formed, and the JUnit totals equal to the JSON summary (XFAIL as skipped).
#
# usage: validate_reports.sh FOLDER [SCHEMA]
#   FOLDER holds results.json and junit.xml; SCHEMA defaults to reports/results.schema.json of
#   the source tree this script is in.
# Needs python3 with python3-jsonschema, and xmllint (libxml2-utils). Exit 0 when all checks pass,
# 1 when one fails, 2 on a usage error.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 FOLDER [SCHEMA]" >&2
  exit 2
fi
folder=$1
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
schema=${2:-$script_dir/../reports/results.schema.json}
results=$folder/results.json
junit=$folder/junit.xml

for file in "$results" "$junit" "$schema"; do
  if [[ ! -r $file ]]; then
    echo "validate_reports: cannot read $file" >&2
    exit 2
  fi
done

# 1. results.json against the schema.
python3 - "$schema" "$results" <<'EOF'
import json
import sys

import jsonschema

schema_path, results_path = sys.argv[1], sys.argv[2]
with open(schema_path, encoding="utf-8") as f:
    schema = json.load(f)
try:
    with open(results_path, encoding="utf-8") as f:
        results = json.load(f)
except (ValueError, UnicodeDecodeError) as e:
    sys.exit(f"{results_path}: not valid JSON: {e}")

validator_class = jsonschema.Draft7Validator
validator_class.check_schema(schema)
format_checker = (getattr(validator_class, "FORMAT_CHECKER", None)
                  or jsonschema.draft7_format_checker)
if "date-time" not in format_checker.checkers:
    sys.exit("validate_reports: this jsonschema cannot check format date-time "
             "(install python3-rfc3339-validator)")
validator = validator_class(schema, format_checker=format_checker)
errors = sorted(validator.iter_errors(results), key=lambda e: list(e.absolute_path))
for error in errors:
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    print(f"{results_path}: {where}: {error.message}", file=sys.stderr)
if errors:
    sys.exit(1)

# What the schema cannot say: the summary counts are the cases' counts.
summary, cases = results["summary"], results["cases"]
counted = {"total": len(cases)}
for name, status in [("passed", "PASS"), ("failed", "FAIL"), ("skipped", "SKIP"),
                     ("errors", "ERROR"), ("timeouts", "TIMEOUT"), ("missed", "MISS"),
                     ("xfailed", "XFAIL"), ("xpassed", "XPASS")]:
    if name in summary or results["schema_version"] >= 2:
        counted[name] = sum(1 for c in cases if c["status"] == status)
bad = [f"summary.{k} is {summary[k]}, cases hold {v}"
       for k, v in counted.items() if summary[k] != v]
# The per-clause verdicts (optional) are those the cases give: XFAIL when every case is PASS,
# SKIP, XFAIL or XPASS and one is XFAIL; otherwise, with XPASS as PASS: PASS when all passed,
# SKIP when all skipped, FAIL otherwise.
if "clauses" in results:
    named = {}
    for c in cases:
        if c["clause"]:
            named.setdefault(c["clause"], []).append(c)
    expected = {}
    for clause, its_cases in named.items():
        statuses = {"PASS" if c["status"] == "XPASS" else c["status"] for c in its_cases}
        if "XFAIL" in statuses and statuses <= {"PASS", "SKIP", "XFAIL"}:
            verdict = "XFAIL"
        else:
            verdict = ("PASS" if statuses == {"PASS"} else "SKIP" if statuses == {"SKIP"}
                       else "FAIL")
        expected[clause] = (verdict, sorted(c["id"] for c in its_cases))
    stored = {v["id"]: (v["status"], sorted(v["cases"])) for v in results["clauses"]}
    if len(stored) != len(results["clauses"]):
        bad.append("a clause appears twice in clauses")
    for clause in sorted(set(expected) | set(stored)):
        if stored.get(clause) != expected.get(clause):
            bad.append(f"clauses: {clause} is {stored.get(clause)}, its cases give "
                       f"{expected.get(clause)}")
if bad:
    sys.exit(f"{results_path}: " + "; ".join(bad))
print(f"{results_path}: valid (schema_version {results['schema_version']}, {len(cases)} cases, "
      f"{len(results.get('clauses', []))} clause verdicts)")
EOF

# 2. junit.xml well-formed.
xmllint --noout "$junit"

# 3. JUnit counts equal the JSON summary, suite by suite and in total.
python3 - "$results" "$junit" <<'EOF'
import json
import sys
import xml.etree.ElementTree as ET

results_path, junit_path = sys.argv[1], sys.argv[2]
with open(results_path, encoding="utf-8") as f:
    summary = json.load(f)["summary"]
root = ET.parse(junit_path).getroot()
problems = []
if root.tag != "testsuites":
    sys.exit(f"{junit_path}: root element is <{root.tag}>, expected <testsuites>")

def count_attributes(element, where):
    values = {}
    for name in ("tests", "failures", "errors", "skipped"):
        text = element.get(name)
        if text is None or not text.isdigit():
            problems.append(f"{where}: attribute {name}={text!r} is not a count")
            values[name] = -1
        else:
            values[name] = int(text)
    return values

def count_children(cases):
    counted = {"tests": len(cases), "failures": 0, "errors": 0, "skipped": 0}
    for case in cases:
        counted["failures"] += len(case.findall("failure"))
        counted["errors"] += len(case.findall("error"))
        counted["skipped"] += len(case.findall("skipped"))
    return counted

totals = count_attributes(root, "<testsuites>")
expected = {
    "tests": summary["total"],
    "failures": summary["failed"],
    "errors": summary["errors"] + summary["timeouts"] + summary["missed"],
    # JUnit has no expected failure: an XFAIL is a <skipped>.
    "skipped": summary["skipped"] + summary.get("xfailed", 0),
}
for name, value in expected.items():
    if totals[name] != value:
        problems.append(
            f"<testsuites {name}=\"{totals[name]}\"> but the JSON summary gives {value}")

sums = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for suite in root.findall("testsuite"):
    where = f"<testsuite name=\"{suite.get('name')}\">"
    attributes = count_attributes(suite, where)
    children = count_children(suite.findall("testcase"))
    for name in sums:
        sums[name] += attributes[name]
        if attributes[name] != children[name]:
            problems.append(f"{where}: {name}=\"{attributes[name]}\" but it holds {children[name]}")
for name, value in sums.items():
    if totals[name] != value:
        problems.append(f"<testsuites {name}=\"{totals[name]}\"> but its suites add up to {value}")

for problem in problems:
    print(f"{junit_path}: {problem}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"{junit_path}: well-formed, counts match the JSON summary "
      f"(tests={totals['tests']} failures={totals['failures']} errors={totals['errors']} "
      f"skipped={totals['skipped']})")
EOF
