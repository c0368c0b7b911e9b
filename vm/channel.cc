#include "vm/channel.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include "vm/error.h"
#include "vm/tools.h"

namespace fs = std::filesystem;

namespace conform::vm {
namespace {

std::optional<size_t> ParseSize(const std::map<std::string, std::string>& fields) {
  auto it = fields.find("size");
  if (it == fields.end() || it->second.empty() ||
      it->second.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(it->second);
}

std::string Field(std::string_view block, size_t at, size_t len) {
  std::string_view f = block.substr(at, len);
  return std::string(f.substr(0, f.find('\0')));
}

size_t Octal(std::string_view block, size_t at, size_t len) {
  size_t value = 0;
  for (char c : block.substr(at, len)) {
    if (c == ' ' || c == '\0') {
      if (value) break;
      continue;
    }
    if (c < '0' || c > '7') throw VmError("results tar: bad number in a header");
    value = value * 8 + static_cast<size_t>(c - '0');
  }
  return value;
}

fs::path SafeRelative(const std::string& name) {
  std::string n = name;
  while (n.rfind("./", 0) == 0) n = n.substr(2);
  while (!n.empty() && n.back() == '/') n.pop_back();
  if (n.empty() || n == ".") return {};
  fs::path p(n);
  if (p.is_absolute()) throw VmError("results tar: absolute name " + name);
  for (const auto& part : p)
    if (part == "..") throw VmError("results tar: name with '..': " + name);
  return p;
}

}  // namespace

std::map<std::string, std::string> MarkerFields(std::string_view words) {
  std::map<std::string, std::string> fields;
  std::istringstream in{std::string(words)};
  for (std::string word; in >> word;) {
    const auto eq = word.find('=');
    if (eq != std::string::npos) fields[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return fields;
}

std::string MarkerKind(std::string_view line) {
  if (line.rfind(kMarker, 0) != 0) return "";
  line.remove_prefix(kMarker.size());
  return std::string(line.substr(0, line.find(' ')));
}

ChannelContents ParseChannel(std::string_view bytes) {
  ChannelContents c;
  size_t at = 0;
  while (at < bytes.size()) {
    const size_t eol = bytes.find('\n', at);
    if (eol == std::string_view::npos) {
      c.error = "the channel ends in the middle of a line";
      break;
    }
    const std::string_view line = bytes.substr(at, eol - at);
    at = eol + 1;
    if (line.rfind("J ", 0) == 0) {
      c.journal.emplace_back(line.substr(2));
      continue;
    }
    if (line.rfind(kMarker, 0) != 0) continue;  // not ours; tolerated
    const std::string_view rest = line.substr(kMarker.size());
    const std::string kind(rest.substr(0, rest.find(' ')));
    const auto fields = MarkerFields(rest.substr(kind.size()));
    if (kind == "BOOTED") {
      c.booted = true;
      c.booted_fields = fields;
    } else if (kind == "RUNNING") {
      c.running = true;
      c.running_fields = fields;
    } else if (kind == "END") {
      c.ended = true;
    } else if (kind == "DMESG" || kind == "RUNLOG" || kind == "RESULTS") {
      const auto size = ParseSize(fields);
      if (!size) {
        c.error = kind + " frame without a size";
        break;
      }
      if (*size > bytes.size() - at) {
        c.error = kind + " frame cut off after " + std::to_string(bytes.size() - at) + " of " +
                  std::to_string(*size) + " bytes";
        break;
      }
      std::string payload(bytes.substr(at, *size));
      at += *size;
      if (kind == "DMESG") {
        c.dmesg = std::move(payload);
      } else if (kind == "RUNLOG") {
        c.runner_log = std::move(payload);
      } else {
        c.results_tar = std::move(payload);
        auto status = fields.find("status");
        if (status != fields.end() && !status->second.empty() &&
            status->second.find_first_not_of("0123456789") == std::string::npos)
          c.runner_status = std::stoi(status->second);
      }
    }
  }
  return c;
}

void ExtractTar(std::string_view tar, const fs::path& dir, size_t max_bytes) {
  size_t at = 0, total = 0;
  std::string long_name;
  std::error_code ec;
  fs::create_directories(dir, ec);
  while (at + 512 <= tar.size()) {
    const std::string_view block = tar.substr(at, 512);
    if (block.find_first_not_of('\0') == std::string_view::npos) return;  // end of archive
    const size_t size = Octal(block, 124, 12);
    const char type = block[156];
    std::string name = Field(block, 0, 100);
    if (block.substr(257, 5) == "ustar") {
      std::string prefix = Field(block, 345, 155);
      if (!prefix.empty()) name = prefix.append("/").append(name);
    }
    at += 512;
    if (size > tar.size() - at) throw VmError("results tar is cut off in " + name);
    const std::string_view data = tar.substr(at, size);
    at += (size + 511) & ~size_t{511};
    if (type == 'L') {  // GNU long name for the next entry
      long_name = std::string(data.substr(0, data.find('\0')));
      continue;
    }
    if (!long_name.empty()) name = std::exchange(long_name, "");
    const fs::path rel = SafeRelative(name);
    if (type == '5') {
      if (!rel.empty()) fs::create_directories(dir / rel);
    } else if (type == '0' || type == '\0') {
      if (rel.empty()) throw VmError("results tar: a file without a name");
      total += size;
      if (total > max_bytes) throw VmError("results tar is larger than the limit");
      fs::create_directories((dir / rel).parent_path());
      WriteFileReplacing(dir / rel, std::string(data));
    }
    // Anything else (links, devices, pax headers) is skipped: the results folder holds files.
  }
}

size_t ChannelScanner::Feed(std::string_view bytes,
                            const std::function<void(std::string_view)>& on_line) {
  size_t at = 0;
  while (at < bytes.size() && !ended_ && !broken_) {
    if (skip_ > 0) {
      const size_t n = static_cast<size_t>(std::min<unsigned long long>(skip_, bytes.size() - at));
      skip_ -= n;
      at += n;
      continue;
    }
    const size_t nl = bytes.find('\n', at);
    if (nl == std::string_view::npos) {
      line_.append(bytes.substr(at));
      at = bytes.size();
      if (line_.size() > kMaxMarkerLine) broken_ = true;
      break;
    }
    line_.append(bytes.substr(at, nl - at));
    at = nl + 1;
    const std::string line = std::exchange(line_, std::string());
    const std::string kind = MarkerKind(line);
    if (kind.empty()) continue;  // J lines and anything else
    if (on_line) on_line(line);
    if (kind == "END") {
      ended_ = true;
    } else if (kind == "DMESG" || kind == "RUNLOG" || kind == "RESULTS") {
      const auto fields = MarkerFields(line);
      auto it = fields.find("size");
      if (it == fields.end() || it->second.empty() || it->second.size() > 15 ||
          it->second.find_first_not_of("0123456789") != std::string::npos) {
        broken_ = true;
      } else {
        skip_ = std::stoull(it->second);
      }
    }
  }
  return at;
}

}  // namespace conform::vm
