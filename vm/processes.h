// Processes of the reuse sandbox (vm/reuse.h) as /proc shows them: alive or not, and the same
// process as before (a pid may be reused, its start time may not); and what a forked daemon does
// with its inherited file descriptors and its stdio.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <set>

namespace conform::vm {

struct ProcStat {
  char state = '?';
  unsigned long long start = 0;
};

// /proc/<pid>/stat: state (field 3) and starttime (field 22).
std::optional<ProcStat> ReadProcStat(pid_t pid);

// Running (not a zombie), and the same process as when `start` was read (pids are reused).
bool ProcessAlive(pid_t pid, unsigned long long start);

// The starttime of `pid`, 0 when it is not there.
unsigned long long StartOf(pid_t pid);

// Closes every descriptor above 2 but those in `keep`.
void CloseFdsExcept(const std::set<int>& keep);

// stdin from /dev/null; stdout and stderr to `log` (or /dev/null).
void RedirectStdio(const std::filesystem::path& log);

}  // namespace conform::vm
