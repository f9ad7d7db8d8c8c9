// attune's error types. Every failure a user can cause (a bad file, a bad option, a bad request)
// is thrown as one of these with a message that names the file or field and what was expected;
// the CLI prints it as one line and exits non-zero, the server answers it as a 4xx.
#pragma once

#include <stdexcept>
#include <string>

#include "attune/export.h"

namespace attune {

// Base of all attune errors.
class ATTUNE_API Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Input data that cannot be used: missing, corrupt, truncated or malformed files, bad samples.
class ATTUNE_API InputError : public Error {
 public:
  using Error::Error;
  // "PATH: WHAT" — the usual shape of an input error.
  InputError(const std::string& path, const std::string& what);
};

// An option, config key or argument with a value that is not allowed.
class ATTUNE_API ConfigError : public Error {
 public:
  using Error::Error;
};

// The operating system refused something (cannot create, write or rename a file).
class ATTUNE_API IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace attune
