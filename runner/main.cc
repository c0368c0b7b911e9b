// netns-conform: runs the network-namespace conformance suite and writes its reports.
// Exit status: 0 nothing failed, 1 a case failed/errored/timed out (for `clauses`: the catalogue
// and the suite disagree), 2 usage or infrastructure.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "reports/json_report.h"
#include "runner/clauses_command.h"
#include "runner/matrix_command.h"
#include "runner/plan.h"
#include "runner/report_command.h"
#include "runner/run_command.h"
#include "runner/sandbox.h"
#include "runner/target.h"
#include "runner/vm_command.h"
#include "toolconf/tools_command.h"

namespace {

constexpr int kUsageExit = 2;

int Fail(const std::string& reason) {
  std::fprintf(stderr, "netns-conform: %s\n", reason.c_str());
  return kUsageExit;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"netns-conform: Linux network namespace conformance suite", "netns-conform"};
  // At most one; "none" is reported after parsing, so that an unknown word or option is named
  // as such instead of reading "A subcommand is required".
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", NETNS_CONFORM_VERSION);

  std::vector<std::string> filters;
  std::string suite_binary;

  auto* list = app.add_subcommand("list", "print every case with its clause id");
  bool list_json = false;
  list->add_option("--filter", filters, "only cases whose Suite.Case id matches this glob");
  list->add_flag("--json", list_json, "print JSON with each case's skip reason on this machine");
  list->add_option("--suite-binary", suite_binary, "the suite binary (default: beside the runner)");

  conform::RunOptions run_options;
  auto* run =
      app.add_subcommand("run", "run the cases, each in its own sandbox, and write reports");
  run->add_option("--filter", run_options.filters,
                  "only cases whose Suite.Case id matches this glob (repeatable)");
  run->add_option("-j,--jobs", run_options.jobs, "cases run in parallel (default: CPU count)")
      ->check(CLI::Range(1, 256));
  // Not CLI::PositiveNumber: its message prints DBL_MAX in full.
  run->add_option("--timeout", run_options.timeout_s, "per-case wall-clock limit in seconds")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            char* end = nullptr;
            const double seconds = std::strtod(value.c_str(), &end);
            if (end != value.c_str() && *end == '\0' && seconds > 0 && seconds <= 1e6) return "";
            return "'" + value + "' is not a number of seconds in (0, 1000000]";
          },
          "SECONDS"));
  std::string out_dir = run_options.out_dir.string();
  run->add_option("--out", out_dir, "output folder for results.json, junit.xml, logs/")
      ->capture_default_str();
  std::string spare_nic;
  run->add_option("--spare-nic", spare_nic,
                  "a physical NIC that is DOWN with no addresses, lent to the device-refund cases");
  run->add_option("--suite-binary", run_options.suite_binary, "the suite binary");
  run->add_option("--expect", run_options.expect_files,
                  "expected results (known kernel bugs): a FAIL they expect is XFAIL and does not "
                  "fail the run (repeatable; e.g. suites/known-kernel-deviations.json)");
  std::string launcher = "fork-server";
  run->add_option("--launcher", launcher,
                  "how each case starts: fork-server (default: the suite binary started once, "
                  "one clone3 per case) or exec (one sandbox launcher and suite process per case)")
      ->check(CLI::IsMember({"fork-server", "exec"}));
  std::string target_name;
  auto* target = run->add_option("--target", target_name,
                                 "host (default: the running kernel in place), gvisor (runsc "
                                 "--network=none), or a VM kernel of `netns-conform kernel list`");
  std::string shard_text;
  run->add_option("--shard", shard_text,
                  "run shard K of N (K/N): a deterministic split; merge the shards with "
                  "`netns-conform report merge`");
  conform::VmSelection vm;
  auto* vm_name = run->add_option("--vm", vm.name,
                                  "run in a disposable qemu guest booting this kernel (see "
                                  "`netns-conform kernel list`)");
  auto* vm_kernel = run->add_option("--vm-kernel", vm.kernel_path,
                                    "run in a qemu guest booting this kernel image (bzImage, "
                                    "vmlinuz or vmlinux)")
                        ->check(CLI::ExistingFile);
  vm_name->excludes(vm_kernel);
  run->add_option("--vm-modules", vm.modules_dir, "modules of --vm-kernel (lib/modules/<release>)")
      ->check(CLI::ExistingDirectory)
      ->needs(vm_kernel);
  run->add_option("--vm-config", vm.config_path, "the .config --vm-kernel was built from")
      ->check(CLI::ExistingFile)
      ->needs(vm_kernel);
  auto* vm_machine = run->add_option("--vm-machine", vm.machine,
                                     "qemu machine: microvm or q35 (default: by kernel)");
  auto* vm_boot_timeout =
      run->add_option("--vm-boot-timeout", vm.boot_timeout_s, "seconds for the guest to boot")
          ->check(CLI::Range(1.0, 3600.0));
  std::string attach_name;
  auto* attach = run->add_option("--attach", attach_name,
                                 "run in the guest `netns-conform vm start NAME` keeps booted");
  attach->excludes(vm_name)->excludes(vm_kernel)->excludes(vm_machine)->excludes(vm_boot_timeout);
  target->excludes(vm_name)->excludes(vm_kernel)->excludes(attach);

  conform::ClausesOptions clauses_options;
  auto* clauses = app.add_subcommand(
      "clauses", "print clause coverage per document: covered, untestable, uncovered");
  clauses->add_flag("--uncovered", clauses_options.uncovered,
                    "also list every uncovered clause with its text");
  clauses->add_flag("--json", clauses_options.json, "print JSON");
  clauses->add_option("--suite-binary", clauses_options.suite_binary,
                      "the suite binary (default: beside the runner)");

  auto* kernel = app.add_subcommand("kernel", "kernels for the VM sandbox");
  kernel->require_subcommand(1);
  auto* kernel_list = kernel->add_subcommand("list", "what is cached and what can be fetched");
  bool kernel_offline = false;
  kernel_list->add_flag("--offline", kernel_offline, "do not ask apt what can be fetched");
  auto* kernel_build =
      kernel->add_subcommand("build", "build a kernel: no-netns (CONFIG_NET_NS=n)");
  std::string build_name;
  bool build_force = false;
  kernel_build->add_option("name", build_name, "no-netns")->required();
  kernel_build->add_flag("--force", build_force, "rebuild even when cached");

  auto* vm_cmd = app.add_subcommand(
      "vm", "keep a qemu guest booted and run the suite in it repeatedly (`run --attach NAME`)");
  vm_cmd->require_subcommand(1);
  conform::VmStartOptions start_options;
  auto* vm_start =
      vm_cmd->add_subcommand("start", "boot a guest in the background; returns once it is ready");
  vm_start->add_option("name", start_options.name, "the guest's name")->required();
  auto* start_vm = vm_start->add_option("--vm", start_options.vm.name,
                                        "boot this kernel (see `netns-conform kernel list`)");
  auto* start_kernel = vm_start
                           ->add_option("--vm-kernel", start_options.vm.kernel_path,
                                        "boot this kernel image (bzImage, vmlinuz or vmlinux)")
                           ->check(CLI::ExistingFile);
  start_vm->excludes(start_kernel);
  vm_start
      ->add_option("--vm-modules", start_options.vm.modules_dir,
                   "modules of --vm-kernel (lib/modules/<release>)")
      ->check(CLI::ExistingDirectory)
      ->needs(start_kernel);
  vm_start
      ->add_option("--vm-config", start_options.vm.config_path,
                   "the .config --vm-kernel was built from")
      ->check(CLI::ExistingFile)
      ->needs(start_kernel);
  vm_start->add_option("--vm-machine", start_options.vm.machine,
                       "qemu machine: microvm or q35 (default: by kernel)");
  vm_start
      ->add_option("--vm-boot-timeout", start_options.vm.boot_timeout_s,
                   "seconds for the guest to boot")
      ->check(CLI::Range(1.0, 3600.0));
  vm_start->add_option("--suite-binary", start_options.suite_binary,
                       "the suite binary copied into the guest (default: beside the runner)");
  auto* vm_list = vm_cmd->add_subcommand("list", "the running guests");
  bool vm_list_json = false;
  vm_list->add_flag("--json", vm_list_json, "print JSON");
  auto* vm_stop = vm_cmd->add_subcommand("stop", "power a guest off and remove its state");
  std::string stop_name;
  double stop_timeout_s = 20;
  vm_stop->add_option("name", stop_name, "the guest's name")->required();
  vm_stop
      ->add_option("--timeout", stop_timeout_s,
                   "seconds to wait for it to go before killing it (default 20)")
      ->check(CLI::Range(1.0, 3600.0));

  conform::MatrixOptions matrix_options;
  auto* matrix = app.add_subcommand(
      "matrix", "run several targets (and tools) and write matrix.json and matrix.html");
  matrix->add_option("--target", matrix_options.targets,
                     "host, gvisor or a VM kernel (repeatable; default: host, gvisor, "
                     "debian-6.1-cloud, debian-6.12, no-netns)");
  matrix->add_option("--tool", matrix_options.tools,
                     "also a column per tool of `netns-conform tools` (repeatable)");
  matrix->add_option("--filter", matrix_options.filters,
                     "only cases whose Suite.Case id matches this glob (repeatable)");
  matrix
      ->add_option(
          "-p,--parallel", matrix_options.parallel,
          "VM targets booted at once, with host, gvisor and tools beside them (default: the "
          "CPU count with KVM; under TCG one target at a time)")
      ->check(CLI::Range(1, 64));
  matrix->add_option("--timeout", matrix_options.timeout_s, "per-case limit in seconds")
      ->check(CLI::Range(1.0, 1e6));
  matrix->add_option("--expect", matrix_options.expect_files,
                     "expected results, passed to every target's run (repeatable)");
  std::string matrix_launcher = "fork-server";
  matrix->add_option("--launcher", matrix_launcher, "passed to every target's run")
      ->check(CLI::IsMember({"fork-server", "exec"}));
  std::string matrix_out = matrix_options.out_dir.string();
  matrix->add_option("--out", matrix_out, "output folder")->capture_default_str();

  conform::ToolsOptions tools_options;
  auto* tools = app.add_subcommand(
      "tools", "run the tool scenarios against netns tools and compare each with the reference");
  tools->add_option("--tool", tools_options.tools,
                    "netns-ref, builtin-ref, ip, util-linux, pyroute2, busybox or a PROFILE.json "
                    "(repeatable; default: all built-ins)");
  tools->add_option("--tool-path", tools_options.tool_paths,
                    "the program of a tool: PATH (for ip) or NAME=PATH (repeatable)");
  tools->add_option("--filter", tools_options.filters, "only scenarios matching this glob");
  tools->add_option("-j,--jobs", tools_options.jobs, "cases run in parallel")
      ->check(CLI::Range(1, 256));
  tools->add_option("--timeout", tools_options.timeout_s, "per-case limit in seconds")
      ->check(CLI::Range(1.0, 1e6));
  tools->add_option("--expect", tools_options.expect_files,
                    "expected results; only entries with a \"tool\" apply (repeatable)");
  std::string tools_out = tools_options.out_dir.string();
  tools->add_option("--out", tools_out, "output folder")->capture_default_str();

  // `report merge|diff|convert`: results.json of earlier runs (runner/report_command.h).
  const conform::ReportSubcommand report(app);

  // Internal: how the runner starts a case inside its sandbox.
  std::vector<std::string> sandbox_argv;
  conform::SandboxOptions sandbox_options;
  auto* sandbox = app.add_subcommand("sandbox-exec", "")->group("");
  sandbox->add_flag_callback(conform::kInitialPidNsFlag,
                             [&] { sandbox_options.new_pid_ns = false; });
  sandbox->add_option("command", sandbox_argv)->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return Fail(std::string(e.what()) + " (see --help)");
  }

  if (app.get_subcommands().empty())
    return Fail(
        "a subcommand is required: list, run, matrix, report, tools, clauses, kernel or vm (see "
        "--help)");

  try {
    if (*sandbox) conform::SandboxExec(sandbox_argv, sandbox_options);
    if (report.chosen()) return report.Run();
    if (*list) return conform::ListCommand(filters, suite_binary, list_json);
    if (*clauses) return conform::ClausesCommand(clauses_options);
    if (*tools) {
      tools_options.out_dir = tools_out;
      return conform::ToolsCommand(tools_options);
    }
    if (*matrix) {
      matrix_options.out_dir = matrix_out;
      matrix_options.exec_launcher = matrix_launcher == "exec";
      return conform::MatrixCommand(matrix_options);
    }
    if (*kernel_list) return conform::KernelListCommand(!kernel_offline);
    if (*kernel_build) return conform::KernelBuildCommand(build_name, build_force);
    if (*vm_start) return conform::VmStartCommand(start_options);
    if (*vm_list) return conform::VmListCommand(vm_list_json);
    if (*vm_stop) return conform::VmStopCommand(stop_name, stop_timeout_s);
    run_options.out_dir = out_dir;
    run_options.launcher =
        launcher == "exec" ? conform::LauncherKind::kExec : conform::LauncherKind::kForkServer;
    if (!spare_nic.empty()) run_options.spare_nic = spare_nic;
    if (!shard_text.empty()) run_options.shard = conform::ParseShard(shard_text);
    if (!target_name.empty()) {
      const conform::Target chosen = conform::ResolveTarget(target_name);
      run_options.target = chosen.name;
      if (chosen.kind == conform::TargetKind::kVm) vm.name = chosen.name;
    }
    if (!attach_name.empty()) return conform::RunAttachCommand(run_options, attach_name);
    if (vm.chosen()) {
      if (target_name.empty()) run_options.target = vm.name.empty() ? "vm-kernel" : vm.name;
      return conform::RunVmCommand(run_options, vm);
    }
    return conform::RunCommand(run_options);
  } catch (const conform::UsageError& e) {
    return Fail(e.what());
  } catch (const conform::InfrastructureError& e) {
    return Fail(e.what());
  } catch (const conform::ReportError& e) {
    return Fail(e.what());
  } catch (const std::exception& e) {
    return Fail(std::string("internal error: ") + e.what());
  }
}
