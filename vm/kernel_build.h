// `netns-conform kernel build no-netns`: a minimal x86_64 kernel without network namespaces
// (CONFIG_NET_NS=n), built from Debian's linux-source package and put into the kernel cache as
// `no-netns`, so that `--vm no-netns` boots it (vm/vm_run.h).
//
// The build: `make ARCH=x86_64 tinyconfig`, then vm/no-netns.config merged on top
// (scripts/kconfig/merge_config.sh, `make olddefconfig`), then a check that CONFIG_NET_NS is not
// set and that every symbol the fragment asks for survived (VmError naming the ones the kernel
// dropped), then `make -j<nproc> bzImage`. Everything is built in; there are no modules.
//
// Where (never in the repository):
//   <cache_root>/build/no-netns/src/        the source tarball, unpacked (source.json: which)
//   <cache_root>/build/no-netns/obj/        the build folder (make O=...), .config, bzImage
//   <cache_root>/build/no-netns/build.log   make's output of the last build
//   <cache_root>/build/no-netns.lock        flock(2) held while building
//   <cache_root>/kernels/no-netns/          the result, adopted (vm/kernel_cache.h); its
//                                           kernel.json also records the build key
// The source is the installed linux-source-6.1 package's /usr/src tarball, else the package
// fetched with `apt-get download` and unpacked with `dpkg -x` into the build folder. The cache
// key is the source package's version and a hash of the fragment: with the same key a second
// build returns the cached kernel at once.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vm/kernel_cache.h"

namespace conform::vm {

// The kernel's name in the cache, and the Debian package its source comes from.
inline constexpr const char* kNoNetnsKernelName = "no-netns";
inline constexpr const char* kNoNetnsSourcePackage = "linux-source-6.1";
// The Debian packages the build needs besides the source (a C toolchain and make included).
inline constexpr const char* kNoNetnsBuildPackages =
    "gcc make bc bison flex libelf-dev cpio xz-utils";

// vm/no-netns.config, compiled in.
const char* NoNetnsConfigFragment();

struct NoNetnsBuildTimings {
  bool built = false;   // false: the cached kernel had the same key
  double fetch_s = 0;   // apt-get download + dpkg -x (0 when the package is installed)
  double unpack_s = 0;  // tar -xf of the source tarball (0 when already unpacked)
  double config_s = 0;  // tinyconfig + merge + olddefconfig + the check
  double build_s = 0;   // make bzImage
  double adopt_s = 0;   // into the kernel cache (PVH vmlinux extracted)
  double total_s = 0;
  std::string key;             // "<source version>/<fragment hash>"
  std::string source_version;  // of kNoNetnsSourcePackage
};

// Builds the no-netns kernel (or returns the cached one when its key matches and !force) and
// adopts it into <cache_root>/kernels/no-netns. `log` gets one progress line at a time (may be
// empty). Throws VmError with one line: missing build tools or source package (naming the
// Debian packages), a symbol the kernel dropped, a failed make (with its last error line).
Kernel BuildNoNetnsKernel(const std::filesystem::path& cache_root,
                          const std::function<void(const std::string&)>& log, bool force = false,
                          NoNetnsBuildTimings* timings = nullptr);

// The cached no-netns kernel when there is one built from this fragment; never builds.
std::optional<Kernel> CachedNoNetnsKernel(const std::filesystem::path& cache_root);

// Checks a kernel .config against a fragment: each `CONFIG_X=v` must be there with that value,
// each `# CONFIG_X is not set` must be absent or unset. Returns the mismatches, one per entry
// ("CONFIG_X (wanted y, got n)"); empty when the config has everything.
std::vector<std::string> CheckConfigAgainstFragment(const std::string& fragment,
                                                    const std::string& config);

}  // namespace conform::vm
