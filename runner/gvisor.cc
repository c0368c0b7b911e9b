#include "runner/gvisor.h"

#include <boost/process.hpp>
#include <iterator>

#include "runner/plan.h"

namespace bp = boost::process;

namespace conform {
namespace {

// Runs argv with TMPDIR set, returns its stdout; throws UsageError with its stderr on failure.
std::string Capture(const std::vector<std::string>& argv, const std::filesystem::path& tmpdir) {
  bp::ipstream out, err;
  bp::environment env = boost::this_process::environment();
  env["TMPDIR"] = tmpdir.string();
  bp::child child(argv.front(), bp::args(std::vector<std::string>(argv.begin() + 1, argv.end())),
                  bp::std_out > out, bp::std_err > err, bp::std_in < bp::null, env);
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

GvisorTarget PrepareGvisor(const std::filesystem::path& state_dir) {
  const auto runsc = bp::search_path("runsc");
  if (runsc.empty())
    throw UsageError("gvisor target: runsc is not installed (Debian package runsc)");
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) throw UsageError("gvisor target: cannot create " + state_dir.string());

  GvisorTarget target;
  target.wrapper = {runsc.string(), "--network=none", "--ignore-cgroups", "do"};
  target.runsc_version = FirstLine(Capture({runsc.string(), "--version"}, state_dir));
  std::vector<std::string> uname = target.wrapper;
  uname.insert(uname.end(), {"uname", "-r"});
  target.kernel_release = FirstLine(Capture(uname, state_dir));
  if (target.kernel_release.empty())
    throw UsageError("gvisor target: `runsc do uname -r` printed nothing");
  return target;
}

}  // namespace conform
