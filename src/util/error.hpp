#pragma once

#include <stdexcept>
#include <string>

namespace aimc {

// Every user-facing failure (bad config, model, dataset, CLI) is thrown as an Error whose message
// is one line naming the file, the key or tensor, and what was expected. The CLI prints it as
// "aimc: error: <message>" and exits non-zero; nothing else reaches the user.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `message` without a leading "origin: ", for an error rethrown under another, more precise origin.
inline std::string without_origin(const std::string& message, const std::string& origin) {
  const std::string prefix = origin + ": ";
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

}  // namespace aimc
