// netns-conform-vm-bench: what the VM sandbox costs per kernel on this machine, beside the
// in-place run in the same invocation (issue "VM sandbox", speed). It prints numbers, never
// pass/fail:
//   - the whole suite in place (`netns-conform run`), wall time;
//   - per kernel, rounds of `netns-conform-vm-probe --vm KERNEL --json` (what `run --vm` does,
//     with the timings it measured): boot (qemu start to the guest's BOOTED marker),
//     boot-to-first-case (qemu start to the guest's runner starting its first case), the suite's
//     own time in the guest, and qemu start to exit; plus the whole `run --vm KERNEL` wall time;
//   - the targets, as numbers beside them: boot-to-first-case <= 2.5 s for debian-6.1-cloud, and
//     the whole VM run <= its boot + 2 x the in-place suite time.
// In-place and VM rounds alternate so that a change of machine load hits both alike. Kernels are
// fetched (or built) beforehand by a first, unmeasured round.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/process.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bp = boost::process;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

namespace {

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

// Runs argv with output to `log`; returns its exit status and wall time.
std::pair<int, double> Run(const std::vector<std::string>& argv, const fs::path& log) {
  const auto start = Clock::now();
  bp::child child(argv.front(), bp::args(std::vector<std::string>(argv.begin() + 1, argv.end())),
                  (bp::std_out & bp::std_err) > log.string(), bp::std_in < bp::null);
  child.wait();
  return {child.exit_code(), SecondsSince(start)};
}

struct VmRound {
  double boot_s = 0, first_case_s = 0, suite_s = 0, qemu_s = 0, total_s = 0;
  std::string machine, accelerator, release, outcome;
};

// One `netns-conform-vm-probe --vm KERNEL --json` round: its own timings.
VmRound ProbeRound(const fs::path& bin, const std::string& kernel, const fs::path& out) {
  const fs::path json_file = out.string() + ".json";
  const auto start = Clock::now();
  bp::child child(
      (bin / "netns-conform-vm-probe").string(),
      bp::args({"--vm", kernel, "--suite-dir", bin.string(), "--out", out.string(), "--json"}),
      bp::std_out > json_file.string(), bp::std_err > (out.string() + ".stderr"),
      bp::std_in < bp::null);
  child.wait();
  VmRound round;
  round.total_s = SecondsSince(start);
  std::ifstream in(json_file);
  const Json probe = Json::parse(in, nullptr, false);
  if (probe.is_discarded() || !probe.is_object()) {
    round.outcome = "probe exited " + std::to_string(child.exit_code()) + ", no JSON";
    return round;
  }
  round.outcome = probe.value("outcome", "?");
  round.boot_s = probe.value("boot_s", 0.0);
  round.first_case_s = probe.value("runner_start_s", 0.0);
  round.qemu_s = probe.value("qemu_s", 0.0);
  round.machine = probe.value("machine", "");
  round.accelerator = probe.value("accelerator", "");
  round.release = probe.value("kernel_release", "");
  if (probe.contains("summary")) round.suite_s = probe["summary"].value("duration_s", 0.0);
  return round;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"netns-conform-vm-bench: VM sandbox costs per kernel beside the in-place run",
               "netns-conform-vm-bench"};
  std::vector<std::string> kernels = {"debian-6.1-cloud"};
  int rounds = 3;
  std::string json_path, work_dir;
  app.add_option("--vm", kernels, "kernels to measure (repeatable; default debian-6.1-cloud)");
  app.add_option("--rounds", rounds, "measured rounds per kernel and in place")
      ->check(CLI::Range(1, 50))
      ->capture_default_str();
  app.add_option("--json", json_path, "also write the numbers as JSON to this file");
  app.add_option("--work-dir", work_dir, "folder for the runs' output (default: a temporary one)");
  CLI11_PARSE(app, argc, argv);

  const fs::path bin = fs::read_symlink("/proc/self/exe").parent_path();
  const fs::path runner = bin / "netns-conform";
  if (!fs::exists(runner) || !fs::exists(bin / "netns-conform-vm-probe")) {
    std::fprintf(stderr,
                 "netns-conform-vm-bench: netns-conform and netns-conform-vm-probe must "
                 "be beside this binary\n");
    return 2;
  }
  fs::path dir = work_dir;
  if (dir.empty()) {
    std::string templ = (fs::temp_directory_path() / "netns-conform-vm-bench.XXXXXX").string();
    if (!mkdtemp(templ.data())) {
      std::perror("netns-conform-vm-bench: mkdtemp");
      return 2;
    }
    dir = templ;
  }
  fs::create_directories(dir);

  std::printf("netns-conform-vm-bench: %d rounds, load average %s, output in %s\n", rounds,
              LoadAverage().c_str(), dir.c_str());
  // Unmeasured: fetch (or find) each kernel and warm the initramfs cache.
  for (const auto& kernel : kernels) {
    std::printf("warming %s ...\n", kernel.c_str());
    std::fflush(stdout);
    const VmRound warm = ProbeRound(bin, kernel, dir / ("warm-" + kernel));
    if (warm.outcome != "completed") {
      std::fprintf(stderr, "netns-conform-vm-bench: %s did not complete (%s); see %s\n",
                   kernel.c_str(), warm.outcome.c_str(), (dir / ("warm-" + kernel)).c_str());
      return 2;
    }
  }

  std::vector<double> inplace_s;
  std::map<std::string, std::vector<VmRound>> probe_rounds;
  std::map<std::string, std::vector<double>> run_vm_s;
  for (int r = 0; r < rounds; ++r) {
    const auto [status, wall] =
        Run({runner.string(), "run", "--out", (dir / ("inplace-" + std::to_string(r))).string()},
            dir / ("inplace-" + std::to_string(r) + ".log"));
    if (status == 0 || status == 1) inplace_s.push_back(wall);
    for (const auto& kernel : kernels) {
      probe_rounds[kernel].push_back(
          ProbeRound(bin, kernel, dir / (kernel + "-probe-" + std::to_string(r))));
      const auto [vm_status, vm_wall] =
          Run({runner.string(), "run", "--vm", kernel, "--out",
               (dir / (kernel + "-run-" + std::to_string(r))).string()},
              dir / (kernel + "-run-" + std::to_string(r) + ".log"));
      if (vm_status == 0 || vm_status == 1) run_vm_s[kernel].push_back(vm_wall);
    }
  }

  const double inplace = Median(inplace_s);
  Json report;
  report["load_average_at_end"] = LoadAverage();
  report["inplace_suite_s"] = inplace;
  std::printf("\nin place: whole suite median %.2f s (n=%zu)\n", inplace, inplace_s.size());
  std::printf("\n%-18s %-8s %-4s %8s %12s %9s %8s %11s %12s\n", "kernel", "machine", "acc",
              "boot_s", "first_case_s", "suite_s", "qemu_s", "run_vm_s", "target_s");
  for (const auto& kernel : kernels) {
    std::vector<double> boot, first, suite, qemu;
    std::string machine, accel;
    int incomplete = 0;
    for (const auto& round : probe_rounds[kernel]) {
      if (round.outcome != "completed") {
        ++incomplete;
        continue;
      }
      boot.push_back(round.boot_s);
      first.push_back(round.first_case_s);
      suite.push_back(round.suite_s);
      qemu.push_back(round.qemu_s);
      machine = round.machine;
      accel = round.accelerator;
    }
    const double run_vm = Median(run_vm_s[kernel]);
    // Whole VM run at most its boot plus twice the in-place suite time.
    const double target = Median(boot) + 2 * inplace;
    std::printf("%-18s %-8s %-4s %8.2f %12.2f %9.2f %8.2f %11.2f %12.2f%s\n", kernel.c_str(),
                machine.c_str(), accel.c_str(), Median(boot), Median(first), Median(suite),
                Median(qemu), run_vm, target,
                incomplete ? (" (" + std::to_string(incomplete) + " incomplete)").c_str() : "");
    report["kernels"][kernel] = {{"machine", machine},
                                 {"accelerator", accel},
                                 {"boot_s", Median(boot)},
                                 {"boot_to_first_case_s", Median(first)},
                                 {"suite_in_guest_s", Median(suite)},
                                 {"qemu_s", Median(qemu)},
                                 {"run_vm_wall_s", run_vm},
                                 {"target_run_vm_s", target},
                                 {"rounds", probe_rounds[kernel].size()},
                                 {"incomplete", incomplete}};
    if (kernel == "debian-6.1-cloud")
      std::printf("  target: boot-to-first-case <= 2.50 s: %.2f s (%s)\n", Median(first),
                  Median(first) <= 2.5 ? "met" : "NOT met");
    std::printf("  target: run --vm <= boot + 2 x in place = %.2f s: %.2f s (%s)\n", target, run_vm,
                run_vm <= target ? "met" : "NOT met");
  }
  std::printf("load average at the end: %s\n", LoadAverage().c_str());
  if (!json_path.empty()) std::ofstream(json_path) << report.dump(2) << "\n";
  return 0;
}
