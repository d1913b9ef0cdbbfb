"""Cheaper answers to what Lightning asks a LightningModule on every training step.

Lightning's loop around a step costs a few hundred microseconds of Python: on a CPU that is a fifth of the digits
MLP's whole step (`benchmarks/vae_throughput.py`). Most of it is Lightning's own, but some is spent in the module's
attribute handling and default hooks, and can be had more cheaply with the same result:

- Lightning sets `_current_fx_name` around every hook it calls, 45 times a step; `nn.Module.__setattr__` first
  checks each value against the module's parameters, submodules and buffers (two Python isinstance hooks,
  ~2 µs a time, ~0.1 ms a step). It is a plain attribute.
- To decide whether to pass `batch_idx`, Lightning reads `training_step`'s signature on every batch, which
  `inspect` builds anew each time; the signature is cached on the function instead.
- Not Lightning's hook but torch's, in every `optimizer.step()`: on a CPU machine with a CUDA build of torch, the
  CUDA availability check tries and fails to load NVML each time, because `import lightning` asked it to
  (`lit_gen/cuda_probe.py`); set up here, that stops.
"""

from __future__ import annotations

import inspect
from typing import Any

from lightning.pytorch import LightningModule

from lit_gen.cuda_probe import drop_unusable_nvml_check


class LeanHooks(LightningModule):
    """A LightningModule base with the shortcuts above; it behaves as LightningModule does. A subclass that
    overrides `setup` calls `super().setup(stage)`."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("training_step")
        if inspect.isfunction(step) and "__signature__" not in step.__dict__:
            step.__signature__ = inspect.signature(step, follow_wrapped=False)  # as Lightning reads it

    def setup(self, stage: str) -> None:
        drop_unusable_nvml_check()

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)
