// junit.xml: the result model in the Ant/Surefire JUnit layout that GitLab and Jenkins read.
//
//   <testsuites name="netns-conform" tests failures errors skipped time>
//     <testsuite name="<Suite>" tests failures errors skipped time timestamp hostname>
//       <properties> kernel_release, kernel_config_source, sandbox, runner_version, start_time
//       <testcase name="<Case>" classname="netns-conform.<sandbox>.<Suite>" time>
//         <properties> clause (and log, when the case has one; status, expected_status,
//                      expectation_reason and expectation_link for XFAIL and XPASS)
//         FAIL                 -> <failure message="<first line>" type="FAIL">reason</failure>
//         ERROR, TIMEOUT, MISS -> <error message="<first line>" type="<STATUS>">reason</error>
//         SKIP                 -> <skipped message="<reason>"/>
//         XFAIL                -> <skipped message="expected failure: <expectation's reason>
//                                 (<link>)"/> <system-out>XFAIL: ... the case's own reason
//         XPASS                -> (passed) <system-out>XPASS: expected FAIL, but passed ...
//       <system-out/> <system-err/>
//
// One <testsuite> per gtest suite (the id before the first '.'), in order of first appearance.
// Counts are computed from the cases: failures = FAIL, errors = ERROR + TIMEOUT + MISS,
// skipped = SKIP + XFAIL (JUnit has no expected failure; CI tools show a skip as not red),
// tests = all cases; the <testsuites> totals therefore equal the results.json summary's. Times
// are seconds with 6 decimals, timestamp is start_time in UTC without zone ("2025-01-31T12:00:00",
// as Ant writes it), omitted when start_time is not RFC 3339. Text is valid UTF-8 XML 1.0: ANSI
// escape sequences are removed and other characters XML cannot carry become U+FFFD.
#pragma once

#include <string>

#include "reports/result_model.h"

namespace conform {

std::string ToJUnitXml(const RunResult& run);

}  // namespace conform
