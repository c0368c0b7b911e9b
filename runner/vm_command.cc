// `netns-conform run --vm NAME | --vm-kernel PATH` and `run --attach NAME`: the suite in a guest
// and its reports, as in place. `vm start|list|stop` and `kernel list|build` are in
// runner/vm_guest_commands.cc.
#include "runner/vm_command.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "reports/apply_expectations.h"
#include "reports/json_report.h"
#include "reports/junit_report.h"
#include "reports/report_text.h"
#include "runner/plan.h"
#include "runner/run_expectations.h"
#include "runner/suite_features.h"
#include "vm/error.h"
#include "vm/kernel_build.h"
#include "vm/kernel_cache.h"
#include "vm/reuse.h"
#include "vm/vm_run.h"

namespace conform {
namespace {

volatile sig_atomic_t stop_signal = 0;
void NoteStop(int sig) { stop_signal = sig; }

// SIGINT/SIGTERM/SIGHUP stop the guest through should_stop; the reports are still written.
void CatchStopSignals() {
  struct sigaction action {};
  action.sa_handler = NoteStop;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
}

// Cases the guest reported while it ran keep their verdict; every other planned case is MISS.
std::vector<CaseResult> MissingCases(const std::vector<PlannedCase>& plan,
                                     const std::vector<std::string>& streamed,
                                     const std::string& why) {
  std::map<std::string, CaseResult> heard;
  for (const auto& line : streamed) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_discarded() || !json.contains("status")) continue;
    try {
      CaseResult result = CaseResultFromJson(json);
      heard[result.id] = result;
    } catch (const ReportError&) {
      // A cut-off line from a guest that died mid-write: that case is MISS like the rest.
    }
  }
  std::vector<CaseResult> cases;
  for (const auto& planned : plan) {
    if (auto it = heard.find(planned.id); it != heard.end()) {
      cases.push_back(it->second);
      continue;
    }
    CaseResult missed;
    missed.id = planned.id;
    missed.clause = planned.clause;
    missed.status = Status::kMiss;
    missed.reason = why;
    cases.push_back(missed);
  }
  return cases;
}

void DescribeVmEnvironment(Environment& env, const vm::VmRunResult& r, const VmSelection& sel) {
  env.sandbox = "vm";
  env.suite = "suite";
  env.vm_kernel = sel.kernel_path.empty() ? sel.name : sel.kernel_path;
  if (!r.kernel_release.empty()) env.kernel_release = r.kernel_release;
  env.kernel_config_source = r.kernel_config.empty()
                                 ? "unknown"
                                 : r.kernel_config.string() + " (" + r.kernel_config_source + ")";
  env.accelerator = r.accelerator;
  env.machine = r.machine;
  env.boot_s = r.boot_s;
  env.kernel_problems = r.kernel_problems;
}

std::vector<std::string> RunnerArgs(const RunOptions& options) {
  std::vector<std::string> args;
  for (const auto& filter : options.filters) {
    args.push_back("--filter");
    args.push_back(filter);
  }
  if (options.shard.active()) args.push_back("--shard=" + options.shard.Text());
  if (options.jobs > 0) args.push_back("-j" + std::to_string(options.jobs));
  args.push_back("--timeout=" + std::to_string(options.timeout_s));
  if (options.launcher == LauncherKind::kExec) args.push_back("--launcher=exec");
  return args;
}

bool GuestSuiteChanged(const std::filesystem::path& binary, const std::string& stamp) {
  struct stat st {};
  if (stat(binary.c_str(), &st) != 0) return true;
  return stamp != std::to_string(st.st_size) + "@" + std::to_string(st.st_mtim.tv_sec) + "." +
                      std::to_string(st.st_mtim.tv_nsec);
}

// The reports of a VM run (one-shot or attached): the guest's results.json with the environment
// rewritten and the expectations applied here on the host (the guest's runner never sees them;
// its environment carries the guest kernel's release and features they look at), or every
// planned case not heard from as MISS. Returns the exit status.
int ReportVmRun(const vm::VmRunResult& result, const std::vector<PlannedCase>& plan,
                const std::filesystem::path& out_dir, std::chrono::steady_clock::time_point start,
                const Expectations& expectations,
                const std::function<void(Environment&)>& describe) {
  RunResult report;
  if (result.outcome == vm::VmOutcome::kCompleted) {
    report = ReadResultsFile(out_dir / "results.json");
  } else {
    report.environment.runner_version = NETNS_CONFORM_VERSION;
    report.environment.hostname = Hostname();
    report.environment.start_time = Rfc3339Now();
    std::string why =
        std::string("VM run ") + vm::VmOutcomeName(result.outcome) + ": " + result.failure;
    if (!result.console_tail.empty()) why += "\n--- console tail ---\n" + result.console_tail;
    report.cases = MissingCases(plan, result.streamed_journal, why);
  }
  describe(report.environment);
  for (CaseResult& c : report.cases) ApplyExpectations(c, report.environment, expectations);
  RecountSummary(report);
  report.clauses = ClauseVerdicts(report.cases);
  report.summary.duration_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WriteResultsFile(out_dir / "results.json", report);
  WriteFileAtomically(out_dir / "junit.xml", ToJUnitXml(report));

  const Summary& s = report.summary;
  std::fprintf(stderr, "%s in %.2fs (kernel %s, %s/%s, boot %.2fs)\n", SummaryText(s).c_str(),
               s.duration_s, report.environment.kernel_release.c_str(), result.machine.c_str(),
               result.accelerator.c_str(), result.boot_s);
  PrintStaleExpectations(report);
  for (const auto& problem : result.kernel_problems)
    std::fprintf(stderr, "kernel problem: %s\n", problem.c_str());
  std::fprintf(stderr, "reports: %s/results.json, %s/junit.xml, console: %s\n", out_dir.c_str(),
               out_dir.c_str(), result.console_log.c_str());
  if (result.outcome != vm::VmOutcome::kCompleted) {
    std::fprintf(stderr, "netns-conform: VM run %s: %s\n", vm::VmOutcomeName(result.outcome),
                 result.failure.c_str());
    return 2;
  }
  if (result.runner_status == 2) return 2;
  return (s.failed + s.errors + s.timeouts + s.missed) > 0 ? 1 : 0;
}

}  // namespace

vm::Kernel ResolveKernel(const VmSelection& selection) {
  if (!selection.kernel_path.empty()) {
    return vm::UserKernel({selection.kernel_path, selection.modules_dir, selection.config_path});
  }
  vm::KernelCache cache;
  if (selection.name == "no-netns") {
    if (auto built = vm::CachedNoNetnsKernel(vm::KernelCache::DefaultCacheRoot())) return *built;
    throw UsageError("kernel no-netns is not built yet: run `netns-conform kernel build no-netns`");
  }
  return cache.Get(selection.name);
}

int RunVmCommand(const RunOptions& options, const VmSelection& selection) {
  if (geteuid() != 0)
    throw UsageError("must run as root: the guest's kernel cache and the cases need it (euid " +
                     std::to_string(geteuid()) + ")");
  if (options.spare_nic)
    throw UsageError("--spare-nic is for in-place runs: in the VM the guest's own NIC is lent");
  if (!selection.machine.empty() && !vm::ParseMachine(selection.machine))
    throw UsageError("--vm-machine must be microvm or q35, not '" + selection.machine + "'");
  const auto suite_binary = SuiteBinaryOrDefault(options.suite_binary);
  // The plan on the host: it checks --filter before any boot, and names the cases a guest that
  // dies would leave unheard. So are the expectations checked: the feature names are the same
  // in any kernel (their values come back from the guest).
  const auto listing = ListSuiteCases(suite_binary);
  const auto plan = PlanCases(listing, options);
  const Expectations expectations =
      LoadSuiteExpectations(options, listing, ProbeSuiteFeatures(suite_binary));
  const auto out_dir = std::filesystem::absolute(options.out_dir);

  vm::Kernel kernel;
  try {
    kernel = ResolveKernel(selection);
  } catch (const vm::VmError& e) {
    throw UsageError(e.what());
  }
  PrepareOutDir(out_dir);

  vm::VmRunOptions run;
  run.kernel = kernel;
  run.runner_binary = std::filesystem::read_symlink("/proc/self/exe");
  run.suite_binary = suite_binary;
  run.runner_args = RunnerArgs(options);
  run.out_dir = out_dir;
  if (!selection.machine.empty()) run.machine = vm::ParseMachine(selection.machine);
  run.boot_timeout = std::chrono::milliseconds(static_cast<long>(selection.boot_timeout_s * 1000));
  // Every case at its full timeout, two at a time, plus boot and slack: a generous watchdog that
  // still ends a guest that hangs outside any case.
  run.run_timeout = run.boot_timeout + std::chrono::seconds(120) +
                    std::chrono::milliseconds(static_cast<long>(
                        options.timeout_s * 1000 * static_cast<double>(plan.size()) / 2));
  CatchStopSignals();
  run.should_stop = [] { return stop_signal != 0; };
  run.log = [](const std::string& line) { std::fprintf(stderr, "vm: %s\n", line.c_str()); };

  const auto start = std::chrono::steady_clock::now();
  vm::VmRunResult result;
  try {
    result = vm::RunSuiteInVm(run);
  } catch (const vm::VmError& e) {
    throw InfrastructureError(e.what());
  }
  return ReportVmRun(result, plan, out_dir, start, expectations, [&](Environment& env) {
    DescribeVmEnvironment(env, result, selection);
    DescribeTarget(env, options);
  });
}

int RunAttachCommand(const RunOptions& options, const std::string& name) {
  if (geteuid() != 0)
    throw UsageError("must run as root: the guests and their state are root's (euid " +
                     std::to_string(geteuid()) + ")");
  if (options.spare_nic)
    throw UsageError("--spare-nic is for in-place runs: in the VM the guest's own NIC is lent");
  const auto guest = vm::FindGuest(name);
  if (!guest)
    throw UsageError("no guest named " + name + " is running (see `netns-conform vm list`)");
  if (!options.suite_binary.empty())
    throw UsageError(
        "--suite-binary does not go with --attach: the guest runs the suite it got at "
        "`vm start` (give --suite-binary there)");
  // The plan on the host, from the suite binary the guest holds (copied in at `vm start`).
  std::filesystem::path suite_binary = guest->suite_binary;
  if (suite_binary.empty()) suite_binary = SuiteBinaryOrDefault({});
  if (!guest->suite_stamp.empty() && suite_binary == guest->suite_binary &&
      GuestSuiteChanged(suite_binary, guest->suite_stamp))
    std::fprintf(stderr,
                 "vm: warning: %s changed since `vm start %s`: the guest runs the suite as it "
                 "was then\n",
                 suite_binary.c_str(), name.c_str());
  const auto listing = ListSuiteCases(suite_binary);
  const auto plan = PlanCases(listing, options);
  const Expectations expectations =
      LoadSuiteExpectations(options, listing, ProbeSuiteFeatures(suite_binary));
  const auto out_dir = std::filesystem::absolute(options.out_dir);
  PrepareOutDir(out_dir);

  vm::AttachOptions attach;
  attach.name = name;
  attach.runner_args = RunnerArgs(options);
  attach.out_dir = out_dir;
  attach.run_timeout = std::chrono::seconds(120) +
                       std::chrono::milliseconds(static_cast<long>(
                           options.timeout_s * 1000 * static_cast<double>(plan.size()) / 2));
  CatchStopSignals();
  attach.should_stop = [] { return stop_signal != 0; };
  attach.log = [](const std::string& line) { std::fprintf(stderr, "vm: %s\n", line.c_str()); };

  const auto start = std::chrono::steady_clock::now();
  vm::AttachResult attached;
  try {
    attached = vm::AttachRun(attach);
  } catch (const vm::VmError& e) {
    throw UsageError(e.what());
  }
  VmSelection selection;
  selection.name = attached.guest.kernel_label;
  return ReportVmRun(attached.result, plan, out_dir, start, expectations, [&](Environment& env) {
    DescribeVmEnvironment(env, attached.result, selection);
    RunOptions described = options;
    described.target = selection.name;  // the kernel the kept guest booted
    DescribeTarget(env, described);
    env.sandbox = "vm-reuse";
    env.vm_guest = name;
    env.vm_guest_run = attached.run;
  });
}

}  // namespace conform
