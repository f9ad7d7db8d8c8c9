// Anchor translation unit for the shared precompiled header <torch/torch.h>.
// Every torch-using target reuses its PCH through attune_use_torch() in cmake/AttuneTargets.cmake.
