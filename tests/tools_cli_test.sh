#!/bin/bash
# `netns-conform tools` end to end (toolconf/):
#   - a run against the reference, iproute2's ip, util-linux, pyroute2, busybox and the example
#     profiles writes reports that tests/validate_reports.sh accepts, every case carries its tool
#     and version, there are at least 25 scenarios, and the reference passes every one of them;
#   - verdicts are honest: busybox (no `ip netns`) is SKIP "unsupported by busybox", and
#     iproute2's monitor reporting a plain file (SEMANTICS.md B8.6) is a FAIL naming `add junk`;
#   - bad input (an unknown tool, a profile that is not JSON, a profile with a shell string
#     instead of an argv array, an unknown placeholder) exits 2 with one line on stderr and
#     writes no reports;
#   - the host is as before: /run/netns, /etc/netns, `ip netns list`, links, nsfs mounts and
#     every mount point, and the folder the run started in is still empty (a tool that takes a
#     relative path, as pyroute2 does for a name with a '/', must write in the sandbox only).
#
# usage: tools_cli_test.sh BIN_FOLDER   (holds netns-conform and netns-conform-tool-scenarios;
#                                         must run as root)
# Prints one PASS/FAIL line per check; exits 1 when any check fails, 2 on a usage error.
set -euo pipefail

if [[ $# -ne 1 || ! -d $1 ]]; then
  echo "usage: $0 BIN_FOLDER" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "tools_cli_test: must run as root (the scenarios create namespaces)" >&2
  exit 2
fi
bin=$(cd "$1" && pwd)
runner=$bin/netns-conform
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
profiles=$script_dir/../toolconf/profiles
for binary in "$runner" "$bin/netns-conform-tool-scenarios"; do
  if [[ ! -x $binary ]]; then
    echo "tools_cli_test: $binary is missing (build the project first)" >&2
    exit 2
  fi
done

work=$(mktemp -d /tmp/tools-cli-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
# shellcheck source=checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

snapshot() {
  {
    echo "## /run/netns"
    if [[ -e /run/netns ]]; then ls -A /run/netns; else echo "(absent)"; fi
    echo "## /etc/netns"
    if [[ -e /etc/netns ]]; then ls -A /etc/netns; else echo "(absent)"; fi
    echo "## ip netns list"
    ip netns list 2>&1 || true
    echo "## links"
    ip -o link show | awk -F': ' '{print $2}'
    echo "## nsfs mounts"
    grep -c ' - nsfs ' /proc/self/mountinfo || true
    echo "## mount points"
    awk '{print $5, $9}' /proc/self/mountinfo | sort
  } >"$1"
}
snapshot "$work/before"

# --- bad input: exit 2, one line on stderr, nothing written ----------------------------------
printf '{"name": "broken", "ops": {"add": ["x", ' >"$work/not-json.json"
cat >"$work/shell-string.json" <<'JSON'
{"name": "shelly", "ops": {"add": "ip netns add {name}"}}
JSON
cat >"$work/bad-placeholder.json" <<'JSON'
{"name": "typo", "ops": {"add": ["ip", "netns", "add", "{nmae}"]}}
JSON
check_dir=$work
expect_usage_error() {
  local name=$1 word=$2
  shift 2
  rm -rf "$work/bad-out"
  expect_refusal_keeping "$work/bad-out" "$name" "" "$word" \
    "$runner" tools --out "$work/bad-out" "$@"
}
expect_usage_error "unknown tool" "unknown tool \"no-such-tool\"" --tool no-such-tool
expect_usage_error "profile not JSON" "not valid JSON" --tool "$work/not-json.json"
expect_usage_error "shell string for argv" "not a shell string" --tool "$work/shell-string.json"
expect_usage_error "unknown placeholder" "unknown placeholder {nmae}" --tool "$work/bad-placeholder.json"
expect_usage_error "missing profile file" "cannot read" --tool "$work/absent.json"
expect_usage_error "tool given twice" "given twice" --tool ip --tool ip

# --- a real run ------------------------------------------------------------------------------
out=$work/out
mkdir "$work/cwd"
rc=0
(cd "$work/cwd" && "$runner" tools --tool netns-ref --tool builtin-ref --tool ip --tool util-linux \
  --tool pyroute2 --tool busybox --tool "$profiles/netns-wrapper.json" -j 2 --out "$out") \
  >"$work/run.log" 2>&1 || rc=$?
if [[ $rc -eq 0 || $rc -eq 1 ]]; then
  pass "tools run: exit status $rc ($(grep -E '^[0-9]+ cases:' "$work/run.log" || true))"
else
  fail "tools run: exit status $rc: $(tail -n 5 "$work/run.log")"
fi
if bash "$script_dir/validate_reports.sh" "$out" >"$work/validate.out" 2>&1; then
  pass "tools run: reports valid ($(head -n 1 "$work/validate.out"))"
else
  fail "tools run: validate_reports.sh: $(tr '\n' ' ' <"$work/validate.out")"
fi
if python3 - "$out/results.json" "$out/deviations.txt" <<'PY' >"$work/check.out" 2>&1; then
import json
import sys

results = json.load(open(sys.argv[1], encoding="utf-8"))
deviations = open(sys.argv[2], encoding="utf-8").read()
reference = deviations.split("\n", 1)[0].removeprefix("reference: ").split(" ", 1)[0]
problems = []
cases = results["cases"]
by_tool = {}
for c in cases:
    if "tool" not in c or "tool_version" not in c:
        problems.append(f"{c['id']} lacks tool/tool_version")
        continue
    by_tool.setdefault(c["tool"], []).append(c)
scenarios = {c["id"] for c in cases}
if len(scenarios) < 25:
    problems.append(f"only {len(scenarios)} scenarios")
ref_cases = by_tool.get(reference, [])
if not ref_cases:
    problems.append(f"no cases of the reference {reference!r}")
for c in ref_cases:
    if c["status"] != "PASS":
        problems.append(f"reference {reference}: {c['id']} is {c['status']}: {c.get('reason', '')[:300]}")
for c in by_tool.get("builtin-ref", []):
    if c["status"] != "PASS":
        problems.append(f"builtin-ref: {c['id']} is {c['status']}: {c.get('reason', '')[:300]}")
for c in by_tool.get("busybox", []):
    if c["status"] != "SKIP" or "unsupported by busybox" not in c.get("reason", ""):
        problems.append(f"busybox: {c['id']} is {c['status']}, expected SKIP unsupported")
ip_monitor = [c for c in by_tool.get("ip", []) if c["id"] == "Tools.MonitorIgnoresPlainFiles"]
if not ip_monitor or ip_monitor[0]["status"] != "FAIL" or "add junk" not in ip_monitor[0]["reason"]:
    problems.append(f"ip's monitor deviation (add junk) not reported as FAIL: {ip_monitor}")
for p in problems:
    print(p)
if problems:
    sys.exit(1)
counts = {t: sum(c["status"] == "PASS" for c in cs) for t, cs in by_tool.items()}
print(f"reference {reference} passes all {len(ref_cases)} scenarios; passes per tool: {counts}")
PY
  pass "tools run: $(tail -n 1 "$work/check.out")"
else
  fail "tools run: $(tr '\n' ';' <"$work/check.out" | head -c 3000)"
fi

if [[ -z $(ls -A "$work/cwd") ]]; then
  pass "the run's working folder is still empty"
else
  fail "the run left files in its working folder: $(ls -A "$work/cwd" | tr '\n' ' ')"
fi

snapshot "$work/after"
if diff -u "$work/before" "$work/after" >"$work/diff"; then
  pass "host unchanged (/run/netns, /etc/netns, ip netns list, links, nsfs mounts, mount points)"
else
  fail "host changed:"
  sed 's/^/    /' "$work/diff"
fi

if [[ $failures -ne 0 ]]; then
  echo "tools_cli_test: $failures check(s) failed"
  exit 1
fi
echo "tools_cli_test: all checks passed"
