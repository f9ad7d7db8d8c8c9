// config.json of a model directory: a Hugging Face model (Whisper, Qwen2/Qwen3/Llama) or attune's
// composite "attune_slm". Each is parsed and validated, or refused with attune::Error.
#include "attune/error.h"
#include "fuzz_util.h"
#include "io/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = attune::fuzz::scratch_dir() / "config" / "config.json";
  attune::fuzz::write_bytes(path, attune::fuzz::as_text(data, size));
  try {
    const nlohmann::json config = attune::io::read_json_file(path);
    if (attune::io::is_slm_config(config)) {
      const auto slm = attune::io::load_slm_config(path);
      (void)attune::io::to_json(slm, path.parent_path());
    } else {
      const auto hf = attune::io::load_hf_config(path);
      (void)attune::io::to_json(hf);
    }
  } catch (const attune::Error&) {
  }
  return 0;
}
