#pragma once

#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>

namespace aimc {

// Writes one flat JSON object (in util so that every layer can emit JSON), keys in insertion order.
// Non-finite numbers become null, which JSON parsers accept, instead of the invalid tokens nan/inf.
class JsonObject {
 public:
  JsonObject& add(const std::string& key, const std::string& value) {
    return raw(key, quote(value));
  }
  JsonObject& add(const std::string& key, const char* value) {
    return add(key, std::string(value));
  }
  JsonObject& add(const std::string& key, std::int64_t value) {
    return raw(key, std::to_string(value));
  }
  JsonObject& add(const std::string& key, int value) { return add(key, std::int64_t{value}); }
  JsonObject& add(const std::string& key, bool value) { return raw(key, value ? "true" : "false"); }
  JsonObject& add(const std::string& key, double value) {
    if (!std::isfinite(value)) return raw(key, "null");
    std::ostringstream os;
    os.precision(10);
    os << value;
    return raw(key, os.str());
  }
  // Inserts already-serialised JSON (an array or a nested object).
  JsonObject& raw(const std::string& key, const std::string& json) {
    body_ += (body_.empty() ? "" : ", ") + quote(key) + ": " + json;
    return *this;
  }
  std::string str() const { return "{" + body_ + "}"; }

  static std::string quote(const std::string& s) {
    std::string out = "\"";
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += ch;
      } else if (c < 0x20) {
        static const char* hex = "0123456789abcdef";
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
      } else {
        out += ch;
      }
    }
    return out + "\"";
  }

 private:
  std::string body_;
};

}  // namespace aimc
