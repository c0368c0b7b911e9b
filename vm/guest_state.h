// The reuse sandbox's state folders ($NETNS_CONFORM_VM_DIR/NAME, laid out in vm/reuse.h):
// meta.json, the lock that tells a live folder from a stale one, removal by an atomic rename,
// and the checks a new folder's path must pass. ListGuests and FindGuest live here too.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "vm/reuse.h"

namespace conform::vm {

// meta.json in `dir`, rewritten through a temporary name; read back (state_dir = dir), nullopt
// when it is missing or not GuestInfo's JSON.
void WriteMeta(const std::filesystem::path& dir, const GuestInfo& guest);
std::optional<GuestInfo> ReadMeta(const std::filesystem::path& dir);

// Removes the root (and /run/netns-conform for the default root) when empty; a concurrent start
// that loses its parent folder makes it again.
void RemoveEmptyRoot();

// Renames `dir` aside and removes it: its name is free the moment the rename is done.
void RemoveDir(const std::filesystem::path& dir);

// Removes `dir` when no supervisor holds its lock. True: it is gone (or was never there).
bool CleanIfStale(const std::filesystem::path& dir);

// VmError when a guest's folder under `root` cannot hold its sockets (a comma in the path, which
// qemu's options cannot take, or a socket path too long).
void CheckStatePath(const std::filesystem::path& root, const std::string& name);

// A file of a state folder, "" when it is not there (any more) or cannot be read.
std::string ReadIfThere(const std::filesystem::path& path);

}  // namespace conform::vm
