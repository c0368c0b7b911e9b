// KTAP version 1 (the kernel's Documentation/dev-tools/ktap.rst): the result model as the kernel's
// own test tooling (tools/testing/kunit/kunit_parser.py, kselftest consumers) reads it.
//
//   KTAP version 1
//   1..<suites>
//   # kernel_release: 6.1.0-27-amd64                     the environment, one "# key: value" each
//     KTAP version 1                                       one nested test per gtest suite
//     # Subtest: <Suite>                                   (per suite and tool in a tools run:
//     1..<cases>                                            "<Suite>/<tool>")
//     ok 1 <Case>                                          PASS
//     # <every line of the reason>                         "not ok", and a SKIP reason longer
//                                                          than its result line: the reason, then
//     not ok 2 <Case>                                      FAIL
//     ok 3 <Case> # SKIP <first line of the reason>        SKIP
//     not ok 4 <Case> # ERROR <first line>                 ERROR
//     not ok 5 <Case> # TIMEOUT <first line>               TIMEOUT
//     not ok 6 <Case> # ERROR MISS: <first line>           MISS (KTAP has no directive for it)
//     # <reason>, then # expected failure: <why> (<link>)  XFAIL: "ok" with ktap.rst's XFAIL
//     ok 7 <Case> # XFAIL <the expectation's reason>       directive, as kselftest writes it
//     # XPASS: expected FAIL, but passed: ... (<link>)     XPASS (no directive: a plain "ok")
//     ok 8 <Case>
//   not ok 1 <Suite>                                       "ok" when every case is PASS, SKIP,
//                                                          XFAIL or XPASS; "ok N <Suite> # SKIP"
//                                                          when all skipped
//
// Indentation is two spaces per level, as ktap.rst specifies (KUnit writes four; parsers accept
// any). Only SKIP changes how kunit_parser.py counts a line (6.1's ignores XFAIL), so it counts
// passed = PASS + XFAIL + XPASS, skipped = SKIP, failed = FAIL + ERROR + TIMEOUT + MISS.
//
// Free text never forms a KTAP line: names lose whitespace and '#', directive data loses '#'
// (U+FF03 instead: kunit_parser.py would take a later " # SKIP" as the directive), diagnostics
// start with "# " and never read as "# Subtest:", and the console markers on which
// kunit_parser.py stops reading ("reboot: System halted", ...) are broken up by a space. Text is
// ReadableText: valid UTF-8 without escape sequences or line breaks other than LF.
#pragma once

#include <string>

#include "reports/result_model.h"

namespace conform {

std::string ToKtap(const RunResult& run);

}  // namespace conform
