// Writes a sample run with every status (and text that needs escaping) as results.json and
// junit.xml into the folder given as argv[1], for tests/validate_reports.sh.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/result_model.h"

namespace {

conform::RunResult SampleRun() {
  using conform::Status;
  conform::RunResult run;
  run.environment = {.kernel_release = "6.1.0-27-cloud-amd64",
                     .kernel_config_source = "/boot/config-6.1.0-27-cloud-amd64",
                     .sandbox = "inplace",
                     .runner_version = "0.1.0",
                     .hostname = "builder <&> \"one\"",
                     .start_time = "2025-01-31T12:00:00.250Z"};
  run.cases = {
      {"VethTest.DestroyedWithNetns", "netns7.veth.destroyed-with-ns", Status::kPass, "", 0.0042,
       ""},
      {"VethTest.BothEndsGone", "netns7.veth.destroyed-with-ns", Status::kFail,
       "\x1b[0;31mValue of: IfIndexExists(peer)\x1b[0m\n  Actual: true <&> 'quoted' \"twice\"\n"
       "Expected: false\n\x01\x02\x7f bytes \xff\xfe not UTF-8, tab\there, CR\r\n",
       0.0131, "logs/VethTest.BothEndsGone.txt"},
      {"UnixTest.AbstractIsolated", "netns7.unix.abstract", Status::kSkip,
       "needs CAP_NET_ADMIN (running without it)", 0, ""},
      {"DeviceTest.ReturnsToInitialNs", "netns7.refund.initial-ns", Status::kError,
       "fixture: netlink RTM_NEWLINK: EPERM (Operation not permitted)", 0.002,
       "logs/DeviceTest.ReturnsToInitialNs.txt"},
      {"DeviceTest.RenamedOnClash", "netns7.refund.rename", Status::kTimeout,
       "killed after 30 s (timeout)", 30.0, "logs/DeviceTest.RenamedOnClash.txt"},
      {"UnshareTest.EinvalWithoutNetNs", "clone2.newnet.einval", Status::kMiss,
       "case was planned but produced no result (runner interrupted)", 0, ""},
      // A value-parameterized case: the name part holds a slash.
      {"UnshareTest.Eperm/0", "clone2.newnet.eperm", Status::kPass, "", 0.0004, ""},
  };
  run.summary.duration_s = 30.5;
  conform::RecountSummary(run);
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FOLDER\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path folder = argv[1];
    std::filesystem::create_directories(folder);
    const conform::RunResult run = SampleRun();
    conform::WriteResultsFile(folder / "results.json", run);
    conform::WriteFileAtomically(folder / "junit.xml", conform::ToJUnitXml(run));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "write_sample_reports: %s\n", e.what());
    return 1;
  }
  return 0;
}
