// Escaping text for XML and HTML (SSML documents, SVG plots, report pages).
#pragma once

#include <string>
#include <string_view>

namespace attune::common {

// Replaces & < > " ' with their entities, so text can never become markup.
inline std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace attune::common
