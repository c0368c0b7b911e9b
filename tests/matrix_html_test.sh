#!/bin/bash
# The compatibility matrix page (reports/matrix_report.h) as a person sees it in a real browser
# (Debian's chromium through chromedriver and python3-selenium, headless, no network).
#
# Input: three columns made from one real run (tests/report_fixtures.py): "host" as it is,
# "gvisor" with a FAIL whose reason is markup and a SKIP, "debian-6.1-cloud" a TCG VM with a
# TIMEOUT, a known kernel bug (XFAIL) and a stale expectation (XPASS). Checks, with JavaScript:
# every column header shows its name and the counts of its results.json summary (xfailed and
# xpassed too); the FAIL cell shows its reason as text (and no script of it ran); the XFAIL and
# XPASS cells have a style of their own and show the expectation's reason with a link to its bug; the
# differing rows are those matrix.json lists and an independent computation finds; "only rows
# that differ between columns" hides every other row and keeps those; the text filter and the
# status sort work. Without JavaScript: the table, every row and the FAIL reason are visible.
# The page loads nothing from elsewhere. Screenshots go to WORK_DIR.
#
# usage: matrix_html_test.sh CONVERT_REPORTS WORK_DIR REAL_RESULTS_JSON
# Exit 0 when every check passes, 1 when one fails, 2 on a usage error.
set -euo pipefail

if [[ $# -ne 3 || ! -x $1 || ! -r $3 ]]; then
  echo "usage: $0 CONVERT_REPORTS WORK_DIR REAL_RESULTS_JSON" >&2
  exit 2
fi
convert=$1
work=$2
real=$3
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's interpreter: python3-selenium is there (a python3 earlier on PATH may lack it).
python=${PYTHON:-/usr/bin/python3}
for needed in /usr/bin/chromium /usr/bin/chromedriver; do
  if [[ ! -x $needed ]]; then
    echo "matrix_html_test: $needed is missing (.ci/install-deps installs chromium-driver)" >&2
    exit 1
  fi
done
rm -rf "$work"
mkdir -p "$work/targets/host" "$work/targets/gvisor" "$work/targets/debian-6.1-cloud"

cp "$real" "$work/targets/host/results.json"
for target in gvisor debian-6.1-cloud; do
  "$python" "$script_dir/report_fixtures.py" variant "$real" "$work/targets/$target/results.json" \
    "$target"
done
"$convert" matrix "$work/matrix" "netns-conform: host, gVisor and Debian 6.1 <&>" \
  host target targets/host "$work/targets/host/results.json" \
  gvisor target targets/gvisor "$work/targets/gvisor/results.json" \
  debian-6.1-cloud target targets/debian-6.1-cloud "$work/targets/debian-6.1-cloud/results.json"

"$python" - "$work" "$script_dir" <<'EOF'
import json
import os
import re
import sys
import tempfile

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

work, script_dir = sys.argv[1:3]
sys.path.insert(0, script_dir)
import report_fixtures  # noqa: E402

page = os.path.join(work, "matrix.html")
url = "file://" + page
columns = ["host", "gvisor", "debian-6.1-cloud"]
results = {}
for name in columns:
    with open(os.path.join(work, "targets", name, "results.json"), encoding="utf-8") as f:
        results[name] = json.load(f)
with open(os.path.join(work, "matrix.json"), encoding="utf-8") as f:
    matrix = json.load(f)

problems = []


def check(condition, message):
    print(("PASS: " if condition else "FAIL: ") + message)
    if not condition:
        problems.append(message)


# The differing clauses, computed here from the three runs: a clause's status per column.
def verdicts(doc):
    named = {}
    for c in doc["cases"]:
        if c["clause"]:
            named.setdefault(c["clause"], []).append(c["status"])
    out = {}
    for clause, statuses in named.items():
        s = {"PASS" if x == "XPASS" else x for x in statuses}
        if "XFAIL" in s and s <= {"PASS", "SKIP", "XFAIL"}:
            out[clause] = "XFAIL"
            continue
        out[clause] = ("XPASS" if s == {"PASS"} and "XPASS" in statuses else
                       "PASS" if s == {"PASS"} else "SKIP" if s == {"SKIP"} else
                       "FAIL" if "FAIL" in s else
                       "ERROR" if s & {"ERROR", "TIMEOUT", "MISS"} else "FAIL")
    return out


per_column = [verdicts(results[name]) for name in columns]
clauses = set().union(*per_column)
# Only the columns that ran a clause are compared (NOT RUN is no difference in behaviour).
expected_differing = {c for c in clauses
                      if len({v[c] for v in per_column if c in v}) > 1}
check(set(matrix["differing"]) == expected_differing and expected_differing,
      f"matrix.json lists the {len(expected_differing)} differing clauses")
check(len(matrix["rows"]) == len(clauses), f"matrix.json has a row for each of {len(clauses)} clauses")

# Nothing from elsewhere: no src/href with a scheme or a network path, but for the anchors to an
# expectation's bug (navigation on a click, nothing loaded), which must be http(s).
with open(page, encoding="utf-8") as f:
    source = f.read()
external = [m.group(0) for m in
            re.finditer(r'(?:src|href)\s*=\s*"(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)[^"]*"', source)
            if not re.search(r'<a class="expect-link" rel="noreferrer noopener" $',
                             source[max(0, m.start() - 60):m.start()])
            or not re.match(r'href="https?://', m.group(0))]
check(not external and "<link" not in source and "@import" not in source,
      f"no external resource referenced {external[:3]}")
check(set(c["status"] for row in matrix["rows"] for c in row["cells"]) >= {"XFAIL", "XPASS"},
      "matrix.json has XFAIL and XPASS cells")


def driver(javascript):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1600,1000",
                 "--user-data-dir=" + tempfile.mkdtemp(prefix="chromium-", dir=work)):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def visible_rows(browser):
    return [r.get_attribute("data-clause")
            for r in browser.find_elements(By.CSS_SELECTOR, "tr.clause") if r.is_displayed()]


def check_common(browser, mode):
    headers = browser.find_elements(By.CSS_SELECTOR, "thead th.column")
    check(len(headers) == len(columns), f"{mode}: {len(headers)} column headers")
    for header, name in zip(headers, columns):
        text = header.text
        summary = results[name]["summary"]
        shown = {key: int(m.group(1)) if (m := re.search(r"(\d+) " + key, text)) else None
                 for key in ("passed", "failed", "skipped", "errors", "timeouts", "missed",
                             "xfailed", "xpassed")}
        want = {key: summary[key] for key in shown}
        check(name in text and shown == want,
              f"{mode}: header {name} shows counts {shown}, results.json has {want}")
        check(results[name]["environment"]["kernel_release"] in text,
              f"{mode}: header {name} shows its kernel release")
    fail_cells = [c for c in browser.find_elements(By.CSS_SELECTOR, "td.s-fail") if c.is_displayed()]
    check(any(report_fixtures.GVISOR_FAIL_FIRST_LINE in c.text for c in fail_cells),
          f"{mode}: a FAIL cell shows its reason as text ({len(fail_cells)} FAIL cells)")
    check(any(c.find_elements(By.CSS_SELECTOR, "a[href^='targets/gvisor/logs/']")
              for c in fail_cells), f"{mode}: the FAIL cell links the case's log")
    timeout = [c for c in browser.find_elements(By.CSS_SELECTOR, "td.s-error")
               if "killed after 60 s" in c.text]
    check(bool(timeout), f"{mode}: the TIMEOUT shows as ERROR with its reason")
    # The known bug: its own cell, the failure's reason, the expectation's reason as text (its
    # markup not rendered) and a link to the bug.
    xfail = browser.find_elements(By.CSS_SELECTOR, "td.s-xfail")
    want = report_fixtures.XFAIL_EXPECTATION
    check(len(xfail) == 1 and xfail[0].text.startswith("XFAIL") and
          "Expected: EPERM" in xfail[0].text and
          "expected failure: " + want["reason"] in xfail[0].text and
          not xfail[0].find_elements(By.TAG_NAME, "i"),
          f"{mode}: the XFAIL cell shows its reason and the expectation's as text")
    links = [a.get_attribute("href") for c in xfail for a in c.find_elements(By.CSS_SELECTOR,
                                                                             "a.expect-link")]
    check(links == [want["link"]], f"{mode}: the XFAIL cell links the bug: {links}")
    xpass = browser.find_elements(By.CSS_SELECTOR, "td.s-xpass")
    stale = report_fixtures.XPASS_EXPECTATION
    check(len(xpass) == 1 and "stale expectation: " + stale["reason"] in xpass[0].text and
          [a.get_attribute("href") for a in xpass[0].find_elements(By.CSS_SELECTOR, "a")
           if "expect-link" in a.get_attribute("class")] == [stale["link"]],
          f"{mode}: the XPASS cell names the stale expectation and links it")
    # Their own style: a background unlike PASS's and FAIL's.
    def background(selector):
        cells = browser.find_elements(By.CSS_SELECTOR, selector)
        return (cells[0].value_of_css_property("background-image") + " " +
                cells[0].value_of_css_property("background-color") + " " +
                cells[0].value_of_css_property("outline-style")) if cells else None
    styles = {name: background("td.s-" + name) for name in ("pass", "fail", "xfail", "xpass")}
    check(None not in styles.values() and len(set(styles.values())) == 4,
          f"{mode}: XFAIL and XPASS cells look unlike PASS and FAIL: {styles}")


# With JavaScript.
browser = driver(True)
try:
    browser.get(url)
    try:
        alert = browser.switch_to.alert
        check(False, f"a script from a reason ran: alert {alert.text!r}")
    except NoAlertPresentException:
        check(True, "no script from a reason ran")
    check(browser.title.startswith("netns-conform: host, gVisor and Debian 6.1 <&>"),
          f"title as given: {browser.title!r}")
    check_common(browser, "js")
    all_rows = visible_rows(browser)
    check(len(all_rows) == len(clauses), f"js: all {len(clauses)} rows shown at first")
    browser.save_screenshot(os.path.join(work, "matrix-js.png"))
    differ = browser.find_element(By.ID, "only-differing")
    label = browser.find_element(By.CSS_SELECTOR, "#controls label").text
    check("differ" in label, f"js: the control reads {label!r}")
    differ.click()
    shown = visible_rows(browser)
    check(set(shown) == expected_differing,
          f"js: 'only rows that differ' shows exactly the {len(expected_differing)} differing "
          f"rows (shows {len(shown)})")
    browser.save_screenshot(os.path.join(work, "matrix-differ.png"))
    differ.click()
    check(len(visible_rows(browser)) == len(clauses), "js: unticking shows every row again")
    some = sorted(clauses)[len(clauses) // 2]
    browser.find_element(By.ID, "filter").send_keys(some)
    shown = visible_rows(browser)
    check(some in shown and all(some in c for c in shown), f"js: filter {some!r} keeps {shown}")
    browser.find_element(By.ID, "filter").clear()
    browser.find_element(By.ID, "filter").send_keys(" ")  # fires input: empty filter again
    Select(browser.find_element(By.ID, "sort")).select_by_value("status")
    # Sorting keeps the document groups: the FAIL row leads its own group.
    group = browser.find_element(By.XPATH, "//td[contains(@class,'s-fail')]/ancestor::tbody")
    first = group.find_element(By.CSS_SELECTOR, "tr.clause")
    check(first.find_elements(By.CSS_SELECTOR, "td.s-fail") != [],
          "js: sorted by status, the FAIL row comes first in its document")
    browser.save_screenshot(os.path.join(work, "matrix-sorted.png"))
finally:
    browser.quit()

# Without JavaScript.
browser = driver(False)
try:
    browser.get(url)
    check(browser.find_element(By.ID, "matrix").is_displayed(), "nojs: the table is visible")
    check(not browser.find_element(By.ID, "controls").is_displayed(),
          "nojs: no dead controls are shown")
    check(len(visible_rows(browser)) == len(clauses), f"nojs: all {len(clauses)} rows visible")
    check_common(browser, "nojs")
    browser.save_screenshot(os.path.join(work, "matrix-nojs.png"))
finally:
    browser.quit()

if problems:
    sys.exit(f"matrix_html_test: {len(problems)} checks failed")
print(f"matrix_html_test: all checks passed (screenshots in {work})")
EOF
