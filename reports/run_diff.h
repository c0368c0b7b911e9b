// The difference between two runs of the same suite, case by case: what regressed, what got
// fixed, what else changed status, and which cases appeared or vanished.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "reports/result_model.h"

namespace conform {

// One case present in either run. A case is identified by its id and, for `tools` runs, its tool.
struct CaseChange {
  std::string id;
  std::string tool;
  std::string clause;
  std::optional<Status> base;  // nullopt: the case is new
  std::optional<Status> now;   // nullopt: the case vanished
  // Why the case has its status in the new run (its reason there); for a vanished case, its
  // reason in the base run.
  std::string reason;
};

// Each list is ordered by (tool, id).
struct RunDiff {
  // PASS, SKIP, XFAIL or XPASS in base, FAIL, ERROR, TIMEOUT or MISS now. A SKIP that turns into
  // a failure counts: the case now runs where it did not (or a requirement probe broke) and
  // fails, which a CI gate must see just as well as a PASS turning red; so does an XFAIL whose
  // failure no longer matches its expectation (it fails in a new way).
  std::vector<CaseChange> regressions;
  // FAIL, ERROR, TIMEOUT or MISS in base, PASS now.
  std::vector<CaseChange> fixes;
  // Every other status change: PASS <-> SKIP, a failure that turned into another kind of failure
  // (FAIL -> TIMEOUT) or into a SKIP, and every change into XFAIL (a known kernel bug: no
  // regression) or XPASS (a stale expectation: shown, but neither fix nor regression).
  std::vector<CaseChange> changed;
  // In the new run only (whatever its status: not a regression, the run's own verdict covers it).
  std::vector<CaseChange> added;
  // In the base run only (not a regression either: a case that stops being planned is a change
  // of the suite or of the filters, and an interrupted run keeps its cases as MISS).
  std::vector<CaseChange> vanished;
};

// Compares two runs. Throws ReportError when they are unrelated: both name their suite
// (environment.suite; older files do not) and the names differ, or no case is in both.
RunDiff DiffRuns(const RunResult& base, const RunResult& now);

// Human-readable: a one-line count, then a section per non-empty list, one line per case with
// its statuses and the first line of its reason. `base_name`/`new_name` label the two runs.
std::string DiffToText(const RunDiff& diff, const std::string& base_name,
                       const std::string& new_name);

// {"base": base_name, "new": new_name,
//  "summary": {"regressions", "fixes", "changed", "added", "vanished"},
//  "regressions"|"fixes"|"changed"|"added"|"vanished":
//     [{"id", "tool" (tools runs only), "clause", "base_status" (not for added),
//       "new_status" (not for vanished), "reason" (when non-empty)}]}
nlohmann::json DiffToJson(const RunDiff& diff, const std::string& base_name,
                          const std::string& new_name);

}  // namespace conform
