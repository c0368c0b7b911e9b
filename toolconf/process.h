// Running a tool's argv directly (fork + execvp, never a shell) with its output captured and a
// deadline, in the foreground or in the background (monitor, concurrent adds).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "fixtures/fd.h"

namespace conform::toolconf {

struct Outcome {
  int status = -1;         // exit status; -1 when killed by a signal or never run
  int signal = 0;          // the terminating signal, if any
  bool timed_out = false;  // killed at the deadline
  std::string out, err;
  std::string DescribeExit() const;  // "exit 0", "killed by SIGSEGV", "timed out"
};

// A process started in the background: stdout and stderr are pipes read by Collect/ReadOut.
class Background {
 public:
  Background() = default;
  Background(Background&&) noexcept;
  Background& operator=(Background&&) noexcept;
  ~Background();  // kills and reaps a process still running

  static Background Start(const std::vector<std::string>& argv);
  pid_t pid() const { return pid_; }
  // Reads what is available on stdout within `wait` (0: no waiting) and appends it to out_.
  void Pump(std::chrono::milliseconds wait);
  const std::string& out() const { return out_; }
  // Waits for the exit with a deadline (killed then), reading both pipes to the end.
  Outcome Finish(std::chrono::milliseconds timeout);
  // Kills it (SIGTERM, then SIGKILL at the deadline) and returns what it said.
  Outcome Stop();

 private:
  pid_t pid_ = -1;
  FileDescriptor out_fd_, err_fd_;
  std::string out_, err_;
};

// Runs argv to completion (killed at the timeout) and captures its output.
Outcome Run(const std::vector<std::string>& argv,
            std::chrono::milliseconds timeout = std::chrono::seconds(20));

// "a b 'c d'" for messages: shell-quoted only for display, never executed.
std::string ShowArgv(const std::vector<std::string>& argv);

}  // namespace conform::toolconf
