// What an expectation (reports/expectations.h) does to a case result. It applies when its case
// glob matches the id (and its tool glob the tool; an entry without one applies to suite cases
// only), its kernel condition holds for the run's environment, and, when it names
// reason_contains, the case's reason contains that text. Then:
//   - the case's status is the expected one: it becomes XFAIL, keeps its own reason and gets
//     the expectation attached;
//   - the case PASSed (reason_contains cannot apply to a PASS, so it is not asked): XPASS, with
//     the reason "expected FAIL, but passed: the expectation no longer holds" and the
//     expectation attached, so that stale entries are found;
//   - anything else stays as it is: a FAIL whose reason lacks the marker is still a FAIL.
// The first entry that applies wins. Applying twice changes nothing more.
#pragma once

#include <string>
#include <vector>

#include "reports/expectations.h"
#include "reports/result_model.h"

namespace conform {

// The release globs (any of them) match environment.kernel_release, and every feature has its
// wanted value in environment.features; a feature the run did not record does not hold.
bool KernelConditionHolds(const KernelCondition& kernels, const Environment& environment);

// One case of a run in `environment`.
void ApplyExpectations(CaseResult& result, const Environment& environment,
                       const Expectations& expectations);

// Every case of `run`; its summary counts and clause verdicts are recounted.
void ApplyExpectations(RunResult& run, const Expectations& expectations);

// One line per XPASS case of `run`, naming the case, the kernel and the stale expectation's
// link: what `run` prints at the end so that stale entries get removed.
std::vector<std::string> StaleExpectationLines(const RunResult& run);

}  // namespace conform
