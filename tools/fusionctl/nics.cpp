// SPDX-License-Identifier: GPL-2.0
#include "tools/fusionctl/nics.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>

#include "tools/fusionctl/cli.h"
#include "tools/fusionctl/text.h"

namespace fusionctl {

const char* const kNicNumbers[8] = {"rate_pps", "batch_x16", "irq_rate",   "mode_changes",
                                    "irqs",     "polls",     "busy_polls", "timer_polls"};

namespace {

bool is_dir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A decimal sysfs value; false with |error| set if unreadable or not a number.
bool read_number(const std::string& path, uint64_t* out, std::string* error) {
  std::string v;
  if (int err = read_value(path, &v)) {
    *error = format("cannot read %s (%s)", path.c_str(), strerror(err));
    return false;
  }
  if (!parse_decimal(v.c_str(), out)) {
    *error = format("%s: '%s' is not a decimal number (%s)", path.c_str(), printable(v).c_str(),
                    strerror(EINVAL));
    return false;
  }
  return true;
}

}  // namespace

File net_sysfs() { return file_of("EXO_NET_SYSFS", "/sys/class/net"); }

bool read_nic(const File& net, const std::string& name, Nic* nic, std::string* error) {
  std::string dir = net.path + "/" + name;
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    *error = format("unknown interface '%s': no %s (%s)", name.c_str(), dir.c_str(),
                    strerror(errno));
    return false;
  }
  std::string ours = dir + "/exofusion";
  if (!is_dir(ours)) {
    std::string driver = link_name(dir + "/device/driver");
    *error = format("%s is not an exofusion NIC: no %s (%s)%s%s", name.c_str(), ours.c_str(),
                    strerror(ENOENT), driver.empty() ? "" : "; its driver is ", driver.c_str());
    return false;
  }
  nic->name = name;
  nic->pci = link_name(dir + "/device");
  if (nic->pci.empty()) nic->pci = "?";
  for (std::string* to : {&nic->policy, &nic->mode}) {
    const char* file = to == &nic->policy ? "policy" : "mode";
    if (int err = read_value(ours + "/" + file, to)) {
      *error = format("cannot read %s/%s (%s)", ours.c_str(), file, strerror(err));
      return false;
    }
  }
  for (const char* key : kNicNumbers)
    if (!read_number(ours + "/" + key, &nic->numbers[key], error)) return false;
  return true;
}

bool list_nics(const File& net, std::vector<std::string>* out, std::string* error) {
  DIR* d = opendir(net.path.c_str());
  if (!d) {
    *error = format("cannot list %s (%s)", net.path.c_str(), strerror(errno));
    return false;
  }
  while (struct dirent* e = readdir(d))
    if (e->d_name[0] != '.' && is_dir(net.path + "/" + e->d_name + "/exofusion"))
      out->push_back(e->d_name);
  closedir(d);
  std::sort(out->begin(), out->end());
  return true;
}

bool read_packets(const File& net, const std::string& name, uint64_t* rx, uint64_t* tx) {
  std::string dir = net.path + "/" + name + "/statistics/";
  std::string ignored;
  return read_number(dir + "rx_packets", rx, &ignored) &&
         read_number(dir + "tx_packets", tx, &ignored);
}

}  // namespace fusionctl
