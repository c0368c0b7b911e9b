// netns-conform-vm-probe: runs the suite in a disposable qemu guest end to end and prints what
// it measured. The VM library's own driver, until `netns-conform run --vm` uses it.
//
//   netns-conform-vm-probe --vm debian-6.1-cloud --suite-dir build-vm/bin --out DIR
//   netns-conform-vm-probe --vm-kernel bzImage [--vm-modules DIR] [--vm-config FILE] ...
//   netns-conform-vm-probe --list-kernels        (cached / fetchable)
//   netns-conform-vm-probe --fetch NAME          (download and unpack only)
//   netns-conform-vm-probe --build-kernel no-netns [--force]   (vm/kernel_build.h)
//   netns-conform-vm-probe --vm no-netns ...     (the built one; never builds)
//
// Exit status: 0 the run completed and nothing failed; 1 it completed with failed cases;
// 2 bad input, infrastructure, or a guest that did not bring results back (reported as MISS).
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "reports/json_report.h"
#include "vm/error.h"
#include "vm/kernel_build.h"
#include "vm/vm_run.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f s", s);
  return buf;
}

int ListKernels() {
  conform::vm::KernelCache cache;
  std::printf("%-20s %-7s %-44s %s\n", "NAME", "CACHED", "PACKAGE", "NOTE");
  for (const auto& e : cache.List()) {
    const std::string package =
        e.cached ? e.cached_package + " " + e.cached_version
                 : (e.fetchable ? e.candidate_package + " " + e.candidate_version + " (fetchable)"
                                : "-");
    std::printf("%-20s %-7s %-44s %s\n", e.name.c_str(), e.cached ? "yes" : "no", package.c_str(),
                e.note.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Runs the netns-conform suite in a disposable qemu guest", "netns-conform-vm-probe"};
  std::string vm_name, vm_kernel, vm_modules, vm_config, suite_dir, out_dir, machine, accel;
  std::string extra_cmdline, fetch, build_kernel;
  std::vector<std::string> filters;
  int jobs = 0, cpus = 0, memory = 512, retries = 1;
  double case_timeout = 0, boot_timeout = 30, run_timeout = 1800;
  bool list = false, no_nic = false, gzip = false, json = false, force = false;
  app.add_option("--vm", vm_name, "a kernel by name (see --list-kernels)");
  app.add_option("--vm-kernel", vm_kernel, "a kernel by path (bzImage, or vmlinux with PVH)");
  app.add_option("--vm-modules", vm_modules,
                 "its modules: lib/modules/<release> or INSTALL_MOD_PATH");
  app.add_option("--vm-config", vm_config, "its .config");
  app.add_option("--suite-dir", suite_dir, "folder with netns-conform and netns-conform-suite");
  app.add_option("--out", out_dir, "output folder");
  app.add_option("--filter", filters, "passed to the in-guest runner (repeatable)");
  app.add_option("-j,--jobs", jobs, "passed to the in-guest runner");
  app.add_option("--timeout", case_timeout, "per-case timeout, passed to the in-guest runner");
  app.add_option("--machine", machine, "microvm or q35 (default: microvm when the kernel can)");
  app.add_option("--accel", accel, "kvm or tcg (default: kvm when /dev/kvm is usable)");
  app.add_option("--cpus", cpus, "guest vCPUs (default: min(2, host CPUs))")
      ->check(CLI::Range(0, 64));
  app.add_option("--memory", memory, "guest memory in MiB")->check(CLI::Range(128, 65536));
  app.add_option("--boot-timeout", boot_timeout, "seconds to the boot marker");
  app.add_option("--run-timeout", run_timeout, "seconds for the whole run");
  app.add_option("--boot-retries", retries, "retries of a hung boot");
  app.add_option("--cmdline", extra_cmdline, "appended to the guest kernel command line");
  app.add_flag("--no-nic", no_nic, "no guest NIC (the refund cases then SKIP)");
  app.add_flag("--gzip", gzip, "a gzip'ed initramfs (default: uncompressed, faster under TCG)");
  app.add_flag("--json", json, "print the measurements as JSON");
  app.add_flag("--list-kernels", list, "list cached and fetchable kernels");
  app.add_option("--fetch", fetch, "fetch a named kernel into the cache and exit");
  app.add_option("--build-kernel", build_kernel,
                 "build a kernel into the cache and exit (only: no-netns)");
  app.add_flag("--force", force, "with --build-kernel: rebuild even when cached");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    if (list) return ListKernels();
    conform::vm::KernelCache cache;
    if (!build_kernel.empty()) {
      if (build_kernel != conform::vm::kNoNetnsKernelName)
        throw conform::vm::VmError("--build-kernel knows only no-netns");
      conform::vm::NoNetnsBuildTimings t;
      auto k = conform::vm::BuildNoNetnsKernel(
          conform::vm::KernelCache::DefaultCacheRoot(),
          [](const std::string& line) { std::fprintf(stderr, "kernel: %s\n", line.c_str()); },
          force, &t);
      std::printf("%s: %s, from %s %s\n  boot image %s\n  config %s (%ju bytes)\n", k.name.c_str(),
                  k.release.c_str(), k.package.c_str(), k.package_version.c_str(),
                  k.boot_image.c_str(), k.config.c_str(),
                  static_cast<std::uintmax_t>(std::filesystem::file_size(k.config)));
      if (t.built)
        std::printf("  built: fetch %s, unpack %s, config %s, make %s, adopt %s, total %s\n",
                    Seconds(t.fetch_s).c_str(), Seconds(t.unpack_s).c_str(),
                    Seconds(t.config_s).c_str(), Seconds(t.build_s).c_str(),
                    Seconds(t.adopt_s).c_str(), Seconds(t.total_s).c_str());
      else
        std::printf("  (already built, key %s; %s)\n", t.key.c_str(), Seconds(t.total_s).c_str());
      return 0;
    }
    if (!fetch.empty()) {
      conform::vm::FetchTimings t;
      auto k = cache.Get(fetch, &t);
      std::printf("%s: %s %s, release %s\n  boot image %s\n  config %s\n  modules %s\n",
                  k.name.c_str(), k.package.c_str(), k.package_version.c_str(), k.release.c_str(),
                  k.boot_image.c_str(), k.config.c_str(), k.modules_dir.c_str());
      if (t.fetched)
        std::printf("  fetched: resolve %s, download %s, dpkg -x %s, depmod %s, vmlinux %s\n",
                    Seconds(t.resolve_s).c_str(), Seconds(t.download_s).c_str(),
                    Seconds(t.extract_s).c_str(), Seconds(t.depmod_s).c_str(),
                    Seconds(t.vmlinux_s).c_str());
      else
        std::printf("  (already cached)\n");
      return 0;
    }
    if (vm_name.empty() == vm_kernel.empty()) {
      std::fprintf(stderr,
                   "netns-conform-vm-probe: give exactly one of --vm NAME, --vm-kernel PATH\n");
      return 2;
    }
    if (suite_dir.empty() || out_dir.empty()) {
      std::fprintf(stderr, "netns-conform-vm-probe: --suite-dir and --out are required\n");
      return 2;
    }
    conform::vm::VmRunOptions o;
    conform::vm::FetchTimings fetch_t;
    if (vm_name == conform::vm::kNoNetnsKernelName) {
      auto k = conform::vm::CachedNoNetnsKernel(conform::vm::KernelCache::DefaultCacheRoot());
      if (!k)
        throw conform::vm::VmError(
            "the no-netns kernel is not built: run `netns-conform-vm-probe --build-kernel "
            "no-netns` first");
      o.kernel = *k;
    } else if (!vm_name.empty()) {
      o.kernel = cache.Get(vm_name, &fetch_t);
    } else {
      o.kernel = conform::vm::UserKernel({vm_kernel, vm_modules, vm_config});
    }
    o.runner_binary = std::filesystem::path(suite_dir) / "netns-conform";
    o.suite_binary = std::filesystem::path(suite_dir) / "netns-conform-suite";
    o.out_dir = std::filesystem::absolute(out_dir);
    for (const auto& f : filters) o.runner_args.insert(o.runner_args.end(), {"--filter", f});
    if (jobs > 0) o.runner_args.insert(o.runner_args.end(), {"-j", std::to_string(jobs)});
    if (case_timeout > 0)
      o.runner_args.insert(o.runner_args.end(), {"--timeout", std::to_string(case_timeout)});
    if (!machine.empty()) {
      o.machine = conform::vm::ParseMachine(machine);
      if (!o.machine) throw conform::vm::VmError("--machine must be microvm or q35");
    }
    if (accel == "kvm")
      o.accelerator = conform::vm::Accelerator::kKvm;
    else if (accel == "tcg")
      o.accelerator = conform::vm::Accelerator::kTcg;
    else if (!accel.empty())
      throw conform::vm::VmError("--accel must be kvm or tcg");
    o.cpus = cpus;
    o.memory_mib = memory;
    o.guest_nic = !no_nic;
    o.extra_cmdline = extra_cmdline;
    o.compression =
        gzip ? conform::vm::InitramfsCompression::kGzip : conform::vm::InitramfsCompression::kNone;
    o.boot_timeout = std::chrono::milliseconds(static_cast<long>(boot_timeout * 1000));
    o.run_timeout = std::chrono::milliseconds(static_cast<long>(run_timeout * 1000));
    o.boot_retries = retries;
    o.log = [](const std::string& line) { std::fprintf(stderr, "vm: %s\n", line.c_str()); };
    // SIGINT/SIGTERM stop the guest and let the library clean up (work folder, qemu).
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    o.should_stop = [] { return g_stop != 0; };

    const auto r = conform::vm::RunSuiteInVm(o);

    nlohmann::json m = {
        {"outcome", conform::vm::VmOutcomeName(r.outcome)},
        {"failure", r.failure},
        {"kernel", r.kernel_name},
        {"kernel_release", r.kernel_release},
        {"kernel_package", r.kernel_package},
        {"kernel_config", r.kernel_config.string()},
        {"kernel_config_source", r.kernel_config_source},
        {"machine", r.machine},
        {"machine_note", r.machine_note},
        {"accelerator", r.accelerator},
        {"guest_nic", r.guest_nic},
        {"fetched", fetch_t.fetched},
        {"fetch_download_s", fetch_t.download_s},
        {"fetch_extract_s", fetch_t.extract_s + fetch_t.depmod_s + fetch_t.vmlinux_s},
        {"initramfs_s", r.initramfs_s},
        {"initramfs_cached", r.initramfs_cached},
        {"initramfs_bytes", r.initramfs_bytes},
        {"boot_s", r.boot_s},
        {"runner_start_s", r.runner_start_s},
        {"guest_uptime_at_init_s", r.guest_uptime_at_init_s},
        {"qemu_s", r.qemu_s},
        {"total_s", r.total_s},
        {"retries", r.retries},
        {"runner_status", r.runner_status},
        {"kernel_problems", r.kernel_problems},
        {"missing_modules", r.missing_modules},
        {"results_dir", r.results_dir.string()},
        {"console_log", r.console_log.string()}};
    std::optional<conform::RunResult> run;
    if (r.outcome == conform::vm::VmOutcome::kCompleted) {
      run = conform::ReadResultsFile(r.results_dir / "results.json");
      const auto& s = run->summary;
      m["summary"] = {{"total", s.total},     {"passed", s.passed},        {"failed", s.failed},
                      {"skipped", s.skipped}, {"errors", s.errors},        {"timeouts", s.timeouts},
                      {"missed", s.missed},   {"duration_s", s.duration_s}};
      m["not_passed"] = nlohmann::json::array();
      for (const auto& c : run->cases) {
        if (c.status != conform::Status::kPass)
          m["not_passed"].push_back(
              {{"id", c.id}, {"status", conform::StatusName(c.status)}, {"reason", c.reason}});
      }
    }
    if (json) {
      std::cout << m.dump(1) << "\n";
    } else {
      std::printf("outcome      %s%s%s\n", conform::vm::VmOutcomeName(r.outcome),
                  r.failure.empty() ? "" : ": ", r.failure.c_str());
      std::printf("kernel       %s %s (%s), config: %s\n", r.kernel_name.c_str(),
                  r.kernel_release.c_str(), r.kernel_package.c_str(),
                  r.kernel_config_source.empty() ? "unknown" : r.kernel_config_source.c_str());
      std::printf("machine      %s, %s%s%s\n", r.machine.c_str(), r.accelerator.c_str(),
                  r.machine_note.empty() ? "" : "; not microvm: ", r.machine_note.c_str());
      if (fetch_t.fetched)
        std::printf("fetch        download %s, unpack+depmod+vmlinux %s\n",
                    Seconds(fetch_t.download_s).c_str(),
                    Seconds(fetch_t.extract_s + fetch_t.depmod_s + fetch_t.vmlinux_s).c_str());
      std::printf("initramfs    %ju KiB, %s %s\n", r.initramfs_bytes / 1024,
                  r.initramfs_cached ? "found in cache in" : "built in",
                  Seconds(r.initramfs_s).c_str());
      std::printf("boot         %s to the boot marker (guest clock %s), runner started at %s\n",
                  Seconds(r.boot_s).c_str(), Seconds(r.guest_uptime_at_init_s).c_str(),
                  Seconds(r.runner_start_s).c_str());
      std::printf("qemu         %s from start to exit; whole call %s; retries %d\n",
                  Seconds(r.qemu_s).c_str(), Seconds(r.total_s).c_str(), r.retries);
      if (!r.missing_modules.empty()) {
        std::string names;
        for (const auto& n : r.missing_modules) names += " " + n;
        std::printf("not modules %s (not built in either)\n", names.c_str());
      }
      for (const auto& line : r.kernel_problems) std::printf("KERNEL       %s\n", line.c_str());
      std::printf("console      %s\n", r.console_log.c_str());
      if (run) {
        const auto& s = run->summary;
        std::printf(
            "results      %d cases: %d passed, %d failed, %d skipped, %d errors, %d "
            "timeouts, %d missed; in-guest duration %s (runner exit %d)\n",
            s.total, s.passed, s.failed, s.skipped, s.errors, s.timeouts, s.missed,
            Seconds(s.duration_s).c_str(), r.runner_status);
        for (const auto& c : run->cases) {
          if (c.status == conform::Status::kPass) continue;
          std::printf("  %-7s %s: %s\n", conform::StatusName(c.status), c.id.c_str(),
                      c.reason.substr(0, c.reason.find('\n')).c_str());
        }
      }
    }
    if (!run) {
      std::fprintf(stderr, "netns-conform-vm-probe: %s\n--- console tail ---\n%s",
                   r.failure.c_str(), r.console_tail.c_str());
      return 2;
    }
    const auto& s = run->summary;
    return (s.failed + s.errors + s.timeouts + s.missed) > 0 ? 1 : 0;
  } catch (const conform::vm::VmError& e) {
    std::fprintf(stderr, "netns-conform-vm-probe: %s\n", e.what());
    return 2;
  } catch (const conform::ReportError& e) {
    std::fprintf(stderr, "netns-conform-vm-probe: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "netns-conform-vm-probe: internal error: %s\n", e.what());
    return 2;
  }
}
