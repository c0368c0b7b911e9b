// Unit tests of KCIDB (reports/kcidb_report.h); the KCIDB schema checks the output in
// kcidb_report_test.sh.
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
// KCIDB

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

}  // namespace
}  // namespace conform
