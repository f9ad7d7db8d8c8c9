// bf16 autocast for a forward pass (weights, gradients and the optimiser stay float32), on the CPU or
// a GPU, the way torch.autocast does it; nothing when `on` is false.
//
//   { train::Autocast autocast(recipe.precision == "bf16", device); loss = forward(...); }
#pragma once

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

namespace attune::train {

class Autocast {
 public:
  Autocast(bool on, at::Device device) : on_(on), cuda_(device.is_cuda()) {
    if (!on_) return;
    if (cuda_) {
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    } else {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
    at::autocast::increment_nesting();
  }
  ~Autocast() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    if (cuda_)
      at::autocast::set_enabled(false);
    else
      at::autocast::set_cpu_enabled(false);
  }

 private:
  bool on_, cuda_;
};

}  // namespace attune::train
