// Runs `fn`, turning torch's own errors (a shape mismatch deep inside an op, out-of-memory) into
// attune::Error with `what` in front, so nothing from inside torch reaches a caller unexplained.
// attune's own errors pass through unchanged.
#pragma once

#include <c10/util/Exception.h>

#include <string>

#include "attune/error.h"

namespace attune::model {

template <typename Fn>
auto with_torch_context(const char* what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const attune::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Error(std::string(what) + ": " + e.what_without_backtrace());
  }
}

}  // namespace attune::model
