// NumPy .npy bytes and .npz archives (stored or deflated): parsed, or refused with attune::Error.
// The first byte picks the format: even for .npy, odd for .npz.
#include "attune/error.h"
#include "fuzz_util.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(attune::fuzz::as_text(data + 1, size - 1));
  try {
    if (data[0] % 2 == 0) {
      const auto array = attune::io::parse_npy(bytes, "fuzz.npy");
      if (static_cast<int64_t>(array.values.size()) != array.size()) std::abort();
    } else {
      const auto path = attune::fuzz::scratch_dir() / "fuzz.npz";
      attune::fuzz::write_bytes(path, bytes);
      for (const auto& [name, array] : attune::io::read_npz(path)) {
        if (static_cast<int64_t>(array.values.size()) != array.size()) std::abort();
      }
    }
  } catch (const attune::Error&) {
  }
  return 0;
}
