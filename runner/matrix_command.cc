#include "runner/matrix_command.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/process.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include "reports/json_report.h"
#include "reports/matrix_report.h"
#include "runner/plan.h"
#include "runner/run_command.h"
#include "runner/run_expectations.h"
#include "runner/suite_features.h"
#include "runner/target.h"
#include "vm/qemu.h"

namespace bp = boost::process;
using Clock = std::chrono::steady_clock;

namespace conform {
namespace {

// One child run of the matrix: a target's `run`, or the tool scenarios' `tools`.
struct Job {
  std::string name;               // the target's name, or "tools"
  std::vector<std::string> args;  // after the runner's path
  std::filesystem::path out_dir;  // its results.json goes here
  std::filesystem::path log;      // its stderr (progress and reports' paths)
  double expected_s = 0;          // a rough cost, to start the longest first
  bool vm = false;                // boots a guest: counts against the VM limit
  std::unique_ptr<bp::child> process;
  Clock::time_point started;
  double wall_s = 0;
  int exit_code = -1;
};

// Rough costs on 2 TCG cores (measured in session 3): a gVisor sandbox per case dominates, a VM
// pays its boot and a 4x slower CPU, the host and a kernel without netns take seconds.
double ExpectedSeconds(const std::string& name) {
  if (name == "gvisor") return 80;
  if (name == "tools") return 40;
  if (name == "host") return 4;
  if (name == "no-netns") return 2;
  return 20;  // a VM kernel
}

std::string LastLine(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

// The column of a job that wrote no results: every planned case ERROR, with the run's last words.
RunResult FailedRun(const std::vector<PlannedCase>& plan, const Job& job) {
  RunResult run;
  run.environment = InPlaceEnvironment();
  run.environment.target = job.name;
  run.environment.sandbox = "none";
  const std::string why = "the " + job.name + " run delivered no results.json (exit " +
                          std::to_string(job.exit_code) + "): " + LastLine(job.log);
  for (const auto& planned : plan) {
    CaseResult result;
    result.id = planned.id;
    result.clause = planned.clause;
    result.status = Status::kError;
    result.reason = why;
    run.cases.push_back(result);
  }
  RecountSummary(run);
  run.clauses = ClauseVerdicts(run.cases);
  return run;
}

volatile sig_atomic_t stop_signal = 0;
void NoteStop(int sig) { stop_signal = sig; }
// Only there to interrupt the wait below (a signal left at its default SIGCHLD disposition is
// discarded and wakes nothing); exec resets it, so the children never see it.
void NoteChild(int) {}

// Runs the jobs in two lanes, longest expected first in each: the VM targets, at most
// `parallel_vms` guests at once, and beside them the targets that run on this machine's kernel
// (host, gvisor, the tools) one at a time. A lone target rarely keeps both cores busy (a guest
// boots on one vCPU, gVisor waits on its sandboxes' start-up), so the lanes fill each other's
// gaps. SIGINT/SIGTERM/SIGHUP are passed on as SIGTERM: each runner then stops its cases and
// still writes its reports.
// With `serial`, one job at a time, whatever its lane.
void RunJobs(std::vector<Job>& jobs, int parallel_vms, bool serial,
             const std::filesystem::path& runner) {
  std::vector<Job*> queue;
  queue.reserve(jobs.size());
  for (auto& job : jobs) queue.push_back(&job);
  std::stable_sort(queue.begin(), queue.end(),
                   [](const Job* a, const Job* b) { return a->expected_s > b->expected_s; });
  struct sigaction action {};
  action.sa_handler = NoteStop;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);
  struct sigaction child_action {};
  child_action.sa_handler = NoteChild;
  child_action.sa_flags = SA_RESTART;  // nanosleep is cut short all the same (signal(7))
  sigemptyset(&child_action.sa_mask);
  sigaction(SIGCHLD, &child_action, nullptr);

  std::vector<Job*> running;
  bool forwarded = false;
  const auto can_start = [&](const Job* job) {
    const auto same_lane = std::count_if(running.begin(), running.end(),
                                         [&](const Job* other) { return other->vm == job->vm; });
    if (serial) return running.empty();
    return same_lane < (job->vm ? parallel_vms : 1);
  };
  while (!queue.empty() || !running.empty()) {
    for (auto it = queue.begin(); !stop_signal && it != queue.end();) {
      if (!can_start(*it)) {
        ++it;
        continue;
      }
      Job& job = **it;
      it = queue.erase(it);
      std::fprintf(stderr, "matrix: %s started\n", job.name.c_str());
      job.started = Clock::now();
      job.process =
          std::make_unique<bp::child>(runner.string(), bp::args(job.args), bp::std_out > bp::null,
                                      bp::std_err > job.log, bp::std_in < bp::null);
      running.push_back(&job);
    }
    if (stop_signal) {
      if (!forwarded)
        for (Job* job : running) kill(job->process->id(), SIGTERM);
      forwarded = true;
      queue.clear();  // never start the rest
    }
    bool any_ended = false;
    for (auto it = running.begin(); it != running.end();) {
      std::error_code ec;
      if ((*it)->process->running(ec)) {
        ++it;
        continue;
      }
      Job& job = **it;
      job.process->wait(ec);
      job.exit_code = job.process->exit_code();
      job.wall_s = std::chrono::duration<double>(Clock::now() - job.started).count();
      std::fprintf(stderr, "matrix: %s finished in %.1f s (exit %d)\n", job.name.c_str(),
                   job.wall_s, job.exit_code);
      it = running.erase(it);
      any_ended = true;
    }
    // Waits for any child to end or a second to pass; a child that ends between the check above
    // and the pause costs at most that second.
    if (!any_ended && !running.empty()) {
      timespec second{1, 0};
      nanosleep(&second, nullptr);  // cut short (EINTR) by SIGCHLD or a stop signal
    }
  }
}

int ExitStatusOfColumns(const std::vector<MatrixColumn>& columns) {
  for (const auto& column : columns)
    if (ExitStatusOf(CountSummary(column.run)) != 0) return 1;
  return 0;
}

}  // namespace

int MatrixCommand(const MatrixOptions& options) {
  if (geteuid() != 0)
    throw UsageError("must run as root: every target creates namespaces (euid " +
                     std::to_string(geteuid()) + ")");
  const auto targets = options.targets.empty() ? kDefaultMatrixTargets : options.targets;
  for (size_t i = 0; i < targets.size(); ++i) {
    ResolveTarget(targets[i]);  // an unknown name is a usage error before anything starts
    if (std::find(targets.begin(), targets.begin() + static_cast<long>(i), targets[i]) !=
        targets.begin() + static_cast<long>(i))
      throw UsageError("target '" + targets[i] + "' given twice");
  }
  const auto out_dir = std::filesystem::absolute(options.out_dir);
  const auto runner = std::filesystem::read_symlink("/proc/self/exe");
  const auto listing = ListSuiteCases(DefaultSuiteBinary());
  const auto plan = FilterCases(listing, options.filters);
  // A bad file must stop the matrix here, not make every run refuse it one after the other.
  LoadRunExpectations(options.expect_files, listing, ProbeSuiteFeatures(DefaultSuiteBinary()),
                      "the suite's listing");
  std::vector<std::string> expect_args;
  for (const auto& file : options.expect_files)
    expect_args.insert(expect_args.end(), {"--expect", std::filesystem::absolute(file).string()});
  PrepareOutDir(out_dir);
  std::error_code ec;
  for (const char* stale : {"matrix.json", "matrix.html"})
    std::filesystem::remove(out_dir / stale, ec);
  std::filesystem::remove_all(out_dir / "targets", ec);
  std::filesystem::remove_all(out_dir / "tools", ec);
  std::filesystem::create_directories(out_dir / "targets");

  char timeout[32];
  std::snprintf(timeout, sizeof(timeout), "%g", options.timeout_s);
  std::vector<Job> jobs;
  for (const auto& target : targets) {
    Job job;
    job.name = target;
    job.out_dir = out_dir / "targets" / target;
    job.log = out_dir / "targets" / (target + ".log");
    job.args = {"run",   "--target",           target,
                "--out", job.out_dir.string(), std::string("--timeout=") + timeout};
    for (const auto& filter : options.filters)
      job.args.insert(job.args.end(), {"--filter", filter});
    job.args.insert(job.args.end(), expect_args.begin(), expect_args.end());
    if (options.exec_launcher) job.args.push_back("--launcher=exec");
    job.expected_s = ExpectedSeconds(target);
    job.vm = ResolveTarget(target).kind == TargetKind::kVm;
    jobs.push_back(std::move(job));
  }
  if (!options.tools.empty()) {
    Job job;
    job.name = "tools";
    job.out_dir = out_dir / "tools";
    job.log = out_dir / "tools.log";
    job.args = {"tools", "--out", job.out_dir.string()};
    for (const auto& tool : options.tools) job.args.insert(job.args.end(), {"--tool", tool});
    job.args.insert(job.args.end(), expect_args.begin(), expect_args.end());
    job.expected_s = ExpectedSeconds("tools");
    jobs.push_back(std::move(job));
  }
  // Under TCG the targets run one at a time unless -p says otherwise: measured on 2 cores, a TCG
  // guest sharing the cores with anything slows down far more than the time the overlap saves
  // (debian-6.1-cloud: 22 s alone, 78 s beside gVisor; two guests together 55 s against 47 s one
  // after the other; the five default targets 117 s in three lanes against 101 s in a row).
  const bool serial = options.parallel == 0 && !vm::KvmUsable();
  const int parallel_vms = options.parallel > 0
                               ? options.parallel
                               : static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  const auto start = Clock::now();
  RunJobs(jobs, parallel_vms, serial, runner);
  const double wall_s = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<MatrixColumn> columns;
  for (const auto& job : jobs) {
    const auto folder = std::filesystem::relative(job.out_dir, out_dir).string();
    RunResult run;
    const bool delivered = std::filesystem::exists(job.out_dir / "results.json");
    if (delivered) {
      run = ReadResultsFile(job.out_dir / "results.json");
    } else if (job.name != "tools") {
      run = FailedRun(plan, job);
    }
    if (job.name != "tools") {
      columns.push_back({job.name, "target", run, folder, job.wall_s});
      continue;
    }
    if (!delivered) {
      std::fprintf(stderr, "matrix: the tools run delivered no results.json: %s\n",
                   LastLine(job.log).c_str());
      continue;
    }
    // One column per tool, in the order the tools were run.
    std::vector<std::string> names;
    for (const auto& c : run.cases)
      if (std::find(names.begin(), names.end(), c.tool) == names.end()) names.push_back(c.tool);
    for (const auto& name : names) {
      RunResult one = run;
      one.cases.clear();
      for (const auto& c : run.cases)
        if (c.tool == name) one.cases.push_back(c);
      RecountSummary(one);
      one.clauses = ClauseVerdicts(one.cases);
      columns.push_back({name, "tool", one, folder, job.wall_s});
    }
  }
  WriteFileAtomically(out_dir / "matrix.json", ToMatrixJson(columns).dump(1) + "\n");
  WriteFileAtomically(out_dir / "matrix.html", ToMatrixHtml(columns, "netns-conform matrix"));
  double sum_s = 0;
  for (const auto& job : jobs) sum_s += job.wall_s;
  std::fprintf(stderr,
               "matrix: %zu columns in %.1f s (the runs' own times add up to %.1f s)\n"
               "reports: %s/matrix.json, %s/matrix.html\n",
               columns.size(), wall_s, sum_s, out_dir.c_str(), out_dir.c_str());
  return stop_signal ? 1 : ExitStatusOfColumns(columns);
}

}  // namespace conform
