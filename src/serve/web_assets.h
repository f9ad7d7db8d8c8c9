// The web page's files (web/), built into the binary so `attune serve` needs nothing beside it.
#pragma once

#include <string_view>
#include <vector>

namespace attune::serve {

struct WebAsset {
  std::string_view path;  // "/", "/app.js", ...
  std::string_view content_type;
  std::string_view body;
};

const std::vector<WebAsset>& web_assets();

}  // namespace attune::serve
