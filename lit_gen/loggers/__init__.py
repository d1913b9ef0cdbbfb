"""Lightning's loggers with what lit_gen adds; none of them imports its tracking library until a run starts."""

from lit_gen.loggers.wandb_logger import WandbLogger, finish_runs, log_images, place_in_run_directory
from lit_gen.loggers.wandb_mode import resolve_mode

__all__ = ["WandbLogger", "finish_runs", "log_images", "place_in_run_directory", "resolve_mode"]
