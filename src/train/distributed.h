// Data parallelism across processes through torch's c10d process groups, launched the usual way:
// RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (and LOCAL_RANK for the GPU) from the environment, as
// torchrun sets them. Gradients travel through Gloo as one flat float32 buffer; GPU tensors go through
// a host copy (NCCL is not wired in yet: no multi-GPU machine was available to test it).
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

namespace attune::train {

struct DistributedEnv {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool enabled() const { return world_size > 1; }
};

// Reads the environment; ConfigError for a malformed or inconsistent value (naming the variable).
DistributedEnv distributed_env_from_environment();

class Communicator {
 public:
  // Connects every rank (rank 0 hosts the TCP store). A single process needs no connection.
  explicit Communicator(const DistributedEnv& env);
  ~Communicator();
  const DistributedEnv& env() const { return env_; }
  // Sums the tensors across ranks and divides by the world size, in place (one flat buffer).
  void average(const std::vector<at::Tensor>& tensors);
  // Copies rank 0's values into every rank's tensors.
  void broadcast_from_rank0(const std::vector<at::Tensor>& tensors);
  void barrier();

 private:
  struct Impl;
  DistributedEnv env_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace attune::train
