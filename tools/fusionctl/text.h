// SPDX-License-Identifier: GPL-2.0
// Text helpers the readers and printers share: formatting into a string,
// showing untrusted file contents in a message, JSON strings.
#ifndef FUSIONCTL_TEXT_H
#define FUSIONCTL_TEXT_H

#include <string>
#include <vector>

namespace fusionctl {

// printf into a std::string.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Text from a file as a message can show it: printable, and not too long
// (a corrupted or hostile file must not garble the terminal).
std::string printable(const std::string& text);

// The words of a line, split at spaces and tabs.
std::vector<std::string> words_of(const std::string& text);

// |s| as a JSON string, quoted and escaped.
std::string json_string(const std::string& s);

}  // namespace fusionctl

#endif  // FUSIONCTL_TEXT_H
