#include "attune/error.h"

namespace attune {

InputError::InputError(const std::string& path, const std::string& what) : Error(path + ": " + what) {}

}  // namespace attune
