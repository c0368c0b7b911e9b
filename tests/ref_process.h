// Child processes for ref_test: argv arrays (never shell strings), stdout/stderr captured, every
// wait bounded by a deadline (a pidfd polled with a timeout, never a sleep).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "fixtures/fd.h"

namespace conform::reftest {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  int term_signal = 0;
  bool timed_out = false;
  std::string out;
  std::string err;
  std::string Describe() const;  // for assertion messages
};

class Process {
 public:
  // Starts argv[0] (searched in PATH) with stdout and stderr on pipes, stdin on a pipe when
  // pipe_stdin (else /dev/null). The child gets SIGKILL when this process dies.
  explicit Process(const std::vector<std::string>& argv, bool pipe_stdin = false);
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();  // kills and reaps a child still running

  pid_t pid() const { return pid_; }
  // The next line of stdout without its newline; nullopt at EOF or when the timeout passes first.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  void CloseStdin() { stdin_.reset(); }
  // Collects the rest of stdout/stderr and the exit status; kills the child at the deadline.
  ProcessResult Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  FileDescriptor pidfd_;
  FileDescriptor stdin_;
  FileDescriptor stdout_;
  FileDescriptor stderr_;
  std::string out_buffer_;  // stdout read by ReadLine but not yet returned
  std::string err_buffer_;
  bool reaped_ = false;
};

// Runs a command to completion (killed after timeout).
ProcessResult Run(const std::vector<std::string>& argv,
                  std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace conform::reftest
