#include "common/memory.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace attune::common {

void reexec_with_huge_page_malloc(char** argv) {
#if defined(__GLIBC__) && defined(__linux__)
  const char* current = std::getenv("GLIBC_TUNABLES");
  std::string tunables = current ? current : "";
  if (tunables.find("glibc.malloc.hugetlb") != std::string::npos) return;
  tunables += (tunables.empty() ? "" : ":") + std::string("glibc.malloc.hugetlb=1");
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // Still here: the re-execution failed; carry on with the allocator as it is.
#else
  (void)argv;
#endif
}

}  // namespace attune::common
