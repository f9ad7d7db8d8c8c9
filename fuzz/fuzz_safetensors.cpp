// .safetensors files: SafetensorsFile::open validates the header against the file's real size, so
// reading every tensor it accepts stays inside the mapping (ASan checks the reads).
#include "attune/error.h"
#include "fuzz_util.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = attune::fuzz::scratch_dir() / "fuzz.safetensors";
  attune::fuzz::write_bytes(path, attune::fuzz::as_text(data, size));
  try {
    const auto file = attune::io::SafetensorsFile::open(path);
    for (const auto& name : file.names()) {
      const auto& view = file.tensor(name);
      if (view.nbytes > file.file_size()) std::abort();
      if (view.numel() <= (1 << 16)) (void)attune::io::to_f32(view);
    }
  } catch (const attune::Error&) {
  }
  return 0;
}
