// SPDX-License-Identifier: GPL-2.0
// The NICs the module drives, from sysfs (/sys/class/net/<if>/exofusion/:
// policy, mode, rate and batch EMAs, counters): the one reader, which
// 'nic' and 'top' share.
#ifndef FUSIONCTL_NICS_H
#define FUSIONCTL_NICS_H

#include <stdint.h>

#include <map>
#include <string>
#include <vector>

#include "tools/fusionctl/files.h"

namespace fusionctl {

// The numbers every exofusion/ directory holds, as Nic::numbers keys.
extern const char* const kNicNumbers[8];

struct Nic {
  std::string name, pci, policy, mode;
  std::map<std::string, uint64_t> numbers;  // every key of kNicNumbers
};

// /sys/class/net, or the directory EXO_NET_SYSFS names.
File net_sysfs();

// Reads <net>/<name>/exofusion/; on failure false, with |error| saying why
// (no "fusionctl: COMMAND: " prefix).
[[nodiscard]] bool read_nic(const File& net, const std::string& name, Nic* nic,
                            std::string* error);

// The interfaces with an exofusion/ directory, sorted by name.
[[nodiscard]] bool list_nics(const File& net, std::vector<std::string>* out, std::string* error);

// The interface's packet counters (<net>/<name>/statistics/), which count
// every packet, where the driver's rate_pps is a smoothed estimate. False
// if they cannot be read.
[[nodiscard]] bool read_packets(const File& net, const std::string& name, uint64_t* rx,
                                uint64_t* tx);

}  // namespace fusionctl

#endif  // FUSIONCTL_NICS_H
