// SPDX-License-Identifier: GPL-2.0
#include "tools/fusionctl/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

namespace fusionctl {

std::string format(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char* s = nullptr;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0) return fmt;
  std::string out(s);
  free(s);
  return out;
}

std::string printable(const std::string& text) {
  std::string out;
  for (char c : text) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (out.size() > 200) out = out.substr(0, 197) + "...";
  return out;
}

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> words;
  size_t i = 0;
  while ((i = text.find_first_not_of(" \t", i)) != std::string::npos) {
    size_t end = text.find_first_of(" \t", i);
    if (end == std::string::npos) end = text.size();
    words.push_back(text.substr(i, end - i));
    i = end;
  }
  return words;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += format("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace fusionctl
