#include "reports/result_model.h"

#include <array>
#include <cstddef>
#include <map>

namespace conform {

namespace {

constexpr std::array<Status, 8> kAllStatuses = {Status::kPass,  Status::kFail,    Status::kSkip,
                                                Status::kError, Status::kTimeout, Status::kMiss,
                                                Status::kXfail, Status::kXpass};

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

const char* StatusName(Status status) {
  switch (status) {
    case Status::kPass:
      return "PASS";
    case Status::kFail:
      return "FAIL";
    case Status::kSkip:
      return "SKIP";
    case Status::kError:
      return "ERROR";
    case Status::kTimeout:
      return "TIMEOUT";
    case Status::kMiss:
      return "MISS";
    case Status::kXfail:
      return "XFAIL";
    case Status::kXpass:
      return "XPASS";
  }
  return "UNKNOWN";
}

std::optional<Status> ParseStatus(const std::string& name) {
  for (Status status : kAllStatuses) {
    if (name == StatusName(status)) return status;
  }
  return std::nullopt;
}

void RecountSummary(RunResult& run) { run.summary = CountSummary(run); }

Summary CountSummary(const RunResult& run) {
  Summary s;
  s.duration_s = run.summary.duration_s;
  s.total = static_cast<int>(run.cases.size());
  for (const CaseResult& c : run.cases) {
    switch (c.status) {
      case Status::kPass:
        ++s.passed;
        break;
      case Status::kFail:
        ++s.failed;
        break;
      case Status::kSkip:
        ++s.skipped;
        break;
      case Status::kError:
        ++s.errors;
        break;
      case Status::kTimeout:
        ++s.timeouts;
        break;
      case Status::kMiss:
        ++s.missed;
        break;
      case Status::kXfail:
        ++s.xfailed;
        break;
      case Status::kXpass:
        ++s.xpassed;
        break;
    }
  }
  return s;
}

std::vector<ClauseVerdict> ClauseVerdicts(const std::vector<CaseResult>& cases) {
  struct Seen {
    ClauseVerdict verdict;
    bool xfail = false;  // a case is XFAIL
    bool other = false;  // a case is neither PASS, SKIP, XFAIL nor XPASS
    bool passed = false, skipped = false;
  };
  std::map<std::string, Seen> by_clause;
  for (const CaseResult& c : cases) {
    if (c.clause.empty()) continue;
    Seen& seen = by_clause[c.clause];
    seen.verdict.id = c.clause;
    seen.verdict.cases.push_back(c.id);
    switch (c.status) {
      case Status::kPass:
      case Status::kXpass:  // a stale expectation says nothing against the clause
        seen.passed = true;
        break;
      case Status::kSkip:
        seen.skipped = true;
        break;
      case Status::kXfail:
        seen.xfail = true;
        break;
      default:
        seen.other = true;
    }
  }
  std::vector<ClauseVerdict> verdicts;
  verdicts.reserve(by_clause.size());
  for (auto& [id, seen] : by_clause) {
    if (seen.xfail && !seen.other) {
      seen.verdict.status = Status::kXfail;
    } else if (seen.other || (seen.passed && seen.skipped)) {
      seen.verdict.status = Status::kFail;  // a mix, or anything but PASS and SKIP
    } else {
      seen.verdict.status = seen.passed ? Status::kPass : Status::kSkip;
    }
    verdicts.push_back(std::move(seen.verdict));
  }
  return verdicts;
}

std::string ToValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      out.push_back(static_cast<char>(lead));
      ++i;
      continue;
    }
    // Length of the sequence and the allowed range of its second byte (RFC 3629, section 4);
    // the narrower second-byte ranges exclude overlong forms, surrogates and > U+10FFFF.
    size_t length = 0;
    unsigned char second_min = 0x80, second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) second_min = 0xA0;
      if (lead == 0xED) second_max = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) second_min = 0x90;
      if (lead == 0xF4) second_max = 0x8F;
    }
    // Count the bytes that form a valid prefix; a broken sequence is replaced as one U+FFFD
    // (the "maximal subpart" practice of Unicode, section 3.9).
    size_t valid = length == 0 ? 0 : 1;
    while (valid > 0 && valid < length && i + valid < n) {
      const auto byte = static_cast<unsigned char>(text[i + valid]);
      const unsigned char min = valid == 1 ? second_min : 0x80;
      const unsigned char max = valid == 1 ? second_max : 0xBF;
      if (byte < min || byte > max) break;
      ++valid;
    }
    if (length != 0 && valid == length) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out.append(kReplacementCharacter);
      i += valid == 0 ? 1 : valid;
    }
  }
  return out;
}

}  // namespace conform
