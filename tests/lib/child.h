// SPDX-License-Identifier: GPL-2.0
// Calls that may block for ever when the library is wrong, run in a forked
// child with a deadline, so that a hang fails its test instead of hanging
// the suite; and whether the module is loaded (device-ring tests skip
// without it: the VM suite runs them).
#ifndef EXO_TESTS_LIB_CHILD_H
#define EXO_TESTS_LIB_CHILD_H

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

namespace exo_lib_test {

// What a guarded call returns when it did not return in time, or died.
constexpr int kHung = INT_MIN;
constexpr int kDied = INT_MIN + 1;

inline bool have_module() { return access("/dev/exofusion/control", F_OK) == 0; }

inline std::string describe(int rc) {
  if (rc == kHung) return "hung (killed at the deadline)";
  if (rc == kDied) return "died without a result";
  return std::to_string(rc) + (rc < 0 ? std::string(" (") + strerror(-rc) + ")" : "");
}

// A call run in a forked child, which shares the ring (its mapping and fd)
// with the test: its result comes back through a pipe; a child still in
// its call at the destructor is killed.
class Child {
 public:
  Child(const std::function<int()>& call, int seconds) {
    if (pipe(fds_) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(fds_[0]);
      alarm(static_cast<unsigned>(seconds) + 5);  // the parent may be gone
      int rc = call();
      _exit(write(fds_[1], &rc, sizeof(rc)) == static_cast<ssize_t>(sizeof(rc)) ? 0 : 1);
    }
    close(fds_[1]);
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fds_[0] >= 0) close(fds_[0]);
  }
  // Whether the call returned within |ms|; its result in |rc| (kDied when
  // the child ended without one).
  bool done(int ms, int* rc) {
    if (pid_ <= 0) {
      *rc = kDied;
      return true;
    }
    pollfd p = {fds_[0], POLLIN, 0};
    if (poll(&p, 1, ms) != 1) return false;
    if (read(fds_[0], rc, sizeof(*rc)) != static_cast<ssize_t>(sizeof(*rc))) *rc = kDied;
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return true;
  }

 private:
  int fds_[2] = {-1, -1};
  pid_t pid_ = -1;
};

// |call|'s result, run in a child with a deadline: kHung if it waits on.
inline int guarded(const std::function<int()>& call, int seconds = 10) {
  Child child(call, seconds);
  int rc = kHung;
  return child.done(seconds * 1000, &rc) ? rc : kHung;
}

}  // namespace exo_lib_test

#endif  // EXO_TESTS_LIB_CHILD_H
