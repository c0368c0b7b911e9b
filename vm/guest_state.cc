// The reuse sandbox's state folders and meta.json, and the guests found in them: see
// vm/guest_state.h and vm/reuse.h.
#include "vm/guest_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>
#include <type_traits>
#include <vector>

#include "vm/error.h"
#include "vm/processes.h"
#include "vm/timing.h"
#include "vm/tools.h"
#include "vm/unix_io.h"

namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace conform::vm {
namespace {

constexpr milliseconds kCleanupWait{5000};  // a dead supervisor's janitor cleaning up

bool IsDefaultRoot(const fs::path& root) { return root == "/run/netns-conform/vm"; }

unsigned trash_counter = 0;

// meta.json's fields, each named once: `field(key, member)` for every one. Writing and reading
// both walk this list.
template <class Info, class Visit>
void ForEachMetaField(Info& g, Visit&& field) {
  field("name", g.name);
  field("state", g.state);
  field("kernel", g.kernel_label);
  field("kernel_name", g.kernel_name);
  field("kernel_release", g.kernel_release);
  field("kernel_package", g.kernel_package);
  field("kernel_version", g.kernel_version);
  field("kernel_config", g.kernel_config);
  field("kernel_config_source", g.kernel_config_source);
  field("machine", g.machine);
  field("accelerator", g.accelerator);
  field("machine_note", g.machine_note);
  field("memory_mib", g.memory_mib);
  field("cpus", g.cpus);
  field("supervisor_pid", g.supervisor_pid);
  field("supervisor_start", g.supervisor_start);
  field("janitor_pid", g.janitor_pid);
  field("janitor_start", g.janitor_start);
  field("qemu_pid", g.qemu_pid);
  field("qemu_start", g.qemu_start);
  field("started_at", g.started_at);
  field("boot_s", g.boot_s);
  field("ready_s", g.ready_s);
  field("retries", g.retries);
  field("runs", g.runs);
  field("current_run", g.current_run);
  field("suite_binary", g.suite_binary);
  field("runner_binary", g.runner_binary);
  field("suite_stamp", g.suite_stamp);
}

nlohmann::json InfoToJson(const GuestInfo& g) {
  nlohmann::json j = nlohmann::json::object();
  ForEachMetaField(g, [&](const char* key, const auto& value) { j[key] = value; });
  return j;
}

// A missing key reads as its type's zero value.
GuestInfo InfoFromJson(const nlohmann::json& j) {
  GuestInfo g;
  ForEachMetaField(g, [&](const char* key, auto& value) {
    using Value = std::decay_t<decltype(value)>;
    value = j.value(key, Value{});
  });
  return g;
}

// Leftovers of starts and removals that were killed midway.
void CleanDebris(const fs::path& root) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".trash-", 0) == 0) {
      const std::string pid = name.substr(7, name.find('-', 7) - 7);
      if (!ProcessAlive(std::atoi(pid.c_str()), 0)) fs::remove_all(entry.path(), ec);
    } else if (name.rfind(".new-", 0) == 0) {
      if (!ProcessAlive(std::atoi(name.substr(5).c_str()), 0)) fs::remove_all(entry.path(), ec);
    }
  }
}

// The guest in `dir` when its supervisor is alive. A folder whose lock is held but whose
// supervisor is dead is being cleaned by its janitor: waited for.
std::optional<GuestInfo> LiveGuest(const fs::path& dir) {
  const auto deadline = Clock::now() + kCleanupWait;
  while (true) {
    if (CleanIfStale(dir)) return std::nullopt;
    auto info = ReadMeta(dir);
    if (info && ProcessAlive(info->supervisor_pid, info->supervisor_start)) return info;
    if (Clock::now() > deadline) return info;  // held by someone; report what it says
    std::this_thread::sleep_for(milliseconds(20));
  }
}

}  // namespace

std::string ReadIfThere(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "";
  try {
    return ReadFile(path);
  } catch (const VmError&) {
    return "";
  }
}

void WriteMeta(const fs::path& dir, const GuestInfo& g) {
  WriteFileReplacing(dir / "meta.json", InfoToJson(g).dump(2) + "\n", 0600);
}

std::optional<GuestInfo> ReadMeta(const fs::path& dir) {
  const std::string text = ReadIfThere(dir / "meta.json");
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    GuestInfo g = InfoFromJson(j);
    g.state_dir = dir;
    return g;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

void RemoveEmptyRoot() {
  const fs::path root = GuestStateRoot();
  if (rmdir(root.c_str()) == 0 && IsDefaultRoot(root)) rmdir(root.parent_path().c_str());
}

void RemoveDir(const fs::path& dir) {
  const fs::path trash = dir.parent_path() / (".trash-" + std::to_string(getpid()) + "-" +
                                              std::to_string(++trash_counter));
  std::error_code ec;
  if (rename(dir.c_str(), trash.c_str()) == 0) {
    fs::remove_all(trash, ec);
  } else if (errno != ENOENT) {
    fs::remove_all(dir, ec);
  }
}

bool CleanIfStale(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return true;
  Fd lock(open((dir / "lock").c_str(), O_RDONLY | O_CLOEXEC));
  if (!lock) {
    if (errno != ENOENT) return false;
    RemoveDir(dir);  // not a state folder this code made: a lock is made before the name is
    return true;
  }
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return false;  // a supervisor holds it
  struct stat held {
  }, now{};
  if (fstat(lock.get(), &held) != 0 || stat((dir / "lock").c_str(), &now) != 0 ||
      held.st_ino != now.st_ino || held.st_dev != now.st_dev)
    return !fs::exists(dir, ec);  // replaced meanwhile: someone else's now
  RemoveDir(dir);
  return true;
}

void CheckStatePath(const fs::path& root, const std::string& name) {
  const std::string s = root.string();
  if (s.find(',') != std::string::npos)
    throw VmError("the VM state folder must not contain a comma (qemu options): " + s);
  UnixAddress(root / name / "control.sock");  // throws when too long
}

fs::path GuestStateRoot() {
  const char* env = std::getenv("NETNS_CONFORM_VM_DIR");
  if (env && *env) return fs::absolute(env).lexically_normal();
  return "/run/netns-conform/vm";
}

bool ValidGuestName(const std::string& name) {
  if (name.empty() || name.size() > 32 || !std::isalnum(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
  });
}

nlohmann::json GuestInfoToJson(const GuestInfo& guest) {
  nlohmann::json j = InfoToJson(guest);
  j["uptime_s"] = guest.uptime_s();
  j["state_dir"] = guest.state_dir.string();
  return j;
}

double GuestInfo::uptime_s() const { return started_at > 0 ? UnixNow() - started_at : 0; }

std::vector<GuestInfo> ListGuests() {
  const fs::path root = GuestStateRoot();
  std::vector<GuestInfo> guests;
  std::error_code ec;
  if (!fs::exists(root, ec)) return guests;
  CleanDebris(root);
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.empty() && name[0] != '.' && entry.is_directory(ec)) dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs)
    if (auto info = LiveGuest(dir)) guests.push_back(*info);
  RemoveEmptyRoot();
  return guests;
}

std::optional<GuestInfo> FindGuest(const std::string& name) {
  if (!ValidGuestName(name)) return std::nullopt;
  const fs::path root = GuestStateRoot();
  auto info = LiveGuest(root / name);
  if (!info) RemoveEmptyRoot();
  return info;
}

}  // namespace conform::vm
