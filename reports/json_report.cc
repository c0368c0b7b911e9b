#include "reports/json_report.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string_view>
#include <utility>

namespace conform {

namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Writing

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

// ---------------------------------------------------------------------------------------------
// Reading

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

// ---------------------------------------------------------------------------------------------
// Files

std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name != nullptr ? name : "errno " + std::to_string(err)) + " (" +
         std::strerror(err) + ")";
}

// Parse errors of nlohmann read "[json.exception.parse_error.101] parse error at line 1, ...";
// keep the part after the bracket, on one line.
std::string ParseErrorText(const json::parse_error& e) {
  std::string text = e.what();
  if (!text.empty() && text.front() == '[') {
    const size_t end = text.find("] ");
    if (end != std::string::npos) text.erase(0, end + 2);
  }
  for (char& ch : text) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return text;
}

[[noreturn]] void FailWrite(const std::filesystem::path& path, const std::string& step, int err) {
  throw ReportError("cannot write " + path.string() + ": " + step + ": " + ErrnoText(err));
}

[[noreturn]] void FailRead(const std::filesystem::path& path, const std::string& reason) {
  throw ReportError(path.string() + ": " + reason);
}

// Closes the descriptor and removes the temporary file unless disarmed.
class TempFile {
 public:
  TempFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  // Closes the descriptor; returns close(2)'s result with errno.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }
  void Keep() { path_.clear(); }

 private:
  std::filesystem::path path_;
  int fd_;
};

}  // namespace

nlohmann::json ToJson(const RunResult& run) { return BuildJson<nlohmann::json>(run); }

nlohmann::json EnvironmentToJson(const Environment& environment) {
  return BuildEnvironment<nlohmann::json>(environment);
}

nlohmann::json CaseToJson(const CaseResult& result) { return BuildCase<nlohmann::json>(result); }

CaseResult CaseResultFromJson(const nlohmann::json& json) {
  return CaseFromJson(json, 0, kResultsSchemaVersion);
}

std::string ToJsonText(const RunResult& run) {
  return BuildJson<nlohmann::ordered_json>(run).dump(2, ' ', false,
                                                     json::error_handler_t::replace) +
         "\n";
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

void WriteFileAtomically(const std::filesystem::path& path, const std::string& content) {
  auto fail = [&path](const std::string& step, int err) { FailWrite(path, step, err); };
  if (!path.has_filename()) fail("not a file name", EINVAL);
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : ".";

  // A name no other writer (thread or process) uses; O_EXCL catches the rest.
  static std::atomic<unsigned> sequence{0};
  int fd = -1;
  std::filesystem::path temp_path;
  for (int attempt = 0;; ++attempt) {
    temp_path = folder / ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()) +
                          "." + std::to_string(sequence.fetch_add(1)));
    fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) break;
    if (errno != EEXIST || attempt >= 100) {
      fail("creating temporary file " + temp_path.filename().string(), errno);
    }
  }
  TempFile temp(temp_path, fd);

  const char* data = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(temp.fd(), data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("writing " + temp.path().filename().string(), errno);
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(temp.fd()) != 0) fail("fsync of " + temp.path().filename().string(), errno);
  if (temp.Close() != 0) fail("closing " + temp.path().filename().string(), errno);
  if (::rename(temp.path().c_str(), path.c_str()) != 0) {
    fail("renaming " + temp.path().filename().string() + " over it", errno);
  }
  temp.Keep();

  // Make the rename itself durable. The new file is complete and in place whatever happens
  // here, so a failure is not reported.
  const int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

void WriteResultsFile(const std::filesystem::path& path, const RunResult& run) {
  WriteFileAtomically(path, ToJsonText(run));
}

nlohmann::json ReadJsonFile(const std::filesystem::path& path) {
  auto fail = [&path](const std::string& reason) { FailRead(path, reason); };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open: " + ErrnoText(errno));
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail("cannot read: " + ErrnoText(err));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);

  if (text.find_first_not_of(" \t\r\n") == std::string::npos) fail("empty file, expected JSON");
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    const bool at_end =
        e.byte >= text.size() || text.find_first_not_of(" \t\r\n", e.byte) == std::string::npos;
    FailRead(path, std::string(at_end ? "truncated JSON: " : "invalid JSON: ") + ParseErrorText(e));
  }
}

RunResult ReadResultsFile(const std::filesystem::path& path) {
  const json doc = ReadJsonFile(path);
  try {
    return RunResultFromJson(doc);
  } catch (const ReportError& e) {
    FailRead(path, e.what());
  }
}

}  // namespace conform
