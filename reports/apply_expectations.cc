#include "reports/apply_expectations.h"

#include <fnmatch.h>

#include <algorithm>

namespace conform {

namespace {

bool Matches(const std::string& glob, const std::string& text) {
  return fnmatch(glob.c_str(), text.c_str(), 0) == 0;
}

// Case, tool and kernel: everything but the status and the reason.
bool AppliesToCase(const Expectation& entry, const CaseResult& result,
                   const Environment& environment) {
  if (!Matches(entry.case_glob, result.id)) return false;
  if (entry.tool_glob.empty() ? !result.tool.empty()
                              : result.tool.empty() || !Matches(entry.tool_glob, result.tool))
    return false;
  return KernelConditionHolds(entry.kernels, environment);
}

CaseExpectation Attached(const Expectation& entry) {
  return CaseExpectation{entry.status, entry.reason, entry.link};
}

}  // namespace

bool KernelConditionHolds(const KernelCondition& kernels, const Environment& environment) {
  if (!kernels.releases.empty() &&
      std::none_of(kernels.releases.begin(), kernels.releases.end(), [&](const std::string& glob) {
        return Matches(glob, environment.kernel_release);
      }))
    return false;
  for (const auto& [name, wanted] : kernels.features) {
    const auto it = environment.features.find(name);
    if (it == environment.features.end() || it->second != wanted) return false;
  }
  return true;
}

void ApplyExpectations(CaseResult& result, const Environment& environment,
                       const Expectations& expectations) {
  const bool failed = result.status == Status::kFail || result.status == Status::kError ||
                      result.status == Status::kTimeout;
  if (!failed && result.status != Status::kPass) return;
  for (const Expectation& entry : expectations.entries) {
    if (!AppliesToCase(entry, result, environment)) continue;
    if (result.status == Status::kPass) {
      result.status = Status::kXpass;
      result.reason = std::string("expected ") + StatusName(entry.status) +
                      ", but passed: the expectation no longer holds";
      result.expectation = Attached(entry);
      return;
    }
    if (entry.status != result.status) continue;
    if (!entry.reason_contains.empty() &&
        result.reason.find(entry.reason_contains) == std::string::npos)
      continue;
    result.status = Status::kXfail;
    result.expectation = Attached(entry);
    return;
  }
}

void ApplyExpectations(RunResult& run, const Expectations& expectations) {
  if (expectations.empty()) return;
  for (CaseResult& result : run.cases) ApplyExpectations(result, run.environment, expectations);
  RecountSummary(run);
  run.clauses = ClauseVerdicts(run.cases);
}

std::vector<std::string> StaleExpectationLines(const RunResult& run) {
  std::vector<std::string> lines;
  for (const CaseResult& c : run.cases) {
    if (c.status != Status::kXpass || !c.expectation) continue;
    lines.push_back("stale expectation: " + c.id +
                    (c.tool.empty() ? "" : " (tool " + c.tool + ")") + " passed on kernel " +
                    run.environment.kernel_release + ", expected " +
                    StatusName(c.expectation->status) + " (" + c.expectation->link +
                    "): remove the expectation or narrow its kernels");
  }
  return lines;
}

}  // namespace conform
