"""`lit-gen`: fit / validate / test through LightningCLI, plus lit_gen's own sub-commands.

    lit-gen fit --config configs/experiments/vae_digits.yaml [--model.init_args.latent_dim 16 ...]
    lit-gen sample --ckpt_path runs/vae_digits/version_0 --num 64 --out grid.png
    lit-gen features train --data digits --out features/digits.pt
    lit-gen compare RUN_OR_CONFIG RUN_OR_CONFIG ...
    lit-gen sweep run|status|best|report|submit|cancel SPEC
    lit-gen submit --cluster slurm/PROFILE.yaml fit --config ...
"""

from __future__ import annotations

import importlib
import inspect
import sys
import time
from pathlib import Path

from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lit_gen.callbacks import SampleImages, default_callbacks
from lit_gen.callbacks.checkpoint import ModelCheckpoint
from lit_gen.callbacks.divergences import Divergences
from lit_gen.callbacks.image_quality import ImageQuality
from lit_gen.callbacks.metrics_json import read_metrics, run_dir, update_meta
from lit_gen.checkpoints import read_checkpoint
from lit_gen.data.base import InMemoryDataModule
from lit_gen.errors import LitGenError
from lit_gen.models.base import GenerativeModel
from lit_gen.sweep.identity import current_trial

#: lit_gen's own sub-commands beside LightningCLI's fit/validate/test, imported only when used
OWN_COMMANDS = {
    "sample": "lit_gen.sample_command:main",
    "features": "lit_gen.features.command:main",
    "compare": "lit_gen.compare:main",
    "sweep": "lit_gen.sweep.command:main",
    "submit": "lit_gen.slurm.submit_command:main",
}

#: metrics printed at the end of `fit`, when the run logged them
KEY_FIGURES = [
    "val/elbo", "val/nll_iw", "test/elbo", "test/nll_iw", "test/bpd", "test/kl", "test/recon",
    "test/fid", "test/fid_gmm", "test/kid", "test/is", "test/modes_covered", "test/high_quality", "test/reverse_kl",
    "test/entropy_data", "test/kl_data_model", "test/kl_model_data", "test/jsd", "test/jsd_lower_bound",
]


class LitGenArgumentParser(LightningArgumentParser):
    """Reports a bad config as one short message instead of the usage of every option."""

    def error(self, message: str, ex: Exception | None = None):
        if not self.exit_on_error:
            return super().error(message, ex)
        noise = ("Expected a <class 'NoneType'>", "Given value type:", "Given value:")
        lines = [line for line in message.splitlines() if not line.strip().lstrip("- ").startswith(noise)]
        prog = self.prog.replace(" [options]", "")
        sys.stderr.write("lit-gen: error: " + "\n".join(lines) + f"\n(all options: {prog} --help)\n")
        self.exit(2)


class LitGenCLI(LightningCLI):
    def __init__(self, args: list[str] | None = None) -> None:
        super().__init__(
            GenerativeModel,
            InMemoryDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},  # a resumed or requeued run rewrites its own config
            trainer_defaults={
                "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger",
                           "init_args": {"save_dir": "runs", "name": "lit_gen"}},
                "callbacks": default_callbacks(),
            },
            args=args,
            parser_class=LitGenArgumentParser,
        )

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        # `predict` has no meaning for a generative model here; `lit-gen sample` draws samples
        return {name: keys for name, keys in LightningCLI.subcommands().items() if name != "predict"}

    def add_arguments_to_parser(self, parser) -> None:
        # networks are sized from the data: the DataModule tells the model what one example looks like
        parser.link_arguments("data", "model.init_args.data_shape", compute_fn=lambda d: d.data_shape,
                              apply_on="instantiate")
        parser.link_arguments("data", "model.init_args.levels", compute_fn=lambda d: d.levels,
                              apply_on="instantiate")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({
            "checkpoint.monitor": "val/nll_iw",
            "checkpoint.mode": "min",
            "checkpoint.save_last": True,
            "checkpoint.filename": "best-{epoch:04d}",
            "checkpoint.auto_insert_metric_name": False,
        })
        parser.add_lightning_class_args(SampleImages, "images")
        parser.add_lightning_class_args(ImageQuality, "image_quality")
        # on data with an exact density (the 2D mixtures): entropy, KL both ways, JSD; does nothing elsewhere
        parser.add_lightning_class_args(Divergences, "divergences")
        parser.add_argument("--test_after_fit", type=bool, default=True,
                            help="after fit, evaluate the best checkpoint on the test split too")
        parser.add_argument("--run_dir", type=str | None, default=None,
                            help="write the run directory exactly here (instead of <save_dir>/<name>/version_<n>); "
                                 "a resumed or requeued run keeps its directory")

    def before_instantiate_classes(self) -> None:
        config = self.config.get(self.subcommand) if self.subcommand else self.config
        if config is not None and config.get("run_dir"):
            place_run_directory(config, Path(config.run_dir))

    def _instantiate_trainer(self, config, callbacks):
        if config.get("enable_progress_bar") is False:  # Lightning refuses a progress bar callback then
            defaults = self.trainer_defaults["callbacks"]
            self.trainer_defaults["callbacks"] = [c for c in defaults if not isinstance(c, ProgressBar)]
        trial = current_trial()
        if trial is not None and trial.report is not None:
            # a sweep trial reports to its study; not part of the saved config, which re-runs it by hand
            from lit_gen.sweep.pruning import SweepPruning

            callbacks = [*callbacks, SweepPruning(trial)]
        return super()._instantiate_trainer(config, callbacks)

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except (ValueError, TypeError) as error:  # raised by our constructors for values the types let through
            raise LitGenError(f"invalid configuration: {error}") from error

    def _parse_ckpt_path(self) -> None:
        # Lightning reads the checkpoint's hyperparameters here; a damaged file should fail with our message
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and ckpt_path not in ("best", "last", "hpc", "registry"):
            read_checkpoint(ckpt_path)
        super()._parse_ckpt_path()

    def before_fit(self) -> None:
        self._fit_started = time.perf_counter()

    def after_fit(self) -> None:
        trainer = self.trainer
        if trainer.interrupted:
            return
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        ckpt_path = best or None  # no monitored checkpoint: evaluate the weights as they are
        trainer.validate(self.model, datamodule=self.datamodule, ckpt_path=ckpt_path, verbose=False)
        pruned = any(getattr(c, "pruned", False) for c in trainer.callbacks)  # a pruned sweep trial needs no test
        if self.config.fit.test_after_fit and not pruned:
            trainer.test(self.model, datamodule=self.datamodule, ckpt_path=ckpt_path, verbose=False)
        # how long the work took, from the trainer's start to the end of the final evaluation: a sweep measures
        # its own overhead (process start, imports, storage) as the rest of the trial's wall time
        update_meta(trainer, {"timing": {"fit_seconds": round(time.perf_counter() - self._fit_started, 3)}})
        folder = run_dir(trainer)  # on every rank: under DDP the log dir is broadcast from rank 0
        if trainer.is_global_zero:
            print_summary(folder)


def place_run_directory(config, folder: Path) -> None:
    """Point the trainer and every logger at `folder`, so the run directory is exactly `folder`."""
    config.trainer.default_root_dir = str(folder)  # also where Lightning looks for hpc_ckpt_*.ckpt on SLURM
    loggers = config.trainer.get("logger")
    for logger in loggers if isinstance(loggers, list) else [loggers]:
        if not hasattr(logger, "class_path"):
            continue  # True/False/None: Lightning's default logger writes below default_root_dir
        logger_class = _import_class(logger.class_path)
        parameters = inspect.signature(logger_class).parameters
        if "save_dir" in parameters:
            logger.init_args.save_dir = str(folder)
        from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

        if issubclass(logger_class, (CSVLogger, TensorBoardLogger)):  # their log_dir is save_dir/name/version
            logger.init_args.name = ""
            logger.init_args.version = ""


def _import_class(class_path: str):
    module_name, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


def print_summary(folder) -> None:
    metrics = read_metrics(folder)["metrics"]
    lines = [f"Results in {folder}: metrics.json, config.yaml, checkpoints/, images/"]
    for key in KEY_FIGURES:
        if key in metrics:
            lines.append(f"  {key:<20} {metrics[key]:.4f}")
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in OWN_COMMANDS:
            module_name, function_name = OWN_COMMANDS[args[0]].split(":")
            command = getattr(importlib.import_module(module_name), function_name)
            command(args[1:])
        else:
            LitGenCLI(args=None if argv is None else args)
    except LitGenError as error:
        print(f"lit-gen: error: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    end_process_group()


def end_process_group() -> None:
    """Under DDP, close the process group once every rank is done, before the interpreter shuts down.

    Left open, a gloo worker thread may drop its last collective's tensors after the main thread has begun to
    finalize Python; the thread then cannot take the GIL, is unwound inside a noexcept destructor, and the process
    aborts with "terminate called without an active exception" after its results were written (seen under srun,
    where the abort marks a finished job FAILED). Destroying the group joins those threads first; the barrier keeps
    one rank from closing its connections while another still waits on the last collective.
    """
    if "torch.distributed" not in sys.modules:
        return  # torch was never loaded (a spec check, `--help`): nothing distributed ran
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
