// Tests of junit.xml (reports/junit_report.h): counts equal to results.json's summary, case
// elements, escaping, timestamps, and xmllint's verdict when it is installed.
#include "reports/junit_report.h"

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
#include "reports/result_model.h"
#include "tests/report_samples.h"

namespace conform {
namespace {

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
