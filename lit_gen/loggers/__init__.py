"""Experiment loggers beyond Lightning's own; none of them imports its tracking library until a run starts."""

from lit_gen.loggers.wandb_logger import WandbLogger, finish_runs, log_images

__all__ = ["WandbLogger", "finish_runs", "log_images"]
