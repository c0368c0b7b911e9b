// results.json read: RunResultFromJson and CaseResultFromJson check every field and reject a
// document that is not what json_report.h lays out with one line naming the field (ReportError).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "reports/json_report.h"

namespace conform {

namespace {

using nlohmann::json;

[[noreturn]] void Reject(const std::string& message) { throw ReportError(message); }

// A value quoted for an error message: JSON-escaped (so it stays on one line) and shortened.
std::string Quote(const json& value) {
  constexpr size_t kMax = 60;
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

std::string Join(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

const json& Require(const json& object, std::string_view key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) Reject("missing field \"" + Join(where, key) + "\"");
  return *it;
}

// "null", "a string", "an array", ...
std::string TypeWithArticle(const json& value) {
  const std::string type = value.type_name();
  if (value.is_null()) return type;
  return (type.front() == 'a' || type.front() == 'o' ? "an " : "a ") + type;
}

[[noreturn]] void RejectType(const json& value, const std::string& path, const char* expected) {
  Reject("field \"" + path + "\" is " + TypeWithArticle(value) + ", expected " + expected);
}

std::string GetString(const json& object, std::string_view key, const std::string& where) {
  const json& value = Require(object, key, where);
  if (!value.is_string()) RejectType(value, Join(where, key), "a string");
  return value.get<std::string>();
}

std::string GetOptionalString(const json& object, std::string_view key, const std::string& where) {
  if (!object.contains(key)) return {};
  return GetString(object, key, where);
}

int GetCount(const json& object, std::string_view key, const std::string& where) {
  const json& value = Require(object, key, where);
  if (!value.is_number_integer()) RejectType(value, Join(where, key), "an integer");
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int>::max());
  const bool fits =
      value.is_number_unsigned()
          ? value.get<uint64_t>() <= kMax
          : value.get<int64_t>() >= 0 && static_cast<uint64_t>(value.get<int64_t>()) <= kMax;
  if (!fits) {
    Reject("field \"" + Join(where, key) + "\" is " + Quote(value) +
           ", expected a non-negative integer");
  }
  return static_cast<int>(value.get<int64_t>());
}

double GetDuration(const json& object, std::string_view key, const std::string& where) {
  const json& value = Require(object, key, where);
  if (!value.is_number()) RejectType(value, Join(where, key), "a number");
  const double seconds = value.get<double>();
  if (!(seconds >= 0)) {
    Reject("field \"" + Join(where, key) + "\" is " + Quote(value) +
           ", expected a non-negative number");
  }
  return seconds;
}

const json& RequireObject(const json& object, std::string_view key, const std::string& where) {
  const json& value = Require(object, key, where);
  if (!value.is_object()) RejectType(value, Join(where, key), "an object");
  return value;
}

void CheckCount(const char* field, int stored, int counted, const char* status) {
  if (stored != counted) {
    Reject("summary." + std::string(field) + " is " + std::to_string(stored) + " but cases hold " +
           std::to_string(counted) + " " + status);
  }
}

bool IsExpectedResult(Status status) {
  return status == Status::kXfail || status == Status::kXpass;
}

// A case's "expectation": {"status": FAIL|ERROR|TIMEOUT, "reason", "link"}.
CaseExpectation ExpectationFromJson(const json& object, const std::string& where) {
  const json& value = RequireObject(object, "expectation", where);
  const std::string path = Join(where, "expectation");
  CaseExpectation expectation;
  const std::string status = GetString(value, "status", path);
  const std::optional<Status> parsed = ParseStatus(status);
  if (!parsed ||
      (*parsed != Status::kFail && *parsed != Status::kError && *parsed != Status::kTimeout)) {
    Reject("field \"" + path + ".status\" is " + Quote(status) +
           ", expected FAIL, ERROR or TIMEOUT");
  }
  expectation.status = *parsed;
  expectation.reason = GetString(value, "reason", path);
  expectation.link = GetString(value, "link", path);
  return expectation;
}

// `version` is the file's schema_version: XFAIL and XPASS exist from version 2 on.
CaseResult CaseFromJson(const json& value, size_t index, int version) {
  const std::string where = "cases[" + std::to_string(index) + "]";
  if (!value.is_object()) RejectType(value, where, "an object");
  CaseResult c;
  c.id = GetString(value, "id", where);
  c.clause = GetString(value, "clause", where);
  const std::string status = GetString(value, "status", where);
  const std::optional<Status> parsed = ParseStatus(status);
  if (!parsed || (version < 2 && IsExpectedResult(*parsed))) {
    Reject(where + " (" + Quote(c.id) + "): unknown status " + Quote(status) +
           (version < 2 ? " in a schema_version 1 file (expected PASS, FAIL, SKIP, ERROR, TIMEOUT "
                          "or MISS)"
                        : " (expected PASS, FAIL, SKIP, ERROR, TIMEOUT, MISS, XFAIL or XPASS)"));
  }
  c.status = *parsed;
  c.reason = GetOptionalString(value, "reason", where);
  if (c.status != Status::kPass && c.reason.empty()) {
    Reject(where + " (" + Quote(c.id) + "): status " + status + " needs a non-empty \"reason\"");
  }
  c.duration_s = GetDuration(value, "duration_s", where);
  if (value.contains("case_s")) c.case_s = GetDuration(value, "case_s", where);
  c.log = GetOptionalString(value, "log", where);
  c.tool = GetOptionalString(value, "tool", where);
  c.tool_version = GetOptionalString(value, "tool_version", where);
  // An XFAIL or XPASS says which expectation made it one; no other status has one.
  if (IsExpectedResult(c.status)) {
    c.expectation = ExpectationFromJson(value, where);
  } else if (value.contains("expectation")) {
    Reject(where + " (" + Quote(c.id) + "): status " + status +
           " has an \"expectation\" (only XFAIL and XPASS have one)");
  }
  return c;
}

ClauseVerdict ClauseFromJson(const json& value, size_t index) {
  const std::string where = "clauses[" + std::to_string(index) + "]";
  if (!value.is_object()) RejectType(value, where, "an object");
  ClauseVerdict verdict;
  verdict.id = GetString(value, "id", where);
  if (verdict.id.empty()) Reject(where + ": empty clause id");
  const std::string status = GetString(value, "status", where);
  const std::optional<Status> parsed = ParseStatus(status);
  if (!parsed || (*parsed != Status::kPass && *parsed != Status::kFail &&
                  *parsed != Status::kSkip && *parsed != Status::kXfail)) {
    Reject(where + " (" + Quote(verdict.id) + "): status " + Quote(status) +
           " is not a clause verdict (expected PASS, FAIL, SKIP or XFAIL)");
  }
  verdict.status = *parsed;
  const json& cases = Require(value, "cases", where);
  if (!cases.is_array()) RejectType(cases, Join(where, "cases"), "an array");
  for (size_t i = 0; i < cases.size(); ++i) {
    if (!cases[i].is_string())
      RejectType(cases[i], Join(where, "cases") + "[" + std::to_string(i) + "]", "a string");
    verdict.cases.push_back(cases[i].get<std::string>());
  }
  if (verdict.cases.empty()) Reject(where + " (" + Quote(verdict.id) + "): no cases");
  return verdict;
}

// Rejects clause verdicts (as read) that differ from those the cases give.
void CheckClauses(const std::vector<ClauseVerdict>& stored,
                  const std::vector<ClauseVerdict>& derived) {
  std::map<std::string, const ClauseVerdict*> expected;
  for (const ClauseVerdict& verdict : derived) expected[verdict.id] = &verdict;
  std::set<std::string> seen;
  for (const ClauseVerdict& verdict : stored) {
    const std::string name = "clause " + Quote(verdict.id);
    if (!seen.insert(verdict.id).second) Reject(name + " appears twice in \"clauses\"");
    auto it = expected.find(verdict.id);
    if (it == expected.end()) Reject(name + " is in \"clauses\" but no case names it");
    if (verdict.status != it->second->status) {
      Reject(name + " is " + StatusName(verdict.status) + " but its cases give " +
             StatusName(it->second->status));
    }
    std::vector<std::string> stored_cases = verdict.cases, derived_cases = it->second->cases;
    std::sort(stored_cases.begin(), stored_cases.end());
    std::sort(derived_cases.begin(), derived_cases.end());
    if (stored_cases != derived_cases) Reject(name + " lists other cases than those naming it");
  }
  for (const ClauseVerdict& verdict : derived) {
    if (!seen.contains(verdict.id))
      Reject("clause " + Quote(verdict.id) + " is named by cases but missing from \"clauses\"");
  }
}

}  // namespace

CaseResult CaseResultFromJson(const nlohmann::json& json) {
  return CaseFromJson(json, 0, kResultsSchemaVersion);
}

RunResult RunResultFromJson(const nlohmann::json& doc) {
  if (!doc.is_object()) {
    Reject("top level is " + TypeWithArticle(doc) + ", expected an object");
  }
  RunResult run;
  const json& version = Require(doc, "schema_version", "");
  if (!version.is_number_integer()) RejectType(version, "schema_version", "an integer");
  const bool known = version.is_number_unsigned()
                         ? version.get<uint64_t>() >= kOldestResultsSchemaVersion &&
                               version.get<uint64_t>() <= kResultsSchemaVersion
                         : version.get<int64_t>() >= kOldestResultsSchemaVersion &&
                               version.get<int64_t>() <= kResultsSchemaVersion;
  if (!known) {
    Reject("unsupported schema_version " + Quote(version) + " (this reader understands " +
           std::to_string(kOldestResultsSchemaVersion) + " to " +
           std::to_string(kResultsSchemaVersion) + ")");
  }
  // The model is always the newest version: what a version 1 file says means the same there.
  const int file_version = static_cast<int>(version.get<int64_t>());
  run.schema_version = kResultsSchemaVersion;

  const json& env = RequireObject(doc, "environment", "");
  run.environment.kernel_release = GetString(env, "kernel_release", "environment");
  run.environment.kernel_config_source = GetString(env, "kernel_config_source", "environment");
  run.environment.sandbox = GetString(env, "sandbox", "environment");
  run.environment.runner_version = GetString(env, "runner_version", "environment");
  run.environment.hostname = GetString(env, "hostname", "environment");
  run.environment.start_time = GetString(env, "start_time", "environment");
  run.environment.vm_kernel = GetOptionalString(env, "vm_kernel", "environment");
  run.environment.accelerator = GetOptionalString(env, "accelerator", "environment");
  run.environment.machine = GetOptionalString(env, "machine", "environment");
  if (env.contains("boot_s")) run.environment.boot_s = GetDuration(env, "boot_s", "environment");
  run.environment.vm_guest = GetOptionalString(env, "vm_guest", "environment");
  if (env.contains("vm_guest_run"))
    run.environment.vm_guest_run = GetCount(env, "vm_guest_run", "environment");
  if (env.contains("kernel_problems") && env.at("kernel_problems").is_array()) {
    for (const auto& line : env.at("kernel_problems"))
      if (line.is_string()) run.environment.kernel_problems.push_back(line.get<std::string>());
  }
  run.environment.target = GetOptionalString(env, "target", "environment");
  run.environment.suite = GetOptionalString(env, "suite", "environment");
  if (env.contains("shard")) {
    const json& shard = RequireObject(env, "shard", "environment");
    run.environment.shard_index = GetCount(shard, "index", "environment.shard");
    run.environment.shard_count = GetCount(shard, "count", "environment.shard");
    if (run.environment.shard_count < 1 || run.environment.shard_index < 1 ||
        run.environment.shard_index > run.environment.shard_count)
      Reject("environment.shard: index must be in 1..count");
  }
  run.environment.runsc_version = GetOptionalString(env, "runsc_version", "environment");
  run.environment.launcher = GetOptionalString(env, "launcher", "environment");
  if (env.contains("features")) {
    const json& features = RequireObject(env, "features", "environment");
    for (const auto& [name, present] : features.items()) {
      if (!present.is_boolean()) RejectType(present, "environment.features." + name, "a boolean");
      run.environment.features[name] = present.get<bool>();
    }
  }

  const json& summary = RequireObject(doc, "summary", "");
  Summary& s = run.summary;
  s.total = GetCount(summary, "total", "summary");
  s.passed = GetCount(summary, "passed", "summary");
  s.failed = GetCount(summary, "failed", "summary");
  s.skipped = GetCount(summary, "skipped", "summary");
  s.errors = GetCount(summary, "errors", "summary");
  s.timeouts = GetCount(summary, "timeouts", "summary");
  s.missed = GetCount(summary, "missed", "summary");
  if (file_version >= 2) {
    s.xfailed = GetCount(summary, "xfailed", "summary");
    s.xpassed = GetCount(summary, "xpassed", "summary");
  }
  s.duration_s = GetDuration(summary, "duration_s", "summary");

  const json& cases = Require(doc, "cases", "");
  if (!cases.is_array()) RejectType(cases, "cases", "an array");
  run.cases.reserve(cases.size());
  for (size_t i = 0; i < cases.size(); ++i)
    run.cases.push_back(CaseFromJson(cases[i], i, file_version));

  const Summary counted = CountSummary(run);
  CheckCount("total", s.total, counted.total, "cases");
  CheckCount("passed", s.passed, counted.passed, "PASS");
  CheckCount("failed", s.failed, counted.failed, "FAIL");
  CheckCount("skipped", s.skipped, counted.skipped, "SKIP");
  CheckCount("errors", s.errors, counted.errors, "ERROR");
  CheckCount("timeouts", s.timeouts, counted.timeouts, "TIMEOUT");
  CheckCount("missed", s.missed, counted.missed, "MISS");
  CheckCount("xfailed", s.xfailed, counted.xfailed, "XFAIL");
  CheckCount("xpassed", s.xpassed, counted.xpassed, "XPASS");

  // Optional: files written before per-clause verdicts existed lack it. Either way the model
  // gets the verdicts the cases give.
  run.clauses = ClauseVerdicts(run.cases);
  if (doc.contains("clauses")) {
    const json& clauses = doc["clauses"];
    if (!clauses.is_array()) RejectType(clauses, "clauses", "an array");
    std::vector<ClauseVerdict> stored;
    for (size_t i = 0; i < clauses.size(); ++i) stored.push_back(ClauseFromJson(clauses[i], i));
    CheckClauses(stored, run.clauses);
  }
  return run;
}

}  // namespace conform
