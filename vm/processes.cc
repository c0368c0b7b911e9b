// Processes of the reuse sandbox as /proc shows them, and a daemon's descriptors and stdio: see
// vm/processes.h.
#include "vm/processes.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace fs = std::filesystem;

namespace conform::vm {

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(paren + 1));
  std::vector<std::string> f;
  for (std::string w; fields >> w;) f.push_back(w);
  if (f.size() < 20) return std::nullopt;
  ProcStat st;
  st.state = f[0].empty() ? '?' : f[0][0];
  st.start = std::strtoull(f[19].c_str(), nullptr, 10);
  return st;
}

bool ProcessAlive(pid_t pid, unsigned long long start) {
  auto st = ReadProcStat(pid);
  if (!st || st->state == 'Z' || st->state == 'X') return false;
  return start == 0 || st->start == start;
}

unsigned long long StartOf(pid_t pid) {
  auto st = ReadProcStat(pid);
  return st ? st->start : 0;
}

void CloseFdsExcept(const std::set<int>& keep) {
  std::vector<int> fds;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") == std::string::npos) fds.push_back(std::stoi(name));
  }
  for (int fd : fds)
    if (fd > 2 && !keep.count(fd)) close(fd);
}

void RedirectStdio(const fs::path& log) {
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  int out = log.empty() ? -1 : open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out < 0) out = null_fd;
  if (null_fd >= 0) dup2(null_fd, 0);
  if (out >= 0) {
    dup2(out, 1);
    dup2(out, 2);
  }
  if (out >= 0 && out != null_fd) close(out);
  if (null_fd >= 0) close(null_fd);
}

}  // namespace conform::vm
