// Sections 1-3 of netns-conform-bench (bench/inplace_bench.cc): what one case's sandbox costs
// below the runner, measured without it.
//   1. unshare(CLONE_NEWNET) itself;
//   2. process launches (Boost.Process as the runner starts a case, posix_spawn, and a clone3
//      sandbox made straight from this process), taken round-robin;
//   3. the sandbox-exec stages replayed in a forked child, with a timestamp between each.
// Everything that creates namespaces does so in a child process or a thread that dies with
// them, so the benchmark process itself never holds one.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_stats.h"

namespace conform::bench {

// ---- 1. unshare(CLONE_NEWNET) ----

// `iterations` unshare(CLONE_NEWNET) calls, each in its own short-lived thread.
Stats UnshareCost(int iterations);

// ---- 2. process launches ----

// One way of starting a process and waiting for it; returns the wall time in ms and throws when
// the process does not exit 0.
using LaunchOnce = std::function<double()>;

// The command line as one space-separated string, for messages and the report.
std::string Join(const std::vector<std::string>& argv);

// fork + exec with Boost.Process, stdio on /dev/null: how the runner starts a case. extra_env is
// added to this process's environment.
LaunchOnce BoostLaunch(const std::vector<std::string>& argv,
                       const std::map<std::string, std::string>& extra_env = {});

// posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK), no page-table copy), stdio on /dev/null.
LaunchOnce PosixSpawnLaunch(const std::vector<std::string>& argv);

// The same sandbox as sandbox-exec (case init as PID 1 of fresh mount, net and PID namespaces,
// the sandbox mounts, the case as PID 2, reaped by the init) made without exec'ing the runner
// and without the middle process.
LaunchOnce DirectCloneLaunch(const std::vector<std::string>& argv);

struct Launch {
  std::string key;    // JSON key
  std::string label;  // human-readable
  std::string command;
  LaunchOnce once;
  std::vector<double> wall_ms;
  double cpu_ms = 0;  // user+sys of the reaped process trees, summed
};

// Runs every launch `rounds` times, one of each per round, so that load that comes and goes
// during the measurement hits all of them alike.
void RunRoundRobin(std::vector<Launch>& launches, int rounds);

// ---- 3. the sandbox-exec stages, replayed ----

// Replays runner/sandbox.cc's SandboxExec `runs` times with a timestamp between the stages:
// one (stage name, stats) per stage in order, then ("total", stats).
std::vector<std::pair<std::string, Stats>> SandboxStages(int runs);

}  // namespace conform::bench
