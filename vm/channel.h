// The guest's result channel (the virtio-serial port netns-conform.results, a file on the host):
// marker lines, streamed journal lines, then framed payloads (vm/guest_init.sh writes it).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conform::vm {

struct ChannelContents {
  bool booted = false, running = false, ended = false;
  std::map<std::string, std::string> booted_fields;   // uptime, release
  std::map<std::string, std::string> running_fields;  // uptime, nic
  std::vector<std::string> journal;                   // "J " lines, prefix removed
  std::optional<std::string> dmesg, runner_log, results_tar;
  std::optional<int> runner_status;  // from the RESULTS frame
  std::string error;                 // a malformed or cut-off frame, empty when fine
};

ChannelContents ParseChannel(std::string_view bytes);

// Extracts a tar archive (ustar or GNU, as busybox writes it) into `dir`: regular files and
// folders only (links and devices are skipped), relative names without "..", at most
// `max_bytes` in all; VmError for a name that would leave `dir` or a cut-off archive. A guest
// cannot write outside `dir`.
void ExtractTar(std::string_view tar, const std::filesystem::path& dir,
                size_t max_bytes = size_t{1} << 30);

}  // namespace conform::vm
