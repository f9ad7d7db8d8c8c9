// Process-wide allocator settings for jobs that allocate and free the same large buffers every step.
#pragma once

namespace attune::common {

// Training frees and reallocates the same large tensors every step (the logits alone are ~270 MB
// at 8192 tokens x 8192 ids). glibc serves such blocks with fresh mappings, and the kernel faults
// them in 4 KB at a time: three quarters of a stage-0 step was kernel time on the 2-core machine.
// glibc's tunable glibc.malloc.hugetlb=1 backs those mappings with transparent huge pages (2 MB
// faults): the same steps ran 4x faster, bit for bit the same, with the same peak memory. Tunables
// are read at process start, so this re-executes the program (/proc/self/exe, same arguments) once
// with the tunable added to GLIBC_TUNABLES. It returns (doing nothing) when GLIBC_TUNABLES already
// names glibc.malloc.hugetlb (so glibc.malloc.hugetlb=0 opts out), outside glibc on Linux, or when
// the re-execution fails.
void reexec_with_huge_page_malloc(char** argv);

// The process's resident memory now (/proc/self/statm), in bytes; 0 where it cannot be read.
long long resident_bytes();

}  // namespace attune::common
