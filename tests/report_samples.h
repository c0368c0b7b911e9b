// Shared by the report tests (reports_test): sample runs with every status, comparing two runs,
// the rejection message of a results.json document, and a temporary folder with small file
// helpers.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "reports/json_report.h"
#include "reports/result_model.h"

namespace conform {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

inline constexpr Status kAllStatuses[] = {Status::kPass,  Status::kFail,    Status::kSkip,
                                          Status::kError, Status::kTimeout, Status::kMiss,
                                          Status::kXfail, Status::kXpass};

inline RunResult SampleRun() {
  RunResult run;
  run.environment = {.kernel_release = "6.12.9-amd64",
                     .kernel_config_source = "/proc/config.gz",
                     .sandbox = "inplace",
                     .runner_version = "0.1.0",
                     .hostname = "host1",
                     .start_time = "2025-01-31T12:00:00Z"};
  run.cases = {
      {"Veth.DiesWithNs", "netns7.veth.destroyed-with-ns", Status::kPass, "", 0.25, ""},
      {"Veth.PeerDies", "netns7.veth.destroyed-with-ns", Status::kFail,
       "Expected: false\nActual: true", 0.5, "logs/Veth.PeerDies.txt"},
      {"Unix.Abstract", "netns7.unix.abstract", Status::kSkip, "needs CAP_NET_ADMIN", 0, ""},
      {"Device.Refund", "netns7.refund.initial-ns", Status::kError, "netlink: EPERM", 0.125, ""},
      {"Device.Rename", "netns7.refund.rename", Status::kTimeout, "killed after 30 s", 30, "l.txt"},
      {"Unshare.Einval", "clone2.newnet.einval", Status::kMiss, "no result", 0, ""},
      {"Unshare.Eperm/1", "clone2.newnet.eperm", Status::kPass, "", 0.0625, ""},
  };
  run.summary.duration_s = 31.5;
  RecountSummary(run);
  run.clauses = ClauseVerdicts(run.cases);
  return run;
}

// SampleRun with a known kernel bug: an XFAIL and an XPASS (with their expectations) and the
// environment's probed features.
inline RunResult SampleRunWithExpectations() {
  RunResult run = SampleRun();
  run.environment.features = {{"net_ns", true}, {"nsfs_file_handles", false}};
  run.cases.push_back({"Veth.Cve", "netns7.veth.cve", Status::kXfail,
                       "peer moved: VULNERABLE to CVE-2026-31692", 0.5, "logs/Veth.Cve.txt"});
  run.cases.back().expectation =
      CaseExpectation{Status::kFail, "kernel lacks 7b735ef81286", "https://git.kernel.org/x"};
  run.cases.push_back({"Veth.Fixed", "netns7.veth.fixed", Status::kXpass,
                       "expected TIMEOUT, but passed: the expectation no longer holds", 0.25, ""});
  run.cases.back().expectation =
      CaseExpectation{Status::kTimeout, "hangs on 6.1", "https://bugs.example/1"};
  RecountSummary(run);
  run.clauses = ClauseVerdicts(run.cases);
  return run;
}

inline void ExpectSameRun(const RunResult& a, const RunResult& b) {
  EXPECT_EQ(a.schema_version, b.schema_version);
  EXPECT_EQ(a.environment.kernel_release, b.environment.kernel_release);
  EXPECT_EQ(a.environment.kernel_config_source, b.environment.kernel_config_source);
  EXPECT_EQ(a.environment.sandbox, b.environment.sandbox);
  EXPECT_EQ(a.environment.runner_version, b.environment.runner_version);
  EXPECT_EQ(a.environment.hostname, b.environment.hostname);
  EXPECT_EQ(a.environment.start_time, b.environment.start_time);
  EXPECT_EQ(a.environment.features, b.environment.features);
  EXPECT_EQ(a.summary.total, b.summary.total);
  EXPECT_EQ(a.summary.passed, b.summary.passed);
  EXPECT_EQ(a.summary.failed, b.summary.failed);
  EXPECT_EQ(a.summary.skipped, b.summary.skipped);
  EXPECT_EQ(a.summary.errors, b.summary.errors);
  EXPECT_EQ(a.summary.timeouts, b.summary.timeouts);
  EXPECT_EQ(a.summary.missed, b.summary.missed);
  EXPECT_EQ(a.summary.xfailed, b.summary.xfailed);
  EXPECT_EQ(a.summary.xpassed, b.summary.xpassed);
  EXPECT_DOUBLE_EQ(a.summary.duration_s, b.summary.duration_s);
  ASSERT_EQ(a.cases.size(), b.cases.size());
  for (size_t i = 0; i < a.cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    EXPECT_EQ(a.cases[i].id, b.cases[i].id);
    EXPECT_EQ(a.cases[i].clause, b.cases[i].clause);
    EXPECT_EQ(a.cases[i].status, b.cases[i].status);
    EXPECT_EQ(a.cases[i].reason, b.cases[i].reason);
    EXPECT_DOUBLE_EQ(a.cases[i].duration_s, b.cases[i].duration_s);
    EXPECT_EQ(a.cases[i].log, b.cases[i].log);
    EXPECT_EQ(a.cases[i].expectation, b.cases[i].expectation);
  }
  ASSERT_EQ(a.clauses.size(), b.clauses.size());
  for (size_t i = 0; i < a.clauses.size(); ++i) {
    SCOPED_TRACE("clause " + std::to_string(i));
    EXPECT_EQ(a.clauses[i].id, b.clauses[i].id);
    EXPECT_EQ(a.clauses[i].status, b.clauses[i].status);
    EXPECT_EQ(a.clauses[i].cases, b.clauses[i].cases);
  }
}

// The ReportError message of RunResultFromJson(doc), or "" when it does not throw.
inline std::string RejectionOf(const nlohmann::json& doc) {
  try {
    RunResultFromJson(doc);
  } catch (const ReportError& e) {
    return e.what();
  }
  return "";
}

// A matcher for a non-empty single-line message.
inline auto OneLine() {
  return ::testing::AllOf(::testing::Not(::testing::HasSubstr("\n")),
                          ::testing::Not(::testing::IsEmpty()));
}

// A fresh folder under TMPDIR, removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "reports_test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline std::set<std::string> Listing(const fs::path& folder) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

inline std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteRaw(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

}  // namespace conform
