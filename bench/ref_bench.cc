// netns-ref-bench: what the reference ip-netns(8) implementation costs against the bare syscalls
// and against iproute2. It prints numbers, never pass/fail. Inside private mount and network
// namespaces (EnterSelfSandbox: a private tmpfs on /run/netns, so `ip netns`, whose folder is
// compiled in, never reaches the host's), N times each, taken round-robin so that machine load
// and the kernel's asynchronous netns cleanup hit every variant alike:
//   (a) the library's Add + Delete of one name;
//   (b) the syscall floor: unshare(CLONE_NEWNET) in a thread, open(O_CREAT|O_EXCL), bind mount of
//       /proc/thread-self/ns/net, then umount2(MNT_DETACH) and unlink;
//   (c) `netns-ref add NAME` then `netns-ref del NAME`, as whole processes;
//   (d) `ip netns add NAME` then `ip netns del NAME`, as whole processes.
// Then the median and p90 of each and two ratios of medians: library/floor, netns-ref/ip.
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/error.h"
#include "fixtures/ref/ref_netns.h"
#include "fixtures/sandbox_mounts.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double median = 0, p90 = 0;
  size_t n = 0;
};

Stats Summarise(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  Stats s;
  s.n = values.size();
  if (values.empty()) return s;
  const size_t n = values.size();
  s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  s.p90 = values[static_cast<size_t>(std::ceil(0.9 * static_cast<double>(n))) - 1];
  return s;
}

double TimeMs(const std::function<void()>& fn) {
  const auto start = Clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void FloorCycle(const std::string& path) {
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      conform::CheckSyscall(unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)");
      conform::CheckSyscall(
          close(static_cast<int>(conform::CheckSyscall(
              open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0), "open " + path))),
          "close");
      conform::CheckSyscall(
          mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr), "bind");
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (failure) std::rethrow_exception(failure);
  conform::CheckSyscall(umount2(path.c_str(), MNT_DETACH), "umount2 " + path);
  conform::CheckSyscall(unlink(path.c_str()), "unlink " + path);
}

// Runs argv to completion; throws unless it exits 0.
void RunProcess(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (int err = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ); err != 0)
    throw conform::SystemError("posix_spawnp " + argv[0], err);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw conform::SystemError("waitpid", errno);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(argv[0] + " " + argv[1] + " failed (status " + std::to_string(status) +
                             ")");
}

void Print(const char* label, const Stats& s) {
  std::printf("%-44s median %8.3f ms  p90 %8.3f ms  (n=%zu)\n", label, s.median, s.p90, s.n);
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread: unshare(CLONE_NEWNS) needs a single-threaded process.
  if (const std::string error = conform::EnterSelfSandbox(); !error.empty()) {
    std::fprintf(stderr, "netns-ref-bench: cannot enter a private sandbox (%s); run as root\n",
                 error.c_str());
    return 2;
  }
  CLI::App app{"netns-ref-bench: the reference ip-netns implementation against its floor and ip",
               "netns-ref-bench"};
  int iterations = 200;
  int process_iterations = 50;
  app.add_option("-n,--iterations", iterations, "add+del cycles of (a) and (b)")
      ->check(CLI::Range(1, 100000));
  app.add_option("-p,--process-iterations", process_iterations,
                 "add+del cycles of (c) and (d) (whole processes)")
      ->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);

  const std::string run_dir = "/run/netns";  // the sandbox's private tmpfs
  const std::string netns_ref =
      (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "netns-ref").string();
  conform::ref::Options options;
  options.run_dir = run_dir;

  try {
    // Warm-up: page cache, the run folder's set-up, first-use costs of each path.
    for (int i = 0; i < 3; ++i) {
      conform::ref::Add(options, "warm");
      conform::ref::Delete(options, "warm");
      FloorCycle(run_dir + "/warm");
      RunProcess({netns_ref, "add", "warm"});
      RunProcess({netns_ref, "del", "warm"});
      RunProcess({"ip", "netns", "add", "warm"});
      RunProcess({"ip", "netns", "del", "warm"});
    }
    std::vector<double> library, floor, ref_cli, ip_cli;
    for (int i = 0; i < iterations; ++i) {
      const std::string name = "b" + std::to_string(i);
      library.push_back(TimeMs([&] {
        conform::ref::Add(options, name);
        conform::ref::Delete(options, name);
      }));
      floor.push_back(TimeMs([&] { FloorCycle(run_dir + "/" + name); }));
    }
    for (int i = 0; i < process_iterations; ++i) {
      const std::string name = "p" + std::to_string(i);
      ref_cli.push_back(TimeMs([&] {
        RunProcess({netns_ref, "add", name});
        RunProcess({netns_ref, "del", name});
      }));
      ip_cli.push_back(TimeMs([&] {
        RunProcess({"ip", "netns", "add", name});
        RunProcess({"ip", "netns", "del", name});
      }));
    }
    const Stats a = Summarise(library), b = Summarise(floor), c = Summarise(ref_cli),
                d = Summarise(ip_cli);
    Print("(a) library Add+Delete", a);
    Print("(b) syscall floor (thread unshare+bind+del)", b);
    Print("(c) netns-ref add + del (processes)", c);
    Print("(d) ip netns add + del (processes)", d);
    std::printf("ratio library/floor (medians):   %.2f\n", a.median / b.median);
    std::printf("ratio netns-ref/ip (medians):    %.2f\n", c.median / d.median);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "netns-ref-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
