// The guest's initramfs: busybox (static) with its applets, the suite's runner and binary with
// their shared libraries (as ldd lists them, loader included), the kernel modules the suite
// needs with their dependencies (decompressed on the host), the kernel's config, and /init
// (vm/guest_init.sh). Built in memory as a newc cpio (vm/cpio.h), optionally gzip'ed, and cached
// by a hash of everything that goes in (host files by path, inode, size and mtime).
//
// Uncompressed is the default: under TCG the guest's gunzip of the ~4.6 MB archive costs ~0.1 s
// of boot, while qemu loads the ~11 MB plain archive for free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace conform::vm {

// Modules loaded before the boot marker: the virtio transports (mmio for microvm, pci for q35),
// the console (the result channel) and the NIC. Missing ones are fine when built in.
std::vector<std::string> DefaultBootModules();
// Modules the suite uses: veth, dummy, macvlan, vxlan, bridge, netdevsim, nf_tables (the
// StackIsolation firewall cases speak NETLINK_NETFILTER).
std::vector<std::string> DefaultRunModules();

enum class InitramfsCompression { kNone, kGzip };

struct InitramfsSpec {
  std::filesystem::path runner_binary;  // netns-conform
  std::filesystem::path suite_binary;   // netns-conform-suite
  std::filesystem::path busybox = "/bin/busybox";
  std::string kernel_release;           // names the modules folder in the guest
  std::filesystem::path modules_dir;    // empty: a kernel without modules
  std::filesystem::path kernel_config;  // empty: the guest probes what it can
  std::vector<std::string> boot_modules = DefaultBootModules();
  std::vector<std::string> run_modules = DefaultRunModules();
  InitramfsCompression compression = InitramfsCompression::kNone;
  int gzip_level = 6;
  bool strip_binaries = true;  // strip --strip-debug the suite binaries (binutils), when present
};

struct Initramfs {
  std::filesystem::path file;  // <cache>/initramfs/<key>.cpio[.gz]
  std::string key;             // hash of every input
  bool from_cache = false;
  double build_s = 0;  // hashing inputs, and building when not cached
  std::uintmax_t bytes = 0;
  std::vector<std::string> modules;          // in load order, paths in the guest
  std::vector<std::string> missing_modules;  // wanted, but neither a module file nor built in
  std::vector<std::string> builtin_modules;  // wanted and built into the kernel
};

// Builds (or finds in <cache_root>/initramfs/) the initramfs for `spec`. VmError for a missing
// binary or busybox, a library ldd cannot find, or a module file that will not decompress.
Initramfs BuildInitramfs(const InitramfsSpec& spec, const std::filesystem::path& cache_root);

// A small uncompressed cpio holding /etc/netns-conform/run.args (one runner argument a line),
// appended to the cached initramfs per run: the kernel unpacks concatenated archives in order.
// VmError for an argument with a newline.
std::string RunArgsArchive(const std::vector<std::string>& runner_args);

// The guest's /init (vm/guest_init.sh).
const char* GuestInitScript();

}  // namespace conform::vm
