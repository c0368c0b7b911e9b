// Tests of the report writers: the result model, results.json (reading, writing, atomic files)
// and junit.xml.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/result_model.h"

namespace conform {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr Status kAllStatuses[] = {Status::kPass,    Status::kFail, Status::kSkip,  Status::kError,
                                   Status::kTimeout, Status::kMiss, Status::kXfail, Status::kXpass};

RunResult SampleRun() {
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
RunResult SampleRunWithExpectations() {
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

void ExpectSameRun(const RunResult& a, const RunResult& b) {
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
std::string RejectionOf(const nlohmann::json& doc) {
  try {
    RunResultFromJson(doc);
  } catch (const ReportError& e) {
    return e.what();
  }
  return "";
}

// A matcher for a non-empty single-line message.
auto OneLine() { return AllOf(Not(HasSubstr("\n")), Not(::testing::IsEmpty())); }

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

std::set<std::string> Listing(const fs::path& folder) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteRaw(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

// ---------------------------------------------------------------------------------------------
// The model

TEST(ResultModelTest, StatusNamesRoundTrip) {
  std::vector<std::string> names;
  for (Status status : kAllStatuses) {
    names.push_back(StatusName(status));
    EXPECT_EQ(ParseStatus(StatusName(status)), status);
  }
  EXPECT_THAT(names,
              ElementsAre("PASS", "FAIL", "SKIP", "ERROR", "TIMEOUT", "MISS", "XFAIL", "XPASS"));
  EXPECT_EQ(ParseStatus("pass"), std::nullopt);
  EXPECT_EQ(ParseStatus(""), std::nullopt);
  EXPECT_EQ(ParseStatus("PASSED"), std::nullopt);
}

TEST(ResultModelTest, RecountSummaryCountsEveryStatusAndKeepsDuration) {
  RunResult run = SampleRun();
  run.summary = {.total = 99, .passed = 99, .duration_s = 7.5};
  RecountSummary(run);
  EXPECT_EQ(run.summary.total, 7);
  EXPECT_EQ(run.summary.passed, 2);
  EXPECT_EQ(run.summary.failed, 1);
  EXPECT_EQ(run.summary.skipped, 1);
  EXPECT_EQ(run.summary.errors, 1);
  EXPECT_EQ(run.summary.timeouts, 1);
  EXPECT_EQ(run.summary.missed, 1);
  EXPECT_EQ(run.summary.xfailed, 0);
  EXPECT_EQ(run.summary.duration_s, 7.5);
  run = SampleRunWithExpectations();
  EXPECT_EQ(run.summary.total, 9);
  EXPECT_EQ(run.summary.xfailed, 1);
  EXPECT_EQ(run.summary.xpassed, 1);
  EXPECT_EQ(run.summary.passed, 2);  // an XPASS is counted apart
  EXPECT_EQ(run.summary.failed, 1);  // and so is an XFAIL
}

// "CLAUSE=STATUS[case,case]" for each verdict, to compare whole lists at once.
std::vector<std::string> Describe(const std::vector<ClauseVerdict>& verdicts) {
  std::vector<std::string> lines;
  for (const ClauseVerdict& v : verdicts) {
    std::string line = v.id + "=" + StatusName(v.status) + "[";
    for (size_t i = 0; i < v.cases.size(); ++i) line += (i ? "," : "") + v.cases[i];
    lines.push_back(line + "]");
  }
  return lines;
}

TEST(ResultModelTest, ClauseVerdictsOfTheSampleRun) {
  EXPECT_THAT(Describe(ClauseVerdicts(SampleRun().cases)),
              ElementsAre("clone2.newnet.einval=FAIL[Unshare.Einval]",  // MISS
                          "clone2.newnet.eperm=PASS[Unshare.Eperm/1]",
                          "netns7.refund.initial-ns=FAIL[Device.Refund]",  // ERROR
                          "netns7.refund.rename=FAIL[Device.Rename]",      // TIMEOUT
                          "netns7.unix.abstract=SKIP[Unix.Abstract]",
                          "netns7.veth.destroyed-with-ns=FAIL[Veth.DiesWithNs,Veth.PeerDies]"));
}

TEST(ResultModelTest, ClauseIsPassOnlyWhenAllPassSkipWhenAllSkipFailOtherwise) {
  auto verdict_of = [](std::vector<Status> statuses) {
    std::vector<CaseResult> cases;
    for (size_t i = 0; i < statuses.size(); ++i)
      cases.push_back({"S.C" + std::to_string(i), "c.x", statuses[i], "r", 0, ""});
    const std::vector<ClauseVerdict> verdicts = ClauseVerdicts(cases);
    EXPECT_EQ(verdicts.size(), 1u);
    EXPECT_EQ(verdicts.front().cases.size(), statuses.size());
    return verdicts.front().status;
  };
  using S = Status;
  EXPECT_EQ(verdict_of({S::kPass}), S::kPass);
  EXPECT_EQ(verdict_of({S::kPass, S::kPass, S::kPass}), S::kPass);
  EXPECT_EQ(verdict_of({S::kSkip}), S::kSkip);
  EXPECT_EQ(verdict_of({S::kSkip, S::kSkip}), S::kSkip);
  EXPECT_EQ(verdict_of({S::kPass, S::kSkip}), S::kFail);  // a mix is not shown to hold in full
  EXPECT_EQ(verdict_of({S::kSkip, S::kPass}), S::kFail);
  for (Status bad : {S::kFail, S::kError, S::kTimeout, S::kMiss}) {
    SCOPED_TRACE(StatusName(bad));
    EXPECT_EQ(verdict_of({bad}), S::kFail);
    EXPECT_EQ(verdict_of({S::kPass, bad, S::kPass}), S::kFail);
    EXPECT_EQ(verdict_of({bad, S::kSkip}), S::kFail);
    EXPECT_EQ(verdict_of({S::kSkip, bad}), S::kFail);
  }
}

// XFAIL when every case is PASS, SKIP, XFAIL or XPASS and one is XFAIL; otherwise the rule above
// with XPASS counted as PASS.
TEST(ResultModelTest, ClauseIsXfailWhenItsOnlyFailuresAreExpected) {
  auto verdict_of = [](std::vector<Status> statuses) {
    std::vector<CaseResult> cases;
    for (size_t i = 0; i < statuses.size(); ++i)
      cases.push_back({"S.C" + std::to_string(i), "c.x", statuses[i], "r", 0, ""});
    return ClauseVerdicts(cases).front().status;
  };
  using S = Status;
  EXPECT_EQ(verdict_of({S::kXfail}), S::kXfail);
  EXPECT_EQ(verdict_of({S::kPass, S::kXfail}), S::kXfail);
  EXPECT_EQ(verdict_of({S::kSkip, S::kXfail, S::kXpass}), S::kXfail);
  EXPECT_EQ(verdict_of({S::kXpass}), S::kPass);
  EXPECT_EQ(verdict_of({S::kXpass, S::kPass}), S::kPass);
  EXPECT_EQ(verdict_of({S::kXpass, S::kSkip}), S::kFail);  // as PASS + SKIP
  for (Status bad : {S::kFail, S::kError, S::kTimeout, S::kMiss}) {
    SCOPED_TRACE(StatusName(bad));
    EXPECT_EQ(verdict_of({S::kXfail, bad}), S::kFail);  // an unexplained failure still counts
    EXPECT_EQ(verdict_of({bad, S::kXpass}), S::kFail);
  }
}

TEST(ResultModelTest, ClauseVerdictsOrderAndEmptyClauses) {
  const std::vector<CaseResult> cases = {
      {"B.Two", "z.last", Status::kPass, "", 0, ""},
      {"A.One", "a.first", Status::kSkip, "s", 0, ""},
      {"C.Three", "", Status::kFail, "names no clause", 0, ""},
      {"A.Zero", "z.last", Status::kPass, "", 0, ""},
  };
  EXPECT_THAT(Describe(ClauseVerdicts(cases)),
              ElementsAre("a.first=SKIP[A.One]", "z.last=PASS[B.Two,A.Zero]"));
  EXPECT_TRUE(ClauseVerdicts({}).empty());
}

TEST(ResultModelTest, ToValidUtf8KeepsValidText) {
  const std::string text = "ascii \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x90\xA7 \t\n\x1b[0m";
  EXPECT_EQ(ToValidUtf8(text), text);
  EXPECT_EQ(ToValidUtf8(""), "");
}

TEST(ResultModelTest, ToValidUtf8ReplacesInvalidSequences) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(ToValidUtf8("a\xFF"
                        "b"),
            "a" + r + "b");                                   // never a UTF-8 byte
  EXPECT_EQ(ToValidUtf8("\x80"), r);                          // stray continuation byte
  EXPECT_EQ(ToValidUtf8("\xC0\xAF"), r + r);                  // overlong '/'
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), r + r + r);          // surrogate U+D800
  EXPECT_EQ(ToValidUtf8("\xF4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(ToValidUtf8("x\xE2\x82"), "x" + r);               // truncated euro sign
  EXPECT_EQ(ToValidUtf8("\xE2\x82x"), r + "x");
}

// ---------------------------------------------------------------------------------------------
// results.json

TEST(JsonReportTest, RoundTrip) {
  const RunResult run = SampleRun();
  ExpectSameRun(RunResultFromJson(ToJson(run)), run);
  ExpectSameRun(RunResultFromJson(nlohmann::json::parse(ToJsonText(run))), run);
}

TEST(JsonReportTest, Layout) {
  const nlohmann::json doc = ToJson(SampleRun());
  EXPECT_EQ(doc["schema_version"], 2);
  EXPECT_EQ(doc["summary"]["xfailed"], 0);
  EXPECT_EQ(doc["summary"]["xpassed"], 0);
  EXPECT_FALSE(doc["environment"].contains("features"));  // not recorded: left out
  EXPECT_FALSE(doc["cases"][1].contains("expectation"));
  EXPECT_EQ(doc["summary"]["total"], 7);
  EXPECT_EQ(doc["summary"]["duration_s"], 31.5);
  EXPECT_EQ(doc["environment"]["start_time"], "2025-01-31T12:00:00Z");
  const nlohmann::json& pass = doc["cases"][0];
  EXPECT_EQ(pass["status"], "PASS");
  EXPECT_FALSE(pass.contains("reason"));
  EXPECT_FALSE(pass.contains("log"));
  const nlohmann::json& fail = doc["cases"][1];
  EXPECT_EQ(fail["status"], "FAIL");
  EXPECT_EQ(fail["reason"], "Expected: false\nActual: true");
  EXPECT_EQ(fail["log"], "logs/Veth.PeerDies.txt");
  EXPECT_FALSE(doc["cases"][2].contains("log"));
  ASSERT_EQ(doc["clauses"].size(), 6u);
  EXPECT_EQ(doc["clauses"][5], nlohmann::json::parse(R"({"id": "netns7.veth.destroyed-with-ns",
      "status": "FAIL", "cases": ["Veth.DiesWithNs", "Veth.PeerDies"]})"));
  EXPECT_EQ(doc["clauses"][1]["status"], "PASS");
  EXPECT_EQ(doc["clauses"][4]["status"], "SKIP");

  // The text form keeps the layout order.
  const std::string text = ToJsonText(SampleRun());
  EXPECT_LT(text.find("\"schema_version\""), text.find("\"environment\""));
  EXPECT_LT(text.find("\"environment\""), text.find("\"summary\""));
  EXPECT_LT(text.find("\"summary\""), text.find("\"cases\""));
  EXPECT_LT(text.find("\"cases\""), text.find("\"clauses\""));
  EXPECT_EQ(text.back(), '\n');
}

// Like the summary, the verdicts in the file come from the cases, whatever run.clauses holds.
TEST(JsonReportTest, ClauseVerdictsAreRecomputedFromCases) {
  RunResult run = SampleRun();
  run.clauses = {{"stale.clause", Status::kPass, {"Old.Case"}}};
  const nlohmann::json doc = ToJson(run);
  ASSERT_EQ(doc["clauses"].size(), 6u);
  EXPECT_EQ(doc["clauses"][0]["id"], "clone2.newnet.einval");
  run.cases.clear();
  EXPECT_EQ(ToJson(run)["clauses"], nlohmann::json::array());
}

// Files written before per-clause verdicts existed have no "clauses": the reader derives them.
TEST(JsonReportTest, ReadsFilesWithoutClauses) {
  nlohmann::json doc = ToJson(SampleRun());
  doc.erase("clauses");
  const RunResult run = RunResultFromJson(doc);
  ExpectSameRun(run, SampleRun());
  EXPECT_EQ(run.clauses.size(), 6u);
}

TEST(JsonReportTest, AcceptsClausesInAnotherOrder) {
  nlohmann::json doc = ToJson(SampleRun());
  std::reverse(doc["clauses"].begin(), doc["clauses"].end());
  std::reverse(doc["clauses"][0]["cases"].begin(), doc["clauses"][0]["cases"].end());
  ExpectSameRun(RunResultFromJson(doc), SampleRun());
}

TEST(JsonReportTest, RejectsClausesThatDisagreeWithCases) {
  const nlohmann::json good = ToJson(SampleRun());
  struct Mutation {
    std::string name;
    void (*apply)(nlohmann::json&);
    std::string expected;
  };
  const std::vector<Mutation> mutations = {
      {"clauses object", [](nlohmann::json& d) { d["clauses"] = nlohmann::json::object(); },
       "field \"clauses\" is an object, expected an array"},
      {"clause not object", [](nlohmann::json& d) { d["clauses"][0] = "x"; },
       "field \"clauses[0]\" is a string, expected an object"},
      {"no id", [](nlohmann::json& d) { d["clauses"][0].erase("id"); },
       "missing field \"clauses[0].id\""},
      {"empty id", [](nlohmann::json& d) { d["clauses"][0]["id"] = ""; },
       "clauses[0]: empty clause id"},
      {"ERROR is a case status", [](nlohmann::json& d) { d["clauses"][0]["status"] = "ERROR"; },
       "clauses[0] (\"clone2.newnet.einval\"): status \"ERROR\" is not a clause verdict"},
      {"unknown status", [](nlohmann::json& d) { d["clauses"][0]["status"] = "OK"; },
       "status \"OK\" is not a clause verdict"},
      {"cases not array", [](nlohmann::json& d) { d["clauses"][1]["cases"] = "Unshare.Eperm/1"; },
       "field \"clauses[1].cases\" is a string, expected an array"},
      {"case not string", [](nlohmann::json& d) { d["clauses"][1]["cases"][0] = 1; },
       "field \"clauses[1].cases[0]\" is a number, expected a string"},
      {"no cases", [](nlohmann::json& d) { d["clauses"][1]["cases"] = nlohmann::json::array(); },
       "clauses[1] (\"clone2.newnet.eperm\"): no cases"},
      {"FAIL shown as PASS", [](nlohmann::json& d) { d["clauses"][5]["status"] = "PASS"; },
       "clause \"netns7.veth.destroyed-with-ns\" is PASS but its cases give FAIL"},
      {"MISS shown as SKIP", [](nlohmann::json& d) { d["clauses"][0]["status"] = "SKIP"; },
       "clause \"clone2.newnet.einval\" is SKIP but its cases give FAIL"},
      {"a case left out", [](nlohmann::json& d) { d["clauses"][5]["cases"].erase(1); },
       "clause \"netns7.veth.destroyed-with-ns\" lists other cases than those naming it"},
      {"a clause left out", [](nlohmann::json& d) { d["clauses"].erase(2); },
       "clause \"netns7.refund.initial-ns\" is named by cases but missing from \"clauses\""},
      {"a clause no case names",
       [](nlohmann::json& d) {
         d["clauses"].push_back(
             {{"id", "x.y"}, {"status", "PASS"}, {"cases", {"Veth.DiesWithNs"}}});
       },
       "clause \"x.y\" is in \"clauses\" but no case names it"},
      {"a clause twice", [](nlohmann::json& d) { d["clauses"].push_back(d["clauses"][1]); },
       "clause \"clone2.newnet.eperm\" appears twice in \"clauses\""},
  };
  for (const Mutation& m : mutations) {
    SCOPED_TRACE(m.name);
    nlohmann::json doc = good;
    m.apply(doc);
    EXPECT_THAT(RejectionOf(doc), AllOf(OneLine(), HasSubstr(m.expected)));
  }
}

TEST(JsonReportTest, SummaryIsRecountedAndBadValuesAreCleaned) {
  RunResult run = SampleRun();
  run.summary.failed = 42;  // stale
  run.cases[1].reason.clear();
  run.cases[1].id = "Bad.Utf8\xFF";
  run.cases[0].duration_s = -1;
  const nlohmann::json doc = ToJson(run);
  EXPECT_EQ(doc["summary"]["failed"], 1);
  EXPECT_EQ(doc["cases"][1]["reason"], "no reason recorded for FAIL");
  EXPECT_EQ(doc["cases"][1]["id"], "Bad.Utf8\xEF\xBF\xBD");
  EXPECT_EQ(doc["cases"][0]["duration_s"], 0.0);
  EXPECT_NO_THROW(doc.dump());
  EXPECT_NO_THROW(RunResultFromJson(doc));
}

TEST(JsonReportTest, ExpectedResultsRoundTrip) {
  const RunResult run = SampleRunWithExpectations();
  const nlohmann::json doc = ToJson(run);
  EXPECT_EQ(doc["environment"]["features"],
            nlohmann::json::parse(R"({"net_ns": true, "nsfs_file_handles": false})"));
  EXPECT_EQ(doc["summary"]["xfailed"], 1);
  EXPECT_EQ(doc["summary"]["xpassed"], 1);
  EXPECT_EQ(doc["cases"][7]["status"], "XFAIL");
  EXPECT_EQ(doc["cases"][7]["reason"], "peer moved: VULNERABLE to CVE-2026-31692");
  EXPECT_EQ(doc["cases"][7]["expectation"],
            nlohmann::json::parse(R"({"status": "FAIL", "reason": "kernel lacks 7b735ef81286",
                                      "link": "https://git.kernel.org/x"})"));
  EXPECT_EQ(doc["cases"][8]["expectation"]["status"], "TIMEOUT");
  EXPECT_EQ(doc["clauses"][5], nlohmann::json::parse(R"({"id": "netns7.veth.cve",
      "status": "XFAIL", "cases": ["Veth.Cve"]})"));
  EXPECT_EQ(doc["clauses"][7]["status"], "PASS");  // netns7.veth.fixed: its XPASS counts as PASS
  ExpectSameRun(RunResultFromJson(doc), run);
  ExpectSameRun(RunResultFromJson(nlohmann::json::parse(ToJsonText(run))), run);
  // The journal's line form keeps them too.
  EXPECT_EQ(CaseResultFromJson(CaseToJson(run.cases[7])).expectation, run.cases[7].expectation);
}

TEST(JsonReportTest, RejectsInconsistentExpectedResults) {
  const nlohmann::json good = ToJson(SampleRunWithExpectations());
  struct Mutation {
    std::string name;
    void (*apply)(nlohmann::json&);
    std::string expected;
  };
  const std::vector<Mutation> mutations = {
      {"XFAIL without expectation", [](nlohmann::json& d) { d["cases"][7].erase("expectation"); },
       "missing field \"cases[7].expectation\""},
      {"FAIL with expectation",
       [](nlohmann::json& d) { d["cases"][1]["expectation"] = d["cases"][7]["expectation"]; },
       "status FAIL has an \"expectation\""},
      {"expectation of SKIP",
       [](nlohmann::json& d) { d["cases"][7]["expectation"]["status"] = "SKIP"; },
       "expected FAIL, ERROR or TIMEOUT"},
      {"expectation without link",
       [](nlohmann::json& d) { d["cases"][8]["expectation"].erase("link"); },
       "missing field \"cases[8].expectation.link\""},
      {"no xfailed count", [](nlohmann::json& d) { d["summary"].erase("xfailed"); },
       "missing field \"summary.xfailed\""},
      {"xpassed disagrees", [](nlohmann::json& d) { d["summary"]["xpassed"] = 0; },
       "summary.xpassed is 0 but cases hold 1 XPASS"},
      {"feature not boolean",
       [](nlohmann::json& d) { d["environment"]["features"]["net_ns"] = "yes"; },
       "field \"environment.features.net_ns\" is a string, expected a boolean"},
      {"features array", [](nlohmann::json& d) { d["environment"]["features"] = {1}; },
       "field \"environment.features\" is an array, expected an object"},
      {"clause verdict disagrees", [](nlohmann::json& d) { d["clauses"][5]["status"] = "FAIL"; },
       "clause \"netns7.veth.cve\" is FAIL but its cases give XFAIL"},
  };
  for (const Mutation& m : mutations) {
    SCOPED_TRACE(m.name);
    nlohmann::json doc = good;
    m.apply(doc);
    EXPECT_THAT(RejectionOf(doc), AllOf(OneLine(), HasSubstr(m.expected)));
  }
}

// Version 1 files (written before expectations existed) are still read, and mean what they said.
TEST(JsonReportTest, ReadsSchemaVersion1) {
  nlohmann::json doc = ToJson(SampleRun());
  doc["schema_version"] = 1;
  doc["summary"].erase("xfailed");
  doc["summary"].erase("xpassed");
  const RunResult run = RunResultFromJson(doc);
  EXPECT_EQ(run.schema_version, kResultsSchemaVersion);
  ExpectSameRun(run, SampleRun());
  // XFAIL did not exist in version 1.
  doc["cases"][1]["status"] = "XFAIL";
  EXPECT_THAT(RejectionOf(doc), AllOf(OneLine(), HasSubstr("cases[1]"),
                                      HasSubstr("unknown status \"XFAIL\" in a schema_version 1")));
}

TEST(JsonReportTest, RejectsWrongSchemaVersion) {
  nlohmann::json doc = ToJson(SampleRun());
  doc["schema_version"] = 3;
  const std::string message = RejectionOf(doc);
  EXPECT_THAT(message, AllOf(OneLine(), HasSubstr("schema_version"), HasSubstr("3"),
                             HasSubstr("understands 1 to 2")));
  doc["schema_version"] = 0;
  EXPECT_THAT(RejectionOf(doc), AllOf(OneLine(), HasSubstr("unsupported schema_version 0")));
  doc["schema_version"] = -1;
  EXPECT_THAT(RejectionOf(doc), AllOf(OneLine(), HasSubstr("unsupported schema_version -1")));

  doc["schema_version"] = "1";
  EXPECT_THAT(RejectionOf(doc), AllOf(OneLine(), HasSubstr("schema_version"), HasSubstr("string")));
  doc.erase("schema_version");
  EXPECT_THAT(RejectionOf(doc), AllOf(OneLine(), HasSubstr("missing field \"schema_version\"")));
}

TEST(JsonReportTest, RejectsUnknownStatus) {
  nlohmann::json doc = ToJson(SampleRun());
  doc["cases"][3]["status"] = "BROKEN\nSECOND LINE";
  EXPECT_THAT(RejectionOf(doc), AllOf(OneLine(), HasSubstr("cases[3]"), HasSubstr("Device.Refund"),
                                      HasSubstr("unknown status"), HasSubstr("BROKEN")));
  doc["cases"][3]["status"] = "pass";
  EXPECT_THAT(RejectionOf(doc), AllOf(OneLine(), HasSubstr("unknown status \"pass\"")));
}

TEST(JsonReportTest, RejectsMissingOrIllTypedFields) {
  const nlohmann::json good = ToJson(SampleRun());
  struct Mutation {
    std::string name;
    void (*apply)(nlohmann::json&);
    std::string expected;
  };
  const std::vector<Mutation> mutations = {
      {"no environment", [](nlohmann::json& d) { d.erase("environment"); },
       "missing field \"environment\""},
      {"no hostname", [](nlohmann::json& d) { d["environment"].erase("hostname"); },
       "missing field \"environment.hostname\""},
      {"numeric sandbox", [](nlohmann::json& d) { d["environment"]["sandbox"] = 3; },
       "field \"environment.sandbox\" is a number, expected a string"},
      {"summary array", [](nlohmann::json& d) { d["summary"] = nlohmann::json::array(); },
       "field \"summary\" is an array, expected an object"},
      {"float count", [](nlohmann::json& d) { d["summary"]["total"] = 7.5; },
       "field \"summary.total\" is a number, expected an integer"},
      {"negative count", [](nlohmann::json& d) { d["summary"]["missed"] = -1; },
       "field \"summary.missed\" is -1, expected a non-negative integer"},
      {"no cases", [](nlohmann::json& d) { d.erase("cases"); }, "missing field \"cases\""},
      {"cases object", [](nlohmann::json& d) { d["cases"] = nlohmann::json::object(); },
       "field \"cases\" is an object, expected an array"},
      {"case not object", [](nlohmann::json& d) { d["cases"][2] = 5; },
       "field \"cases[2]\" is a number, expected an object"},
      {"no id", [](nlohmann::json& d) { d["cases"][0].erase("id"); },
       "missing field \"cases[0].id\""},
      {"null clause", [](nlohmann::json& d) { d["cases"][0]["clause"] = nullptr; },
       "field \"cases[0].clause\" is null, expected a string"},
      {"string duration", [](nlohmann::json& d) { d["cases"][4]["duration_s"] = "30"; },
       "field \"cases[4].duration_s\" is a string, expected a number"},
      {"negative duration", [](nlohmann::json& d) { d["summary"]["duration_s"] = -0.5; },
       "field \"summary.duration_s\" is -0.5, expected a non-negative number"},
      {"numeric log", [](nlohmann::json& d) { d["cases"][1]["log"] = 1; },
       "field \"cases[1].log\" is a number, expected a string"},
      {"FAIL without reason", [](nlohmann::json& d) { d["cases"][1].erase("reason"); },
       "cases[1] (\"Veth.PeerDies\"): status FAIL needs a non-empty \"reason\""},
      {"SKIP with empty reason", [](nlohmann::json& d) { d["cases"][2]["reason"] = ""; },
       "status SKIP needs a non-empty \"reason\""},
      {"summary disagrees", [](nlohmann::json& d) { d["summary"]["failed"] = 2; },
       "summary.failed is 2 but cases hold 1 FAIL"},
      {"total disagrees", [](nlohmann::json& d) { d["summary"]["total"] = 6; },
       "summary.total is 6 but cases hold 7 cases"},
      {"top level array", [](nlohmann::json& d) { d = nlohmann::json::array(); },
       "top level is an array, expected an object"},
  };
  for (const Mutation& m : mutations) {
    SCOPED_TRACE(m.name);
    nlohmann::json doc = good;
    m.apply(doc);
    EXPECT_THAT(RejectionOf(doc), AllOf(OneLine(), HasSubstr(m.expected)));
  }
}

TEST(JsonReportTest, IgnoresUnknownKeys) {
  nlohmann::json doc = ToJson(SampleRun());
  doc["benchmarks"] = {{"unshare_ms", 0.4}};
  doc["cases"][0]["retries"] = 1;
  doc["environment"]["accelerator"] = "tcg";
  ExpectSameRun(RunResultFromJson(doc), SampleRun());
}

TEST(JsonReportTest, ReadResultsFileRoundTrip) {
  TempDir dir;
  const fs::path path = dir.path() / "results.json";
  WriteResultsFile(path, SampleRun());
  ExpectSameRun(ReadResultsFile(path), SampleRun());
  EXPECT_EQ(ReadFile(path), ToJsonText(SampleRun()));
}

// The ReportError message of ReadResultsFile(path), or "" when it does not throw.
std::string ReadRejectionOf(const fs::path& path) {
  try {
    ReadResultsFile(path);
  } catch (const ReportError& e) {
    return e.what();
  }
  return "";
}

TEST(JsonReportTest, ReadResultsFileRejectsTruncatedJson) {
  TempDir dir;
  const fs::path path = dir.path() / "results.json";
  const std::string text = ToJsonText(SampleRun());
  // Cut in the middle of a key, of a string value, of a number and after the last case.
  for (size_t cut : {text.size() / 3, text.find("Veth.PeerDies") + 4, text.find("31.5") + 2,
                     text.rfind(']') + 1}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    WriteRaw(path, text.substr(0, cut));
    EXPECT_THAT(ReadRejectionOf(path),
                AllOf(OneLine(), HasSubstr(path.string()), HasSubstr("truncated JSON")));
  }
}

TEST(JsonReportTest, ReadResultsFileRejectsInvalidJson) {
  TempDir dir;
  const fs::path path = dir.path() / "results.json";
  std::string text = ToJsonText(SampleRun());
  text.insert(text.find("\"summary\""), "oops\n");
  WriteRaw(path, text);
  EXPECT_THAT(ReadRejectionOf(path), AllOf(OneLine(), HasSubstr(path.string()),
                                           HasSubstr("invalid JSON"), HasSubstr("line")));

  WriteRaw(path, "");
  EXPECT_THAT(ReadRejectionOf(path), AllOf(OneLine(), HasSubstr("empty file")));

  nlohmann::json doc = ToJson(SampleRun());
  doc["cases"][5]["status"] = "LOST";
  WriteRaw(path, doc.dump());
  EXPECT_THAT(ReadRejectionOf(path),
              AllOf(OneLine(), HasSubstr(path.string() + ": cases[5]"), HasSubstr("LOST")));
}

TEST(JsonReportTest, ReadResultsFileRejectsUnreadableFile) {
  TempDir dir;
  EXPECT_THAT(ReadRejectionOf(dir.path() / "absent.json"),
              AllOf(OneLine(), HasSubstr("absent.json"), HasSubstr("ENOENT"),
                    HasSubstr("No such file or directory")));
  EXPECT_THAT(ReadRejectionOf(dir.path()),
              AllOf(OneLine(), HasSubstr(dir.path().string()), HasSubstr("EISDIR")));
}

// ---------------------------------------------------------------------------------------------
// WriteFileAtomically

std::string WriteRejectionOf(const fs::path& path, const std::string& content) {
  try {
    WriteFileAtomically(path, content);
  } catch (const ReportError& e) {
    return e.what();
  }
  return "";
}

TEST(WriteFileAtomicallyTest, CreatesAndReplacesLeavingNoTemporaryFile) {
  TempDir dir;
  const fs::path path = dir.path() / "junit.xml";
  const mode_t old_umask = ::umask(022);
  WriteFileAtomically(path, "first");
  ::umask(old_umask);
  EXPECT_EQ(ReadFile(path), "first");
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
  WriteFileAtomically(path, std::string(100000, 'x'));
  EXPECT_EQ(ReadFile(path), std::string(100000, 'x'));
  WriteFileAtomically(path, "");
  EXPECT_EQ(ReadFile(path), "");
  EXPECT_THAT(Listing(dir.path()), ElementsAre("junit.xml"));
}

TEST(WriteFileAtomicallyTest, RelativePathUsesCurrentFolder) {
  TempDir dir;
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir.path());
  WriteFileAtomically("plain.txt", "text");
  fs::current_path(old_cwd);
  EXPECT_EQ(ReadFile(dir.path() / "plain.txt"), "text");
  EXPECT_THAT(Listing(dir.path()), ElementsAre("plain.txt"));
}

TEST(WriteFileAtomicallyTest, MissingFolderFailsAndCreatesNothing) {
  TempDir dir;
  const fs::path path = dir.path() / "absent" / "results.json";
  EXPECT_THAT(WriteRejectionOf(path, "x"),
              AllOf(OneLine(), HasSubstr("cannot write " + path.string()), HasSubstr("ENOENT"),
                    HasSubstr("No such file or directory")));
  EXPECT_FALSE(fs::exists(dir.path() / "absent"));
  EXPECT_TRUE(Listing(dir.path()).empty());
}

TEST(WriteFileAtomicallyTest, FailedRenameRemovesTemporaryFile) {
  TempDir dir;
  // The target is a non-empty folder: everything works up to rename(2), which fails.
  const fs::path path = dir.path() / "results.json";
  fs::create_directory(path);
  WriteRaw(path / "inside", "keep");
  EXPECT_THAT(WriteRejectionOf(path, "new content"),
              AllOf(OneLine(), HasSubstr("cannot write " + path.string()), HasSubstr("renaming"),
                    HasSubstr("EISDIR")));
  EXPECT_THAT(Listing(dir.path()), ElementsAre("results.json"));
  EXPECT_TRUE(fs::is_directory(path));
  EXPECT_EQ(ReadFile(path / "inside"), "keep");
}

TEST(WriteFileAtomicallyTest, FailedWriteKeepsOldFileWhole) {
  TempDir dir;
  const fs::path path = dir.path() / "results.json";
  WriteFileAtomically(path, "old complete content");

  // Make write(2) fail part-way with EFBIG: a file size limit, with SIGXFSZ ignored.
  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit limit = old_limit;
  limit.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  struct sigaction ignore = {}, old_action = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &old_action), 0);
  const std::string message = WriteRejectionOf(path, std::string(100000, 'n'));
  ::sigaction(SIGXFSZ, &old_action, nullptr);
  ::setrlimit(RLIMIT_FSIZE, &old_limit);

  EXPECT_THAT(message, AllOf(OneLine(), HasSubstr("cannot write " + path.string()),
                             HasSubstr("writing"), HasSubstr("EFBIG")));
  EXPECT_EQ(ReadFile(path), "old complete content");
  EXPECT_THAT(Listing(dir.path()), ElementsAre("results.json"));
}

TEST(WriteFileAtomicallyTest, ReadOnlyFolderFailsAndCreatesNothing) {
  TempDir dir;
  const fs::path folder = dir.path() / "ro";
  fs::create_directory(folder);
  fs::permissions(folder, fs::perms::owner_read | fs::perms::owner_exec);
  // With CAP_DAC_OVERRIDE (root) the mode does not stop writes; nothing to test then.
  const fs::path probe = folder / "probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    ::unlink(probe.c_str());
    GTEST_SKIP() << "folder modes do not apply to this process (CAP_DAC_OVERRIDE)";
  }
  const fs::path path = folder / "results.json";
  EXPECT_THAT(WriteRejectionOf(path, "x"),
              AllOf(OneLine(), HasSubstr("cannot write " + path.string()), HasSubstr("EACCES")));
  fs::permissions(folder, fs::perms::owner_all);
  EXPECT_TRUE(Listing(folder).empty());
}

TEST(WriteFileAtomicallyTest, RejectsPathWithoutFileName) {
  TempDir dir;
  EXPECT_THAT(WriteRejectionOf(dir.path().string() + "/", "x"),
              AllOf(OneLine(), HasSubstr("not a file name")));
  EXPECT_TRUE(Listing(dir.path()).empty());
}

// ---------------------------------------------------------------------------------------------
// junit.xml

// Attribute `name` of the first element `tag` at or after `from`.
std::string Attribute(const std::string& xml, const std::string& tag, const std::string& name,
                      size_t from = 0) {
  const size_t start = xml.find("<" + tag + " ", from);
  if (start == std::string::npos) return "<no " + tag + ">";
  const size_t end = xml.find('>', start);
  const std::string element = xml.substr(start, end - start);
  std::smatch match;
  if (!std::regex_search(element, match, std::regex(" " + name + "=\"([^\"]*)\""))) {
    return "<no " + name + ">";
  }
  return match[1];
}

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

// Bytes XML 1.0 cannot carry in any form: C0 controls other than tab, LF, CR.
bool HasIllegalXmlBytes(const std::string& xml) {
  for (char ch : xml) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') return true;
  }
  return false;
}

// xmllint's verdict on `xml`: "" when well-formed, its complaint otherwise; nullopt without
// xmllint.
std::optional<std::string> XmllintErrors(const std::string& xml) {
  if (std::system("command -v xmllint >/dev/null 2>&1") != 0) return std::nullopt;
  TempDir dir;
  const fs::path path = dir.path() / "junit.xml";
  WriteRaw(path, xml);
  const std::string command = "xmllint --noout '" + path.string() + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = ::pclose(pipe);
  if (status != 0 && output.empty()) output = "xmllint exited with " + std::to_string(status);
  return output;
}

TEST(JUnitReportTest, CountsEqualJsonSummary) {
  const RunResult run = SampleRun();
  const std::string xml = ToJUnitXml(run);
  const nlohmann::json summary = ToJson(run)["summary"];
  EXPECT_EQ(Attribute(xml, "testsuites", "tests"), summary["total"].dump());
  EXPECT_EQ(Attribute(xml, "testsuites", "failures"), summary["failed"].dump());
  EXPECT_EQ(Attribute(xml, "testsuites", "errors"),
            std::to_string(summary["errors"].get<int>() + summary["timeouts"].get<int>() +
                           summary["missed"].get<int>()));
  EXPECT_EQ(Attribute(xml, "testsuites", "skipped"), summary["skipped"].dump());
  EXPECT_EQ(Attribute(xml, "testsuites", "time"), "31.500000");

  EXPECT_EQ(Occurrences(xml, "<testcase "), 7u);
  EXPECT_EQ(Occurrences(xml, "<failure "), 1u);
  EXPECT_EQ(Occurrences(xml, "<error "), 3u);
  EXPECT_EQ(Occurrences(xml, "<skipped "), 1u);

  // One suite per gtest suite, in order of first appearance, each with its own counts.
  std::map<std::string, std::vector<std::string>> suites;
  std::vector<std::string> order;
  for (size_t at = xml.find("<testsuite "); at != std::string::npos;
       at = xml.find("<testsuite ", at + 1)) {
    const std::string name = Attribute(xml, "testsuite", "name", at);
    order.push_back(name);
    suites[name] = {
        Attribute(xml, "testsuite", "tests", at), Attribute(xml, "testsuite", "failures", at),
        Attribute(xml, "testsuite", "errors", at), Attribute(xml, "testsuite", "skipped", at)};
    EXPECT_EQ(Attribute(xml, "testsuite", "hostname", at), "host1");
    EXPECT_EQ(Attribute(xml, "testsuite", "timestamp", at), "2025-01-31T12:00:00");
  }
  EXPECT_THAT(order, ElementsAre("Veth", "Unix", "Device", "Unshare"));
  EXPECT_THAT(suites["Veth"], ElementsAre("2", "1", "0", "0"));
  EXPECT_THAT(suites["Unix"], ElementsAre("1", "0", "0", "1"));
  EXPECT_THAT(suites["Device"], ElementsAre("2", "0", "2", "0"));
  EXPECT_THAT(suites["Unshare"], ElementsAre("2", "0", "1", "0"));
}

TEST(JUnitReportTest, CaseElements) {
  const std::string xml = ToJUnitXml(SampleRun());
  EXPECT_THAT(xml, HasSubstr("<testcase name=\"PeerDies\" classname=\"netns-conform.inplace.Veth\" "
                             "time=\"0.500000\">"));
  EXPECT_THAT(xml,
              HasSubstr("<testcase name=\"Eperm/1\" classname=\"netns-conform.inplace.Unshare\""));
  EXPECT_THAT(xml,
              HasSubstr("<property name=\"clause\" value=\"netns7.veth.destroyed-with-ns\"/>"));
  EXPECT_THAT(xml, HasSubstr("<failure message=\"Expected: false\" type=\"FAIL\">Expected: false\n"
                             "Actual: true</failure>"));
  EXPECT_THAT(xml, HasSubstr("<error message=\"netlink: EPERM\" type=\"ERROR\">"));
  EXPECT_THAT(xml, HasSubstr("<error message=\"killed after 30 s\" type=\"TIMEOUT\">"));
  EXPECT_THAT(xml, HasSubstr("<error message=\"no result\" type=\"MISS\">"));
  EXPECT_THAT(xml, HasSubstr("<skipped message=\"needs CAP_NET_ADMIN\"/>"));
  EXPECT_THAT(xml, HasSubstr("<property name=\"kernel_release\" value=\"6.12.9-amd64\"/>"));
  EXPECT_THAT(xml, HasSubstr("<property name=\"sandbox\" value=\"inplace\"/>"));
  EXPECT_THAT(xml, HasSubstr("<property name=\"runner_version\" value=\"0.1.0\"/>"));
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 0), 0u);
  if (const std::optional<std::string> complaint = XmllintErrors(xml)) {
    EXPECT_EQ(*complaint, "");
  }
}

// XFAIL: a skip naming the expectation, the failure's own reason in system-out; XPASS: passed,
// with the stale expectation in system-out and properties. Counts: skipped = SKIP + XFAIL.
TEST(JUnitReportTest, ExpectedResults) {
  const RunResult run = SampleRunWithExpectations();
  const std::string xml = ToJUnitXml(run);
  EXPECT_EQ(Attribute(xml, "testsuites", "tests"), "9");
  EXPECT_EQ(Attribute(xml, "testsuites", "failures"), "1");
  EXPECT_EQ(Attribute(xml, "testsuites", "skipped"), "2");
  EXPECT_THAT(xml, HasSubstr("<skipped message=\"expected failure: kernel lacks 7b735ef81286 "
                             "(https://git.kernel.org/x)\"/>\n      <system-out>XFAIL: FAIL as "
                             "expected on this kernel\npeer moved: VULNERABLE to "
                             "CVE-2026-31692</system-out>"));
  EXPECT_THAT(xml,
              HasSubstr("<property name=\"expectation_link\" value=\"https://bugs.example/1\"/>"));
  EXPECT_THAT(xml, HasSubstr("<property name=\"status\" value=\"XPASS\"/>"));
  const size_t fixed = xml.find("<testcase name=\"Fixed\"");
  ASSERT_NE(fixed, std::string::npos);
  const std::string element = xml.substr(fixed, xml.find("</testcase>", fixed) - fixed);
  EXPECT_THAT(element, Not(HasSubstr("<skipped")));
  EXPECT_THAT(element, Not(HasSubstr("<failure")));
  EXPECT_THAT(element, HasSubstr("<system-out>XPASS: expected TIMEOUT, but passed: the expectation "
                                 "no longer holds (expected because: hangs on 6.1; "
                                 "https://bugs.example/1)</system-out>"));
  if (const std::optional<std::string> complaint = XmllintErrors(xml)) {
    EXPECT_EQ(*complaint, "");
  }
}

TEST(JUnitReportTest, EscapesMarkupAndControlBytes) {
  RunResult run = SampleRun();
  run.environment.hostname = "h<&>\"'";
  run.environment.sandbox = "vm \"q\"";
  run.cases[1].reason =
      "\x1b[1;31m<&>\"' failed\x1b[0m\nline\x01two\x02\x0b\x0c\x1b end\x7f \xFF\xEF\xBF\xBE\r\n";
  run.cases[1].clause = "c<&>\"'\t\n";
  run.cases[2].reason = "skip <&>\"'\nsecond line";
  const std::string xml = ToJUnitXml(run);

  EXPECT_FALSE(HasIllegalXmlBytes(xml));
  EXPECT_EQ(xml.find('\x1b'), std::string::npos);
  EXPECT_EQ(ToValidUtf8(xml), xml);
  EXPECT_EQ(xml.find("\xEF\xBF\xBE"), std::string::npos);
  EXPECT_THAT(xml, HasSubstr("hostname=\"h&lt;&amp;&gt;&quot;&apos;\""));
  EXPECT_THAT(xml, HasSubstr("classname=\"netns-conform.vm &quot;q&quot;.Veth\""));
  EXPECT_THAT(xml, HasSubstr("<failure message=\"&lt;&amp;&gt;&quot;&apos; failed\" type=\"FAIL\">"
                             "&lt;&amp;&gt;&quot;&apos; failed\nline\xEF\xBF\xBDtwo"));
  EXPECT_THAT(xml, HasSubstr("value=\"c&lt;&amp;&gt;&quot;&apos;&#9;&#10;\""));
  EXPECT_THAT(xml,
              HasSubstr("<skipped message=\"skip &lt;&amp;&gt;&quot;&apos;&#10;second line\"/>"));
  EXPECT_THAT(xml, HasSubstr("&#13;\n</failure>"));
  if (const std::optional<std::string> complaint = XmllintErrors(xml)) {
    EXPECT_EQ(*complaint, "");
  }
}

TEST(JUnitReportTest, TimestampIsUtcWithoutZone) {
  RunResult run = SampleRun();
  const std::map<std::string, std::string> cases = {
      {"2025-01-31T12:00:00Z", "2025-01-31T12:00:00"},
      {"2025-01-31T12:00:00.123456Z", "2025-01-31T12:00:00"},
      {"2025-01-31T00:30:00+01:00", "2025-01-30T23:30:00"},
      {"2024-12-31t23:59:59-00:30", "2025-01-01T00:29:59"},
      {"", "<no timestamp>"},
      {"yesterday", "<no timestamp>"},
      {"2025-01-31T12:00:00", "<no timestamp>"},  // no zone: not RFC 3339
      {"2025-13-31T12:00:00Z", "<no timestamp>"},
  };
  for (const auto& [start_time, expected] : cases) {
    run.environment.start_time = start_time;
    EXPECT_EQ(Attribute(ToJUnitXml(run), "testsuite", "timestamp"), expected) << start_time;
  }
}

TEST(JUnitReportTest, EmptyRunAndOddIds) {
  RunResult run;
  std::string xml = ToJUnitXml(run);
  EXPECT_THAT(xml, HasSubstr("<testsuites name=\"netns-conform\" tests=\"0\" failures=\"0\" "
                             "errors=\"0\" skipped=\"0\" time=\"0.000000\">"));
  EXPECT_EQ(Occurrences(xml, "<testsuite "), 0u);

  run.cases = {{"NoDot", "c", Status::kPass, "", 0, ""}, {"A.B.C", "c", Status::kFail, "", 0, ""}};
  xml = ToJUnitXml(run);
  EXPECT_THAT(xml, HasSubstr("<testcase name=\"NoDot\" classname=\"netns-conform.unknown.NoDot\""));
  EXPECT_THAT(xml, HasSubstr("<testcase name=\"B.C\" classname=\"netns-conform.unknown.A\""));
  EXPECT_THAT(xml, HasSubstr("message=\"no reason recorded for FAIL\""));
  EXPECT_THAT(xml, HasSubstr("hostname=\"unknown\""));
}

TEST(JUnitReportTest, LongFirstLineIsShortenedAtCharacterBoundary) {
  RunResult run = SampleRun();
  std::string line;
  while (line.size() < 3000) line += "\xE2\x82\xAC";  // euro signs, 3 bytes each
  run.cases[1].reason = "\n  \n" + line + "\nrest";
  const std::string xml = ToJUnitXml(run);
  const std::string message = Attribute(xml, "failure", "message");
  EXPECT_LE(message.size(), 1003u);
  EXPECT_EQ(message.substr(message.size() - 3), "...");
  EXPECT_EQ(ToValidUtf8(message), message);
  EXPECT_THAT(xml, HasSubstr(line + "\nrest</failure>"));
}

}  // namespace
}  // namespace conform
