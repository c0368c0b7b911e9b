// Tests of expected results as data: reading expectation files (reports/expectations.h), checking
// them against a run's cases, and applying them (reports/apply_expectations.h).
#include "reports/expectations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "reports/apply_expectations.h"
#include "reports/json_report.h"

namespace conform {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

auto OneLine() { return AllOf(Not(HasSubstr("\n")), Not(IsEmpty())); }

nlohmann::json Doc(const std::string& entries) {
  return nlohmann::json::parse(R"({"expectations_version": 1, "about": "test", "expectations": [)" +
                               entries + "]}");
}

Expectations Parse(const std::string& entries) { return ParseExpectations(Doc(entries), "e.json"); }

// The ReportError message of parsing `doc`, or "" when it parses.
std::string RejectionOf(const nlohmann::json& doc) {
  try {
    ParseExpectations(doc, "e.json");
  } catch (const ReportError& e) {
    return e.what();
  }
  return "";
}

constexpr const char* kVeth = R"({"case": "VethPair.PeerInNetns*", "status": "FAIL",
    "kernels": {"release": ["6.1.0-*", "6.12.*"]}, "reason_contains": "VULNERABLE to CVE",
    "reason": "no capability check", "link": "https://git.kernel.org/linus/7b735ef81286"})";

Environment Kernel(const std::string& release, std::map<std::string, bool> features = {}) {
  Environment env;
  env.kernel_release = release;
  env.features = std::move(features);
  return env;
}

CaseResult Case(const std::string& id, Status status, const std::string& reason = "") {
  CaseResult c;
  c.id = id;
  c.clause = "sem.x";
  c.status = status;
  c.reason = reason;
  return c;
}

// The status `c` gets on a run of `env` with `entries`.
Status Applied(const std::string& entries, CaseResult c, const Environment& env) {
  ApplyExpectations(c, env, Parse(entries));
  return c.status;
}

// ---------------------------------------------------------------------------------------------
// Reading

TEST(ExpectationsParse, ReadsEveryField) {
  const Expectations e = Parse(std::string(kVeth) + R"(, {"case": "Tools.Add", "tool": "ip*",
      "kernels": {"features": {"nsfs_file_handles": false}}, "status": "TIMEOUT",
      "reason": "r", "link": "http://bugs.example/2"})");
  ASSERT_EQ(e.entries.size(), 2u);
  EXPECT_EQ(e.entries[0].case_glob, "VethPair.PeerInNetns*");
  EXPECT_THAT(e.entries[0].kernels.releases, ElementsAre("6.1.0-*", "6.12.*"));
  EXPECT_TRUE(e.entries[0].kernels.features.empty());
  EXPECT_EQ(e.entries[0].status, Status::kFail);
  EXPECT_EQ(e.entries[0].reason_contains, "VULNERABLE to CVE");
  EXPECT_EQ(e.entries[0].where, "e.json: expectations[0]");
  EXPECT_EQ(e.entries[1].tool_glob, "ip*");
  EXPECT_EQ(e.entries[1].status, Status::kTimeout);
  EXPECT_EQ(e.entries[1].kernels.features,
            (std::map<std::string, bool>{{"nsfs_file_handles", false}}));
  EXPECT_TRUE(Parse("").empty());
}

TEST(ExpectationsParse, EveryBadFileIsOneLineNamingFileAndProblem) {
  const nlohmann::json good = Doc(kVeth);
  struct Mutation {
    std::string name;
    void (*apply)(nlohmann::json&);
    std::string expected;
  };
  using J = nlohmann::json;
  const std::vector<Mutation> mutations = {
      {"unknown top-level field", [](J& d) { d["expectation"] = J::array(); },
       "e.json: unknown field \"expectation\""},
      {"unknown entry field", [](J& d) { d["expectations"][0]["reasons"] = "x"; },
       "e.json: expectations[0]: unknown field \"reasons\""},
      {"unknown kernels field", [](J& d) { d["expectations"][0]["kernels"]["arch"] = "x86"; },
       "e.json: expectations[0].kernels: unknown field \"arch\""},
      {"no version", [](J& d) { d.erase("expectations_version"); },
       "e.json: missing field \"expectations_version\""},
      {"version 2", [](J& d) { d["expectations_version"] = 2; },
       "e.json: unsupported expectations_version 2"},
      {"no list", [](J& d) { d.erase("expectations"); }, "missing field \"expectations\""},
      {"list is object", [](J& d) { d["expectations"] = J::object(); },
       "field \"expectations\" is {}, expected an array"},
      {"about not text", [](J& d) { d["about"] = 1; }, "field \"about\" is 1, expected a string"},
      {"entry not object", [](J& d) { d["expectations"][0] = "x"; },
       "expectations[0]: is \"x\", expected an object"},
      {"no case", [](J& d) { d["expectations"][0].erase("case"); },
       "expectations[0]: missing field \"case\""},
      {"empty case", [](J& d) { d["expectations"][0]["case"] = ""; },
       "expectations[0].case: is \"\", expected a non-empty string"},
      {"no status", [](J& d) { d["expectations"][0].erase("status"); }, "missing field \"status\""},
      {"status PASS", [](J& d) { d["expectations"][0]["status"] = "PASS"; },
       "expectations[0].status: is \"PASS\", expected \"FAIL\", \"ERROR\" or \"TIMEOUT\""},
      {"status SKIP", [](J& d) { d["expectations"][0]["status"] = "SKIP"; }, "\"SKIP\", expected"},
      {"status XFAIL", [](J& d) { d["expectations"][0]["status"] = "XFAIL"; },
       "\"XFAIL\", expected"},
      {"status lower case", [](J& d) { d["expectations"][0]["status"] = "fail"; }, "\"fail\""},
      {"no reason", [](J& d) { d["expectations"][0].erase("reason"); },
       "expectations[0]: missing field \"reason\""},
      {"no link", [](J& d) { d["expectations"][0].erase("link"); },
       "expectations[0]: missing field \"link\""},
      {"link not a URL", [](J& d) { d["expectations"][0]["link"] = "CVE-2026-31692"; },
       "expectations[0].link: is \"CVE-2026-31692\", expected an http(s) URL"},
      {"javascript link", [](J& d) { d["expectations"][0]["link"] = "javascript:alert(1)"; },
       "expected an http(s) URL"},
      {"empty reason_contains", [](J& d) { d["expectations"][0]["reason_contains"] = ""; },
       "expectations[0].reason_contains: is \"\""},
      {"release a string", [](J& d) { d["expectations"][0]["kernels"]["release"] = "6.1.0-*"; },
       "expectations[0].kernels.release: is \"6.1.0-*\", expected a non-empty array of globs"},
      {"release empty", [](J& d) { d["expectations"][0]["kernels"]["release"] = J::array(); },
       "kernels.release: is [], expected a non-empty array"},
      {"release item number", [](J& d) { d["expectations"][0]["kernels"]["release"][1] = 6; },
       "expectations[0].kernels.release[1]: is 6"},
      {"feature not bool",
       [](J& d) {
         d["expectations"][0]["kernels"]["features"] = {{"net_ns", "yes"}};
       },
       "expectations[0].kernels.features.net_ns: is \"yes\", expected true or false"},
      {"features empty", [](J& d) { d["expectations"][0]["kernels"]["features"] = J::object(); },
       "kernels.features: is {}, expected an object of booleans"},
      {"top level array", [](J& d) { d = J::array(); },
       "e.json: top level is [], expected an object"},
  };
  for (const Mutation& m : mutations) {
    SCOPED_TRACE(m.name);
    nlohmann::json doc = good;
    m.apply(doc);
    EXPECT_THAT(RejectionOf(doc), AllOf(OneLine(), HasSubstr(m.expected)));
  }
  EXPECT_EQ(RejectionOf(good), "");
}

class ExpectationFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "expectations_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::string Rejection(const std::vector<std::string>& paths) {
    try {
      ReadExpectationsFiles(paths);
    } catch (const ReportError& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(ExpectationFiles, FilesAreConcatenatedInOrder) {
  const std::string a = Write("a.json", Doc(kVeth).dump());
  const std::string b = Write(
      "b.json",
      Doc(R"({"case": "X.Y", "status": "ERROR", "reason": "r", "link": "https://x.y"})").dump());
  const Expectations e = ReadExpectationsFiles({a, b});
  ASSERT_EQ(e.entries.size(), 2u);
  EXPECT_EQ(e.entries[1].where, b + ": expectations[0]");
}

TEST_F(ExpectationFiles, BadFilesNameThemselves) {
  const std::string good = Write("good.json", Doc(kVeth).dump());
  const std::string truncated = Write("truncated.json", Doc(kVeth).dump().substr(0, 40));
  const std::string invalid = Write("invalid.json", "{\"expectations_version\": 1,, }");
  const std::string empty = Write("empty.json", "  \n");
  const std::string bad_entry =
      Write("bad.json",
            Doc(R"({"case": "X.Y", "status": "SKIP", "reason": "r", "link": "https://x"})").dump());
  EXPECT_THAT(Rejection({good, truncated}),
              AllOf(OneLine(), HasSubstr(truncated + ": truncated JSON")));
  EXPECT_THAT(Rejection({invalid}), AllOf(OneLine(), HasSubstr(invalid + ": invalid JSON")));
  EXPECT_THAT(Rejection({empty}), AllOf(OneLine(), HasSubstr(empty + ": empty file")));
  EXPECT_THAT(Rejection({(dir_ / "missing.json").string()}),
              AllOf(OneLine(), HasSubstr("missing.json: cannot open: ENOENT")));
  EXPECT_THAT(Rejection({bad_entry}),
              AllOf(OneLine(), HasSubstr(bad_entry + ": expectations[0].status")));
}

// ---------------------------------------------------------------------------------------------
// Checking against a run

std::string CheckRejection(const std::string& entries, const std::vector<CaseKey>& cases,
                           const std::map<std::string, bool>& features = {}) {
  try {
    CheckExpectationsMatch(Parse(entries), cases, features, "the suite's listing");
  } catch (const ReportError& e) {
    return e.what();
  }
  return "";
}

TEST(ExpectationsCheck, AGlobMustMatchACaseItCouldApplyTo) {
  const std::vector<CaseKey> suite = {{"VethPair.PeerInNetnsWithoutCapNetAdminIsEperm", ""},
                                      {"Nsid.Other", ""}};
  EXPECT_EQ(CheckRejection(kVeth, suite), "");
  EXPECT_THAT(CheckRejection(R"({"case": "Veth.Typo", "status": "FAIL", "reason": "r",
                                 "link": "https://x.y"})",
                             suite),
              AllOf(OneLine(), HasSubstr("e.json: expectations[0].case: \"Veth.Typo\" matches no "
                                         "case of the suite's listing")));
  // A tool entry is not checked against suite cases (one file serves `run` and `tools`), but is
  // against tool cases, with its tool.
  const std::string tool = R"({"case": "Tools.Add", "tool": "busy*", "status": "FAIL",
                               "reason": "r", "link": "https://x.y"})";
  EXPECT_EQ(CheckRejection(tool, suite), "");
  EXPECT_EQ(CheckRejection(tool, {{"Tools.Add", "busybox"}}), "");
  EXPECT_THAT(CheckRejection(tool, {{"Tools.Add", "ip"}}),
              AllOf(OneLine(), HasSubstr("\"Tools.Add\" with tool \"busy*\" matches no case")));
  // And a suite entry is not checked against tool cases alone.
  EXPECT_EQ(CheckRejection(kVeth, {{"Tools.Add", "ip"}}), "");
}

TEST(ExpectationsCheck, FeatureNamesMustBeProbedOnes) {
  const std::string entry = R"({"case": "Nsid.*", "status": "FAIL", "reason": "r",
      "link": "https://x.y", "kernels": {"features": {"nsfs_handles": true}}})";
  const std::map<std::string, bool> probed = {{"net_ns", true}, {"nsfs_file_handles", false}};
  EXPECT_THAT(CheckRejection(entry, {{"Nsid.Other", ""}}, probed),
              AllOf(OneLine(), HasSubstr("expectations[0].kernels.features: unknown feature "
                                         "\"nsfs_handles\" (known: net_ns, nsfs_file_handles)")));
  EXPECT_EQ(CheckRejection(entry, {{"Nsid.Other", ""}}), "");  // nothing recorded to check with
}

// ---------------------------------------------------------------------------------------------
// Applying

TEST(ExpectationsApply, ExpectedFailureBecomesXfailKeepingItsReason) {
  CaseResult c = Case("VethPair.PeerInNetnsWithoutCapNetAdminIsEperm", Status::kFail,
                      "moved the peer: VULNERABLE to CVE-2026-31692");
  ApplyExpectations(c, Kernel("6.1.0-57-cloud-amd64"), Parse(kVeth));
  EXPECT_EQ(c.status, Status::kXfail);
  EXPECT_EQ(c.reason, "moved the peer: VULNERABLE to CVE-2026-31692");
  ASSERT_TRUE(c.expectation.has_value());
  EXPECT_EQ(c.expectation->status, Status::kFail);
  EXPECT_EQ(c.expectation->reason, "no capability check");
  EXPECT_EQ(c.expectation->link, "https://git.kernel.org/linus/7b735ef81286");
  // Applying again changes nothing.
  const CaseResult once = c;
  ApplyExpectations(c, Kernel("6.1.0-57-cloud-amd64"), Parse(kVeth));
  EXPECT_EQ(c.status, once.status);
  EXPECT_EQ(c.expectation, once.expectation);
}

TEST(ExpectationsApply, ReasonContainsMustMatchElseTheFailureStays) {
  const Environment env = Kernel("6.12.118+deb12-amd64");
  const std::string id = "VethPair.PeerInNetnsWithoutCapNetAdminIsEperm";
  EXPECT_EQ(Applied(kVeth, Case(id, Status::kFail, "EINVAL from RTM_NEWLINK"), env), Status::kFail);
  EXPECT_EQ(Applied(kVeth, Case(id, Status::kFail, "x VULNERABLE to CVE y"), env), Status::kXfail);
  // Case-sensitive, plain text (no glob).
  EXPECT_EQ(Applied(kVeth, Case(id, Status::kFail, "vulnerable to cve"), env), Status::kFail);
}

TEST(ExpectationsApply, OtherStatusesAreUnchangedAndPassIsXpass) {
  const Environment env = Kernel("6.1.0-57-amd64");
  const std::string id = "VethPair.PeerInNetnsWithoutCapNetAdminIsEperm";
  for (Status other : {Status::kError, Status::kTimeout, Status::kSkip, Status::kMiss}) {
    SCOPED_TRACE(StatusName(other));
    CaseResult c = Case(id, other, "VULNERABLE to CVE");
    ApplyExpectations(c, env, Parse(kVeth));
    EXPECT_EQ(c.status, other);
    EXPECT_FALSE(c.expectation.has_value());
  }
  // A PASS where the kernel is said to fail: XPASS, whatever reason_contains says.
  CaseResult c = Case(id, Status::kPass);
  ApplyExpectations(c, env, Parse(kVeth));
  EXPECT_EQ(c.status, Status::kXpass);
  EXPECT_EQ(c.reason, "expected FAIL, but passed: the expectation no longer holds");
  ASSERT_TRUE(c.expectation.has_value());
  EXPECT_EQ(c.expectation->link, "https://git.kernel.org/linus/7b735ef81286");
  // TIMEOUT and ERROR expectations match their own status only.
  const std::string timeout = R"({"case": "A.*", "status": "TIMEOUT", "reason": "hangs",
                                  "link": "https://x.y"})";
  EXPECT_EQ(Applied(timeout, Case("A.B", Status::kTimeout, "killed"), env), Status::kXfail);
  EXPECT_EQ(Applied(timeout, Case("A.B", Status::kFail, "killed"), env), Status::kFail);
  EXPECT_EQ(Applied(timeout, Case("A.B", Status::kPass), env), Status::kXpass);
}

TEST(ExpectationsApply, CaseGlobsAndReleaseGlobs) {
  const std::string id = "VethPair.PeerInNetnsWithoutCapNetAdminIsEperm";
  const std::string why = "VULNERABLE to CVE";
  EXPECT_EQ(Applied(kVeth, Case(id, Status::kFail, why), Kernel("6.1.0-50-cloud-amd64")),
            Status::kXfail);
  EXPECT_EQ(Applied(kVeth, Case(id, Status::kFail, why), Kernel("6.12.118+deb12-amd64")),
            Status::kXfail);
  EXPECT_EQ(Applied(kVeth, Case(id, Status::kFail, why), Kernel("6.18.44")), Status::kFail);
  EXPECT_EQ(Applied(kVeth, Case(id, Status::kPass), Kernel("6.18.44")), Status::kPass);
  EXPECT_EQ(Applied(kVeth, Case(id, Status::kFail, why), Kernel("")), Status::kFail);
  EXPECT_EQ(Applied(kVeth, Case("VethPair.Other", Status::kFail, why), Kernel("6.1.0-5")),
            Status::kFail);
  // A glob matches the '/' of parameterised ids; no kernels: every kernel.
  const std::string param = R"({"case": "Unshare.*/1", "status": "FAIL", "reason": "r",
                                "link": "https://x.y"})";
  EXPECT_EQ(Applied(param, Case("Unshare.Eperm/1", Status::kFail), Kernel("any")), Status::kXfail);
  EXPECT_EQ(Applied(param, Case("Unshare.Eperm/2", Status::kFail), Kernel("any")), Status::kFail);
  // Suite entries never apply to tool cases, tool entries only to their tool's.
  CaseResult tool_case = Case("Unshare.Eperm/1", Status::kFail);
  tool_case.tool = "ip";
  EXPECT_EQ(Applied(param, tool_case, Kernel("any")), Status::kFail);
  const std::string for_ip = R"({"case": "Unshare.*", "tool": "i?", "status": "FAIL",
                                 "reason": "r", "link": "https://x.y"})";
  EXPECT_EQ(Applied(for_ip, tool_case, Kernel("any")), Status::kXfail);
  EXPECT_EQ(Applied(for_ip, Case("Unshare.Eperm/1", Status::kFail), Kernel("any")), Status::kFail);
}

TEST(ExpectationsApply, FeatureConditions) {
  const std::string entry = R"({"case": "Nsfs.*", "status": "FAIL", "reason": "r",
      "link": "https://x.y", "kernels": {"release": ["6.*"], "features": {"nsfs_file_handles": true,
      "ns_get_id": false}}})";
  const CaseResult c = Case("Nsfs.Handle", Status::kFail, "x");
  const std::map<std::string, bool> both = {{"nsfs_file_handles", true}, {"ns_get_id", false}};
  EXPECT_EQ(Applied(entry, c, Kernel("6.18.1", both)), Status::kXfail);
  // Both release and features must hold.
  EXPECT_EQ(Applied(entry, c, Kernel("7.0.0", both)), Status::kFail);
  EXPECT_EQ(
      Applied(entry, c, Kernel("6.18.1", {{"nsfs_file_handles", false}, {"ns_get_id", false}})),
      Status::kFail);
  // A feature the run did not record does not hold.
  EXPECT_EQ(Applied(entry, c, Kernel("6.18.1", {{"nsfs_file_handles", true}})), Status::kFail);
  EXPECT_EQ(Applied(entry, c, Kernel("6.18.1")), Status::kFail);
  EXPECT_TRUE(KernelConditionHolds({}, Kernel("")));
}

TEST(ExpectationsApply, FirstEntryWithTheActualStatusWins) {
  const std::string entries = R"({"case": "A.B", "status": "TIMEOUT", "reason": "hang",
      "link": "https://x.y/1"}, {"case": "A.*", "status": "FAIL", "reason": "wrong",
      "link": "https://x.y/2"}, {"case": "A.B", "status": "FAIL", "reason": "later",
      "link": "https://x.y/3"})";
  CaseResult c = Case("A.B", Status::kFail, "f");
  ApplyExpectations(c, Kernel("k"), Parse(entries));
  EXPECT_EQ(c.status, Status::kXfail);
  EXPECT_EQ(c.expectation->link, "https://x.y/2");
}

TEST(ExpectationsApply, RunRecountsAndNamesStaleExpectations) {
  RunResult run;
  run.environment = Kernel("6.1.0-57-cloud-amd64");
  run.cases = {Case("VethPair.PeerInNetnsWithoutCapNetAdminIsEperm", Status::kFail,
                    "VULNERABLE to CVE-2026-31692"),
               Case("Other.Pass", Status::kPass), Case("Other.Fail", Status::kFail, "broken")};
  run.cases[1].clause = "sem.y";
  run.cases[2].clause = "sem.z";
  RecountSummary(run);
  ApplyExpectations(run, Parse(std::string(kVeth) + R"(, {"case": "Other.Pass", "status": "FAIL",
      "reason": "was broken", "link": "https://bugs.example/9"})"));
  EXPECT_EQ(run.summary.xfailed, 1);
  EXPECT_EQ(run.summary.xpassed, 1);
  EXPECT_EQ(run.summary.failed, 1);
  EXPECT_EQ(run.summary.passed, 0);
  ASSERT_EQ(run.clauses.size(), 3u);
  EXPECT_EQ(run.clauses[0].status, Status::kXfail);  // sem.x
  EXPECT_EQ(run.clauses[1].status, Status::kPass);   // sem.y: XPASS counts as PASS
  EXPECT_EQ(run.clauses[2].status, Status::kFail);
  EXPECT_THAT(StaleExpectationLines(run),
              ElementsAre("stale expectation: Other.Pass passed on kernel 6.1.0-57-cloud-amd64, "
                          "expected FAIL (https://bugs.example/9): remove the expectation or "
                          "narrow its kernels"));
  // No expectations: nothing changes.
  RunResult plain;
  plain.cases = {Case("A.B", Status::kFail, "x")};
  ApplyExpectations(plain, Expectations{});
  EXPECT_EQ(plain.cases[0].status, Status::kFail);
}

}  // namespace
}  // namespace conform
