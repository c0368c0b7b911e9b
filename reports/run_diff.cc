#include "reports/run_diff.h"

#include <map>
#include <utility>

#include "reports/json_report.h"

namespace conform {

namespace {

using nlohmann::json;
using CaseKey = std::pair<std::string, std::string>;  // (tool, id): a tools run repeats ids

bool IsFailure(Status status) {
  return status == Status::kFail || status == Status::kError || status == Status::kTimeout ||
         status == Status::kMiss;
}

// Not a failure of the run: an XFAIL is a known kernel bug (so PASS -> XFAIL is no regression:
// the run itself stays green) and an XPASS passed; either turning into an unexplained failure is
// a regression.
bool IsGood(Status status) {
  return status == Status::kPass || status == Status::kSkip || status == Status::kXfail ||
         status == Status::kXpass;
}

std::map<CaseKey, const CaseResult*> ByKey(const RunResult& run) {
  std::map<CaseKey, const CaseResult*> cases;
  for (const CaseResult& result : run.cases)
    cases.emplace(CaseKey(result.tool, result.id), &result);
  return cases;
}

// `shown` is the new run's record of the case, or the base run's for a vanished case.
CaseChange ChangeOf(const CaseResult& shown, std::optional<Status> base,
                    std::optional<Status> now) {
  return {shown.id, shown.tool, shown.clause, base, now, shown.reason};
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string CaseName(const CaseChange& change) {
  return change.tool.empty() ? change.id : change.id + " [" + change.tool + "]";
}

std::string Count(size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void AppendSection(std::string& text, const std::string& title,
                   const std::vector<CaseChange>& changes) {
  if (changes.empty()) return;
  text += "\n" + title + ":\n";
  for (const CaseChange& change : changes) {
    text += "  " + CaseName(change) + ": ";
    if (!change.base) {
      text += std::string(StatusName(*change.now));
    } else if (!change.now) {
      text += std::string("was ") + StatusName(*change.base);
    } else {
      text += std::string(StatusName(*change.base)) + " -> " + StatusName(*change.now);
    }
    // A vanished case's reason is the old one: not worth repeating, its status says it.
    if (change.now && !change.reason.empty()) text += ": " + FirstLine(change.reason);
    text += "\n";
  }
}

json ChangesToJson(const std::vector<CaseChange>& changes) {
  json list = json::array();
  for (const CaseChange& change : changes) {
    json entry = json::object();
    entry["id"] = ToValidUtf8(change.id);
    if (!change.tool.empty()) entry["tool"] = ToValidUtf8(change.tool);
    entry["clause"] = ToValidUtf8(change.clause);
    if (change.base) entry["base_status"] = StatusName(*change.base);
    if (change.now) entry["new_status"] = StatusName(*change.now);
    if (!change.reason.empty()) entry["reason"] = ToValidUtf8(change.reason);
    list.push_back(std::move(entry));
  }
  return list;
}

}  // namespace

RunDiff DiffRuns(const RunResult& base, const RunResult& now) {
  const std::string& base_suite = base.environment.suite;
  const std::string& new_suite = now.environment.suite;
  if (!base_suite.empty() && !new_suite.empty() && base_suite != new_suite)
    throw ReportError("unrelated runs: suite '" + base_suite + "' against suite '" + new_suite +
                      "'");
  const auto base_cases = ByKey(base);
  const auto new_cases = ByKey(now);

  RunDiff diff;
  bool common = false;
  // Both maps are ordered by key, so every list comes out ordered by (tool, id).
  for (const auto& [key, result] : base_cases) {
    const auto found = new_cases.find(key);
    if (found == new_cases.end()) {
      diff.vanished.push_back(ChangeOf(*result, result->status, std::nullopt));
      continue;
    }
    common = true;
    const Status before = result->status;
    const Status after = found->second->status;
    if (before == after) continue;
    if (IsGood(before) && IsFailure(after)) {
      diff.regressions.push_back(ChangeOf(*found->second, before, after));
    } else if (IsFailure(before) && after == Status::kPass) {
      diff.fixes.push_back(ChangeOf(*found->second, before, after));
    } else {
      diff.changed.push_back(ChangeOf(*found->second, before, after));
    }
  }
  if (!common) throw ReportError("unrelated runs: no case is in both");
  for (const auto& [key, result] : new_cases) {
    if (!base_cases.contains(key))
      diff.added.push_back(ChangeOf(*result, std::nullopt, result->status));
  }
  return diff;
}

std::string DiffToText(const RunDiff& diff, const std::string& base_name,
                       const std::string& new_name) {
  std::string text = "base: " + base_name + "\nnew:  " + new_name + "\n";
  text += Count(diff.regressions.size(), "regression", "regressions") + ", " +
          Count(diff.fixes.size(), "fix", "fixes") + ", " +
          Count(diff.changed.size(), "other change", "other changes") + ", " +
          Count(diff.added.size(), "new case", "new cases") + ", " +
          Count(diff.vanished.size(), "vanished case", "vanished cases") + "\n";
  AppendSection(text, "Regressions", diff.regressions);
  AppendSection(text, "Fixes", diff.fixes);
  AppendSection(text, "Other changes", diff.changed);
  AppendSection(text, "New cases", diff.added);
  AppendSection(text, "Vanished cases", diff.vanished);
  return text;
}

json DiffToJson(const RunDiff& diff, const std::string& base_name, const std::string& new_name) {
  json doc = json::object();
  doc["base"] = ToValidUtf8(base_name);
  doc["new"] = ToValidUtf8(new_name);
  json summary = json::object();
  summary["regressions"] = diff.regressions.size();
  summary["fixes"] = diff.fixes.size();
  summary["changed"] = diff.changed.size();
  summary["added"] = diff.added.size();
  summary["vanished"] = diff.vanished.size();
  doc["summary"] = std::move(summary);
  doc["regressions"] = ChangesToJson(diff.regressions);
  doc["fixes"] = ChangesToJson(diff.fixes);
  doc["changed"] = ChangesToJson(diff.changed);
  doc["added"] = ChangesToJson(diff.added);
  doc["vanished"] = ChangesToJson(diff.vanished);
  return doc;
}

}  // namespace conform
