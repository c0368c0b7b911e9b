#include "vm/tools.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>

#include "vm/child_setup.h"
#include "vm/error.h"

namespace bp = boost::process;

namespace conform::vm {
namespace {

std::string LastLine(const std::string& text) {
  const auto end = text.find_last_not_of("\n \t");
  if (end == std::string::npos) return "";
  const auto newline = text.rfind('\n', end);
  const size_t start = newline == std::string::npos ? 0 : newline + 1;
  return text.substr(start, end + 1 - start);
}

}  // namespace

std::optional<std::filesystem::path> FindTool(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) == 0) return std::filesystem::path(name);
    return std::nullopt;
  }
  auto found = bp::search_path(name);
  if (found.empty()) {
    // root's PATH normally has the sbin folders; a caller's environment may not.
    for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
      auto candidate = std::filesystem::path(dir) / name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return std::nullopt;
  }
  return std::filesystem::path(found.string());
}

ToolResult RunTool(const std::vector<std::string>& argv, const ToolOptions& options,
                   const std::string& package) {
  if (argv.empty()) throw VmError("internal: empty argv");
  auto exe = FindTool(argv[0]);
  if (!exe) {
    throw VmError(argv[0] + " not found" +
                  (package.empty() ? "" : " (install the Debian package " + package + ")"));
  }
  boost::asio::io_context ios;
  std::future<std::string> out, err;
  bp::environment env = boost::this_process::environment();
  for (const auto& [key, value] : options.env) env[key] = value;
  const std::vector<std::string> args(argv.begin() + 1, argv.end());
  const auto cwd = options.cwd.empty() ? std::filesystem::current_path() : options.cwd;
  std::unique_ptr<bp::child> child;
  try {
    child = std::make_unique<bp::child>(
        exe->string(), bp::args(args), bp::std_in<bp::null, bp::std_out> out, bp::std_err > err,
        ios, env, bp::start_dir(cwd.string()), ChildSetup(getpid()));
  } catch (const std::exception& e) {
    throw VmError("cannot start " + argv[0] + ": " + e.what());
  }
  ios.run_for(options.timeout);
  bool timed_out = false;
  if (!ios.stopped()) {
    timed_out = true;
    kill(-child->id(), SIGKILL);
    ios.run();
  }
  std::error_code ec;
  child->wait(ec);
  ToolResult result;
  result.out = out.get();
  result.err = err.get();
  const int native = child->native_exit_code();
  if (!timed_out && WIFEXITED(native)) result.exit_code = WEXITSTATUS(native);
  if (timed_out) result.err += "\n(killed after " + std::to_string(options.timeout.count()) + " s)";
  return result;
}

ToolResult RunToolChecked(const std::vector<std::string>& argv, const std::string& what,
                          const ToolOptions& options, const std::string& package) {
  auto result = RunTool(argv, options, package);
  if (result.exit_code != 0) {
    std::string line = LastLine(result.err);
    if (line.empty()) line = LastLine(result.out);
    throw VmError(what + ": " + argv[0] + " exited with " + std::to_string(result.exit_code) +
                  (line.empty() ? "" : ": " + line));
  }
  return result;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw VmError("cannot read " + path.string() + ": " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw VmError("cannot read " + path.string());
  return std::move(content).str();
}

void WriteFileReplacing(const std::filesystem::path& path, const std::string& content,
                        unsigned mode) {
  auto tmp = path;
  tmp += ".tmp-" + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw VmError("cannot create " + tmp.string() + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int saved = errno;
      close(fd);
      unlink(tmp.c_str());
      throw VmError("cannot write " + tmp.string() + ": " + std::strerror(saved));
    }
    done += static_cast<size_t>(n);
  }
  fchmod(fd, mode);
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    unlink(tmp.c_str());
    throw VmError("cannot rename " + tmp.string() + " to " + path.string() + ": " +
                  std::strerror(saved));
  }
}

void ContentHash::Add(std::string_view bytes) {
  for (unsigned char c : bytes) {
    a_ = (a_ ^ c) * 0x100000001b3ULL;
    b_ = (b_ ^ (c + 0x5bU)) * 0x100000001b3ULL;
  }
}

void ContentHash::AddField(std::string_view field) {
  Add(std::to_string(field.size()));
  Add(":");
  Add(field);
}

std::string ContentHash::Hex() const {
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", a_, b_);
  return buf;
}

}  // namespace conform::vm
