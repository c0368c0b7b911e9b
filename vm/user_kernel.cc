// Kernels the user names by path (`--vm-kernel`, not cached: UserKernel) and kernel configs read
// as symbol -> value (ReadKconfig, KconfigValue). See vm/kernel_cache.h.
#include <fstream>

#include "vm/error.h"
#include "vm/kernel_cache.h"
#include "vm/kernel_image.h"
#include "vm/tools.h"

namespace fs = std::filesystem;

namespace conform::vm {

Kernel UserKernel(const UserKernelPaths& paths, const fs::path& cache_root) {
  std::error_code ec;
  if (paths.kernel.empty() || !fs::is_regular_file(paths.kernel, ec))
    throw VmError("--vm-kernel " + paths.kernel.string() + ": no such file");
  if (!paths.config.empty() && !fs::is_regular_file(paths.config, ec))
    throw VmError("--vm-config " + paths.config.string() + ": no such file");
  if (!paths.modules.empty() && !fs::is_directory(paths.modules, ec))
    throw VmError("--vm-modules " + paths.modules.string() + ": no such folder");

  Kernel k;
  k.name = "user";
  k.image = fs::absolute(paths.kernel);
  const std::string bytes = ReadFile(k.image);
  const auto info = InspectKernelImage(bytes, paths.kernel.string());
  if (info.format == ImageFormat::kElf && !info.pvh) {
    throw VmError(paths.kernel.string() +
                  " is an ELF vmlinux without a PVH entry note (CONFIG_PVH): give the bzImage");
  }
  k.version = info.version;
  k.release = info.release;

  ContentHash hash;
  hash.Add(bytes);
  const fs::path dir = cache_root / "kernels" / ("user-" + hash.Hex().substr(0, 16));
  fs::create_directories(dir, ec);
  if (ec) throw VmError("cannot create " + dir.string() + ": " + ec.message());
  k.boot_image = k.image;
  if (info.format == ImageFormat::kBzImage) {
    if (fs::exists(dir / "vmlinux")) {
      k.boot_image = dir / "vmlinux";
    } else {
      k.boot_image = PrepareBootImage(bytes, k.image, dir);
    }
  }

  if (!paths.config.empty()) {
    k.config = fs::absolute(paths.config);
    k.config_source = "--vm-config";
  } else {
    std::optional<std::string> ikconfig;
    if (k.boot_image != k.image) ikconfig = ExtractIkconfig(ReadFile(k.boot_image));
    if (!ikconfig) ikconfig = ExtractIkconfig(bytes);
    if (ikconfig) {
      WriteFileReplacing(dir / "config", *ikconfig);
      k.config = dir / "config";
      k.config_source = "ikconfig";
    }
  }

  if (!paths.modules.empty()) {
    const fs::path m = fs::absolute(paths.modules);
    for (const fs::path& candidate : {m / "lib" / "modules" / k.release, m / k.release, m}) {
      if (fs::is_directory(candidate, ec)) {
        k.modules_dir = candidate;
        break;
      }
    }
  }
  return k;
}

Kconfig ReadKconfig(const fs::path& path) {
  Kconfig config;
  if (path.empty()) return config;
  std::string text = ReadFile(path);
  if (text.size() > 2 && static_cast<unsigned char>(text[0]) == 0x1f &&
      static_cast<unsigned char>(text[1]) == 0x8b)
    text = Gunzip(text);
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("CONFIG_", 0) != 0) continue;
    const auto eq = line.find('=');
    if (eq != std::string::npos) config[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return config;
}

std::string KconfigValue(const Kconfig& config, const std::string& symbol) {
  auto it = config.find(symbol);
  return it == config.end() ? "n" : it->second;
}

}  // namespace conform::vm
