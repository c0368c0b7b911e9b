// Kernels for the VM sandbox: Debian's kernel packages fetched on first use (`apt-get download`
// + `dpkg -x` into a cache folder, never installed into /boot), kernels built elsewhere and put
// into the cache (no-netns), and a kernel the user names by path.
//
// Cache layout (root: $NETNS_CONFORM_CACHE/kernels, default /var/cache/netns-conform/kernels):
//   <name>/kernel.json        manifest, written last: a folder without it is not a cached kernel
//   <name>/root/              the package as `dpkg -x` unpacked it, modules.dep added by depmod
//   <name>/vmlinux            the uncompressed ELF from the bzImage (booted through PVH)
//   <name>.lock               flock(2) held while fetching, so parallel runs fetch once
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace conform::vm {

struct Kernel {
  std::string name;                   // "debian-6.1-cloud", "no-netns", "user"
  std::string package;                // "linux-image-6.1.0-56-cloud-amd64"; empty for a user kernel
  std::string package_version;        // "6.1.192-2"
  std::string release;                // `uname -r` in the guest, e.g. "6.1.0-56-cloud-amd64"
  std::string version;                // the whole banner after "Linux version "
  std::filesystem::path image;        // the bzImage (vmlinuz) as shipped or given
  std::filesystem::path boot_image;   // what qemu -kernel gets: the PVH vmlinux when there is one
  std::filesystem::path config;       // empty when unknown
  std::string config_source;          // "package", "--vm-config", "ikconfig", or "" when unknown
  std::filesystem::path modules_dir;  // <...>/lib/modules/<release>; empty when there are none
  std::filesystem::path system_map;   // empty when absent (Debian ships a placeholder)
};

// The kernels `--vm NAME` can fetch: name -> Debian meta-package (which depends on the current
// versioned image package).
struct KernelSpec {
  std::string name;
  std::string meta_package;
  std::string description;
};
const std::vector<KernelSpec>& KnownKernels();

struct KernelListEntry {
  std::string name;
  std::string description;
  bool cached = false;
  std::string cached_package, cached_version, release;
  std::filesystem::path dir;
  bool fetchable = false;  // apt knows the package (queried only when asked)
  std::string candidate_package, candidate_version;
  std::string note;  // why it is not fetchable, or that the cached one is older than apt's
};

struct FetchTimings {
  bool fetched = false;  // false: it was in the cache already
  double resolve_s = 0, download_s = 0, extract_s = 0, depmod_s = 0, vmlinux_s = 0;
};

struct UserKernelPaths {
  std::filesystem::path kernel;   // bzImage/vmlinuz or an ELF vmlinux with a PVH note
  std::filesystem::path modules;  // optional: lib/modules/<release>, or an INSTALL_MOD_PATH
  std::filesystem::path config;   // optional: the .config it was built from
};

class KernelCache {
 public:
  // $NETNS_CONFORM_CACHE, else /var/cache/netns-conform. Kernels live in <that>/kernels.
  static std::filesystem::path DefaultCacheRoot();

  explicit KernelCache(const std::filesystem::path& cache_root = DefaultCacheRoot());
  const std::filesystem::path& kernels_dir() const { return dir_; }

  // The named kernel, fetched on first use. VmError (one line) for an unknown name, apt
  // lacking the package (with the hint to run `apt-get update`), or a failed download/unpack.
  Kernel Get(const std::string& name, FetchTimings* timings = nullptr);
  // The named kernel when it is cached; never fetches.
  std::optional<Kernel> Cached(const std::string& name) const;
  // Every known kernel (cached or fetchable) and every other cached one (e.g. no-netns).
  // `query_apt`: ask apt-cache which package each name resolves to today.
  std::vector<KernelListEntry> List(bool query_apt = true) const;
  // Copies a kernel built elsewhere into the cache as `name` (for `kernel build no-netns`).
  Kernel Adopt(const std::string& name, const UserKernelPaths& paths);

 private:
  Kernel Fetch(const KernelSpec& spec, FetchTimings* timings);
  std::filesystem::path dir_;
};

// A kernel the user names by path (--vm-kernel/--vm-modules/--vm-config): checks the files,
// reads the release from the image, takes the config from --vm-config or the image's own
// (CONFIG_IKCONFIG), and extracts the PVH vmlinux into <cache_root>/kernels/user-<hash>/ so a
// second run is fast. VmError for a missing file or a file that is not a kernel.
Kernel UserKernel(const UserKernelPaths& paths,
                  const std::filesystem::path& cache_root = KernelCache::DefaultCacheRoot());

// A kernel .config as symbol -> value ("CONFIG_VETH" -> "m"); "is not set" lines are absent.
using Kconfig = std::map<std::string, std::string>;
Kconfig ReadKconfig(const std::filesystem::path& path);  // empty for an empty path
// "y", "m", a value, or "n" when absent.
std::string KconfigValue(const Kconfig& config, const std::string& symbol);

}  // namespace conform::vm
