// SPDX-License-Identifier: GPL-2.0
// The module's rings as sysfs shows them: /sys/class/exofusion/NAME/stats/,
// one counter a file, the figures of EXO_RING_IOC_STATS. 'list' and 'top'
// read them there rather than through the device: the files are
// world-readable (the nodes need not be), reading them opens no ring (so
// open_count and a destroyed ring's lifetime are left alone), and a
// destroyed ring simply leaves the directory.
#ifndef FUSIONCTL_RINGS_H
#define FUSIONCTL_RINGS_H

#include <map>
#include <string>
#include <vector>

#include "tools/fusionctl/files.h"

namespace fusionctl {

// counter -> its value as text, as the stats/ files hold them.
using RingStats = std::map<std::string, std::string>;

struct RingEntry {
  std::string name;
  RingStats stats;
  // The inode of its stats/ directory: kernfs numbers each new directory
  // afresh, so a ring destroyed and created again under its name differs.
  unsigned long long id;
};

// /sys/class/exofusion, or the directory EXO_RING_SYSFS names.
File ring_sysfs();

// Every ring in |dir|, sorted by name, with its counters. A ring destroyed
// while it is read is left out. False, with |error| saying why (and, if so,
// that the module is not loaded), when |dir| cannot be read.
[[nodiscard]] bool read_rings(const File& dir, std::vector<RingEntry>* out, std::string* error);

// The counter |key| of |stats|, "?" if it is not there.
std::string stat_text(const RingStats& stats, const char* key);

}  // namespace fusionctl

#endif  // FUSIONCTL_RINGS_H
