// SPDX-License-Identifier: GPL-2.0
// The module's files (sysfs and debugfs), each of which an environment
// variable can replace, so that the host tests can run the readers on
// sample trees; and why one of them cannot be opened.
#ifndef FUSIONCTL_FILES_H
#define FUSIONCTL_FILES_H

#include <string>

namespace fusionctl {

// A file or directory of the module's, or the one an environment variable
// names instead.
struct File {
  std::string path;
  const char* env;  // the variable that named it; nullptr for the module's own

  // How messages name it: "ENV=path" when a variable chose it.
  std::string shown() const { return env ? std::string(env) + "=" + path : path; }
};

// |standard|, unless the variable |env| is set and not empty.
File file_of(const char* env, const char* standard);

// Why |file| (a debugfs file) could not be opened for |verb| ("read",
// "write") with errno |err|, and what would fix it: mount debugfs, load the
// module, run as root. No "fusionctl: COMMAND: " prefix.
std::string debugfs_open_error(const char* verb, const File& file, int err);

// Why the module's sysfs directory |dir| could not be read: "cannot read
// DIR (why)" and, when the module is not loaded, how to load it.
std::string sysfs_open_error(const File& dir, int err);

// A sysfs value: its one line, without the trailing newline and spaces.
// Returns 0, or the errno of the failure.
[[nodiscard]] int read_value(const std::string& path, std::string* out);

// The last component of a symbolic link's target ("" if none).
std::string link_name(const std::string& path);

}  // namespace fusionctl

#endif  // FUSIONCTL_FILES_H
