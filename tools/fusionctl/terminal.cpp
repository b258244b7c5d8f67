// SPDX-License-Identifier: GPL-2.0
#include "tools/fusionctl/terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tools/fusionctl/text.h"

namespace fusionctl {
namespace {

// Every signal whose default action ends top (^C, ^\, a hung-up terminal,
// kill) is caught, so that the terminal is put back before top dies of it.
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGWINCH};
constexpr size_t kSignalCount = sizeof(kSignals) / sizeof(kSignals[0]);
// The write end, for the handler: set before the handlers are installed and
// cleared after they are removed, so the handler only reads it.
volatile sig_atomic_t g_signal_pipe = -1;

// Async-signal-safe: a write to a non-blocking pipe, errno kept. A full
// pipe already holds a wake-up, so a lost byte loses nothing.
void on_signal(int signo) {
  int saved = errno;
  unsigned char byte = static_cast<unsigned char>(signo);
  if (write(g_signal_pipe, &byte, 1) < 0) {
  }
  errno = saved;
}

int64_t nanoseconds_until(const timespec& deadline) {
  timespec now = monotonic_now();
  return (deadline.tv_sec - now.tv_sec) * 1000000000LL + (deadline.tv_nsec - now.tv_nsec);
}

}  // namespace

timespec monotonic_now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t;
}

double seconds_of(const timespec& t) { return t.tv_sec + t.tv_nsec / 1e9; }

timespec add_seconds(const timespec& t, double seconds) {
  long long ns = t.tv_nsec + static_cast<long long>(seconds * 1e9);
  return {static_cast<time_t>(t.tv_sec + ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

bool Events::start(std::string* error) {
  static_assert(kSignalCount == kCaught, "a saved action for each signal caught");
  if (pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    *error = format("cannot create a pipe (%s)", strerror(errno));
    return false;
  }
  g_signal_pipe = pipe_[1];
  // No SA_RESTART: nothing blocks but poll(), which the pipe wakes anyway.
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < kSignalCount; ++i) {
    sigaction(kSignals[i], &sa, &saved_actions_[i]);
    // A signal ignored from the start (a job that nohup or a shell's '&'
    // started) stays ignored, as the shell meant.
    if (saved_actions_[i].sa_handler == SIG_IGN) sigaction(kSignals[i], &saved_actions_[i], nullptr);
  }
  handlers_ = true;
  return true;
}

bool Events::use_keys(std::string* error) {
  if (tcgetattr(STDIN_FILENO, &saved_) != 0) {
    *error = format("cannot read the terminal's settings (%s)", strerror(errno));
    return false;
  }
  termios raw = saved_;
  // Keys arrive one by one, unechoed; ISIG stays, so ^C is still SIGINT.
  raw.c_lflag &= ~(ICANON | ECHO);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) {
    *error = format("cannot set up the terminal (%s)", strerror(errno));
    return false;
  }
  keys_ = true;
  return true;
}

Events::~Events() {
  if (keys_) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  if (handlers_)
    for (size_t i = 0; i < kSignalCount; ++i) sigaction(kSignals[i], &saved_actions_[i], nullptr);
  g_signal_pipe = -1;
  for (int fd : pipe_)
    if (fd >= 0) close(fd);
}

Events::Event Events::read_key() {
  char key;
  ssize_t n = read(STDIN_FILENO, &key, 1);
  if (n == 0) keys_ = false;  // end of input: stop watching it (or poll spins)
  if (n == 1 && (key == 'q' || key == 'Q')) return Event::kQuit;
  return Event::kResize;  // any other key redraws at once
}

Events::Event Events::wait_until(const timespec& deadline) {
  for (;;) {
    int64_t ns = nanoseconds_until(deadline);
    if (ns <= 0) return Event::kDeadline;
    pollfd fds[2] = {{pipe_[0], POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    int timeout_ms = static_cast<int>((ns + 999999) / 1000000);
    int n = poll(fds, keys_ ? 2 : 1, timeout_ms);
    if (n < 0 && errno != EINTR) return Event::kDeadline;  // cannot wait: sample now
    if (n <= 0) continue;
    if (fds[0].revents & POLLIN) {
      unsigned char signo;
      if (read(pipe_[0], &signo, 1) == 1) {
        if (signo == SIGWINCH) return Event::kResize;
        signal_ = signo;
        return Event::kSignal;
      }
    }
    if (keys_ && fds[1].revents) {
      Event e = read_key();
      if (e == Event::kQuit || keys_) return e;
    }
  }
}

Screen::Screen() {
  fputs("\033[?1049h\033[?25l", stdout);  // alternate screen, hide the cursor
  fflush(stdout);
}

Screen::~Screen() {
  fputs("\033[?25h\033[?1049l", stdout);
  fflush(stdout);
}

void Screen::draw(const std::vector<std::string>& lines) {
  winsize ws{};
  size_t width = 80, height = 24;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
    width = ws.ws_col;
    height = ws.ws_row;
  }
  // A long line (a missing part's reason) wraps, indented, rather than
  // losing its end at the edge.
  std::vector<std::string> rows;
  for (const std::string& line : lines) {
    rows.push_back(line.substr(0, width));
    for (size_t at = width; width > 4 && at < line.size(); at += width - 2)
      rows.push_back("  " + line.substr(at, width - 2));
  }
  std::string frame = "\033[H";  // home; each row then clears its own rest
  for (size_t i = 0; i < rows.size() && i < height; ++i) {
    // The last row gets no newline: one more would scroll the frame.
    frame += rows[i] + "\033[K" + (i + 1 < height ? "\n" : "");
  }
  frame += "\033[J";  // and below the last line
  fputs(frame.c_str(), stdout);
  fflush(stdout);
}

}  // namespace fusionctl
