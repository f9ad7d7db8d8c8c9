#include "train/distributed.h"

// ProcessGroupGloo.hpp declares its class only under USE_C10D_GLOO, which libtorch's CMake package
// defines for its users (Debian's libtorch has Gloo built in).
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <string>

#include "attune/error.h"
#include "model/torch_error.h"

namespace attune::train {
namespace {

int env_int(const char* name, int fallback, int min, int max) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < min || x > max) {
    throw ConfigError(std::string("environment ") + name + "=" + v + ": expected an integer in [" +
                      std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return static_cast<int>(x);
}

// The tensors as one float32 CPU buffer (one collective call instead of one per tensor), and back.
at::Tensor flatten(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> parts;
  for (const auto& t : tensors) parts.push_back(t.detach().reshape({-1}).to(at::kCPU, at::kFloat));
  return at::cat(parts);
}

void unflatten(const at::Tensor& buffer, const std::vector<at::Tensor>& tensors) {
  int64_t offset = 0;
  for (const auto& t : tensors) {
    t.detach().copy_(buffer.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
}

}  // namespace

DistributedEnv distributed_env_from_environment() {
  DistributedEnv env;
  env.world_size = env_int("WORLD_SIZE", 1, 1, 65536);
  env.rank = env_int("RANK", 0, 0, 65535);
  env.local_rank = env_int("LOCAL_RANK", env.rank, 0, 65535);
  if (env.rank >= env.world_size) {
    throw ConfigError("environment RANK=" + std::to_string(env.rank) +
                      " is not below WORLD_SIZE=" + std::to_string(env.world_size));
  }
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) env.master_addr = a;
  env.master_port = env_int("MASTER_PORT", 29500, 1, 65535);
  return env;
}

struct Communicator::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

Communicator::Communicator(const DistributedEnv& env) : env_(env) {
  if (!env.enabled()) return;
  model::with_torch_context("connecting the training processes", [&] {
    impl_ = std::make_unique<Impl>();
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(env.master_port);
    options.isServer = env.rank == 0;
    options.numWorkers = env.world_size;
    options.waitWorkers = true;
    options.timeout = std::chrono::seconds(300);
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    auto gloo = c10d::ProcessGroupGloo::Options::create();
    // GLOO_SOCKET_IFNAME picks the interface as in PyTorch; a loopback master means one machine.
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
      gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost") {
      gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      gloo->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env.rank, env.world_size, gloo);
  });
}

Communicator::~Communicator() = default;

void Communicator::average(const std::vector<at::Tensor>& tensors) {
  if (!env_.enabled() || tensors.empty()) return;
  model::with_torch_context("averaging gradients across processes", [&] {
    std::vector<at::Tensor> buffer{flatten(tensors)};
    impl_->group->allreduce(buffer)->wait();
    unflatten(buffer[0].div_(env_.world_size), tensors);
  });
}

void Communicator::broadcast_from_rank0(const std::vector<at::Tensor>& tensors) {
  if (!env_.enabled() || tensors.empty()) return;
  model::with_torch_context("broadcasting parameters", [&] {
    std::vector<at::Tensor> buffer{flatten(tensors)};
    impl_->group->broadcast(buffer)->wait();
    unflatten(buffer[0], tensors);
  });
}

void Communicator::barrier() {
  if (!env_.enabled()) return;
  std::vector<at::Tensor> token{at::zeros({1})};
  impl_->group->allreduce(token)->wait();
}

}  // namespace attune::train
