// The attach client of the reuse sandbox (`run --attach NAME`): AttachRun sends one run to a
// guest's supervisor, reads its bytes to END and lays the results out as a one-shot run does.
// See vm/reuse.h.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>

#include "vm/channel.h"
#include "vm/error.h"
#include "vm/guest_state.h"
#include "vm/reuse.h"
#include "vm/timing.h"
#include "vm/tools.h"
#include "vm/unix_io.h"

namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace conform::vm {

AttachResult AttachRun(const AttachOptions& o) {
  auto say = [&](const std::string& line) {
    if (o.log) o.log(line);
  };
  auto found = FindGuest(o.name);
  if (!found)
    throw VmError("no guest named " + o.name + " is running (see `netns-conform vm list`)");
  AttachResult a;
  a.guest = *found;
  const GuestInfo& g = a.guest;
  if (g.state == "booting") throw VmError("guest " + o.name + " is still booting");
  for (const auto& arg : o.runner_args)
    if (arg.find('\n') != std::string::npos || arg.size() > kMaxRunArgBytes)
      throw VmError("a runner argument for the guest holds a newline or is too long: '" + arg +
                    "'");
  if (o.runner_args.size() > static_cast<size_t>(kMaxRunArgs))
    throw VmError("too many runner arguments");

  VmRunResult& r = a.result;
  r.kernel_name = g.kernel_name;
  r.kernel_release = g.kernel_release;
  r.kernel_package = g.kernel_package;
  r.kernel_version = g.kernel_version;
  r.kernel_config = g.kernel_config;
  r.kernel_config_source = g.kernel_config_source;
  r.machine = g.machine;
  r.accelerator = g.accelerator;
  r.machine_note = g.machine_note;
  r.boot_s = g.boot_s;
  r.retries = g.retries;

  // The out folder as a one-shot run leaves it: nothing of an earlier run.
  const fs::path vm_dir = o.out_dir / "vm";
  std::error_code ec;
  fs::create_directories(vm_dir);
  for (const char* stale : {"results.json", "junit.xml", "journal.jsonl"})
    fs::remove(o.out_dir / stale, ec);
  fs::remove_all(o.out_dir / "logs", ec);
  for (const char* stale : {"console.log", "console.boot.log", "console.attempt1.log", "dmesg.txt",
                            "runner.log", "qemu.log", "journal.partial.jsonl"})
    fs::remove(vm_dir / stale, ec);

  // The console from here on is this run's; held open, it stays readable if the guest dies and
  // its folder is removed.
  Fd console(open((g.state_dir / "console.log").c_str(), O_RDONLY | O_CLOEXEC));
  const off_t console_from = console ? lseek(console.get(), 0, SEEK_END) : 0;
  const std::string boot_console = ReadIfThere(g.state_dir / "console.boot.log");
  if (!boot_console.empty()) WriteFileReplacing(vm_dir / "console.boot.log", boot_console);

  Fd sock = ConnectUnix(g.state_dir / "control.sock");
  if (!sock)
    throw VmError("cannot reach guest " + o.name + "'s supervisor: " + Errno(errno) +
                  " (see `netns-conform vm list`)");
  std::string request = "NCVM 1 RUN argc=" + std::to_string(o.runner_args.size()) + "\n";
  for (const auto& arg : o.runner_args) request += arg + "\n";
  if (!SendAll(sock.get(), request))
    throw VmError("cannot send the run to guest " + o.name + ": " + Errno(errno));

  const auto start = Clock::now();
  std::string bytes;  // after the ACCEPTED line
  std::string head;   // until the ACCEPTED line is complete
  bool accepted = false, aborted = false, timed_out = false, stopped = false;
  ChannelScanner scanner;
  std::optional<Clock::time_point> abort_deadline;
  std::string buf(size_t{1} << 16, '\0');
  while (true) {
    const auto now = Clock::now();
    if (accepted && now - start > o.run_timeout) {
      timed_out = true;
      break;
    }
    if (!accepted && now - start > milliseconds(30000))
      throw VmError("guest " + o.name + "'s supervisor did not answer within 30 s");
    if (!aborted && o.should_stop && o.should_stop()) {
      aborted = true;
      abort_deadline = now + milliseconds(60000);
      say("interrupted: asking the guest to stop run " + std::to_string(a.run));
      SendAll(sock.get(), "NCVM 1 ABORT\n");
    }
    if (abort_deadline && now > *abort_deadline) {
      stopped = true;
      break;
    }
    pollfd pfd{sock.get(), POLLIN, 0};
    const int n = poll(&pfd, 1, 100);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    const ssize_t got = read(sock.get(), buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    std::string_view data(buf.data(), static_cast<size_t>(got));
    if (!accepted) {
      head.append(data);
      const size_t nl = head.find('\n');
      if (nl == std::string::npos) continue;
      const std::string line = head.substr(0, nl);
      if (MarkerKind(line) == "REFUSED")
        throw VmError("guest " + o.name + " refused the run: " +
                      line.substr(kMarker.size() + std::string("REFUSED ").size()));
      if (MarkerKind(line) != "ACCEPTED")
        throw VmError("guest " + o.name + "'s supervisor said something unexpected: " + line);
      a.run = std::atoi(MarkerFields(line)["run"].c_str());
      accepted = true;
      say("run " + std::to_string(a.run) + " on guest " + o.name + " (" + g.kernel_label + ", up " +
          Fixed(g.uptime_s(), 0) + " s)");
      data = std::string_view(head).substr(nl + 1);
      bytes.append(data);
      scanner.Feed(data);
      head.clear();
    } else {
      bytes.append(data);
      scanner.Feed(data);
    }
    if (scanner.ended()) break;
  }
  sock.reset();
  a.run_s = Seconds(Clock::now() - start);
  if (!accepted && !timed_out)
    throw VmError("guest " + o.name + " went away before it accepted the run");

  if (timed_out) {
    say("the whole-run watchdog fired: stopping guest " + o.name);
    try {
      StopGuest(o.name);
    } catch (const VmError& e) {
      say(e.what());
    }
  }

  std::string run_console;
  if (console) {
    const off_t end = lseek(console.get(), 0, SEEK_END);
    if (end > console_from) {
      run_console.resize(static_cast<size_t>(end - console_from));
      const ssize_t got =
          pread(console.get(), run_console.data(), run_console.size(), console_from);
      run_console.resize(got > 0 ? static_cast<size_t>(got) : 0);
    }
  }
  r.console_log = vm_dir / "console.log";
  WriteFileReplacing(r.console_log, run_console);

  const ChannelContents ch = ParseChannel(bytes);
  const std::string extract_error = CollectChannel(ch, boot_console + run_console, o.out_dir, r);
  const bool guest_alive = FindGuest(o.name).has_value();

  if (!r.results_dir.empty() && ch.ended && fs::exists(o.out_dir / "results.json", ec)) {
    r.outcome = VmOutcome::kCompleted;
  } else if (!r.results_dir.empty() && ch.ended && aborted) {
    r.outcome = VmOutcome::kStopped;
    r.results_dir.clear();
    r.failure = "interrupted: the runner in the guest was stopped (exit status " +
                std::to_string(r.runner_status) + ") before it wrote results.json";
  } else if (!r.results_dir.empty() && ch.ended) {
    r.outcome = VmOutcome::kRunnerFailed;
    NoteRunnerFailed(ch, r);
  } else if (timed_out) {
    r.outcome = VmOutcome::kTimedOut;
    r.failure = "the whole-run watchdog fired after " +
                Fixed(static_cast<double>(o.run_timeout.count()) / 1000, 0) +
                " s; the guest was stopped";
  } else if (stopped) {
    r.outcome = VmOutcome::kStopped;
    r.failure = "stopped on request; the guest finishes the run on its own";
  } else {
    r.outcome = VmOutcome::kGuestDied;
    r.failure = !extract_error.empty()
                    ? "the results could not be read: " + extract_error
                    : "the guest " + std::string(guest_alive ? "" : "went away and ") +
                          "ended run " + std::to_string(a.run) + " after " + Fixed(a.run_s) +
                          " s without sending its results" +
                          (ch.error.empty() ? "" : " (" + ch.error + ")");
  }
  if (r.outcome != VmOutcome::kCompleted) NoteIncompleteRun(ch, run_console, vm_dir, r);
  r.total_s = a.run_s;
  return a;
}

}  // namespace conform::vm
