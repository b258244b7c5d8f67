// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
#include "userspace/lib/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "userspace/include/exofusion/exofusion.h"

namespace {
thread_local char last_error[256] = "no error";
}

namespace exo::lib {

int fail(int err, const char* fmt, ...) {
  char what[192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  snprintf(last_error, sizeof(last_error), "%s (%s)", what, strerror(-err));
  return err;
}

}  // namespace exo::lib

extern "C" const char* exo_last_error(void) { return last_error; }
