#include "toolconf/builtin_ref.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "fixtures/netlink.h"
#include "toolconf/observe.h"

namespace conform::toolconf {
namespace {

const std::string kRunDir = "/run/netns";

int Error(int code, const char* fmt, const std::string& a = "", const std::string& b = "") {
  std::fprintf(stderr, fmt, a.c_str(), b.c_str());
  std::fputc('\n', stderr);
  return code;
}

bool ValidName(const std::string& name) {
  return !name.empty() && name.size() <= NAME_MAX && name.find('/') == std::string::npos &&
         name != "." && name != "..";
}

std::vector<std::string> Names() {
  std::vector<std::string> names;
  if (DIR* dir = opendir(kRunDir.c_str())) {
    while (dirent* e = readdir(dir)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(dir);
  }
  return names;
}

// The run folder exists and is a shared mount of its own (ip's netns_add steps 1-3).
int PrepareRunDir() {
  if (mkdir(kRunDir.c_str(), 0755) != 0 && errno != EEXIST)
    return Error(1, "mkdir %s failed: %s", kRunDir, std::strerror(errno));
  for (bool bound = false;;) {
    if (mount("", kRunDir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return 0;
    if (errno != EINVAL || bound)
      return Error(1, "mount --make-shared %s failed: %s", kRunDir, std::strerror(errno));
    if (mount(kRunDir.c_str(), kRunDir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0)
      return Error(1, "mount --bind %s failed: %s", kRunDir, std::strerror(errno));
    bound = true;
  }
}

int Add(const std::string& name, const char* pid) {
  if (!ValidName(name)) return Error(255, "Invalid netns name \"%s\"", name);
  if (int rc = PrepareRunDir()) return rc;
  const int lock = open(kRunDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lock >= 0) flock(lock, LOCK_EX);
  const std::string path = kRunDir + "/" + name;
  const int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0)
    return Error(1, "Cannot create namespace file \"%s\": %s", path, std::strerror(errno));
  close(fd);
  const std::string source = pid ? "/proc/" + std::string(pid) + "/ns/net" : "/proc/self/ns/net";
  // A forked child makes the new netns: the caller's netns never changes.
  const pid_t child = fork();
  if (child == 0) {
    if (!pid && unshare(CLONE_NEWNET) != 0) _exit(10 + errno % 100);
    if (mount(source.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0) _exit(10 + errno % 100);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    unlink(path.c_str());
    const int err = WIFEXITED(status) ? WEXITSTATUS(status) - 10 : EIO;
    return Error(1, "Bind %s -> %s failed: ", source, path + std::strerror(err));
  }
  return 0;
}

int Del(const std::string& name) {
  const std::string path = kRunDir + "/" + name;
  umount2(path.c_str(), MNT_DETACH);
  if (unlink(path.c_str()) != 0)
    return Error(1, "Cannot remove namespace file \"%s\": %s", path, std::strerror(errno));
  return 0;
}

int OpenName(const std::string& name) {
  return open((kRunDir + "/" + name).c_str(), O_RDONLY | O_CLOEXEC);
}

int List() {
  RouteClient self;
  for (const auto& name : Names()) {
    std::printf("%s", name.c_str());
    const int fd = OpenName(name);
    if (fd >= 0) {
      try {
        const int nsid = self.GetNsid(fd);
        if (nsid >= 0) std::printf(" (id: %d)", nsid);
      } catch (const std::exception&) {
      }
      close(fd);
    }
    std::printf("\n");
  }
  return 0;
}

int ListId() {
  RouteClient self;
  std::vector<std::pair<int, std::string>> named;
  for (const auto& name : Names()) {
    const int fd = OpenName(name);
    if (fd < 0) continue;
    try {
      if (int nsid = self.GetNsid(fd); nsid >= 0) named.emplace_back(nsid, name);
    } catch (const std::exception&) {
    }
    close(fd);
  }
  for (int nsid : self.DumpNsids()) {
    std::printf("nsid %d", nsid);
    for (const auto& [id, name] : named)
      if (id == nsid) std::printf(" (iproute2 netns name: %s)", name.c_str());
    std::printf("\n");
  }
  return 0;
}

int Set(const std::string& name, const std::string& value) {
  int nsid = -1;
  if (value != "auto") {
    char* end = nullptr;
    const long n = std::strtol(value.c_str(), &end, 0);
    if (value.empty() || *end || n < 0 || n > INT_MAX)
      return Error(255, "\"netnsid\" value should be >= 0%s%s");
    nsid = static_cast<int>(n);
  }
  const int fd = OpenName(name);
  if (fd < 0)
    return Error(1, "Cannot open network namespace \"%s\": %s", name, std::strerror(errno));
  try {
    RouteClient().SetNsid(fd, nsid);
  } catch (const std::exception& e) {
    close(fd);
    return Error(2, "RTNETLINK answers: %s%s", e.what());
  }
  close(fd);
  return 0;
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

int Identify(const std::string& pid) {
  if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos)
    return Error(1, "Specified string '%s' is not a pid", pid);
  const std::string net = "/proc/" + pid + "/ns/net";
  if (access(net.c_str(), F_OK) != 0)
    return Error(1, "Cannot open pid %s network namespace: %s", pid, std::strerror(errno));
  for (const auto& name : Names())
    if (SameFile(net, kRunDir + "/" + name)) std::printf("%s\n", name.c_str());
  return 0;
}

int Pids(const std::string& name) {
  const std::string path = kRunDir + "/" + name;
  if (access(path.c_str(), F_OK) != 0)
    return Error(1, "Cannot open network namespace: %s%s", std::strerror(errno));
  if (DIR* dir = opendir("/proc")) {
    while (dirent* e = readdir(dir)) {
      std::string pid = e->d_name;
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      if (SameFile("/proc/" + pid + "/ns/net", path)) std::printf("%s\n", pid.c_str());
    }
    closedir(dir);
  }
  return 0;
}

int Exec(const std::string& name, char** cmd) {
  const int fd = OpenName(name);
  if (fd < 0)
    return Error(255, "Cannot open network namespace \"%s\": %s", name, std::strerror(errno));
  if (setns(fd, CLONE_NEWNET) != 0)
    return Error(255, "setting the network namespace \"%s\" failed: %s", name,
                 std::strerror(errno));
  close(fd);
  // Our own mount namespace, a slave of the caller's: nothing below reaches the caller.
  if (unshare(CLONE_NEWNS) != 0) return Error(1, "unshare failed: %s", std::strerror(errno));
  if (mount("", "/", "none", MS_SLAVE | MS_REC, nullptr) != 0)
    return Error(1, "\"mount --make-rslave /\" failed: %s", std::strerror(errno));
  // A sysfs of the new netns, so /sys/class/net shows its devices.
  umount2("/sys", MNT_DETACH);
  if (mount(name.c_str(), "/sys", "sysfs", 0, nullptr) != 0)
    return Error(1, "mount of /sys failed: %s", std::strerror(errno));
  const std::string etc = "/etc/netns/" + name;
  if (DIR* dir = opendir(etc.c_str())) {
    while (dirent* e = readdir(dir)) {
      std::string entry = e->d_name;
      if (entry == "." || entry == "..") continue;
      const std::string from = etc + "/" + entry, to = "/etc/" + entry;
      if (mount(from.c_str(), to.c_str(), "none", MS_BIND, nullptr) != 0)
        Error(0, "Bind %s -> %s failed", from, to);
    }
    closedir(dir);
  }
  execvp(cmd[0], cmd);
  return Error(1, "exec of \"%s\" failed: %s", cmd[0], std::strerror(errno));
}

// Names are nsfs mounts in the run folder: watch the mount table (POLLPRI on mountinfo), not
// the folder, so a stray file is not a name.
int Monitor() {
  if (mkdir(kRunDir.c_str(), 0755) != 0 && errno != EEXIST)
    return Error(1, "mkdir %s failed: %s", kRunDir, std::strerror(errno));
  auto names = [] {
    std::set<std::string> set;
    for (const auto& m : ReadMounts())
      if (m.fstype == "nsfs" && m.mount_point.rfind(kRunDir + "/", 0) == 0 &&
          m.mount_point.find('/', kRunDir.size() + 1) == std::string::npos)
        set.insert(m.mount_point.substr(kRunDir.size() + 1));
    return set;
  };
  const int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error(1, "open mountinfo failed: %s", std::strerror(errno));
  std::set<std::string> seen = names();
  for (;;) {
    pollfd pfd{fd, POLLPRI, 0};
    if (poll(&pfd, 1, -1) < 0 && errno != EINTR) return 1;
    char buf[4096];
    lseek(fd, 0, SEEK_SET);
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    const auto now = names();
    for (const auto& n : now)
      if (!seen.count(n)) std::printf("add %s\n", n.c_str());
    for (const auto& n : seen)
      if (!now.count(n)) std::printf("delete %s\n", n.c_str());
    std::fflush(stdout);
    seen = now;
  }
}

}  // namespace

int BuiltinRefMain(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  const bool all = !args.empty() && args[0] == "-all";
  if (all) args.erase(args.begin());
  if (args.empty()) return List();
  const std::string& op = args[0];
  auto arg = [&](size_t i) { return i < args.size() ? args[i] : std::string(); };
  try {
    if (op == "add") return Add(arg(1), nullptr);
    if (op == "attach") {
      if (args.size() < 3) return Error(1, "No netns name and pid specified%s%s");
      return Add(arg(1), args[2].c_str());
    }
    if (op == "del" || op == "delete") {
      if (all) {
        int rc = 0;
        for (const auto& name : Names()) rc |= Del(name);
        return rc;
      }
      if (args.size() < 2) return Error(1, "No netns name specified%s%s");
      return Del(arg(1));
    }
    if (op == "list") return List();
    if (op == "list-id") return ListId();
    if (op == "set") return Set(arg(1), arg(2));
    if (op == "identify") return Identify(args.size() > 1 ? arg(1) : std::to_string(getpid()));
    if (op == "pids") return Pids(arg(1));
    if (op == "exec") {
      if (args.size() < 3) return Error(1, "No command specified%s%s");
      // argv[0] is the op: the command starts at argv[2] (after "-all" when given).
      return Exec(arg(1), argv + (all ? 3 : 2));
    }
    if (op == "monitor") return Monitor();
  } catch (const std::exception& e) {
    return Error(1, "%s%s", e.what());
  }
  return Error(255, "Command \"%s\" is unknown%s", op);
}

}  // namespace conform::toolconf
