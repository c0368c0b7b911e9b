// Tests of the result model (reports/result_model.h): status names, summary counts, clause
// verdicts, valid UTF-8.
#include "reports/result_model.h"

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
#include "tests/report_samples.h"

namespace conform {
namespace {

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

}  // namespace
}  // namespace conform
