// The kernel modules a guest loads: a modules folder's index (modules.dep, modules.builtin,
// modules.softdep, modules.alias) and the order to load wanted modules in, each after what it
// needs. Used by vm/initramfs.cc.
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "vm/initramfs.h"

namespace conform::vm {

// "virtio-net" and "virtio_net" name the same module.
inline std::string ModuleName(const std::string& file) {
  std::string name = std::filesystem::path(file).filename().string();
  name = name.substr(0, name.find(".ko"));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// Without the compression suffix: the guest gets decompressed modules.
inline std::string PlainKo(const std::string& rel) { return rel.substr(0, rel.find(".ko") + 3); }

struct ModuleIndex {
  std::filesystem::path dir;
  std::map<std::string, std::string> by_name;            // name -> path relative to dir
  std::map<std::string, std::vector<std::string>> deps;  // relpath -> relpaths (modules.dep)
  std::set<std::string> builtin;                         // names
  // modules.softdep "pre:" names per module name (libcrc32c needs the crc32c crypto driver
  // loaded first, which no symbol dependency says), and modules.alias (alias -> names).
  std::map<std::string, std::vector<std::string>> soft_pre;
  std::map<std::string, std::vector<std::string>> aliases;
  bool has_dep_file = false;

  // Modules to load before `rel` by its softdeps, as relpaths (aliases resolved; built-in or
  // unknown names dropped).
  std::vector<std::string> SoftPreOf(const std::string& rel) const;

  // Dependencies of one module: from modules.dep, else from its own .modinfo "depends=".
  std::vector<std::string> DepsOf(const std::string& rel) const;
};

// The index of `dir` (a lib/modules/<release> folder); empty for an empty path.
ModuleIndex LoadModuleIndex(const std::filesystem::path& dir);

// Wanted modules and their dependencies, each after what it needs, as relpaths; those not
// already in `placed` (which gets them). Built-in and unknown names go to `report`.
std::vector<std::string> LoadOrder(const ModuleIndex& index, const std::vector<std::string>& wanted,
                                   std::set<std::string>& placed, Initramfs& report);

}  // namespace conform::vm
