// Unit tests of the report text helpers and of KTAP (reports/ktap_report.h); the kernel's
// kunit_parser.py reads the output in ktap_report_test.sh.
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

}  // namespace
}  // namespace conform
