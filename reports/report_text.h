// Text helpers shared by the derived report formats (KTAP, KCIDB, the matrix): case output is
// arbitrary bytes, and each format needs it as readable, valid UTF-8 text.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reports/result_model.h"

namespace conform {

// `raw` as valid UTF-8 text (ToValidUtf8) without terminal escape sequences (colours, cursor
// moves, OSC titles) and NUL bytes, with CRLF and lone CR turned into LF, and every other control
// character except tab and LF (C0, DEL, C1, U+2028, U+2029) replaced by U+FFFD: what remains
// renders the same everywhere and splits into lines only at LF.
std::string ReadableText(std::string_view raw);

// Length of the terminal escape sequence starting at text[i] (text[i] is ESC), or 0 when it is
// a lone ESC. Covers CSI ("ESC [ params final", colours and cursor moves), OSC ("ESC ] ... BEL"
// or "... ESC \") and two-byte Fe escapes. JUnit's writer drops them too.
size_t EscapeSequenceLength(std::string_view text, size_t i);

// The first line of ReadableText(raw) that is not blank (or "" when there is none), cut at a
// character boundary to at most `max_bytes` bytes plus "..." when it was longer.
std::string FirstLine(std::string_view raw, size_t max_bytes);

// `text` (valid UTF-8) cut at a character boundary to at most `max_bytes` bytes.
std::string_view TruncateUtf8(std::string_view text, size_t max_bytes);

// A case id "Suite.Case" split at its first '.'; an id without '.' is both its suite and its case.
std::string SuiteOf(std::string_view case_id);
std::string CaseOf(std::string_view case_id);

// The environment fields that say where a run happened (sandbox, target, vm_kernel,
// accelerator, machine, runsc_version), as (name, value) in that order, the empty ones left out:
// one list for every format that reports them (KTAP diagnostics, KCIDB misc).
std::vector<std::pair<std::string, std::string>> WhereFields(const Environment& env);

// "163 cases: 146 passed, 0 failed, 1 expected failure (XFAIL), 15 skipped, 0 errors, 0 timeouts,
// 1 missed": the counts of a run as `run`, `report merge` and KTAP say them. XFAIL and XPASS are
// named only when there are some, so runs without expectations read as before.
std::string SummaryText(const Summary& summary);

// Whether `text` is an RFC 3339 date-time ("2025-01-31T12:00:00Z", "...T12:00:00.25+01:00").
bool IsRfc3339(std::string_view text);

}  // namespace conform
