// Tests of results.json (reports/json_report.h): the layout written, reading back, and every
// document or file that is refused with one line.
#include "reports/json_report.h"

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

#include "reports/junit_report.h"
#include "reports/result_model.h"
#include "tests/report_samples.h"

namespace conform {
namespace {

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

}  // namespace
}  // namespace conform
