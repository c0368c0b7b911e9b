// Shared by the derived-format tests (formats_test): cases and runs with every status and with
// expected results, a text's lines, and whether a JSON value holds a null or a NUL
// byte anywhere.
#pragma once

#include <gmock/gmock.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "reports/result_model.h"

namespace conform {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

inline CaseResult Case(std::string id, std::string clause, Status status, std::string reason = "",
                       std::string log = "") {
  CaseResult c;
  c.id = std::move(id);
  c.clause = std::move(clause);
  c.status = status;
  c.reason = std::move(reason);
  c.log = std::move(log);
  c.duration_s = 0.25;
  return c;
}

inline RunResult MakeRun(std::vector<CaseResult> cases) {
  RunResult run;
  run.environment = {.kernel_release = "6.1.0-27-amd64",
                     .kernel_config_source = "/boot/config-6.1.0-27-amd64",
                     .sandbox = "inplace",
                     .runner_version = "0.1.0",
                     .hostname = "builder",
                     .start_time = "2025-01-31T12:00:00Z"};
  run.cases = std::move(cases);
  run.summary.duration_s = 3;
  RecountSummary(run);
  run.clauses = ClauseVerdicts(run.cases);
  return run;
}

// One case of every status, in two suites, plus a suite whose cases all skip.
inline RunResult EveryStatus() {
  return MakeRun({Case("Veth.Pass", "a.b", Status::kPass),
                  Case("Veth.Fail", "a.b", Status::kFail, "Expected: 0\n  Actual: 1"),
                  Case("Veth.Skip", "a.c", Status::kSkip, "needs a NIC"),
                  Case("Dev.Error", "a.d", Status::kError, "fixture: EPERM"),
                  Case("Dev.Timeout", "a.d", Status::kTimeout, "killed after 30 s"),
                  Case("Dev.Miss", "a.e", Status::kMiss, "runner interrupted"),
                  Case("Only.SkipOne", "a.f", Status::kSkip, "no"),
                  Case("Only.SkipTwo", "a.f", Status::kSkip, "no")});
}

inline CaseResult Expected(CaseResult c, Status expected, std::string reason, std::string link) {
  c.expectation = CaseExpectation{expected, std::move(reason), std::move(link)};
  return c;
}

// A known kernel bug (XFAIL), a stale expectation (XPASS), and a plain PASS in a third suite.
inline RunResult WithExpectations() {
  RunResult run = MakeRun(
      {Expected(Case("Veth.Cve", "a.b", Status::kXfail, "peer moved\nVULNERABLE to CVE-2026-31692"),
                Status::kFail, "no capability check # before 7b735ef81286",
                "https://git.kernel.org/linus/7b735ef81286"),
       Expected(Case("Veth.Fixed", "a.c", Status::kXpass,
                     "expected FAIL, but passed: the expectation no longer holds"),
                Status::kFail, "was broken", "https://bugs.example/9"),
       Case("Nsid.Pass", "a.d", Status::kPass)});
  run.environment.features = {{"net_ns", true}, {"nsfs_file_handles", false}};
  return run;
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline bool HasNull(const nlohmann::json& value) {
  if (value.is_null()) return true;
  if (value.is_string()) return value.get<std::string>().find('\0') != std::string::npos;
  if (value.is_structured())
    for (const auto& item : value) {
      if (HasNull(item)) return true;
    }
  return false;
}

}  // namespace conform
