#include "serve/api_error.h"

#include <nlohmann/json.hpp>

namespace attune::serve {

ApiError::ApiError(int status, std::string code, std::string message, std::string param)
    : std::runtime_error(std::move(message)), status_(status), code_(std::move(code)), param_(std::move(param)) {}

std::string ApiError::type() const {
  if (status_ == 401) return "authentication_error";
  if (status_ == 404) return "not_found_error";
  if (status_ == 429) return "rate_limit_error";
  if (status_ >= 500) return "server_error";
  return "invalid_request_error";
}

nlohmann::json ApiError::to_json() const {
  return {{"error",
           {{"message", what()},
            {"type", type()},
            {"param", param_.empty() ? nlohmann::json(nullptr) : nlohmann::json(param_)},
            {"code", code_}}}};
}

}  // namespace attune::serve
