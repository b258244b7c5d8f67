// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// Clang's thread-safety annotations (checked by `clang++ -Wthread-safety`,
// tests/host/test_fibers.py); other compilers ignore them.
#ifndef EXOFIBER_ANNOTATIONS_H
#define EXOFIBER_ANNOTATIONS_H

#if defined(__clang__)
#define EXO_TSA(x) __attribute__((x))
#else
#define EXO_TSA(x)
#endif

#define EXO_CAPABILITY(name) EXO_TSA(capability(name))
#define EXO_GUARDED_BY(lock) EXO_TSA(guarded_by(lock))
#define EXO_REQUIRES(...) EXO_TSA(requires_capability(__VA_ARGS__))
#define EXO_ACQUIRE(...) EXO_TSA(acquire_capability(__VA_ARGS__))
#define EXO_RELEASE(...) EXO_TSA(release_capability(__VA_ARGS__))
#define EXO_TRY_ACQUIRE(...) EXO_TSA(try_acquire_capability(__VA_ARGS__))
#define EXO_EXCLUDES(...) EXO_TSA(locks_excluded(__VA_ARGS__))
#define EXO_NO_TSA EXO_TSA(no_thread_safety_analysis)

#endif  // EXOFIBER_ANNOTATIONS_H
