#include "reports/junit_report.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reports/report_text.h"

namespace conform {

namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD
constexpr size_t kMaxMessageBytes = 1000;

// `raw` as XML character data: valid UTF-8, markup characters and both quotes escaped, ANSI
// escape sequences removed, characters outside XML 1.0's Char production replaced by U+FFFD.
// In an attribute, tab, LF and CR are written as character references (a parser would normalize
// them to spaces); in element content only CR is (a parser would turn CRLF into LF).
std::string XmlEscape(std::string_view raw, bool in_attribute) {
  const std::string text = ToValidUtf8(raw);
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    const auto byte = static_cast<unsigned char>(ch);
    if (ch == '&') {
      out += "&amp;";
    } else if (ch == '<') {
      out += "&lt;";
    } else if (ch == '>') {
      out += "&gt;";
    } else if (ch == '"') {
      out += "&quot;";
    } else if (ch == '\'') {
      out += "&apos;";
    } else if (ch == '\r') {
      out += "&#13;";
    } else if (ch == '\t' || ch == '\n') {
      if (in_attribute) {
        out += ch == '\t' ? "&#9;" : "&#10;";
      } else {
        out.push_back(ch);
      }
    } else if (ch == '\x1b' && EscapeSequenceLength(text, i) > 0) {
      i += EscapeSequenceLength(text, i) - 1;
    } else if (byte < 0x20) {
      out += kReplacementCharacter;
    } else if (byte == 0xEF && i + 2 < text.size() && text[i + 1] == '\xBF' &&
               (text[i + 2] == '\xBE' || text[i + 2] == '\xBF')) {
      out += kReplacementCharacter;  // U+FFFE and U+FFFF are not XML characters
      i += 2;
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string XmlAttr(std::string_view raw) { return XmlEscape(raw, true); }
std::string XmlContent(std::string_view raw) { return XmlEscape(raw, false); }

// The first non-blank line of a reason, shortened at a character boundary.
std::string FirstLine(std::string_view reason) {
  size_t start = 0;
  for (;;) {
    const size_t end = reason.find('\n', start);
    std::string_view line = reason.substr(start, end == std::string_view::npos ? end : end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos || end == std::string_view::npos) {
      if (line.size() <= kMaxMessageBytes) return std::string(line);
      size_t cut = kMaxMessageBytes;
      while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
      return std::string(line.substr(0, cut)) + "...";
    }
    start = end + 1;
  }
}

// Seconds with 6 decimals, independent of the locale; negative or non-finite values give 0.
std::string Seconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  char buffer[64];
  const auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, seconds, std::chars_format::fixed, 6);
  if (ec != std::errc()) return "0.000000";
  return std::string(buffer, end);
}

// RFC 3339 ("2025-01-31T12:00:00Z", "...T12:00:00.123+01:00") to the UTC form Ant writes
// ("2025-01-31T11:00:00"); nullopt when `text` is not RFC 3339.
std::optional<std::string> AntTimestamp(const std::string& text) {
  // "dddd-dd-ddTdd:dd:dd": digits where the template has 'd', the other characters as given.
  constexpr std::string_view kTemplate = "dddd-dd-ddTdd:dd:dd";
  if (text.size() < kTemplate.size()) return std::nullopt;
  for (size_t k = 0; k < kTemplate.size(); ++k) {
    const char ch = text[k];
    const bool ok = kTemplate[k] == 'd'   ? ch >= '0' && ch <= '9'
                    : kTemplate[k] == 'T' ? ch == 'T' || ch == 't' || ch == ' '
                                          : ch == kTemplate[k];
    if (!ok) return std::nullopt;
  }
  auto number = [&text](size_t pos, size_t len) { return std::stoi(text.substr(pos, len)); };
  const int year = number(0, 4), month = number(5, 2), day = number(8, 2);
  const int hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  size_t i = 19;
  if (i < text.size() && text[i] == '.') {
    ++i;
    const size_t digits = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == digits) return std::nullopt;
  }
  long offset_s = 0;
  const std::string zone = text.substr(i);
  if (zone == "Z" || zone == "z") {
    offset_s = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':' &&
             std::isdigit(static_cast<unsigned char>(zone[1])) &&
             std::isdigit(static_cast<unsigned char>(zone[2])) &&
             std::isdigit(static_cast<unsigned char>(zone[4])) &&
             std::isdigit(static_cast<unsigned char>(zone[5]))) {
    const int zone_hour = std::stoi(zone.substr(1, 2)), zone_minute = std::stoi(zone.substr(4, 2));
    if (zone_hour > 23 || zone_minute > 59) return std::nullopt;
    offset_s = (zone_hour * 60L + zone_minute) * 60L * (zone[0] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm local{};
  local.tm_year = year - 1900;
  local.tm_mon = month - 1;
  local.tm_mday = day;
  local.tm_hour = hour;
  local.tm_min = minute;
  local.tm_sec = second;
  const time_t utc = ::timegm(&local) - offset_s;
  std::tm out{};
  if (::gmtime_r(&utc, &out) == nullptr) return std::nullopt;
  char buffer[32];
  if (std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &out) == 0) return std::nullopt;
  return std::string(buffer);
}

struct SuiteCases {
  std::string name;
  std::vector<const CaseResult*> cases;
};

// Cases grouped by gtest suite, suites in order of first appearance.
std::vector<SuiteCases> GroupBySuite(const std::vector<CaseResult>& cases) {
  std::vector<SuiteCases> suites;
  std::unordered_map<std::string, size_t> index;
  for (const CaseResult& c : cases) {
    const size_t dot = c.id.find('.');
    std::string suite = dot == std::string::npos ? c.id : c.id.substr(0, dot);
    auto [it, inserted] = index.try_emplace(suite, suites.size());
    if (inserted) suites.push_back(SuiteCases{std::move(suite), {}});
    suites[it->second].cases.push_back(&c);
  }
  return suites;
}

std::string CaseName(const std::string& id) {
  const size_t dot = id.find('.');
  return dot == std::string::npos ? id : id.substr(dot + 1);
}

struct Counts {
  int tests = 0, failures = 0, errors = 0, skipped = 0;
  double time = 0;
};

Counts CountCases(const std::vector<const CaseResult*>& cases) {
  Counts counts;
  for (const CaseResult* c : cases) {
    ++counts.tests;
    switch (c->status) {
      case Status::kPass:
        break;
      case Status::kFail:
        ++counts.failures;
        break;
      case Status::kSkip:
      case Status::kXfail:  // JUnit has no expected failure: a skip is what CI shows as not red
        ++counts.skipped;
        break;
      case Status::kXpass:
        break;
      case Status::kError:
      case Status::kTimeout:
      case Status::kMiss:
        ++counts.errors;
        break;
    }
    if (std::isfinite(c->duration_s) && c->duration_s > 0) counts.time += c->duration_s;
  }
  return counts;
}

std::string CountAttributes(const Counts& counts) {
  return " tests=\"" + std::to_string(counts.tests) + "\" failures=\"" +
         std::to_string(counts.failures) + "\" errors=\"" + std::to_string(counts.errors) +
         "\" skipped=\"" + std::to_string(counts.skipped) + "\" time=\"" + Seconds(counts.time) +
         "\"";
}

std::string Property(std::string_view indent, std::string_view name, std::string_view value) {
  return std::string(indent) + "<property name=\"" + XmlAttr(name) + "\" value=\"" +
         XmlAttr(value) + "\"/>\n";
}

std::string OrUnknown(const std::string& value) { return value.empty() ? "unknown" : value; }

void AppendCase(const CaseResult& c, const std::string& classname, std::string& xml) {
  xml += "    <testcase name=\"" + XmlAttr(CaseName(c.id)) + "\" classname=\"" +
         XmlAttr(classname) + "\" time=\"" + Seconds(c.duration_s) + "\">\n";
  xml += "      <properties>\n";
  xml += Property("        ", "clause", c.clause);
  if (!c.log.empty()) xml += Property("        ", "log", c.log);
  if (!c.tool.empty()) xml += Property("        ", "tool", c.tool);
  if (!c.tool_version.empty()) xml += Property("        ", "tool_version", c.tool_version);
  if (c.expectation) {
    xml += Property("        ", "status", StatusName(c.status));
    xml += Property("        ", "expected_status", StatusName(c.expectation->status));
    xml += Property("        ", "expectation_reason", c.expectation->reason);
    xml += Property("        ", "expectation_link", c.expectation->link);
  }
  xml += "      </properties>\n";
  const std::string reason =
      c.reason.empty() ? std::string("no reason recorded for ") + StatusName(c.status) : c.reason;
  switch (c.status) {
    case Status::kPass:
      break;
    case Status::kSkip:
      xml += "      <skipped message=\"" + XmlAttr(reason) + "\"/>\n";
      break;
    case Status::kXfail: {
      const CaseExpectation expected = c.expectation.value_or(CaseExpectation{});
      xml +=
          "      <skipped message=\"" +
          XmlAttr("expected failure: " + FirstLine(expected.reason) + " (" + expected.link + ")") +
          "\"/>\n";
      xml += "      <system-out>" +
             XmlContent(std::string("XFAIL: ") + StatusName(expected.status) +
                        " as expected on this kernel\n" + reason) +
             "</system-out>\n";
      break;
    }
    case Status::kXpass: {
      const CaseExpectation expected = c.expectation.value_or(CaseExpectation{});
      xml += "      <system-out>" +
             XmlContent("XPASS: " + reason + " (expected because: " + expected.reason + "; " +
                        expected.link + ")") +
             "</system-out>\n";
      break;
    }
    case Status::kFail:
    case Status::kError:
    case Status::kTimeout:
    case Status::kMiss: {
      const char* element = c.status == Status::kFail ? "failure" : "error";
      xml += std::string("      <") + element + " message=\"" + XmlAttr(FirstLine(reason)) +
             "\" type=\"" + StatusName(c.status) + "\">" + XmlContent(reason) + "</" + element +
             ">\n";
      break;
    }
  }
  xml += "    </testcase>\n";
}

}  // namespace

std::string ToJUnitXml(const RunResult& run) {
  const Environment& env = run.environment;
  const std::vector<SuiteCases> suites = GroupBySuite(run.cases);
  const std::optional<std::string> timestamp = AntTimestamp(env.start_time);
  const std::string class_prefix = "netns-conform." + OrUnknown(env.sandbox) + ".";

  std::vector<const CaseResult*> all;
  all.reserve(run.cases.size());
  for (const CaseResult& c : run.cases) all.push_back(&c);
  Counts totals = CountCases(all);
  totals.time = run.summary.duration_s;

  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  xml += "<testsuites name=\"netns-conform\"" + CountAttributes(totals) + ">\n";
  for (const SuiteCases& suite : suites) {
    xml += "  <testsuite name=\"" + XmlAttr(suite.name) + "\"" +
           CountAttributes(CountCases(suite.cases));
    if (timestamp) xml += " timestamp=\"" + *timestamp + "\"";
    xml += " hostname=\"" + XmlAttr(OrUnknown(env.hostname)) + "\">\n";
    xml += "    <properties>\n";
    xml += Property("      ", "kernel_release", env.kernel_release);
    xml += Property("      ", "kernel_config_source", env.kernel_config_source);
    xml += Property("      ", "sandbox", env.sandbox);
    xml += Property("      ", "runner_version", env.runner_version);
    xml += Property("      ", "start_time", env.start_time);
    xml += "    </properties>\n";
    // A tool scenario runs once per tool: the tool in the classname keeps names unique per class.
    for (const CaseResult* c : suite.cases)
      AppendCase(*c, class_prefix + suite.name + (c->tool.empty() ? "" : "." + c->tool), xml);
    xml += "    <system-out/>\n";
    xml += "    <system-err/>\n";
    xml += "  </testsuite>\n";
  }
  xml += "</testsuites>\n";
  return xml;
}

}  // namespace conform
