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

namespace {

// The length of the well-formed UTF-8 sequence at |s| (of |n| bytes), or 0:
// no overlong form, surrogate or code point above U+10FFFF (RFC 3629).
size_t utf8_length(const unsigned char* s, size_t n) {
  size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
  if (s[0] < 0xc2 || s[0] > 0xf4 || n < len) return 0;
  for (size_t i = 1; i < len; ++i)
    if ((s[i] & 0xc0) != 0x80) return 0;
  // The second byte's range, where the lead byte narrows it.
  if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
      (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
    return 0;
  return len;
}

}  // namespace

// JSON text is UTF-8 (RFC 8259): a name from sysfs or debugfs is bytes, and
// a byte that is not part of a well-formed sequence would make the whole
// report unparsable, so it becomes U+FFFD.
std::string json_string(const std::string& s) {
  std::string out = "\"";
  const unsigned char* bytes = reinterpret_cast<const unsigned char*>(s.data());
  size_t len;
  for (size_t i = 0; i < s.size(); i += len) {
    unsigned char c = bytes[i];
    len = 1;
    if (c == '"' || c == '\\')
      out += std::string("\\") + static_cast<char>(c);
    else if (c < 0x20)
      out += format("\\u%04x", c);
    else if (c < 0x80)
      out += static_cast<char>(c);
    else if ((len = utf8_length(bytes + i, s.size() - i)))
      out.append(s, i, len);
    else {
      out += "\\ufffd";
      len = 1;
    }
  }
  return out + "\"";
}

}  // namespace fusionctl
