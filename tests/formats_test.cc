// Unit tests of the derived report formats: KTAP, KCIDB and the compatibility matrix (JSON and
// HTML). The consumers' own tools read them in ktap_report_test.sh, kcidb_report_test.sh and
// matrix_html_test.sh; these pin the details.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "reports/catalogue.h"
#include "reports/json_report.h"
#include "reports/kcidb_report.h"
#include "reports/ktap_report.h"
#include "reports/matrix_report.h"
#include "reports/report_text.h"

namespace conform {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

CaseResult Case(std::string id, std::string clause, Status status, std::string reason = "",
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

RunResult MakeRun(std::vector<CaseResult> cases) {
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
RunResult EveryStatus() {
  return MakeRun({Case("Veth.Pass", "a.b", Status::kPass),
                  Case("Veth.Fail", "a.b", Status::kFail, "Expected: 0\n  Actual: 1"),
                  Case("Veth.Skip", "a.c", Status::kSkip, "needs a NIC"),
                  Case("Dev.Error", "a.d", Status::kError, "fixture: EPERM"),
                  Case("Dev.Timeout", "a.d", Status::kTimeout, "killed after 30 s"),
                  Case("Dev.Miss", "a.e", Status::kMiss, "runner interrupted"),
                  Case("Only.SkipOne", "a.f", Status::kSkip, "no"),
                  Case("Only.SkipTwo", "a.f", Status::kSkip, "no")});
}

CaseResult Expected(CaseResult c, Status expected, std::string reason, std::string link) {
  c.expectation = CaseExpectation{expected, std::move(reason), std::move(link)};
  return c;
}

// A known kernel bug (XFAIL), a stale expectation (XPASS), and a plain PASS in a third suite.
RunResult WithExpectations() {
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

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Text helpers

TEST(ReportText, ReadableTextKeepsOnlyLfLineBreaks) {
  EXPECT_EQ(ReadableText("a\r\nb\rc\x1b[31md\x1b[0m\x01\x7f\xff"),
            "a\nb\ncd\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ReadableText(std::string("nul\0byte", 8)), "nulbyte");
  EXPECT_EQ(ReadableText("x\xE2\x80\xA8y\xC2\x85z\tt"), "x\xEF\xBF\xBDy\xEF\xBF\xBDz\tt");
}

TEST(ReportText, FirstLineSkipsBlankLinesAndCutsAtACharacter) {
  EXPECT_EQ(FirstLine("\n  \nsecond\nthird", 100), "second");
  EXPECT_EQ(FirstLine("\xC3\xA9\xC3\xA9", 3), "\xC3\xA9...");
  EXPECT_EQ(FirstLine("", 10), "");
}

TEST(ReportText, Rfc3339) {
  EXPECT_TRUE(IsRfc3339("2025-01-31T12:00:00Z"));
  EXPECT_TRUE(IsRfc3339("2024-02-29T23:59:60.125+01:00"));
  EXPECT_FALSE(IsRfc3339("2025-02-29T12:00:00Z"));
  EXPECT_FALSE(IsRfc3339("2025-01-31 12:00:00"));
  EXPECT_FALSE(IsRfc3339("unknown"));
}

// ---------------------------------------------------------------------------------------------
// KTAP

TEST(Ktap, EveryStatusAsKtapSaysIt) {
  const std::vector<std::string> lines = Lines(ToKtap(EveryStatus()));
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0], "KTAP version 1");
  EXPECT_EQ(lines[1], "1..3");
  EXPECT_THAT(lines, Contains("# kernel_release: 6.1.0-27-amd64"));
  EXPECT_THAT(lines, Contains("# start_time: 2025-01-31T12:00:00Z"));
  EXPECT_THAT(lines, Contains("  # Subtest: Veth"));
  EXPECT_THAT(lines, Contains("  ok 1 Pass"));
  EXPECT_THAT(lines, Contains("  # Expected: 0"));
  EXPECT_THAT(lines, Contains("  #   Actual: 1"));
  EXPECT_THAT(lines, Contains("  not ok 2 Fail"));
  EXPECT_THAT(lines, Contains("  ok 3 Skip # SKIP needs a NIC"));
  EXPECT_THAT(lines, Not(Contains("  # needs a NIC")));  // the result line says it all
  EXPECT_THAT(lines, Contains("not ok 1 Veth"));
  EXPECT_THAT(lines, Contains("  not ok 1 Error # ERROR fixture: EPERM"));
  EXPECT_THAT(lines, Contains("  not ok 2 Timeout # TIMEOUT killed after 30 s"));
  EXPECT_THAT(lines, Contains("  not ok 3 Miss # ERROR MISS: runner interrupted"));
  EXPECT_THAT(lines, Contains("not ok 2 Dev"));
  EXPECT_THAT(lines, Contains("ok 3 Only # SKIP"));
  EXPECT_EQ(lines.back(), "ok 3 Only # SKIP");
}

// XFAIL as kselftest writes it ("ok ... # XFAIL"), with the failure's reason and the
// expectation as diagnostics; XPASS a plain "ok" after a diagnostic naming the stale entry.
TEST(Ktap, ExpectedResults) {
  const std::vector<std::string> lines = Lines(ToKtap(WithExpectations()));
  EXPECT_THAT(lines, Contains("  # peer moved"));
  EXPECT_THAT(lines, Contains("  # VULNERABLE to CVE-2026-31692"));
  EXPECT_THAT(lines, Contains("  # expected failure: no capability check # before 7b735ef81286 "
                              "(https://git.kernel.org/linus/7b735ef81286)"));
  // '#' in directive data would start another directive for the parser.
  EXPECT_THAT(lines, Contains("  ok 1 Cve # XFAIL no capability check \xEF\xBC\x83 before "
                              "7b735ef81286"));
  EXPECT_THAT(lines, Contains("  # XPASS: expected FAIL, but passed: the expectation no longer "
                              "holds (https://bugs.example/9)"));
  EXPECT_THAT(lines, Contains("  ok 2 Fixed"));
  EXPECT_THAT(lines, Contains("ok 1 Veth"));  // neither fails its suite
  EXPECT_THAT(lines, Contains("# features: net_ns=yes nsfs_file_handles=no"));
  EXPECT_THAT(lines, Contains("# summary: 3 cases: 1 passed, 0 failed, 1 expected failure (XFAIL), "
                              "1 unexpected pass (XPASS), 0 skipped, 0 errors, 0 timeouts, "
                              "0 missed"));
}

TEST(Ktap, PassingSuiteIsOkAndEmptyRunHasEmptyPlan) {
  EXPECT_THAT(Lines(ToKtap(MakeRun(
                  {Case("S.A", "a.b", Status::kPass), Case("S.B", "a.b", Status::kSkip, "x")}))),
              Contains("ok 1 S"));
  const std::vector<std::string> lines = Lines(ToKtap(MakeRun({})));
  EXPECT_EQ(lines[1], "1..0");
}

TEST(Ktap, FreeTextNeverFormsAKtapLine) {
  const std::string hostile =
      "ok 1 fake\nnot ok 2 fake\nKTAP version 1\nSubtest: Injected\n1..9\n"
      "reboot: System halted\r\nKernel panic - not syncing: VFS: x\nList of all partitions:\n";
  RunResult run = MakeRun({Case("Suite.Name With#Hash", "a.b", Status::kFail, hostile),
                           Case("Suite.Skip", "a.b", Status::kSkip, "a # SKIP b"),
                           Case("Suite.Timeout", "a.b", Status::kTimeout, "t # SKIP not")});
  run.environment.hostname = "host\nok 1 injected";
  const std::string ktap = ToKtap(run);
  const std::regex result(R"(^\s*(ok|not ok) [0-9]+ .*)");
  const std::regex header(R"(^\s*# Subtest: .*)");
  const std::regex version(R"(^\s*K?TAP version [0-9]+$)");
  int results = 0, headers = 0, versions = 0;
  for (const std::string& line : Lines(ktap)) {
    results += std::regex_match(line, result);
    headers += std::regex_match(line, header);
    versions += std::regex_match(line, version);
    EXPECT_THAT(line, Not(HasSubstr("reboot: System halted")));
    EXPECT_THAT(line, Not(HasSubstr("not syncing: VFS:")));
    EXPECT_THAT(line, Not(HasSubstr("List of all partitions:")));
    EXPECT_THAT(line, Not(HasSubstr("\r")));
  }
  EXPECT_EQ(results, 4);  // three cases and their suite
  EXPECT_EQ(headers, 1);
  EXPECT_EQ(versions, 2);
  EXPECT_THAT(ktap, HasSubstr("  not ok 1 Name_With_Hash\n"));
  EXPECT_THAT(ktap, HasSubstr("  ok 2 Skip # SKIP a \xEF\xBC\x83 SKIP b\n"));
  EXPECT_THAT(ktap, HasSubstr("  not ok 3 Timeout # TIMEOUT t \xEF\xBC\x83 SKIP not\n"));
  EXPECT_THAT(ktap, HasSubstr("  #  Subtest: Injected\n"));
  EXPECT_THAT(ktap, HasSubstr("  # reboot : System halted\n"));
}

TEST(Ktap, ToolRunsGroupPerSuiteAndTool) {
  CaseResult ip = Case("Tools.Add", "a.b", Status::kPass);
  ip.tool = "ip";
  CaseResult busybox = Case("Tools.Add", "a.b", Status::kSkip, "unsupported by busybox");
  busybox.tool = "busybox";
  const std::vector<std::string> lines = Lines(ToKtap(MakeRun({ip, busybox})));
  EXPECT_THAT(lines, Contains("  # Subtest: Tools/ip"));
  EXPECT_THAT(lines, Contains("ok 2 Tools/busybox # SKIP"));
}

// ---------------------------------------------------------------------------------------------
// KCIDB

bool HasNull(const nlohmann::json& value) {
  if (value.is_null()) return true;
  if (value.is_string()) return value.get<std::string>().find('\0') != std::string::npos;
  if (value.is_structured())
    for (const auto& item : value) {
      if (HasNull(item)) return true;
    }
  return false;
}

TEST(Kcidb, OneCheckoutOneBuildOneTestPerCase) {
  const nlohmann::json doc = ToKcidb(EveryStatus(), {});
  EXPECT_EQ(doc["version"], nlohmann::json({{"major", 5}, {"minor", 3}}));
  ASSERT_EQ(doc["checkouts"].size(), 1u);
  ASSERT_EQ(doc["builds"].size(), 1u);
  ASSERT_EQ(doc["tests"].size(), 8u);
  const auto& checkout = doc["checkouts"][0];
  const auto& build = doc["builds"][0];
  EXPECT_THAT(checkout["id"].get<std::string>(), testing::StartsWith("netns_conform:run-"));
  EXPECT_EQ(build["checkout_id"], checkout["id"]);
  EXPECT_EQ(build["architecture"], "x86_64");
  EXPECT_EQ(build["config_name"], "/boot/config-6.1.0-27-amd64");
  EXPECT_EQ(checkout["start_time"], "2025-01-31T12:00:00Z");
  std::vector<std::string> statuses;
  for (const auto& test : doc["tests"]) {
    EXPECT_EQ(test["build_id"], build["id"]);
    EXPECT_EQ(test["origin"], "netns_conform");
    statuses.push_back(test["status"]);
  }
  EXPECT_THAT(statuses,
              ElementsAre("PASS", "FAIL", "SKIP", "ERROR", "ERROR", "MISS", "SKIP", "SKIP"));
  EXPECT_EQ(doc["tests"][4]["misc"]["status"], "TIMEOUT");
  EXPECT_EQ(doc["tests"][1]["misc"]["reason"], "Expected: 0\n  Actual: 1");
  EXPECT_EQ(doc["tests"][1]["log_excerpt"], "Expected: 0\n  Actual: 1");
  EXPECT_EQ(doc["tests"][1]["comment"], "Expected: 0");
  EXPECT_EQ(doc["tests"][1]["path"], "netns_conform.Veth.Fail");
  EXPECT_FALSE(doc["tests"][0]["misc"].contains("reason"));
  EXPECT_FALSE(HasNull(doc));
}

// XFAIL: FAIL, waived in misc, an incident (present) of the expectation's issue; XPASS: PASS with
// an incident that is not present. No "waived" outside misc: KCIDB 5.3 refuses it there.
TEST(Kcidb, ExpectedResultsAsIssuesAndIncidents) {
  const nlohmann::json doc = ToKcidb(WithExpectations(), {});
  const auto& tests = doc["tests"];
  EXPECT_EQ(tests[0]["status"], "FAIL");
  EXPECT_FALSE(tests[0].contains("waived"));
  EXPECT_EQ(tests[0]["misc"]["status"], "XFAIL");
  EXPECT_EQ(tests[0]["misc"]["waived"], true);
  EXPECT_EQ(tests[0]["misc"]["expectation"]["link"], "https://git.kernel.org/linus/7b735ef81286");
  EXPECT_EQ(tests[0]["log_excerpt"], "peer moved\nVULNERABLE to CVE-2026-31692");
  EXPECT_EQ(tests[1]["status"], "PASS");
  EXPECT_EQ(tests[1]["misc"]["status"], "XPASS");
  EXPECT_FALSE(tests[1]["misc"].contains("waived"));
  EXPECT_FALSE(tests[2]["misc"].contains("expectation"));
  ASSERT_EQ(doc["issues"].size(), 2u);
  const auto& issue = doc["issues"][0];
  EXPECT_THAT(issue["id"].get<std::string>(), testing::StartsWith("netns_conform:expectation-"));
  EXPECT_EQ(issue["report_url"], "https://git.kernel.org/linus/7b735ef81286");
  EXPECT_EQ(issue["culprit"]["code"], true);
  ASSERT_EQ(doc["incidents"].size(), 2u);
  EXPECT_EQ(doc["incidents"][0]["issue_id"], issue["id"]);
  EXPECT_EQ(doc["incidents"][0]["test_id"], tests[0]["id"]);
  EXPECT_EQ(doc["incidents"][0]["present"], true);
  EXPECT_EQ(doc["incidents"][1]["test_id"], tests[1]["id"]);
  EXPECT_EQ(doc["incidents"][1]["present"], false);
  EXPECT_FALSE(ToKcidb(EveryStatus(), {}).contains("issues"));
  EXPECT_EQ(doc, ToKcidb(WithExpectations(), {}));  // stable ids
}

TEST(Kcidb, IdsAreStableAndUniqueAndPathsSanitised) {
  CaseResult param = Case("Prefix/Unshare.Eperm/0", "a.b", Status::kPass);
  CaseResult odd = Case(std::string("Odd.Nul\0Case.x y", 16), "", Status::kFail,
                        std::string("bad\0reason", 10), "logs/x.log");
  RunResult run = MakeRun({param, param, odd});
  run.environment.start_time = "not a time";
  const nlohmann::json doc = ToKcidb(run, {.origin = "lab_1"});
  EXPECT_EQ(doc, ToKcidb(run, {.origin = "lab_1"}));
  const auto& tests = doc["tests"];
  EXPECT_EQ(tests[0]["path"], "netns_conform.Prefix_Unshare.Eperm_0");
  EXPECT_NE(tests[0]["id"], tests[1]["id"]);
  EXPECT_EQ(tests[2]["path"], "netns_conform.Odd.Nul_Case.x_y");
  EXPECT_EQ(tests[2]["misc"]["reason"], "badreason");
  EXPECT_EQ(tests[2]["misc"]["log"], "logs/x.log");
  EXPECT_FALSE(tests[2].contains("log_url"));
  EXPECT_FALSE(tests[2].contains("start_time"));
  EXPECT_FALSE(doc["checkouts"][0].contains("start_time"));
  EXPECT_FALSE(HasNull(doc));
  run.environment.start_time = "2025-01-31T12:00:01Z";
  EXPECT_NE(ToKcidb(run, {})["checkouts"][0]["id"],
            ToKcidb(MakeRun({param}), {})["checkouts"][0]["id"]);
}

TEST(Kcidb, RefusesAnOriginKcidbRejects) {
  for (const std::string origin : {"", "Upper", "dash-ed", "a:b", "two\nlines"}) {
    try {
      ToKcidb(EveryStatus(), {.origin = origin});
      ADD_FAILURE() << "accepted origin " << origin;
    } catch (const ReportError& e) {
      EXPECT_THAT(e.what(), AllOf(HasSubstr("origin"), Not(HasSubstr("\n"))));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Matrix

// Two catalogue clauses (the rows' order is the catalogue's) and one the catalogue lacks.
struct MatrixFixture : ::testing::Test {
  std::string first = LoadCatalogue().clauses().at(0).id;
  std::string second = LoadCatalogue().clauses().at(1).id;
  std::string unknown = "zz.not-in-catalogue";

  std::vector<MatrixColumn> Columns() {
    MatrixColumn host{.name = "host",
                      .kind = "target",
                      .run = MakeRun({Case("A.One", second, Status::kPass, "", "logs/A.One.log"),
                                      Case("A.Two", first, Status::kPass),
                                      Case("A.Three", unknown, Status::kSkip, "no <NIC>")}),
                      .folder = "targets/host",
                      .wall_s = 2};
    MatrixColumn vm{.name = "vm <1>",
                    .kind = "target",
                    .run = MakeRun({Case("A.One", second, Status::kSkip, "skipped first"),
                                    Case("A.Four", second, Status::kFail,
                                         "<script>alert(1)</script>\nline two", "logs/A Four#.log"),
                                    Case("A.Two", first, Status::kPass),
                                    Case("A.Five", first, Status::kTimeout, "killed", "")}),
                    .folder = "targets/vm",
                    .wall_s = 5};
    return {host, vm};
  }
};

TEST_F(MatrixFixture, JsonRowsCellsAndDifferences) {
  const nlohmann::json matrix = ToMatrixJson(Columns());
  EXPECT_EQ(matrix["matrix_version"], 1);
  ASSERT_EQ(matrix["columns"].size(), 2u);
  EXPECT_EQ(matrix["columns"][1]["name"], "vm <1>");
  EXPECT_EQ(matrix["columns"][1]["summary"]["failed"], 1);
  EXPECT_EQ(matrix["columns"][1]["summary"]["timeouts"], 1);
  EXPECT_EQ(matrix["columns"][0]["folder"], "targets/host");
  const auto& rows = matrix["rows"];
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["clause"], first);
  EXPECT_EQ(rows[1]["clause"], second);
  EXPECT_EQ(rows[2]["clause"], unknown);
  EXPECT_EQ(rows[2]["document"], "other");
  EXPECT_EQ(rows[0]["text"], LoadCatalogue().clauses().at(0).text);

  // first: PASS on host; PASS + TIMEOUT on vm is ERROR.
  EXPECT_EQ(rows[0]["cells"][0]["status"], "PASS");
  EXPECT_FALSE(rows[0]["cells"][0].contains("reason"));
  EXPECT_EQ(rows[0]["cells"][1]["status"], "ERROR");
  EXPECT_EQ(rows[0]["cells"][1]["reason"], "killed");
  // second: the FAIL decides the reason and the log, not the SKIP before it.
  const auto& failed = rows[1]["cells"][1];
  EXPECT_EQ(failed["column"], "vm <1>");
  EXPECT_EQ(failed["status"], "FAIL");
  EXPECT_EQ(failed["reason"], "<script>alert(1)</script>\nline two");
  EXPECT_EQ(failed["log"], "targets/vm/logs/A Four#.log");
  EXPECT_EQ(failed["cases"], nlohmann::json({"A.One", "A.Four"}));
  EXPECT_EQ(rows[1]["cells"][0]["log"], "targets/host/logs/A.One.log");
  // unknown: not run in vm.
  EXPECT_EQ(rows[2]["cells"][1]["status"], "NOT RUN");
  EXPECT_EQ(rows[2]["cells"][1]["cases"], nlohmann::json::array());
  // unknown ran in one column only: nothing to compare it with, so it does not differ.
  EXPECT_EQ(matrix["differing"], nlohmann::json({first, second}));
  EXPECT_FALSE(HasNull(matrix));
}

// XFAIL and XPASS cells: their own status and style, the expectation's reason and link, and the
// columns' counts.
TEST_F(MatrixFixture, ExpectedResultsHaveCellsOfTheirOwn) {
  std::vector<MatrixColumn> columns = Columns();
  columns[1].run =
      MakeRun({Expected(Case("A.One", second, Status::kXfail, "VULNERABLE", "logs/A.One.log"),
                        Status::kFail, "no <check>", "https://git.kernel.org/linus/7b735ef81286"),
               Case("A.Four", second, Status::kSkip, "no NIC"),
               Expected(Case("A.Two", first, Status::kXpass, "expected FAIL, but passed"),
                        Status::kFail, "was broken", "https://bugs.example/9\"onclick=\"x")});
  const nlohmann::json matrix = ToMatrixJson(columns);
  const auto& xfail = matrix["rows"][1]["cells"][1];
  EXPECT_EQ(xfail["status"], "XFAIL");
  EXPECT_EQ(xfail["reason"], "VULNERABLE");
  EXPECT_EQ(xfail["expectation"]["reason"], "no <check>");
  EXPECT_EQ(xfail["log"], "targets/vm/logs/A.One.log");
  EXPECT_EQ(matrix["rows"][0]["cells"][1]["status"], "XPASS");
  EXPECT_EQ(matrix["columns"][1]["summary"]["xfailed"], 1);
  EXPECT_EQ(matrix["differing"], nlohmann::json({first, second}));  // PASS vs XPASS, PASS vs XFAIL

  const std::string html = ToMatrixHtml(columns, "");
  EXPECT_THAT(html, HasSubstr("class=\"cell s-xfail\" data-status=\"XFAIL\""));
  EXPECT_THAT(html, HasSubstr("class=\"cell s-xpass\" data-status=\"XPASS\""));
  EXPECT_THAT(html, HasSubstr("<div class=\"expectation\">expected failure: no &lt;check&gt; "
                              "<a class=\"expect-link\" rel=\"noreferrer noopener\" "
                              "href=\"https://git.kernel.org/linus/7b735ef81286\">"));
  EXPECT_THAT(html, HasSubstr("stale expectation: was broken <a class=\"expect-link\""));
  EXPECT_THAT(html, HasSubstr("href=\"https://bugs.example/9&quot;onclick=&quot;x\""));
  EXPECT_THAT(html, HasSubstr("<li data-count=\"xfailed\">1 xfailed</li>"));
  EXPECT_THAT(html, HasSubstr("<li data-count=\"xpassed\">1 xpassed</li>"));
}

TEST_F(MatrixFixture, SameStatusesDoNotDiffer) {
  std::vector<MatrixColumn> columns = Columns();
  columns[1].run = columns[0].run;
  EXPECT_EQ(ToMatrixJson(columns)["differing"], nlohmann::json::array());
}

TEST_F(MatrixFixture, OneColumnAsReportConvertGivesIt) {
  const std::vector<MatrixColumn> one = {Columns()[0]};
  EXPECT_EQ(ToMatrixJson(one)["differing"], nlohmann::json::array());
  const std::string html = ToMatrixHtml(one, "");
  EXPECT_THAT(html, HasSubstr("<title>netns-conform compatibility matrix</title>"));
  EXPECT_THAT(html, HasSubstr("3 clauses, 1 column. "));
  EXPECT_THAT(html, Not(HasSubstr("clauses differ")));
}

TEST_F(MatrixFixture, HtmlEscapesEverythingAndLoadsNothing) {
  const std::string html = ToMatrixHtml(Columns(), "title <&> \"q\"");
  EXPECT_THAT(html, HasSubstr("<title>title &lt;&amp;&gt; &quot;q&quot;</title>"));
  EXPECT_THAT(html, Not(HasSubstr("<script>alert")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, HasSubstr("vm &lt;1&gt;"));
  EXPECT_THAT(html, HasSubstr("href=\"targets/vm/logs/A%20Four%23.log\""));
  EXPECT_THAT(html, HasSubstr("<li data-count=\"failed\">1 failed</li>"));
  EXPECT_THAT(html, HasSubstr("<li data-count=\"timeouts\">1 timeouts</li>"));
  EXPECT_THAT(html, HasSubstr("class=\"cell s-fail\""));
  EXPECT_THAT(html, HasSubstr("class=\"cell s-error\""));
  EXPECT_THAT(html, HasSubstr("class=\"cell s-notrun\""));
  EXPECT_THAT(html, Not(HasSubstr("http://")));
  EXPECT_THAT(html, Not(HasSubstr("https://")));
  EXPECT_THAT(html, Not(HasSubstr(" src=")));
  // One <script> element: the page's own.
  size_t scripts = 0;
  for (size_t at = html.find("<script"); at != std::string::npos; at = html.find("<script", at + 1))
    ++scripts;
  EXPECT_EQ(scripts, 1u);
}

}  // namespace
}  // namespace conform
