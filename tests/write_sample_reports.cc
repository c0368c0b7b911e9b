// Writes a sample run with every status (and text that needs escaping) as results.json and
// junit.xml into the folder given as argv[1], for tests/validate_reports.sh. Its XFAIL and XPASS
// come from applying an expectation, as `run --expect` does.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "reports/apply_expectations.h"
#include "reports/expectations.h"
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
      // A known kernel bug (XFAIL) and a stale expectation (XPASS), with the expectations below.
      {"VethPair.PeerInNetnsWithoutCapNetAdminIsEperm", "sem.B2.3.peer-netns-needs-cap-net-admin",
       Status::kFail,
       "Value of: CreateVeth(...)\nExpected: EPERM\n  Actual: 0 (the kernel lacks \"check for peer "
       "netns\" and is VULNERABLE to CVE-2026-31692)",
       0.03, "logs/VethPair.PeerInNetnsWithoutCapNetAdminIsEperm.txt"},
      {"NsidTest.Fixed", "netns7.nsid.fixed", Status::kPass, "", 0.01, ""},
  };
  run.environment.features = {{"net_ns", true}, {"nsfs_file_handles", false}};
  run.summary.duration_s = 30.5;
  conform::ApplyExpectations(run, conform::ParseExpectations(nlohmann::json::parse(R"({
      "expectations_version": 1,
      "expectations": [
        {"case": "VethPair.PeerInNetns*", "kernels": {"release": ["6.1.0-*"]}, "status": "FAIL",
         "reason_contains": "VULNERABLE to CVE-2026-31692",
         "reason": "no capability check on the peer netns <before> 7b735ef81286 # CVE",
         "link": "https://git.kernel.org/linus/7b735ef81286"},
        {"case": "NsidTest.Fixed", "kernels": {"features": {"net_ns": true}}, "status": "TIMEOUT",
         "reason": "hung on older kernels", "link": "https://bugs.example/nsid?id=1&x=2"}]})"),
                                                             "sample expectations"));
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
