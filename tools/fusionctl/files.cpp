// SPDX-License-Identifier: GPL-2.0
#include "tools/fusionctl/files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "tools/fusionctl/text.h"

namespace fusionctl {
namespace {

constexpr char kDebugfs[] = "/sys/kernel/debug";
constexpr long kDebugfsMagic = 0x64626720;  // DEBUGFS_MAGIC, <linux/magic.h>
constexpr char kModule[] = "/sys/module/exofusion";
constexpr char kLoad[] = "the exofusion module is not loaded; load it with 'insmod exofusion.ko'";

}  // namespace

File file_of(const char* env, const char* standard) {
  const char* v = getenv(env);
  if (v && *v) return {v, env};
  return {standard, nullptr};
}

std::string debugfs_open_error(const char* verb, const File& file, int err) {
  std::string what = format("cannot %s %s (%s)", verb, file.shown().c_str(), strerror(err));
  // A file a variable named is the caller's own: the module's state says
  // nothing about why it is missing.
  if (!file.env) {
    struct statfs fs;
    if (statfs(kDebugfs, &fs) != 0 || fs.f_type != kDebugfsMagic)
      return format("%s: debugfs is not mounted at %s; mount it with 'mount -t debugfs none %s'",
                    what.c_str(), kDebugfs, kDebugfs);
    if (access(kModule, F_OK) != 0) return what + ": " + kLoad;
  }
  if (err == EACCES || err == EPERM)
    return what + ": " + (file.env ? "" : "the module's debugfs files are root's; ") +
           "run fusionctl as root";
  if (err == ENOENT && !file.env)
    return what +
           ": the loaded exofusion module has no slab caches; is it an older exofusion.ko? "
           "(rmmod exofusion; insmod exofusion.ko)";
  return what;
}

std::string sysfs_open_error(const File& dir, int err) {
  std::string what = format("cannot read %s (%s)", dir.shown().c_str(), strerror(err));
  if (err == ENOENT && !dir.env && access(kModule, F_OK) != 0) return what + ": " + kLoad;
  return what;
}

int read_value(const std::string& path, std::string* out) {
  FILE* f = fopen(path.c_str(), "re");
  if (!f) return errno;
  char buf[256];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  int err = ferror(f) ? (errno ? errno : EIO) : 0;
  fclose(f);
  if (err) return err;
  buf[n] = '\0';
  *out = buf;
  while (!out->empty() && (out->back() == '\n' || out->back() == ' ')) out->pop_back();
  return 0;
}

std::string link_name(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  const char* slash = strrchr(buf, '/');
  return slash ? slash + 1 : buf;
}

}  // namespace fusionctl
