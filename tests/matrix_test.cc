// Unit tests of the compatibility matrix, JSON and HTML (reports/matrix_report.h); a headless
// browser reads the page in matrix_html_test.sh.
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
#include "tests/formats_samples.h"

namespace conform {
namespace {

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
