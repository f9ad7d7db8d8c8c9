#include "common/memory.h"

#include <unistd.h>

#include <cstdio>
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

long long resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long long total = 0, resident = 0;
  const int n = std::fscanf(f, "%lld %lld", &total, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<long long>(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace attune::common
