#include "runner/gvisor.h"

#include <unistd.h>

#include <boost/process.hpp>
#include <iterator>

#include "runner/plan.h"
#include "vm/kernel_cache.h"

namespace bp = boost::process;

namespace conform {
namespace {

// Runs argv, returns its stdout; throws UsageError with its stderr's first line on failure.
std::string Capture(const std::vector<std::string>& argv) {
  bp::ipstream out, err;
  bp::child child(argv.front(), bp::args(std::vector<std::string>(argv.begin() + 1, argv.end())),
                  bp::std_out > out, bp::std_err > err, bp::std_in < bp::null);
  std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  std::string errors((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  child.wait();
  if (child.exit_code() != 0) {
    std::string command;
    for (const auto& arg : argv) command += (command.empty() ? "" : " ") + arg;
    const auto first_line = errors.substr(0, errors.find('\n'));
    throw UsageError("gvisor target: `" + command + "` exited with " +
                     std::to_string(child.exit_code()) +
                     (first_line.empty() ? "" : ": " + first_line));
  }
  return text;
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

GvisorTarget PrepareGvisor(const std::filesystem::path& launcher) {
  const auto runsc = bp::search_path("runsc");
  if (runsc.empty())
    throw UsageError("gvisor target: runsc is not installed (Debian package runsc)");
  if (access(launcher.c_str(), X_OK) != 0)
    throw UsageError("gvisor target: " + launcher.string() + " is missing (build the project)");
  const auto state_dir = vm::KernelCache::DefaultCacheRoot() / "runsc-state";
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec)
    throw UsageError("gvisor target: cannot create " + state_dir.string() + ": " + ec.message());
  std::filesystem::permissions(state_dir, std::filesystem::perms(0755), ec);

  GvisorTarget target;
  target.wrapper = {launcher.string(), "--private-tmpfs", state_dir.string(), "--",
                    runsc.string(),    "--network=none",  "--ignore-cgroups", "do"};
  target.runsc_version = FirstLine(Capture({runsc.string(), "--version"}));
  std::vector<std::string> uname = target.wrapper;
  uname.insert(uname.end(), {"uname", "-r"});
  target.kernel_release = FirstLine(Capture(uname));
  if (target.kernel_release.empty())
    throw UsageError("gvisor target: `runsc do uname -r` printed nothing");
  return target;
}

}  // namespace conform
