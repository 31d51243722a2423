"""Shared test settings."""

import torch

# The tests train tiny models: one torch thread is as fast as two and immune to OpenMP
# contention on a busy 2-core machine (docs/benchmarks.md, Accuracy: OMP_WAIT_POLICY).
torch.set_num_threads(1)
