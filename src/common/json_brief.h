// Bounded descriptions of JSON values for error messages. Values come from files and requests a
// user (or an attacker) wrote and may be nested arbitrarily deep; nlohmann's dump() recurses once
// per level, so an error message built with it can overflow the stack.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace attune::common {

// The value as JSON text when it is small and shallow (cut to `max_chars` with "..."), else what it
// is: "an array of 3 items nested deeper than 8 levels", "an object of 40000 keys".
std::string json_brief(const nlohmann::json& value, size_t max_chars = 60);

// How many levels `value` nests, counted without recursion and without looking past `limit` + 1.
size_t json_depth(const nlohmann::json& value, size_t limit);

}  // namespace attune::common
