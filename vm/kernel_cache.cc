#include "vm/kernel_cache.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "vm/error.h"
#include "vm/file_lock.h"
#include "vm/kernel_image.h"
#include "vm/timing.h"
#include "vm/tools.h"

namespace fs = std::filesystem;

namespace conform::vm {
namespace {

constexpr const char* kManifest = "kernel.json";

const KernelSpec* FindSpec(const std::string& name) {
  for (const auto& spec : KnownKernels())
    if (spec.name == name) return &spec;
  return nullptr;
}

std::string KnownNames() {
  std::string names;
  for (const auto& spec : KnownKernels()) names += (names.empty() ? "" : ", ") + spec.name;
  return names;
}

struct Candidate {
  std::string package, version;
};

// The versioned image package a meta-package depends on today, and its candidate version.
std::optional<Candidate> ResolvePackage(const std::string& meta, std::string* why) {
  auto depends = RunTool({"apt-cache", "depends", meta}, {}, "apt");
  std::istringstream lines(depends.out);
  Candidate c;
  for (std::string line; std::getline(lines, line);) {
    auto at = line.find("Depends: linux-image-");
    if (at != std::string::npos && line.find('<') == std::string::npos) {
      c.package = line.substr(at + std::strlen("Depends: "));
      break;
    }
  }
  if (depends.exit_code != 0 || c.package.empty()) {
    *why = "apt knows no package " + meta + " (run `apt-get update`?)";
    return std::nullopt;
  }
  auto show = RunTool({"apt-cache", "show", "--no-all-versions", c.package}, {}, "apt");
  std::istringstream fields(show.out);
  for (std::string line; std::getline(fields, line);) {
    if (line.rfind("Version: ", 0) == 0) c.version = line.substr(9);
  }
  if (show.exit_code != 0 || c.version.empty()) {
    *why = "apt-cache show " + c.package + " gave no version (run `apt-get update`?)";
    return std::nullopt;
  }
  return c;
}

fs::path Rel(const fs::path& p, const fs::path& base) {
  return p.empty() ? fs::path() : fs::relative(p, base);
}
fs::path Abs(const std::string& p, const fs::path& base) {
  return p.empty() ? fs::path() : base / p;
}

void WriteManifest(const fs::path& dir, const Kernel& k) {
  nlohmann::json j = {{"name", k.name},
                      {"package", k.package},
                      {"package_version", k.package_version},
                      {"release", k.release},
                      {"version", k.version},
                      {"image", Rel(k.image, dir).string()},
                      {"boot_image", Rel(k.boot_image, dir).string()},
                      {"config", Rel(k.config, dir).string()},
                      {"config_source", k.config_source},
                      {"modules_dir", Rel(k.modules_dir, dir).string()},
                      {"system_map", Rel(k.system_map, dir).string()}};
  WriteFileReplacing(dir / kManifest, j.dump(1) + "\n");
}

std::optional<Kernel> ReadManifest(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir / kManifest, ec)) return std::nullopt;
  auto j = nlohmann::json::parse(ReadFile(dir / kManifest), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  Kernel k;
  k.name = j.value("name", "");
  k.package = j.value("package", "");
  k.package_version = j.value("package_version", "");
  k.release = j.value("release", "");
  k.version = j.value("version", "");
  k.image = Abs(j.value("image", ""), dir);
  k.boot_image = Abs(j.value("boot_image", ""), dir);
  k.config = Abs(j.value("config", ""), dir);
  k.config_source = j.value("config_source", "");
  k.modules_dir = Abs(j.value("modules_dir", ""), dir);
  k.system_map = Abs(j.value("system_map", ""), dir);
  if (k.boot_image.empty() || !fs::exists(k.boot_image, ec)) return std::nullopt;
  return k;
}

// lib/modules/<release> in an unpacked package (Debian 12 ships /lib/modules; later /usr/lib).
fs::path FindModulesDir(const fs::path& root, std::string* release) {
  for (const char* base : {"lib/modules", "usr/lib/modules"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root / base, ec)) {
      if (entry.is_directory()) {
        *release = entry.path().filename().string();
        return entry.path();
      }
    }
  }
  return {};
}

// .<name>.tmp-<pid> folders of fetches that were killed; called under the name's lock.
void RemoveStaleFetches(const fs::path& dir, const std::string& name) {
  const std::string prefix = "." + name + ".tmp-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(prefix, 0) != 0) continue;
    const std::string pid = file.substr(prefix.size());
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH)
      fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

const std::vector<KernelSpec>& KnownKernels() {
  static const std::vector<KernelSpec> specs = {
      {"debian-6.1", "linux-image-amd64", "Debian 12 kernel 6.1, generic amd64"},
      {"debian-6.1-cloud", "linux-image-cloud-amd64", "Debian 12 kernel 6.1, cloud flavour"},
      {"debian-6.1-rt", "linux-image-rt-amd64", "Debian 12 kernel 6.1, PREEMPT_RT"},
      {"debian-6.12", "linux-image-6.12-amd64", "Debian 12 kernel 6.12 (bookworm updates)"},
      {"debian-6.12-cloud", "linux-image-6.12-cloud-amd64", "Debian 12 kernel 6.12, cloud flavour"},
  };
  return specs;
}

fs::path KernelCache::DefaultCacheRoot() {
  if (const char* env = std::getenv("NETNS_CONFORM_CACHE"); env && *env) return env;
  return "/var/cache/netns-conform";
}

KernelCache::KernelCache(const fs::path& cache_root) : dir_(cache_root / "kernels") {}

std::optional<Kernel> KernelCache::Cached(const std::string& name) const {
  return ReadManifest(dir_ / name);
}

Kernel KernelCache::Get(const std::string& name, FetchTimings* timings) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.')
    throw VmError("bad kernel name '" + name + "'");
  if (auto cached = Cached(name)) return *cached;
  const KernelSpec* spec = FindSpec(name);
  if (!spec) {
    throw VmError("unknown kernel '" + name + "': known are " + KnownNames() +
                  " (see `netns-conform kernel list`)");
  }
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw VmError("cannot create " + dir_.string() + ": " + ec.message());
  ExclusiveFileLock lock(dir_ / (name + ".lock"));
  if (auto cached = Cached(name)) return *cached;  // another run fetched it meanwhile
  RemoveStaleFetches(dir_, name);
  return Fetch(*spec, timings);
}

Kernel KernelCache::Fetch(const KernelSpec& spec, FetchTimings* timings) {
  FetchTimings local;
  FetchTimings& t = timings ? *timings : local;
  t.fetched = true;
  auto start = Clock::now();
  std::string why;
  auto candidate = ResolvePackage(spec.meta_package, &why);
  if (!candidate) throw VmError("cannot fetch kernel " + spec.name + ": " + why);
  t.resolve_s = Since(start);

  const fs::path final_dir = dir_ / spec.name;
  const fs::path tmp = dir_ / ("." + spec.name + ".tmp-" + std::to_string(getpid()));
  fs::remove_all(tmp);
  fs::remove_all(final_dir);  // a folder without a manifest is an interrupted fetch
  fs::create_directories(tmp);
  struct RemoveTmp {
    fs::path dir;
    ~RemoveTmp() {
      std::error_code ec;
      if (!dir.empty()) fs::remove_all(dir, ec);
    }
  } cleanup{tmp};

  start = Clock::now();
  RunToolChecked({"apt-get", "download", "-q", "-o", "APT::Sandbox::User=root",
                  candidate->package + "=" + candidate->version},
                 "apt-get download " + candidate->package, {.cwd = tmp}, "apt");
  fs::path deb;
  for (const auto& entry : fs::directory_iterator(tmp))
    if (entry.path().extension() == ".deb") deb = entry.path();
  if (deb.empty()) throw VmError("apt-get download " + candidate->package + " left no .deb");
  t.download_s = Since(start);

  start = Clock::now();
  const fs::path root = tmp / "root";
  RunToolChecked({"dpkg", "-x", deb.string(), root.string()}, "dpkg -x " + deb.filename().string(),
                 {}, "dpkg");
  fs::remove(deb);
  t.extract_s = Since(start);

  Kernel k;
  k.name = spec.name;
  k.package = candidate->package;
  k.package_version = candidate->version;
  k.modules_dir = FindModulesDir(root, &k.release);
  if (k.release.empty()) throw VmError(candidate->package + " holds no lib/modules/<release>");
  k.image = root / "boot" / ("vmlinuz-" + k.release);
  if (!fs::exists(k.image))
    throw VmError(candidate->package + " holds no boot/vmlinuz-" + k.release);
  if (fs::exists(root / "boot" / ("config-" + k.release))) {
    k.config = root / "boot" / ("config-" + k.release);
    k.config_source = "package";
  }
  const auto map = root / "boot" / ("System.map-" + k.release);
  if (fs::exists(map) && fs::file_size(map) > 4096) k.system_map = map;

  start = Clock::now();
  // The .debs ship no modules.dep; the initramfs builder resolves dependencies through it.
  RunToolChecked({"depmod", "-b", root.string(), k.release}, "depmod for " + k.release, {}, "kmod");
  t.depmod_s = Since(start);

  start = Clock::now();
  const std::string image_bytes = ReadFile(k.image);
  const auto info = InspectKernelImage(image_bytes, k.image.string());
  k.version = info.version;
  if (!info.release.empty() && info.release != k.release) {
    throw VmError(k.image.string() + " says release " + info.release + " but its modules are for " +
                  k.release);
  }
  const fs::path boot = PrepareBootImage(image_bytes, k.image, tmp);
  t.vmlinux_s = Since(start);

  // Paths in the manifest are relative to the kernel's folder, so they hold after the rename.
  k.boot_image = boot;
  WriteManifest(tmp, k);
  fs::rename(tmp, final_dir);
  cleanup.dir.clear();
  auto cached = Cached(spec.name);
  if (!cached) throw VmError("the fetched kernel " + spec.name + " is unreadable in the cache");
  return *cached;
}

std::vector<KernelListEntry> KernelCache::List(bool query_apt) const {
  std::vector<KernelListEntry> list;
  auto fill_cached = [&](KernelListEntry& e) {
    if (auto k = Cached(e.name)) {
      e.cached = true;
      e.cached_package = k->package;
      e.cached_version = k->package_version;
      e.release = k->release;
      e.dir = dir_ / e.name;
    }
  };
  for (const auto& spec : KnownKernels()) {
    KernelListEntry e{.name = spec.name, .description = spec.description};
    fill_cached(e);
    if (query_apt) {
      std::string why;
      if (auto c = ResolvePackage(spec.meta_package, &why)) {
        e.fetchable = true;
        e.candidate_package = c->package;
        e.candidate_version = c->version;
        if (e.cached && e.cached_package != c->package)
          e.note = "apt now has " + c->package + " " + c->version;
      } else {
        e.note = why;
      }
    }
    list.push_back(std::move(e));
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name[0] == '.' || FindSpec(name)) continue;
    KernelListEntry e{.name = name, .description = "built or adopted locally"};
    fill_cached(e);
    if (e.cached) list.push_back(std::move(e));
  }
  return list;
}

Kernel KernelCache::Adopt(const std::string& name, const UserKernelPaths& paths) {
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.' || FindSpec(name))
    throw VmError("cannot adopt a kernel as '" + name + "'");
  Kernel user = UserKernel(paths, dir_.parent_path());
  std::error_code ec;
  fs::create_directories(dir_, ec);
  ExclusiveFileLock lock(dir_ / (name + ".lock"));
  const fs::path final_dir = dir_ / name;
  const fs::path tmp = dir_ / ("." + name + ".tmp-" + std::to_string(getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp / "boot");
  Kernel k = user;
  k.name = name;
  fs::copy_file(user.image, tmp / "boot" / "vmlinuz", fs::copy_options::overwrite_existing);
  k.image = tmp / "boot" / "vmlinuz";
  if (user.boot_image != user.image) {
    fs::copy_file(user.boot_image, tmp / "vmlinux", fs::copy_options::overwrite_existing);
    k.boot_image = tmp / "vmlinux";
  } else {
    k.boot_image = k.image;
  }
  if (!user.config.empty()) {
    fs::copy_file(user.config, tmp / "boot" / "config", fs::copy_options::overwrite_existing);
    k.config = tmp / "boot" / "config";
  }
  if (!user.modules_dir.empty()) {
    const fs::path modules = tmp / "root" / "lib" / "modules" / k.release;
    fs::create_directories(modules.parent_path());
    fs::copy(user.modules_dir, modules, fs::copy_options::recursive);
    k.modules_dir = modules;
    RunToolChecked({"depmod", "-b", (tmp / "root").string(), k.release}, "depmod for " + k.release,
                   {}, "kmod");
  }
  k.system_map.clear();
  WriteManifest(tmp, k);
  fs::remove_all(final_dir);
  fs::rename(tmp, final_dir);
  return *Cached(name);
}

}  // namespace conform::vm
