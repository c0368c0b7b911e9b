#include "reports/report_text.h"

#include "reports/result_model.h"

namespace conform {

namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

bool IsDigits(std::string_view text, size_t pos, size_t count) {
  if (pos + count > text.size()) return false;
  for (size_t k = pos; k < pos + count; ++k)
    if (text[k] < '0' || text[k] > '9') return false;
  return true;
}

int Number(std::string_view text, size_t pos, size_t count) {
  int value = 0;
  for (size_t k = pos; k < pos + count; ++k) value = value * 10 + (text[k] - '0');
  return value;
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

size_t EscapeSequenceLength(std::string_view text, size_t i) {
  const size_t n = text.size();
  if (i + 1 >= n) return 0;
  const auto kind = static_cast<unsigned char>(text[i + 1]);
  if (kind == '[') {
    size_t j = i + 2;
    while (j < n && static_cast<unsigned char>(text[j]) >= 0x20 &&
           static_cast<unsigned char>(text[j]) <= 0x3F) {
      ++j;  // parameter and intermediate bytes
    }
    if (j < n && static_cast<unsigned char>(text[j]) >= 0x40 &&
        static_cast<unsigned char>(text[j]) <= 0x7E) {
      return j + 1 - i;
    }
    return 0;
  }
  if (kind == ']') {
    for (size_t j = i + 2; j < n; ++j) {
      if (text[j] == '\a') return j + 1 - i;
      if (text[j] == '\x1b' && j + 1 < n && text[j + 1] == '\\') return j + 2 - i;
    }
    return 0;
  }
  if (kind >= 0x40 && kind <= 0x5F) return 2;
  return 0;
}

std::string ReadableText(std::string_view raw) {
  const std::string text = ToValidUtf8(raw);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    const auto byte = static_cast<unsigned char>(ch);
    const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    const auto after = i + 2 < text.size() ? static_cast<unsigned char>(text[i + 2]) : 0;
    if (ch == '\x1b' && EscapeSequenceLength(text, i) > 0) {
      i += EscapeSequenceLength(text, i) - 1;
    } else if (ch == '\0') {
      // Dropped rather than replaced: a NUL is never meaningful in a message.
    } else if (ch == '\r') {
      if (next != '\n') out.push_back('\n');
    } else if ((byte < 0x20 && ch != '\n' && ch != '\t') || byte == 0x7F) {
      out += kReplacementCharacter;
    } else if (byte == 0xC2 && next >= 0x80 && next <= 0x9F) {
      out += kReplacementCharacter;  // C1 control, U+0085 (NEL) among them
      ++i;
    } else if (byte == 0xE2 && next == 0x80 && (after == 0xA8 || after == 0xA9)) {
      out += kReplacementCharacter;  // U+2028, U+2029: line breaks to many readers
      i += 2;
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string_view TruncateUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

std::string FirstLine(std::string_view raw, size_t max_bytes) {
  const std::string text = ReadableText(raw);
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    if (line.find_first_not_of(" \t") != std::string_view::npos) {
      if (line.size() <= max_bytes) return std::string(line);
      return std::string(TruncateUtf8(line, max_bytes)) + "...";
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return "";
}

std::string SuiteOf(std::string_view case_id) {
  return std::string(case_id.substr(0, case_id.find('.')));
}

std::string CaseOf(std::string_view case_id) {
  const size_t dot = case_id.find('.');
  return std::string(dot == std::string_view::npos ? case_id : case_id.substr(dot + 1));
}

bool IsRfc3339(std::string_view text) {
  // "YYYY-MM-DDTHH:MM:SS", then an optional fraction, then "Z" or "+HH:MM"/"-HH:MM".
  if (text.size() < 20 || !IsDigits(text, 0, 4) || text[4] != '-' || !IsDigits(text, 5, 2) ||
      text[7] != '-' || !IsDigits(text, 8, 2) || text[10] != 'T' || !IsDigits(text, 11, 2) ||
      text[13] != ':' || !IsDigits(text, 14, 2) || text[16] != ':' || !IsDigits(text, 17, 2)) {
    return false;
  }
  const int year = Number(text, 0, 4), month = Number(text, 5, 2), day = Number(text, 8, 2);
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) ||
      Number(text, 11, 2) > 23 || Number(text, 14, 2) > 59 || Number(text, 17, 2) > 60) {
    return false;
  }
  size_t i = 19;
  if (text[i] == '.') {
    const size_t digits = ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == digits) return false;
  }
  const std::string_view zone = text.substr(i);
  if (zone == "Z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && IsDigits(zone, 1, 2) &&
         zone[3] == ':' && IsDigits(zone, 4, 2) && Number(zone, 1, 2) <= 23 &&
         Number(zone, 4, 2) <= 59;
}

std::vector<std::pair<std::string, std::string>> WhereFields(const Environment& env) {
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string&>{"sandbox", env.sandbox},
        {"target", env.target},
        {"vm_kernel", env.vm_kernel},
        {"accelerator", env.accelerator},
        {"machine", env.machine},
        {"runsc_version", env.runsc_version}}) {
    if (!value.empty()) fields.emplace_back(name, value);
  }
  return fields;
}

std::string SummaryText(const Summary& s) {
  const auto count = [](int n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
  };
  std::string text = count(s.total, "case", "cases") + ": " + std::to_string(s.passed) +
                     " passed, " + std::to_string(s.failed) + " failed, ";
  if (s.xfailed > 0)
    text += count(s.xfailed, "expected failure", "expected failures") + " (XFAIL), ";
  if (s.xpassed > 0)
    text += count(s.xpassed, "unexpected pass", "unexpected passes") + " (XPASS), ";
  text += std::to_string(s.skipped) + " skipped, " + count(s.errors, "error", "errors") + ", " +
          count(s.timeouts, "timeout", "timeouts") + ", " + std::to_string(s.missed) + " missed";
  return text;
}

}  // namespace conform
