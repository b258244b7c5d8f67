// SPDX-License-Identifier: GPL-2.0
// What 'top' waits for between samples: the next sample's time, a key
// (q quits), SIGINT, SIGTERM, SIGQUIT or SIGHUP (quit), SIGWINCH (redraw);
// and the terminal of its live view, put back as it was whichever way it
// ends.
#ifndef FUSIONCTL_TERMINAL_H
#define FUSIONCTL_TERMINAL_H

#include <signal.h>
#include <termios.h>
#include <time.h>

#include <string>
#include <vector>

namespace fusionctl {

class Events {
 public:
  enum class Event { kDeadline, kQuit, kSignal, kResize };

  Events() = default;
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
  // Puts back the signal handlers (and the terminal: see use_keys).
  ~Events();

  // Catches SIGINT, SIGTERM, SIGQUIT, SIGHUP and SIGWINCH. False with |error| set on failure.
  [[nodiscard]] bool start(std::string* error);
  // Reads keys from standard input (a terminal), one at a time without
  // echo, until destruction. False with |error| set on failure.
  [[nodiscard]] bool use_keys(std::string* error);

  // Blocks until |deadline| (CLOCK_MONOTONIC) or an event.
  Event wait_until(const timespec& deadline);
  // The signal behind the last kSignal.
  int signal() const { return signal_; }

 private:
  Event read_key();

  int pipe_[2] = {-1, -1};  // the handlers write their signal's number here
  bool handlers_ = false;
  static constexpr size_t kCaught = 5;
  struct sigaction saved_actions_[kCaught];  // of terminal.cpp's kSignals
  bool keys_ = false;
  termios saved_{};
  int signal_ = 0;
};

// The live view's screen: the alternate screen, cursor hidden, each frame
// drawn over the last one in place (no clear: that flickers). Plain ANSI
// escapes, which every terminal emulator in use understands; no ncurses.
class Screen {
 public:
  Screen();
  ~Screen();  // back to the normal screen, cursor shown
  Screen(const Screen&) = delete;
  Screen& operator=(const Screen&) = delete;

  // Draws |lines|, each cut to the terminal's width, as many as its height
  // holds.
  void draw(const std::vector<std::string>& lines);
};

timespec monotonic_now();
double seconds_of(const timespec& t);
timespec add_seconds(const timespec& t, double seconds);

}  // namespace fusionctl

#endif  // FUSIONCTL_TERMINAL_H
