// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// The library's error reporting: a negative errno returned, and a message
// kept per thread for exo_last_error().
#ifndef EXOFUSION_LIB_ERROR_H
#define EXOFUSION_LIB_ERROR_H

namespace exo::lib {

// Records "what: strerror(-err)"-style text and returns |err| (negative).
int fail(int err, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace exo::lib

#endif  // EXOFUSION_LIB_ERROR_H
