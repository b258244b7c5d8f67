// SPDX-License-Identifier: GPL-2.0
#include "tools/fusionctl/rings.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include <algorithm>

namespace fusionctl {
namespace {

// The counters in a ring's stats/ directory; false if the directory or one
// of its files is gone (the ring was destroyed meanwhile).
bool read_stats(const std::string& dir_path, RingStats* out) {
  DIR* dir = opendir(dir_path.c_str());
  if (!dir) return false;
  bool complete = true;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::string value;
    if (read_value(dir_path + "/" + entry->d_name, &value) == ENOENT) complete = false;
    (*out)[entry->d_name] = value.empty() ? "?" : value;
  }
  closedir(dir);
  return complete;
}

}  // namespace

File ring_sysfs() { return file_of("EXO_RING_SYSFS", "/sys/class/exofusion"); }

bool read_rings(const File& dir, std::vector<RingEntry>* out, std::string* error) {
  DIR* d = opendir(dir.path.c_str());
  if (!d) {
    *error = sysfs_open_error(dir, errno);
    return false;
  }
  while (dirent* entry = readdir(d)) {
    if (entry->d_name[0] == '.') continue;
    RingEntry ring{entry->d_name, {}, 0};
    std::string stats_dir = dir.path + "/" + ring.name + "/stats";
    struct stat st;
    // Gone since readdir, or not a ring: leave it out.
    if (stat(stats_dir.c_str(), &st) == 0 && read_stats(stats_dir, &ring.stats)) {
      ring.id = st.st_ino;
      out->push_back(std::move(ring));
    }
  }
  closedir(d);
  std::sort(out->begin(), out->end(),
            [](const RingEntry& a, const RingEntry& b) { return a.name < b.name; });
  return true;
}

std::string stat_text(const RingStats& stats, const char* key) {
  auto it = stats.find(key);
  return it == stats.end() ? "?" : it->second;
}

}  // namespace fusionctl
