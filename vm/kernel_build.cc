#include "vm/kernel_build.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "vm/error.h"
#include "vm/file_lock.h"
#include "vm/no_netns_config.h"  // generated from vm/no-netns.config
#include "vm/timing.h"
#include "vm/tools.h"

namespace fs = std::filesystem;

namespace conform::vm {
namespace {

constexpr const char* kArch = "ARCH=x86_64";

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", s);
  return buf;
}

std::string Trim(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.pop_back();
  const auto start = s.find_first_not_of(" \t");
  return start == std::string::npos ? "" : s.substr(start);
}

std::string FragmentHash() {
  ContentHash hash;
  hash.Add(NoNetnsConfigFragment());
  return hash.Hex().substr(0, 16);
}

// symbol -> value as a .config or a fragment says it; "n" for "# CONFIG_X is not set".
std::map<std::string, std::string> ParseConfigLines(const std::string& text) {
  std::map<std::string, std::string> values;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    line = Trim(line);
    if (line.rfind("CONFIG_", 0) == 0) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
    } else if (line.rfind("# CONFIG_", 0) == 0) {
      const auto end = line.find(" is not set");
      if (end != std::string::npos && end == line.size() - std::strlen(" is not set"))
        values[line.substr(2, end - 2)] = "n";
    }
  }
  return values;
}

struct Source {
  std::string version;
  fs::path tarball;  // /usr/src/linux-source-6.1.tar.xz, or one inside a fetched package
  bool installed = false;
};

// The installed source package, else apt's candidate (fetched later).
Source FindSource() {
  Source s;
  const std::string package = kNoNetnsSourcePackage;
  auto query = RunTool({"dpkg-query", "-W", "-f", "${Status}\t${Version}", package}, {}, "dpkg");
  const auto tab = query.out.find('\t');
  if (query.exit_code == 0 && tab != std::string::npos &&
      query.out.substr(0, tab) == "install ok installed") {
    s.version = Trim(query.out.substr(tab + 1));
    s.tarball = fs::path("/usr/src") / (package + ".tar.xz");
    std::error_code ec;
    if (fs::is_regular_file(s.tarball, ec)) {
      s.installed = true;
      return s;
    }
  }
  auto show = RunTool({"apt-cache", "show", "--no-all-versions", package}, {}, "apt");
  std::istringstream fields(show.out);
  s.version.clear();
  for (std::string line; std::getline(fields, line);)
    if (line.rfind("Version: ", 0) == 0) s.version = Trim(line.substr(9));
  if (show.exit_code != 0 || s.version.empty())
    throw VmError(package + " is neither installed nor known to apt (run `apt-get update`, or " +
                  "`apt-get install " + package + "`)");
  return s;
}

// apt-get download + dpkg -x into `dir`; returns the tarball inside.
fs::path FetchSource(const Source& source, const fs::path& dir) {
  const std::string package = kNoNetnsSourcePackage;
  fs::create_directories(dir);
  RunToolChecked({"apt-get", "download", "-q", "-o", "APT::Sandbox::User=root",
                  package + "=" + source.version},
                 "apt-get download " + package, {.cwd = dir, .timeout = std::chrono::seconds(1800)},
                 "apt");
  fs::path deb;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".deb") deb = entry.path();
  if (deb.empty()) throw VmError("apt-get download " + package + " left no .deb");
  RunToolChecked({"dpkg", "-x", deb.string(), (dir / "root").string()},
                 "dpkg -x " + deb.filename().string(), {.timeout = std::chrono::seconds(1800)},
                 "dpkg");
  fs::remove(deb);
  const fs::path tarball = dir / "root" / "usr" / "src" / (package + ".tar.xz");
  if (!fs::is_regular_file(tarball))
    throw VmError(package + " " + source.version + " holds no usr/src/" + package + ".tar.xz");
  return tarball;
}

void CheckBuildTools() {
  static const std::pair<const char*, const char*> kTools[] = {
      {"make", "make"},      {"gcc", "gcc"},   {"ld", "binutils"}, {"bc", "bc"},
      {"bison", "bison"},    {"flex", "flex"}, {"tar", "tar"},     {"xz", "xz-utils"},
      {"perl", "perl-base"}, {"cpio", "cpio"},
  };
  std::string missing;
  for (const auto& [tool, package] : kTools)
    if (!FindTool(tool)) missing += std::string(missing.empty() ? "" : " ") + package;
  // objtool (CONFIG_OBJTOOL, on for x86_64) links against libelf.
  std::error_code ec;
  if (!fs::exists("/usr/include/gelf.h", ec))
    missing += std::string(missing.empty() ? "" : " ") + "libelf-dev";
  if (!missing.empty())
    throw VmError("building the no-netns kernel needs the Debian packages " + missing +
                  " (apt-get install " + missing + ")");
}

// The one folder a kernel tarball unpacks to.
fs::path TreeIn(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory() && fs::exists(entry.path() / "Makefile") &&
        fs::exists(entry.path() / "Kconfig"))
      return entry.path();
  return {};
}

std::string ReadJsonField(const fs::path& file, const std::string& field) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return "";
  auto j = nlohmann::json::parse(ReadFile(file), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains(field) || !j[field].is_string()) return "";
  return j[field].get<std::string>();
}

// make's output: the first compiler or make error line, for the one-line failure.
std::string FirstErrorLine(const std::string& out, const std::string& err) {
  for (const std::string* text : {&err, &out}) {
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);)
      if (line.find("error:") != std::string::npos || line.find("Error ") != std::string::npos ||
          line.find("*** ") != std::string::npos)
        return Trim(line);
  }
  return "";
}

ToolOptions MakeOptions(const fs::path& cwd, std::chrono::seconds timeout) {
  return {.cwd = cwd,
          .timeout = timeout,
          // A jobserver of a calling make (ctest under make, say) is not ours to use.
          .env = {{"MAKEFLAGS", ""},
                  {"MFLAGS", ""},
                  {"LC_ALL", "C"},
                  {"KBUILD_BUILD_USER", "netns-conform"},
                  {"KBUILD_BUILD_HOST", "netns-conform"}}};
}

void RunMake(const std::vector<std::string>& argv, const std::string& what, const fs::path& cwd,
             std::chrono::seconds timeout, const fs::path& log_file) {
  auto r = RunTool(argv, MakeOptions(cwd, timeout), "make");
  if (!log_file.empty()) {
    std::string text = "$";
    for (const auto& a : argv) text += " " + a;
    text += "\n" + r.out + r.err;
    WriteFileReplacing(log_file, text);
  }
  if (r.exit_code != 0) {
    std::string line = FirstErrorLine(r.out, r.err);
    throw VmError(what + " failed (exit " + std::to_string(r.exit_code) + ")" +
                  (line.empty() ? "" : ": " + line) +
                  (log_file.empty() ? "" : " (see " + log_file.string() + ")"));
  }
}

// Adds what Adopt cannot know to the kernel's manifest: the source package, and the build key.
void RecordBuild(const fs::path& kernel_dir, const std::string& version, const std::string& key,
                 const NoNetnsBuildTimings& t) {
  const fs::path manifest = kernel_dir / "kernel.json";
  auto j = nlohmann::json::parse(ReadFile(manifest), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw VmError(manifest.string() + " is unreadable after adopting the kernel");
  j["package"] = kNoNetnsSourcePackage;
  j["package_version"] = version;
  j["config_source"] = "build";
  j["build_key"] = key;
  j["fragment_hash"] = FragmentHash();
  j["build_timings"] = {{"fetch_s", t.fetch_s},
                        {"unpack_s", t.unpack_s},
                        {"config_s", t.config_s},
                        {"build_s", t.build_s}};
  WriteFileReplacing(manifest, j.dump(1) + "\n");
}

}  // namespace

const char* NoNetnsConfigFragment() { return kNoNetnsConfigFragment; }

std::vector<std::string> CheckConfigAgainstFragment(const std::string& fragment,
                                                    const std::string& config) {
  const auto want = ParseConfigLines(fragment);
  const auto have = ParseConfigLines(config);
  std::vector<std::string> wrong;
  for (const auto& [symbol, value] : want) {
    auto it = have.find(symbol);
    const std::string got = it == have.end() ? "n" : it->second;
    if (got != value) wrong.push_back(symbol + " (wanted " + value + ", got " + got + ")");
  }
  return wrong;
}

std::optional<Kernel> CachedNoNetnsKernel(const fs::path& cache_root) {
  KernelCache cache(cache_root);
  auto k = cache.Cached(kNoNetnsKernelName);
  if (!k) return std::nullopt;
  // A kernel built from another fragment may lack what this version of the suite needs.
  if (ReadJsonField(cache.kernels_dir() / kNoNetnsKernelName / "kernel.json", "fragment_hash") !=
      FragmentHash())
    return std::nullopt;
  return k;
}

Kernel BuildNoNetnsKernel(const fs::path& cache_root,
                          const std::function<void(const std::string&)>& log, bool force,
                          NoNetnsBuildTimings* timings) {
  const auto start = Clock::now();
  NoNetnsBuildTimings local;
  NoNetnsBuildTimings& t = timings ? *timings : local;
  t = {};
  auto say = [&](const std::string& line) {
    if (log) log(line);
  };
  KernelCache cache(cache_root);
  const fs::path kernel_dir = cache.kernels_dir() / kNoNetnsKernelName;

  Source source = FindSource();
  t.source_version = source.version;
  t.key = source.version + "/" + FragmentHash();
  auto cached_key = [&] {
    return cache.Cached(kNoNetnsKernelName) ? ReadJsonField(kernel_dir / "kernel.json", "build_key")
                                            : std::string();
  };
  if (!force && cached_key() == t.key) {
    t.total_s = Since(start);
    return *cache.Cached(kNoNetnsKernelName);
  }
  CheckBuildTools();

  const fs::path build_root = cache_root / "build";
  const fs::path dir = build_root / kNoNetnsKernelName;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw VmError("cannot create " + dir.string() + ": " + ec.message());
  ExclusiveFileLock lock(build_root / (std::string(kNoNetnsKernelName) + ".lock"));
  if (!force && cached_key() == t.key) {  // another run built it meanwhile
    t.total_s = Since(start);
    return *cache.Cached(kNoNetnsKernelName);
  }
  // Left by a build that was killed (we hold the lock: nobody else is using them).
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("src.tmp-", 0) == 0 || name == "fetch") fs::remove_all(entry.path(), ec);
  }

  // The source tree, unpacked once per source version.
  const fs::path src_dir = dir / "src";
  const fs::path obj_dir = dir / "obj";
  fs::path tree = TreeIn(src_dir);
  if (tree.empty() || ReadJsonField(src_dir / "source.json", "version") != source.version) {
    fs::remove_all(src_dir, ec);
    fs::remove_all(obj_dir, ec);  // objects of another source version
    fs::path tarball = source.tarball;
    if (!source.installed) {
      say("fetching " + std::string(kNoNetnsSourcePackage) + " " + source.version +
          " (apt-get download, about 140 MB)");
      auto fetch_start = Clock::now();
      tarball = FetchSource(source, dir / "fetch");
      t.fetch_s = Since(fetch_start);
    }
    say("unpacking " + tarball.string() + " (" + source.version + ")");
    auto unpack_start = Clock::now();
    const fs::path tmp = dir / ("src.tmp-" + std::to_string(getpid()));
    fs::create_directories(tmp);
    RunToolChecked({"tar", "-xf", tarball.string(), "-C", tmp.string()},
                   "unpacking " + tarball.filename().string(),
                   {.timeout = std::chrono::seconds(1800)}, "tar");
    if (TreeIn(tmp).empty()) throw VmError(tarball.string() + " holds no kernel source tree");
    WriteFileReplacing(tmp / "source.json", nlohmann::json({{"package", kNoNetnsSourcePackage},
                                                            {"version", source.version},
                                                            {"tarball", tarball.string()}})
                                                    .dump(1) +
                                                "\n");
    fs::rename(tmp, src_dir);
    fs::remove_all(dir / "fetch", ec);
    tree = TreeIn(src_dir);
    t.unpack_s = Since(unpack_start);
  }
  if (force) fs::remove_all(obj_dir, ec);  // a clean build
  fs::create_directories(obj_dir);

  // tinyconfig, the fragment on top, olddefconfig, and the check.
  say("configuring: make tinyconfig + vm/no-netns.config");
  auto config_start = Clock::now();
  const std::string obj_arg = "O=" + obj_dir.string();
  const fs::path config_log = dir / "config.log";
  RunMake({"make", "-s", obj_arg, kArch, "tinyconfig"}, "make tinyconfig", tree,
          std::chrono::seconds(900), config_log);
  const fs::path fragment = obj_dir / "no-netns.config";
  WriteFileReplacing(fragment, NoNetnsConfigFragment());
  RunToolChecked({"sh", (tree / "scripts" / "kconfig" / "merge_config.sh").string(), "-m", "-O",
                  obj_dir.string(), (obj_dir / ".config").string(), fragment.string()},
                 "merge_config.sh vm/no-netns.config", MakeOptions(tree, std::chrono::seconds(300)),
                 "make");
  RunMake({"make", "-s", obj_arg, kArch, "olddefconfig"}, "make olddefconfig", tree,
          std::chrono::seconds(900), config_log);
  const std::string config = ReadFile(obj_dir / ".config");
  if (config.find("\nCONFIG_NET_NS=") != std::string::npos)
    throw VmError("the no-netns kernel's .config has CONFIG_NET_NS set (" +
                  (obj_dir / ".config").string() + ")");
  if (auto wrong = CheckConfigAgainstFragment(NoNetnsConfigFragment(), config); !wrong.empty()) {
    std::string list;
    for (const auto& w : wrong) list += (list.empty() ? "" : ", ") + w;
    throw VmError("the kernel dropped symbols vm/no-netns.config asks for: " + list + " (see " +
                  (obj_dir / ".config").string() + ")");
  }
  if (config.find("=m\n") != std::string::npos)
    throw VmError("the no-netns kernel's .config has modules (=m); it must build everything in");
  t.config_s = Since(config_start);

  const long cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  say("building bzImage (make -j" + std::to_string(cpus) + "; about " +
      std::to_string(std::max(2L, 24 / cpus)) + " min on this machine's " + std::to_string(cpus) +
      " CPUs; log: " + (dir / "build.log").string() + ")");
  auto build_start = Clock::now();
  RunMake({"make", obj_arg, kArch, "-j" + std::to_string(cpus), "bzImage"}, "make bzImage", tree,
          std::chrono::seconds(4 * 3600), dir / "build.log");
  t.build_s = Since(build_start);
  const fs::path bzimage = obj_dir / "arch" / "x86" / "boot" / "bzImage";
  if (!fs::is_regular_file(bzimage, ec)) throw VmError("make bzImage left no " + bzimage.string());

  say("adopting it into the kernel cache as " + std::string(kNoNetnsKernelName));
  auto adopt_start = Clock::now();
  // No modules, but a modules.builtin: the initramfs builder then knows veth, dummy and the
  // virtio drivers are built in instead of reporting them missing.
  const std::string release = Trim(ReadFile(obj_dir / "include" / "config" / "kernel.release"));
  const fs::path modules_root = dir / "modules";
  const fs::path modules = modules_root / "lib" / "modules" / release;
  fs::remove_all(modules_root, ec);
  fs::create_directories(modules);
  for (const char* file : {"modules.builtin", "modules.builtin.modinfo"})
    if (fs::exists(obj_dir / file, ec))
      fs::copy_file(obj_dir / file, modules / file, fs::copy_options::overwrite_existing);
  WriteFileReplacing(modules / "modules.order", "");
  Kernel k = cache.Adopt(kNoNetnsKernelName,
                         {.kernel = bzimage, .modules = modules, .config = obj_dir / ".config"});
  // Adopt extracts the PVH vmlinux through UserKernel into kernels/user-<hash of the image>/;
  // the adopted copy is in kernels/no-netns/, so that folder is only a leftover.
  {
    ContentHash hash;
    hash.Add(ReadFile(bzimage));
    const fs::path leftover = cache.kernels_dir() / ("user-" + hash.Hex().substr(0, 16));
    if (!fs::exists(leftover / "kernel.json", ec)) fs::remove_all(leftover, ec);
  }
  t.adopt_s = Since(adopt_start);
  t.built = true;
  RecordBuild(kernel_dir, source.version, t.key, t);
  auto adopted = cache.Cached(kNoNetnsKernelName);
  if (!adopted) throw VmError("the built no-netns kernel is unreadable in the cache");
  t.total_s = Since(start);
  say("built " + adopted->release + " in " + Seconds(t.total_s) + " (unpack " +
      Seconds(t.unpack_s) + ", config " + Seconds(t.config_s) + ", make " + Seconds(t.build_s) +
      ")");
  (void)k;
  return *adopted;
}

}  // namespace conform::vm
