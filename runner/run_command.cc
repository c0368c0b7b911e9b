#include "runner/run_command.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "fixtures/probe.h"
#include "fixtures/refund_device.h"
#include "reports/apply_expectations.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "runner/executor.h"
#include "runner/gvisor.h"
#include "runner/journal.h"
#include "runner/plan.h"
#include "runner/progress.h"
#include "runner/run_expectations.h"
#include "runner/sandbox.h"
#include "runner/spare_nic.h"
#include "runner/suite_features.h"

namespace conform {

std::string Rfc3339Now() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

std::string Hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

Environment InPlaceEnvironment() {
  Environment environment{KernelRelease(), RunningKernelConfig().source,
                          "inplace",       NETNS_CONFORM_VERSION,
                          Hostname(),      Rfc3339Now()};
  environment.suite = "suite";  // `tools` says otherwise
  return environment;
}

RunResult ExecuteWithReports(const std::vector<PlannedCase>& plan, const ExecutorOptions& options,
                             Environment environment, const Expectations& expectations,
                             std::string* interrupted) {
  RunResult run;
  run.environment = std::move(environment);
  Journal journal(options.out_dir / "journal.jsonl", run.environment);
  Progress progress(stderr, plan.size());
  const auto start = std::chrono::steady_clock::now();
  auto outcome = ExecuteCases(plan, options, [&](const CaseResult& finished) {
    CaseResult result = finished;
    ApplyExpectations(result, run.environment, expectations);
    journal.Append(result);
    progress.CaseDone(result);
  });
  run.cases = std::move(outcome.results);
  run.environment.launcher = outcome.launcher;
  // The same again on the results as the executor keeps them (the sink saw copies).
  for (CaseResult& result : run.cases) ApplyExpectations(result, run.environment, expectations);
  RecountSummary(run);
  run.clauses = ClauseVerdicts(run.cases);
  run.summary.duration_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WriteResultsFile(options.out_dir / "results.json", run);
  WriteFileAtomically(options.out_dir / "junit.xml", ToJUnitXml(run));
  progress.Finish(run.summary);
  PrintStaleExpectations(run);
  *interrupted = outcome.interrupted ? outcome.interrupt_signal : "";
  return run;
}

int ExitStatusOf(const Summary& s) {
  return (s.failed + s.errors + s.timeouts + s.missed) > 0 ? 1 : 0;
}

std::filesystem::path SuiteBinaryOrDefault(const std::filesystem::path& given) {
  return given.empty() ? DefaultSuiteBinary() : given;
}

void PrepareOutDir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw UsageError("cannot create output folder " + dir.string() + ": " + ec.message());
  const auto probe = dir / ".write-test";
  int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw UsageError("output folder " + dir.string() + " is not writable: " + std::strerror(errno));
  close(fd);
  std::filesystem::remove(probe);
  for (const char* stale : {"results.json", "junit.xml", "journal.jsonl"})
    std::filesystem::remove(dir / stale, ec);
  // .work is left behind only by a runner that was killed (SIGKILL): its result files.
  for (const char* stale : {"logs", ".work"}) std::filesystem::remove_all(dir / stale, ec);
}

std::vector<PlannedCase> PlanCases(const std::vector<PlannedCase>& listing,
                                   const RunOptions& options) {
  return ShardCases(FilterCases(listing, options.filters), options.shard);
}

Expectations LoadSuiteExpectations(const RunOptions& options,
                                   const std::vector<PlannedCase>& listing,
                                   const std::map<std::string, bool>& features) {
  return LoadRunExpectations(options.expect_files, listing, features, "the suite's listing");
}

void DescribeTarget(Environment& environment, const RunOptions& options) {
  environment.target = options.target;
  environment.shard_index = options.shard.index;
  environment.shard_count = options.shard.count;
}

int ListCommand(const std::vector<std::string>& filters, const std::filesystem::path& suite_binary,
                bool json) {
  auto cases = FilterCases(ListSuiteCases(SuiteBinaryOrDefault(suite_binary)), filters);
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : cases) {
      list.push_back({{"id", c.id}, {"clause", c.clause}});
      if (c.skip_reason) list.back()["skip_reason"] = *c.skip_reason;
    }
    std::cout << list.dump(1) << "\n";
    return 0;
  }
  for (const auto& c : cases) std::cout << c.id << "  " << c.clause << "\n";
  return 0;
}

int RunCommand(const RunOptions& options) {
  if (geteuid() != 0)
    throw UsageError("must run as root: every case creates namespaces (euid is " +
                     std::to_string(geteuid()) + ")");
  if (options.timeout_s <= 0) throw UsageError("--timeout must be a positive number of seconds");
  const auto suite_binary = SuiteBinaryOrDefault(options.suite_binary);

  ExecutorOptions exec;
  exec.runner_binary = std::filesystem::read_symlink("/proc/self/exe");
  exec.suite_binary = suite_binary;
  exec.out_dir = std::filesystem::absolute(options.out_dir);
  exec.jobs = options.jobs > 0 ? options.jobs
                               : static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  exec.case_timeout = std::chrono::milliseconds(static_cast<long>(options.timeout_s * 1000));
  exec.launcher = options.launcher;

  // The device-refund cases must watch the initial netns from inside their sandbox; they get an
  // fd to it only when the user named a spare NIC.
  if (options.spare_nic) {
    ValidateSpareNic(*options.spare_nic);
    int init_fd = open("/proc/self/ns/net", O_RDONLY);  // inherited by the cases on purpose
    if (init_fd < 0)
      throw InfrastructureError("open /proc/self/ns/net: " + std::string(std::strerror(errno)));
    exec.extra_env[kSpareNicEnv] = *options.spare_nic;
    exec.extra_env[kInitNetnsFdEnv] = std::to_string(init_fd);
    setenv(kSpareNicEnv, options.spare_nic->c_str(), 1);
    setenv(kInitNetnsFdEnv, std::to_string(init_fd).c_str(), 1);
  }

  const auto listing = ListSuiteCases(suite_binary);
  auto plan = PlanCases(listing, options);
  Environment environment = InPlaceEnvironment();
  environment.features = ProbeSuiteFeatures(suite_binary);
  // Bad expectation files are refused before the output folder is touched.
  const Expectations expectations = LoadSuiteExpectations(options, listing, environment.features);
  PrepareOutDir(exec.out_dir);
  DescribeTarget(environment, options);

  if (options.target == "gvisor") {
    if (options.spare_nic) throw UsageError("--spare-nic is for the host target");
    const GvisorTarget gvisor =
        PrepareGvisor(exec.runner_binary.parent_path() / kSandboxBinaryName);
    exec.wrapper = gvisor.wrapper;
    exec.result_via_stdin = true;
    exec.extra_env[kInGvisorEnv] = "1";
    // The host's view of each requirement says nothing of gVisor's: every case judges its own
    // inside gVisor (the suite checks them again before the body runs).
    for (auto& planned : plan) planned.skip_reason.reset();
    environment.sandbox = "gvisor";
    environment.kernel_release = gvisor.kernel_release;
    environment.kernel_config_source = "none (gVisor implements the Linux ABI in its own kernel)";
    environment.runsc_version = gvisor.runsc_version;
    // What the suite finds inside gVisor, not on the host kernel under it.
    environment.features = ProbeSuiteFeatures(suite_binary, gvisor.wrapper);
  }

  std::string interrupted;
  const RunResult run =
      ExecuteWithReports(plan, exec, std::move(environment), expectations, &interrupted);
  std::fprintf(stderr, "reports: %s/results.json, %s/junit.xml\n", exec.out_dir.c_str(),
               exec.out_dir.c_str());
  if (!interrupted.empty()) std::fprintf(stderr, "interrupted by %s\n", interrupted.c_str());
  return ExitStatusOf(run.summary);
}

}  // namespace conform
