#include "vm/initramfs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "vm/cpio.h"
#include "vm/error.h"
#include "vm/guest_init_script.h"
#include "vm/kernel_image.h"
#include "vm/kernel_modules.h"
#include "vm/tools.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace conform::vm {
namespace {

constexpr const char* kFormat = "netns-conform-initramfs-3";
constexpr const char* kBinDir = "/opt/netns-conform/bin";
constexpr size_t kKeepCached = 8;

struct Library {
  std::string guest_path;  // as the binary asks for it
  fs::path host_path;
};

// Shared libraries of `binary` (ldd), the dynamic loader included; empty for a static binary.
std::vector<Library> SharedLibraries(const fs::path& binary) {
  auto result = RunTool({"ldd", binary.string()}, {}, "libc-bin");
  std::vector<Library> libs;
  if (result.exit_code != 0) {
    if (result.out.find("not a dynamic executable") != std::string::npos ||
        result.err.find("not a dynamic executable") != std::string::npos)
      return libs;
    throw VmError("ldd " + binary.string() + " failed: " + result.err);
  }
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("statically linked") != std::string::npos) return {};
    if (line.find("not found") != std::string::npos)
      throw VmError(binary.string() + " needs a library that is not installed: " + line);
    std::istringstream words(line);
    std::string first, arrow, path;
    words >> first >> arrow >> path;
    if (arrow == "=>" && !path.empty() && path[0] == '/') {
      libs.push_back({path, path});
    } else if (!first.empty() && first[0] == '/') {
      libs.push_back({first, first});  // the loader
    }
  }
  return libs;
}

std::vector<std::string> BusyboxApplets(const fs::path& busybox) {
  auto result = RunToolChecked({busybox.string(), "--list"}, "busybox --list");
  std::vector<std::string> applets;
  std::istringstream lines(result.out);
  for (std::string name; std::getline(lines, name);) {
    if (!name.empty() && name.find('/') == std::string::npos && name != "busybox")
      applets.push_back(name);
  }
  return applets;
}

// One thing in the archive; a host file's content is read when the archive is written.
struct Item {
  enum Kind { kFile, kSymlink, kDir, kCharDev } kind = kFile;
  std::string guest_path;
  fs::path source;      // for files read from the host
  std::string content;  // file bytes or symlink target
  unsigned mode = 0644;
  enum Transform { kNone, kStrip, kDecompressModule } transform = kNone;
  unsigned major = 0, minor = 0;
};

// What identifies a host file for the cache key: cheaper than hashing its bytes (the suite
// binaries with debug info are tens of MB) and as exact as make's rule plus inode and size.
std::string FileStamp(const fs::path& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw VmError("cannot stat " + path.string());
  return path.string() + " " + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + " " +
         std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

std::string Stripped(const Item& item, const fs::path& scratch_dir) {
  if (!FindTool("strip")) return ReadFile(item.source);
  const fs::path out = scratch_dir / (".strip-" + std::to_string(getpid()) + "-" +
                                      fs::path(item.guest_path).filename().string());
  auto result = RunTool({"strip", "--strip-debug", "-o", out.string(), item.source.string()});
  std::string bytes = result.exit_code == 0 ? ReadFile(out) : ReadFile(item.source);
  std::error_code ec;
  fs::remove(out, ec);
  return bytes;
}

void PruneCache(const fs::path& dir) {
  std::vector<std::pair<fs::file_time_type, fs::path>> archives;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().find(".cpio") != std::string::npos)
      archives.emplace_back(entry.last_write_time(ec), entry.path());
  }
  if (archives.size() <= kKeepCached) return;
  std::sort(archives.begin(), archives.end(), std::greater<>());
  for (size_t i = kKeepCached; i < archives.size(); ++i) fs::remove(archives[i].second, ec);
}

// runner/sandbox_main.cc's binary when the runner has one beside it, else "".
fs::path SandboxLauncherBeside(const fs::path& runner_binary) {
  std::error_code ec;
  fs::path launcher = runner_binary.parent_path() / "netns-conform-sandbox";
  return fs::is_regular_file(launcher, ec) ? launcher : fs::path();
}

}  // namespace

std::vector<std::string> DefaultBootModules() {
  return {"virtio_mmio", "virtio_pci", "virtio_console", "virtio_net"};
}

std::vector<std::string> DefaultRunModules() {
  return {"veth", "dummy", "macvlan", "vxlan", "bridge", "netdevsim", "nf_tables"};
}

const char* GuestInitScript() { return kGuestInitScript; }

Initramfs BuildInitramfs(const InitramfsSpec& spec, const fs::path& cache_root) {
  const auto start = Clock::now();
  auto since_start = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  Initramfs result;
  std::error_code ec;
  for (const auto& [what, path] :
       {std::pair{"runner", spec.runner_binary}, std::pair{"suite binary", spec.suite_binary},
        std::pair{"busybox", spec.busybox}}) {
    if (path.empty() || !fs::is_regular_file(path, ec)) {
      throw VmError(
          std::string(what) + " not found: " + path.string() +
          (std::string(what) == "busybox" ? " (install the Debian package busybox-static)" : ""));
    }
  }

  // Which modules, in which order: cheap (modules.dep), and part of the key.
  const ModuleIndex index = LoadModuleIndex(spec.modules_dir);
  const std::string guest_modules =
      "/lib/modules/" +
      (spec.kernel_release.empty() ? std::string("unknown") : spec.kernel_release);
  std::set<std::string> placed;
  std::vector<std::pair<std::string, fs::path>> module_files;  // guest path, host file
  std::string boot_list, run_list;
  for (auto [wanted, list] :
       {std::pair{&spec.boot_modules, &boot_list}, std::pair{&spec.run_modules, &run_list}}) {
    for (const auto& rel : LoadOrder(index, *wanted, placed, result)) {
      const std::string guest = guest_modules + "/" + PlainKo(rel);
      module_files.emplace_back(guest, index.dir / rel);
      *list += guest + "\n";
      result.modules.push_back(guest);
    }
  }

  // The key: every choice that changes the output, and each host file by its stamp (the shared
  // libraries are the ones these binaries were linked against, so the binaries' stamps cover
  // them in practice).
  ContentHash hash;
  hash.AddField(kFormat);
  hash.AddField(GuestInitScript());
  hash.AddField(spec.compression == InitramfsCompression::kGzip
                    ? "gzip" + std::to_string(spec.gzip_level)
                    : "none");
  hash.AddField(spec.strip_binaries ? "strip" : "nostrip");
  hash.AddField(guest_modules);
  for (const auto& path : {spec.busybox, spec.runner_binary, spec.suite_binary})
    hash.AddField(FileStamp(path));
  if (const fs::path launcher = SandboxLauncherBeside(spec.runner_binary); !launcher.empty())
    hash.AddField(FileStamp(launcher));
  hash.AddField(spec.kernel_config.empty() ? "" : FileStamp(spec.kernel_config));
  for (const auto& [guest, host_file] : module_files) {
    hash.AddField(guest);
    hash.AddField(FileStamp(host_file));
  }
  result.key = hash.Hex();
  const fs::path cache_dir = cache_root / "initramfs";
  fs::create_directories(cache_dir, ec);
  if (ec) throw VmError("cannot create " + cache_dir.string() + ": " + ec.message());
  result.file =
      cache_dir / (result.key.substr(0, 24) +
                   (spec.compression == InitramfsCompression::kGzip ? ".cpio.gz" : ".cpio"));
  if (fs::exists(result.file, ec)) {
    result.from_cache = true;
    result.bytes = fs::file_size(result.file, ec);
    fs::last_write_time(result.file, fs::file_time_type::clock::now(), ec);  // recently used
    result.build_s = since_start();
    return result;
  }

  std::vector<Item> items;
  auto dir = [&](const std::string& p, unsigned mode = 0755) {
    items.push_back({.kind = Item::kDir, .guest_path = p, .mode = mode});
  };
  auto link = [&](const std::string& p, const std::string& target) {
    items.push_back({.kind = Item::kSymlink, .guest_path = p, .content = target});
  };
  auto text = [&](const std::string& p, std::string content, unsigned mode = 0644) {
    items.push_back(
        {.kind = Item::kFile, .guest_path = p, .content = std::move(content), .mode = mode});
  };
  auto host = [&](const std::string& p, const fs::path& source, unsigned mode,
                  Item::Transform transform = Item::kNone) {
    items.push_back({.kind = Item::kFile,
                     .guest_path = p,
                     .source = source,
                     .mode = mode,
                     .transform = transform});
  };

  for (const char* d : {"/proc", "/sys", "/dev", "/run", "/tmp", "/root", "/results", "/etc"})
    dir(d, std::string(d) == "/tmp" ? 01777 : 0755);
  items.push_back(
      {.kind = Item::kCharDev, .guest_path = "/dev/console", .mode = 0600, .major = 5, .minor = 1});
  items.push_back(
      {.kind = Item::kCharDev, .guest_path = "/dev/null", .mode = 0666, .major = 1, .minor = 3});
  text("/init", GuestInitScript(), 0755);
  text("/etc/passwd",
       "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  text("/etc/group", "root:x:0:\nnogroup:x:65534:\n");

  host("/bin/busybox", spec.busybox, 0755);
  for (const auto& applet : BusyboxApplets(spec.busybox)) link("/bin/" + applet, "busybox");
  link("/sbin", "bin");
  dir("/usr");
  link("/usr/bin", "../bin");
  link("/usr/sbin", "../bin");

  std::set<std::string> libs_seen;
  for (const fs::path& binary : {spec.runner_binary, spec.suite_binary, spec.busybox}) {
    for (const auto& lib : SharedLibraries(binary)) {
      if (libs_seen.insert(lib.guest_path).second) host(lib.guest_path, lib.host_path, 0755);
    }
  }
  host(std::string(kBinDir) + "/netns-conform", spec.runner_binary, 0755,
       spec.strip_binaries ? Item::kStrip : Item::kNone);
  host(std::string(kBinDir) + "/netns-conform-suite", spec.suite_binary, 0755,
       spec.strip_binaries ? Item::kStrip : Item::kNone);
  // The runner's static per-case launcher (runner/sandbox_main.cc): no shared libraries.
  if (const fs::path launcher = SandboxLauncherBeside(spec.runner_binary); !launcher.empty())
    host(std::string(kBinDir) + "/netns-conform-sandbox", launcher, 0755,
         spec.strip_binaries ? Item::kStrip : Item::kNone);
  if (!spec.kernel_config.empty()) host("/etc/netns-conform/kconfig", spec.kernel_config, 0644);
  for (const auto& [guest, host_file] : module_files)
    host(guest, host_file, 0644, Item::kDecompressModule);
  text("/etc/netns-conform/modules.boot", boot_list);
  text("/etc/netns-conform/modules.run", run_list);

  CpioWriter cpio;
  for (auto& item : items) {
    if (!item.source.empty() && item.transform != Item::kStrip)
      item.content = ReadFile(item.source);
    switch (item.kind) {
      case Item::kDir:
        cpio.Directory(item.guest_path, item.mode);
        break;
      case Item::kSymlink:
        cpio.Symlink(item.guest_path, item.content);
        break;
      case Item::kCharDev:
        cpio.CharDevice(item.guest_path, item.major, item.minor, item.mode);
        break;
      case Item::kFile:
        if (item.transform == Item::kStrip) {
          cpio.File(item.guest_path, Stripped(item, cache_dir), item.mode);
        } else if (item.transform == Item::kDecompressModule) {
          cpio.File(item.guest_path,
                    DecompressModule(item.source.filename().string(), item.content), item.mode);
        } else {
          cpio.File(item.guest_path, item.content, item.mode);
        }
        break;
    }
  }
  std::string archive = cpio.Finish();
  if (spec.compression == InitramfsCompression::kGzip)
    archive = GzipCompress(archive, spec.gzip_level);
  WriteFileReplacing(result.file, archive);
  result.bytes = archive.size();
  PruneCache(cache_dir);
  result.build_s = since_start();
  return result;
}

std::string RunArgsArchive(const std::vector<std::string>& runner_args) {
  std::string lines;
  for (const auto& arg : runner_args) {
    if (arg.find('\n') != std::string::npos || arg.find('\0') != std::string::npos)
      throw VmError("a runner argument for the guest holds a newline: '" + arg + "'");
    lines += arg + "\n";
  }
  CpioWriter cpio;
  cpio.File("/etc/netns-conform/run.args", lines);
  return cpio.Finish();
}

}  // namespace conform::vm
