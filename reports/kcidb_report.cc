#include "reports/kcidb_report.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reports/json_report.h"
#include "reports/report_text.h"

namespace conform {

namespace {

using nlohmann::json;

// KCIDB's log_excerpt maxLength (characters; bytes are a safe upper bound).
constexpr size_t kMaxExcerptBytes = 16384;
constexpr size_t kMaxCommentBytes = 300;

bool IsValidOrigin(std::string_view origin) {
  if (origin.empty()) return false;
  for (const char ch : origin)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  return true;
}

// FNV-1a, 64 bits: stable across compilers and runs, unlike std::hash.
std::string StableHash(const std::vector<std::string>& parts) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const std::string& part : parts) {
    for (const char ch : part) {
      hash ^= static_cast<unsigned char>(ch);
      hash *= 0x100000001b3ULL;
    }
    hash ^= 0xFF;  // a separator no UTF-8 text holds, so ("ab","c") and ("a","bc") differ
    hash *= 0x100000001b3ULL;
  }
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash));
  return buffer;
}

// One segment of a test path: [a-zA-Z0-9_-]+.
std::string PathSegment(std::string_view raw) {
  std::string segment;
  for (const char ch : raw) {
    const bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    segment.push_back(keep ? ch : '_');
  }
  return segment.empty() ? "_" : segment;
}

// "netns_conform.<Suite>.<Case>[.<tool>]"; dots inside the case's name start further segments.
std::string TestPath(const CaseResult& c) {
  std::string path = "netns_conform." + PathSegment(SuiteOf(c.id));
  const std::string name = CaseOf(c.id);
  std::string_view rest = name;
  for (;;) {
    const size_t dot = rest.find('.');
    path += "." + PathSegment(rest.substr(0, dot));
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (!c.tool.empty()) path += "." + PathSegment(c.tool);
  return path;
}

const char* KcidbStatus(Status status) {
  switch (status) {
    case Status::kPass:
    case Status::kXpass:
      return "PASS";
    case Status::kFail:
    case Status::kXfail:  // the kernel's verdict stands; misc.waived and an incident explain it
      return "FAIL";
    case Status::kSkip:
      return "SKIP";
    case Status::kError:
    case Status::kTimeout:
      return "ERROR";
    case Status::kMiss:
      return "MISS";
  }
  return "ERROR";
}

double CleanDuration(double seconds) {
  return std::isfinite(seconds) && seconds > 0 ? seconds : 0.0;
}

// "x86_64" for Debian's "-amd64" kernels and the like; "" when the release does not say.
std::string Architecture(std::string_view release) {
  static const std::map<std::string_view, std::string_view> kSuffixes = {
      {"-amd64", "x86_64"}, {"-arm64", "arm64"},     {"-686", "i386"},   {"-686-pae", "i386"},
      {"-armmp", "arm"},    {"-ppc64el", "powerpc"}, {"-s390x", "s390"}, {"-riscv64", "riscv"}};
  for (const auto& [suffix, architecture] : kSuffixes)
    if (release.ends_with(suffix)) return std::string(architecture);
  return "";
}

// The parts of the environment that tell where a case ran (test.environment.misc).
json WhereItRan(const Environment& env) {
  json where = json::object();
  auto add = [&where](const char* key, const std::string& value) {
    if (!value.empty()) where[key] = ReadableText(value);
  };
  for (const auto& [name, value] : WhereFields(env)) add(name.c_str(), value);
  add("vm_guest", env.vm_guest);
  add("hostname", env.hostname);
  return where;
}

// `value` without nulls (dropped) and NUL characters (removed) anywhere inside: KCIDB accepts
// neither, whatever the result model holds.
json Scrub(const json& value) {
  if (value.is_string()) {
    std::string text = value.get<std::string>();
    std::erase(text, '\0');
    return text;
  }
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [key, item] : value.items()) {
      if (item.is_null()) continue;
      std::string name = key;
      std::erase(name, '\0');
      out[name] = Scrub(item);
    }
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const json& item : value)
      if (!item.is_null()) out.push_back(Scrub(item));
    return out;
  }
  return value;
}

json TestObject(const CaseResult& c, const std::string& id, const std::string& build_id,
                const std::string& origin, const RunResult& run, const json& where) {
  json test = {{"id", id},
               {"build_id", build_id},
               {"origin", origin},
               {"path", TestPath(c)},
               {"status", KcidbStatus(c.status)},
               {"duration", CleanDuration(c.duration_s)}};
  if (IsRfc3339(run.environment.start_time)) test["start_time"] = run.environment.start_time;
  json environment = {
      {"comment", "netns-conform sandbox " + ReadableText(run.environment.sandbox)}};
  if (!where.empty()) environment["misc"] = where;
  test["environment"] = std::move(environment);

  json misc = {{"clause", ReadableText(c.clause)}, {"status", StatusName(c.status)}};
  if (c.status != Status::kPass) {
    const std::string reason = c.reason.empty()
                                   ? std::string("no reason recorded for ") + StatusName(c.status)
                                   : ReadableText(c.reason);
    test["comment"] = FirstLine(reason, kMaxCommentBytes);
    test["log_excerpt"] = std::string(TruncateUtf8(reason, kMaxExcerptBytes));
    misc["reason"] = reason;
  }
  if (c.expectation) {
    misc["expectation"] = {{"status", StatusName(c.expectation->status)},
                           {"reason", ReadableText(c.expectation->reason)},
                           {"link", ReadableText(c.expectation->link)}};
    // KCIDB 4 had a test's "waived" for "ignore this status"; 5.x dropped it for issues and
    // incidents (below), so the flag survives in misc for readers that look for it.
    if (c.status == Status::kXfail) misc["waived"] = true;
  }
  if (!c.log.empty()) misc["log"] = ReadableText(c.log);
  if (!c.tool.empty()) misc["tool"] = ReadableText(c.tool);
  if (!c.tool_version.empty()) misc["tool_version"] = ReadableText(c.tool_version);
  if (c.case_s > 0) misc["case_s"] = CleanDuration(c.case_s);
  if (!run.environment.runner_version.empty())
    misc["runner_version"] = ReadableText(run.environment.runner_version);
  test["misc"] = std::move(misc);
  return test;
}

// An expectation as KCIDB 5.3 says "known bug": an issue (one per distinct expectation: its
// link, its reason, the kernel as culprit) and an incident per XFAIL or XPASS test, present for
// XFAIL (the bug showed) and absent for XPASS (it did not: the expectation is stale).
struct KnownIssues {
  json issues = json::array();
  json incidents = json::array();
  std::map<std::string, std::string> ids;  // expectation (reason, link) -> issue id

  void Add(const CaseResult& c, const std::string& test_id, const std::string& origin) {
    const CaseExpectation& expected = *c.expectation;
    const std::string key = expected.reason + '\0' + expected.link;
    auto it = ids.find(key);
    if (it == ids.end()) {
      const std::string id =
          origin + ":expectation-" + StableHash({expected.reason, expected.link});
      it = ids.emplace(key, id).first;
      json issue = {{"id", id},
                    {"version", 1},
                    {"origin", origin},
                    {"report_subject", FirstLine(expected.reason, kMaxCommentBytes)},
                    {"comment", ReadableText(expected.reason)},
                    {"culprit", {{"code", true}, {"tool", false}, {"harness", false}}},
                    {"misc", {{"expected_status", StatusName(expected.status)}}}};
      // The expectation file only takes http(s) links; anything else stays out of report_url,
      // which must be a URI.
      if (expected.link.starts_with("https://") || expected.link.starts_with("http://"))
        issue["report_url"] = ReadableText(expected.link);
      else
        issue["misc"]["link"] = ReadableText(expected.link);
      issues.push_back(std::move(issue));
    }
    incidents.push_back({{"id", origin + ":incident-" + StableHash({test_id, it->second})},
                         {"origin", origin},
                         {"issue_id", it->second},
                         {"issue_version", 1},
                         {"test_id", test_id},
                         {"present", c.status == Status::kXfail}});
  }
};

}  // namespace

json ToKcidb(const RunResult& run, const KcidbOptions& options) {
  if (!IsValidOrigin(options.origin)) {
    throw ReportError("KCIDB origin " + json(ToValidUtf8(options.origin)).dump() +
                      " does not match ^[a-z0-9_]+$");
  }
  const std::string& origin = options.origin;
  const Environment& env = run.environment;
  const std::string run_id =
      origin + ":run-" +
      StableHash({env.kernel_release, env.hostname, env.start_time, env.target, env.sandbox,
                  std::to_string(env.shard_index) + "/" + std::to_string(env.shard_count)});
  const std::string build_id = run_id + "-kernel";
  const json environment = EnvironmentToJson(env);
  const std::string release = ReadableText(env.kernel_release);

  json checkout = {{"id", run_id}, {"origin", origin}, {"valid", true}};
  if (!release.empty()) checkout["comment"] = "Linux " + release;
  if (IsRfc3339(env.start_time)) checkout["start_time"] = env.start_time;
  json tool_versions = json::object();
  for (const CaseResult& c : run.cases)
    if (!c.tool.empty() && !c.tool_version.empty())
      tool_versions[ReadableText(c.tool)] = ReadableText(c.tool_version);
  json checkout_misc = {{"environment", environment}, {"summary", ToJson(run)["summary"]}};
  if (!tool_versions.empty()) checkout_misc["tool_versions"] = std::move(tool_versions);
  checkout["misc"] = std::move(checkout_misc);

  json build = {{"id", build_id},
                {"checkout_id", run_id},
                {"origin", origin},
                {"status", "PASS"},
                {"misc", {{"environment", environment}}}};
  if (!release.empty()) build["comment"] = release;
  if (!env.kernel_config_source.empty())
    build["config_name"] = ReadableText(env.kernel_config_source);
  if (IsRfc3339(env.start_time)) build["start_time"] = env.start_time;
  if (const std::string architecture = Architecture(env.kernel_release); !architecture.empty())
    build["architecture"] = architecture;

  const json where = WhereItRan(env);
  json tests = json::array();
  KnownIssues known;
  std::unordered_map<std::string, int> seen;
  for (const CaseResult& c : run.cases) {
    std::string id = run_id + ":" + ReadableText(c.id);
    if (!c.tool.empty()) id += ":" + ReadableText(c.tool);
    // KCIDB merges tests with equal ids: a case listed twice keeps both entries.
    if (const int n = ++seen[id]; n > 1) id += ":" + std::to_string(n);
    tests.push_back(TestObject(c, id, build_id, origin, run, where));
    if (c.expectation) known.Add(c, id, origin);
  }

  json doc = {{"version", {{"major", 5}, {"minor", 3}}},
              {"checkouts", json::array({std::move(checkout)})},
              {"builds", json::array({std::move(build)})},
              {"tests", std::move(tests)}};
  if (!known.issues.empty()) {
    doc["issues"] = std::move(known.issues);
    doc["incidents"] = std::move(known.incidents);
  }
  return Scrub(doc);
}

}  // namespace conform
