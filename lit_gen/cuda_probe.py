"""Keep torch's CUDA availability check cheap on machines without an NVIDIA driver.

`import lightning` sets PYTORCH_NVML_BASED_CUDA_CHECK=1, so that `torch.cuda.is_available()` asks NVML instead of
initialising CUDA (a process that initialised CUDA cannot use it in its forked children). torch.optim checks
availability in every `optimizer.step()`. Where libnvidia-ml cannot be loaded — a CPU machine with a CUDA build of
torch, pip's default on Linux — torch tries to load it on every call, fails, and falls back to the very CUDA runtime
count the variable was meant to avoid (which finds no driver to initialise). The variable then changes no answer
and costs a failed library load in every optimizer step: 45 µs a call on its own, and 0.22 ms (a tenth) of the
digits MLP's 2 ms training step in a plain PyTorch loop on this 2-core machine.
"""

from __future__ import annotations

import ctypes
import os

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
NVML_LIBRARY = "libnvidia-ml.so.1"  # what torch.cuda loads for the check


def drop_unusable_nvml_check() -> bool:
    """Unset PYTORCH_NVML_BASED_CUDA_CHECK when NVML cannot be loaded; True if it was unset."""
    if os.environ.get(NVML_CHECK) != "1":
        return False
    try:
        ctypes.CDLL(NVML_LIBRARY)
    except OSError:  # no driver: torch's NVML path would fail on every call and fall back anyway
        del os.environ[NVML_CHECK]
        return True
    return False
