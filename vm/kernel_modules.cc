// The kernel modules a guest loads: see vm/kernel_modules.h.
#include "vm/kernel_modules.h"

#include <fstream>
#include <functional>
#include <sstream>
#include <string_view>

#include "vm/kernel_image.h"
#include "vm/tools.h"

namespace fs = std::filesystem;

namespace conform::vm {

std::vector<std::string> ModuleIndex::SoftPreOf(const std::string& rel) const {
  std::vector<std::string> result;
  auto it = soft_pre.find(ModuleName(rel));
  if (it == soft_pre.end()) return result;
  for (std::string name : it->second) {
    std::replace(name.begin(), name.end(), '-', '_');
    if (auto found = by_name.find(name); found != by_name.end()) {
      result.push_back(found->second);
      continue;
    }
    if (auto targets = aliases.find(name); targets != aliases.end())
      for (const auto& target : targets->second)
        if (auto found = by_name.find(target); found != by_name.end())
          result.push_back(found->second);
  }
  return result;
}

std::vector<std::string> ModuleIndex::DepsOf(const std::string& rel) const {
  if (has_dep_file) {
    auto it = deps.find(rel);
    return it == deps.end() ? std::vector<std::string>{} : it->second;
  }
  const std::string bytes = DecompressModule(rel, ReadFile(dir / rel));
  static constexpr std::string_view kKey = "depends=";
  std::vector<std::string> result;
  for (size_t at = bytes.find(kKey); at != std::string::npos; at = bytes.find(kKey, at + 1)) {
    if (at > 0 && bytes[at - 1] != '\0') continue;
    std::string list = bytes.substr(at + kKey.size(), bytes.find('\0', at) - at - kKey.size());
    std::istringstream names(list);
    for (std::string name; std::getline(names, name, ',');) {
      std::replace(name.begin(), name.end(), '-', '_');
      if (auto it = by_name.find(name); it != by_name.end()) result.push_back(it->second);
    }
    break;
  }
  return result;
}

ModuleIndex LoadModuleIndex(const fs::path& dir) {
  ModuleIndex index;
  index.dir = dir;
  if (dir.empty()) return index;
  std::ifstream dep(dir / "modules.dep");
  if (dep) {
    index.has_dep_file = true;
    for (std::string line; std::getline(dep, line);) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string rel = line.substr(0, colon);
      index.by_name[ModuleName(rel)] = rel;
      std::istringstream rest(line.substr(colon + 1));
      for (std::string d; rest >> d;) index.deps[rel].push_back(d);
    }
  } else {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string file = it->path().filename().string();
      if (it->is_regular_file() && file.find(".ko") != std::string::npos)
        index.by_name[ModuleName(file)] = fs::relative(it->path(), dir).string();
    }
  }
  std::ifstream builtin(dir / "modules.builtin");
  for (std::string line; std::getline(builtin, line);) index.builtin.insert(ModuleName(line));
  std::ifstream softdep(dir / "modules.softdep");
  for (std::string line; std::getline(softdep, line);) {
    std::istringstream words(line);
    std::string keyword, module, word;
    if (!(words >> keyword >> module) || keyword != "softdep") continue;
    std::replace(module.begin(), module.end(), '-', '_');
    bool pre = false;
    while (words >> word) {
      if (word.back() == ':') {
        pre = word == "pre:";
      } else if (pre) {
        index.soft_pre[module].push_back(word);
      }
    }
  }
  std::ifstream alias(dir / "modules.alias");
  for (std::string line; std::getline(alias, line);) {
    std::istringstream words(line);
    std::string keyword, name, module;
    if (!(words >> keyword >> name >> module) || keyword != "alias") continue;
    // Only plain aliases matter here (softdeps name "crc32c", not device patterns).
    if (name.find_first_of("*?[:") != std::string::npos) continue;
    std::replace(name.begin(), name.end(), '-', '_');
    index.aliases[name].push_back(module);
  }
  return index;
}

std::vector<std::string> LoadOrder(const ModuleIndex& index, const std::vector<std::string>& wanted,
                                   std::set<std::string>& placed, Initramfs& report) {
  std::vector<std::string> order;
  std::function<void(const std::string&)> visit = [&](const std::string& rel) {
    if (!placed.insert(rel).second) return;
    for (const auto& pre : index.SoftPreOf(rel)) visit(pre);
    for (const auto& dep : index.DepsOf(rel)) visit(dep);
    order.push_back(rel);
  };
  for (std::string name : wanted) {
    std::replace(name.begin(), name.end(), '-', '_');
    if (auto it = index.by_name.find(name); it != index.by_name.end()) {
      visit(it->second);
    } else if (index.builtin.count(name)) {
      report.builtin_modules.push_back(name);
    } else {
      report.missing_modules.push_back(name);
    }
  }
  return order;
}

}  // namespace conform::vm
