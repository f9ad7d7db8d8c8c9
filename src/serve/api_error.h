// An error the HTTP API returns as {"error": {"message", "type", "param", "code"}} with its status,
// using OpenAI's type names so OpenAI clients raise their usual exceptions.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace attune::serve {

class ApiError : public std::runtime_error {
 public:
  // `param`: the request field at fault ("messages[1].content[0].input_audio.data"), or "".
  ApiError(int status, std::string code, std::string message, std::string param = {});

  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const std::string& param() const { return param_; }
  // invalid_request_error (400, 413, 415), not_found_error (404), rate_limit_error (429),
  // server_error (500, 503, 504).
  std::string type() const;
  nlohmann::json to_json() const;

 private:
  int status_;
  std::string code_, param_;
};

}  // namespace attune::serve
