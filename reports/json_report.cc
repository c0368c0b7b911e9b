// results.json written: the document built from a RunResult (ToJson, ToJsonText) with the
// counts and clause verdicts recomputed from its cases. Reading is in json_reading.cc, files in
// report_files.cc; the format is in json_report.h.
#include "reports/json_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <utility>

namespace conform {

namespace {

using nlohmann::json;

double CleanDuration(double seconds) {
  return std::isfinite(seconds) && seconds > 0 ? seconds : 0.0;
}

template <typename Json>
Json BuildEnvironment(const Environment& env) {
  Json environment = Json::object();
  environment["kernel_release"] = ToValidUtf8(env.kernel_release);
  environment["kernel_config_source"] = ToValidUtf8(env.kernel_config_source);
  environment["sandbox"] = ToValidUtf8(env.sandbox);
  environment["runner_version"] = ToValidUtf8(env.runner_version);
  environment["hostname"] = ToValidUtf8(env.hostname);
  environment["start_time"] = ToValidUtf8(env.start_time);
  if (!env.vm_kernel.empty()) environment["vm_kernel"] = ToValidUtf8(env.vm_kernel);
  if (!env.accelerator.empty()) environment["accelerator"] = ToValidUtf8(env.accelerator);
  if (!env.machine.empty()) environment["machine"] = ToValidUtf8(env.machine);
  if (env.boot_s > 0) environment["boot_s"] = CleanDuration(env.boot_s);
  if (!env.vm_guest.empty()) environment["vm_guest"] = ToValidUtf8(env.vm_guest);
  if (env.vm_guest_run > 0) environment["vm_guest_run"] = env.vm_guest_run;
  if (!env.kernel_problems.empty()) {
    Json problems = Json::array();
    for (const auto& line : env.kernel_problems) problems.push_back(ToValidUtf8(line));
    environment["kernel_problems"] = std::move(problems);
  }
  if (!env.target.empty()) environment["target"] = ToValidUtf8(env.target);
  if (!env.suite.empty()) environment["suite"] = ToValidUtf8(env.suite);
  if (env.shard_count > 0) {
    Json shard = Json::object();
    shard["index"] = env.shard_index;
    shard["count"] = env.shard_count;
    environment["shard"] = std::move(shard);
  }
  if (!env.runsc_version.empty()) environment["runsc_version"] = ToValidUtf8(env.runsc_version);
  if (!env.launcher.empty()) environment["launcher"] = ToValidUtf8(env.launcher);
  if (!env.features.empty()) {
    Json features = Json::object();
    for (const auto& [name, present] : env.features) features[ToValidUtf8(name)] = present;
    environment["features"] = std::move(features);
  }
  return environment;
}

template <typename Json>
Json BuildCase(const CaseResult& c) {
  Json entry = Json::object();
  entry["id"] = ToValidUtf8(c.id);
  entry["clause"] = ToValidUtf8(c.clause);
  entry["status"] = StatusName(c.status);
  if (c.status != Status::kPass) {
    // The model promises a reason for every non-PASS case; a writer that forgot one still
    // produces a valid file, with the status itself as the reason.
    entry["reason"] = c.reason.empty()
                          ? std::string("no reason recorded for ") + StatusName(c.status)
                          : ToValidUtf8(c.reason);
  }
  entry["duration_s"] = CleanDuration(c.duration_s);
  if (c.case_s > 0) entry["case_s"] = CleanDuration(c.case_s);
  if (!c.log.empty()) entry["log"] = ToValidUtf8(c.log);
  if (!c.tool.empty()) entry["tool"] = ToValidUtf8(c.tool);
  if (!c.tool_version.empty()) entry["tool_version"] = ToValidUtf8(c.tool_version);
  if (c.expectation) {
    Json expectation = Json::object();
    expectation["status"] = StatusName(c.expectation->status);
    expectation["reason"] = ToValidUtf8(c.expectation->reason);
    expectation["link"] = ToValidUtf8(c.expectation->link);
    entry["expectation"] = std::move(expectation);
  }
  return entry;
}

template <typename Json>
Json BuildClause(const ClauseVerdict& verdict) {
  Json entry = Json::object();
  entry["id"] = ToValidUtf8(verdict.id);
  entry["status"] = StatusName(verdict.status);
  Json cases = Json::array();
  for (const std::string& id : verdict.cases) cases.push_back(ToValidUtf8(id));
  entry["cases"] = std::move(cases);
  return entry;
}

// Builds the document with any nlohmann basic_json: json for ToJson, ordered_json for the text
// (so that the file reads schema_version, environment, summary, cases in that order).
template <typename Json>
Json BuildJson(const RunResult& run) {
  const Summary counts = CountSummary(run);
  Json summary = Json::object();
  summary["total"] = counts.total;
  summary["passed"] = counts.passed;
  summary["failed"] = counts.failed;
  summary["skipped"] = counts.skipped;
  summary["errors"] = counts.errors;
  summary["timeouts"] = counts.timeouts;
  summary["missed"] = counts.missed;
  summary["xfailed"] = counts.xfailed;
  summary["xpassed"] = counts.xpassed;
  summary["duration_s"] = CleanDuration(counts.duration_s);

  Json cases = Json::array();
  for (const CaseResult& c : run.cases) cases.push_back(BuildCase<Json>(c));

  // Like the summary, recomputed from the cases, so that the file never contradicts itself.
  Json clauses = Json::array();
  for (const ClauseVerdict& verdict : ClauseVerdicts(run.cases))
    clauses.push_back(BuildClause<Json>(verdict));

  Json doc = Json::object();
  doc["schema_version"] = kResultsSchemaVersion;
  doc["environment"] = BuildEnvironment<Json>(run.environment);
  doc["summary"] = std::move(summary);
  doc["cases"] = std::move(cases);
  doc["clauses"] = std::move(clauses);
  return doc;
}

}  // namespace

nlohmann::json ToJson(const RunResult& run) { return BuildJson<nlohmann::json>(run); }

nlohmann::json EnvironmentToJson(const Environment& environment) {
  return BuildEnvironment<nlohmann::json>(environment);
}

nlohmann::json CaseToJson(const CaseResult& result) { return BuildCase<nlohmann::json>(result); }

std::string ToJsonText(const RunResult& run) {
  return BuildJson<nlohmann::ordered_json>(run).dump(2, ' ', false,
                                                     json::error_handler_t::replace) +
         "\n";
}

}  // namespace conform
