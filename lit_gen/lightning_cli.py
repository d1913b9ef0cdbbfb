"""`lit-gen fit | validate | test`: LightningCLI with lit_gen's models, data, callbacks and run directory.

    lit-gen fit --config configs/experiments/vae_digits.yaml [--model.init_args.latent_dim 16 ...]

`run_lightning_command` runs one such command line, in this process; `check_fit_config` parses one without running
it (how a sweep or a SLURM submission checks its trials' config before anything starts).
"""

from __future__ import annotations

import importlib
import inspect
import sys
import time
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint, ModelSummary, ProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lit_gen.callbacks import LatestCheckpoint, SampleImages, default_callbacks
from lit_gen.callbacks.divergences import Divergences
from lit_gen.callbacks.image_quality import ImageQuality
from lit_gen.callbacks.metrics_history import hold_before_fit
from lit_gen.callbacks.metrics_json import record_meta
from lit_gen.callbacks.sweep_trial import SweepTrial
from lit_gen.checkpoints import checkpoint_as_data
from lit_gen.config_errors import explain
from lit_gen.data.base import InMemoryDataModule
from lit_gen.errors import LitGenError
from lit_gen.loggers import place_in_run_directory
from lit_gen.models.base import GenerativeModel
from lit_gen.run.identity import current_trial
from lit_gen.run.readings import gan_readings
from lit_gen.run.record import read_metrics, run_dir

#: metrics printed at the end of `fit`, when the run logged them
KEY_FIGURES = [
    "val/elbo", "val/nll_iw", "test/elbo", "test/nll_iw", "test/bpd", "test/kl", "test/recon",
    "test/fid", "test/fid_gmm", "test/kid", "test/is", "test/modes_covered", "test/high_quality", "test/reverse_kl",
    "test/entropy_data", "test/kl_data_model", "test/kl_model_data", "test/jsd", "test/jsd_lower_bound",
]


class LitGenArgumentParser(LightningArgumentParser):
    """The CLI's parser: a bad config is one short message (`LitGenCLI.parse_arguments`), not the usage of every
    option."""


class ConfigParsed(Exception):
    """Raised after parsing when a command line is only checked (`check_fit_config`); carries the resolved config."""

    def __init__(self, config: dict) -> None:
        super().__init__("parsed")
        self.config = config


class LitGenCLI(LightningCLI):
    def __init__(self, args: list[str] | None = None, parse_only: bool = False) -> None:
        self.parse_only = parse_only
        callbacks = default_callbacks()
        trial = current_trial()
        if trial is not None:
            # a sweep trial reports to its study and leaves its end record; as a default callback it is not part of
            # the saved config, which re-runs the trial by hand as a plain training run
            callbacks.append(SweepTrial(trial))
        super().__init__(
            GenerativeModel,
            InMemoryDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},  # a resumed or requeued run rewrites its own config
            trainer_defaults={
                "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger",
                           "init_args": {"save_dir": "runs", "name": "lit_gen"}},
                "callbacks": callbacks,
            },
            args=args,
            parser_class=LitGenArgumentParser,
            # a mistake comes back as an exception, which `parse_arguments` turns into one LitGenError
            parser_kwargs={"exit_on_error": False},
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
            "checkpoint.save_last": False,  # last.ckpt comes from LatestCheckpoint, at every epoch
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
        trainer = (config.get("trainer") if config is not None else None) or {}
        # Lightning refuses a progress bar or a checkpoint callback when they are switched off (and would still run a
        # model summary given as a callback): leave ours out then
        unwanted = tuple(kind for kind, key in ((ProgressBar, "enable_progress_bar"),
                                                (LatestCheckpoint, "enable_checkpointing"),
                                                (ModelSummary, "enable_model_summary"))
                         if trainer.get(key) is False)
        if unwanted:
            self.trainer_defaults["callbacks"] = [c for c in self.trainer_defaults["callbacks"]
                                                  if not isinstance(c, unwanted)]
        if self.parse_only:
            import yaml

            resolved = yaml.safe_load(self.parser.dump(self.config, skip_validation=True)) or {}
            raise ConfigParsed(resolved.get(self.subcommand, resolved) if self.subcommand else resolved)
        config = self.config.get(self.subcommand) if self.subcommand else self.config
        if config is not None and config.get("run_dir"):
            place_run_directory(config, Path(config.run_dir))

    def instantiate_trainer(self, **kwargs):
        trainer = super().instantiate_trainer(**kwargs)
        place_in_run_directory(trainer)  # W&B's files go in the run directory, known once the trainer is
        return trainer

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except (ValueError, TypeError) as error:  # raised by our constructors for values the types let through
            raise LitGenError(f"invalid configuration: {error}") from error

    def init_parser(self, **kwargs) -> LightningArgumentParser:
        parser = super().init_parser(**kwargs)
        self._parsers = [*getattr(self, "_parsers", []), parser]  # the main parser, then one per command
        return parser

    def parse_arguments(self, parser, args) -> None:
        from jsonargparse import ArgumentError

        try:
            super().parse_arguments(parser, args)
        except ArgumentError as error:
            command_line = list(sys.argv[1:] if args is None else args)
            raise LitGenError(explain_parse_error(str(error), command_line, self._parsers[1:])) from None
        subcommand = self.config.get("subcommand")
        if subcommand:
            self.config[subcommand] = checkpoint_as_data(self.config[subcommand], subcommand)

    def before_fit(self) -> None:
        hold_before_fit(self.trainer)  # a resumed run's metrics.csv keeps its earlier rows
        self._fit_started = time.perf_counter()

    def after_fit(self) -> None:
        trainer = self.trainer
        if trainer.interrupted:
            return
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        ckpt_path = best or None  # no monitored checkpoint: evaluate the weights as they are
        trainer.validate(self.model, datamodule=self.datamodule, ckpt_path=ckpt_path, verbose=False)
        trial = next((c for c in trainer.callbacks if isinstance(c, SweepTrial)), None)
        pruned = trial is not None and trial.pruned is not None  # a pruned sweep trial needs no test
        if self.config.fit.test_after_fit and not pruned:
            trainer.test(self.model, datamodule=self.datamodule, ckpt_path=ckpt_path, verbose=False)
        # how long the work took, from the trainer's start to the end of the final evaluation: a sweep measures
        # its own overhead (process start, imports, storage) as the rest of the trial's wall time
        seconds = round(time.perf_counter() - self._fit_started, 3)
        record_meta(trainer, {"timing": {"fit_seconds": seconds}})
        if trial is not None:
            trial.write_end(trainer, seconds)
        folder = run_dir(trainer)  # on every rank: under DDP the log dir is broadcast from rank 0
        if trainer.is_global_zero:
            likelihood = getattr(self.model, "likelihood", None)
            offset = likelihood.discrete_nats_offset() if likelihood is not None else None
            print_summary(folder, tuple(self.datamodule.data_shape), getattr(self.model.hparams, "ema_decay", None),
                          dequantised=bool(offset))


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


def print_summary(folder, data_shape: tuple[int, ...] | None = None, ema_decay: float | None = None,
                  dequantised: bool = True) -> None:
    """The run's key figures, and the reading of those that surprise. `dequantised`: the likelihood is a density on
    dequantised pixels (its nll_iw can be negative), not a mass function over the levels (a code length)."""
    metrics = read_metrics(folder)["metrics"]
    lines = [f"Results in {folder}: metrics.json, config.yaml, checkpoints/, images/"]
    for key in KEY_FIGURES:
        if key in metrics:
            lines.append(f"  {key:<20} {metrics[key]:.4f}")
    if dequantised and data_shape and any(k.endswith("/nll_iw") for k in metrics) and any(
            k.endswith("/bpd") for k in metrics):
        # bpd beside a dequantised density's nll_iw: the nll_iw is a continuous density's
        dims = "×".join(map(str, data_shape))
        lines += [f"  nll_iw is -log p(x) in nats of a density on [0,1]^({dims}): a density can exceed 1, so it can be",
                  "  negative; bpd (bits per dimension of the discrete pixels) is the figure to compare across models"]
    lines += gan_readings(metrics, ema_decay)
    print("\n".join(lines), flush=True)


def run_lightning_command(args: list[str] | None = None) -> None:
    """`lit-gen fit|validate|test ...` in this process; `None` reads `sys.argv`, as a command-line start does
    (LightningCLI warns when given both)."""
    LitGenCLI(args=args)
    end_process_group()


def check_fit_config(args: list[str]) -> dict:
    """Parse the command line of one `lit-gen fit` (without the `fit`) as the trial or job would, and stop with the
    parser's own message when a key or value is wrong; returns the resolved config (what `--print_config` shows).
    Nothing is instantiated: a login node need not have the trial's GPUs or data."""
    import warnings

    from jsonargparse import ArgumentError

    try:
        with warnings.catch_warnings():  # the process's own argv (`lit-gen sweep run ...`) is not this command line
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter", category=UserWarning)
            LitGenCLI(args=["fit", *args], parse_only=True)
    except ConfigParsed as parsed:
        return parsed.config
    except ArgumentError as error:  # raised before LitGenCLI.parse_arguments (a config file that does not parse)
        raise LitGenError(explain(str(error), ["fit", *args])) from None
    raise AssertionError("LitGenCLI(parse_only=True) returned without raising ConfigParsed")


def explain_parse_error(message: str, command_line: list[str], command_parsers: list) -> str:
    """jsonargparse's message as `lit_gen.config_errors` words it; the command's keys are the candidates for a typo
    outside any class (`trainer.max_epochz`)."""
    command = next((arg for arg in command_line if arg in LitGenCLI.subcommands()), "fit")
    keys: list[str] = []
    for command_parser in command_parsers:
        try:
            keys += [key for key in command_parser.get_defaults().keys() if key not in keys]
        except Exception:  # noqa: BLE001 — the keys only improve the message; without them it names the help
            continue
    return explain(message, command_line, keys, help_hint=f"(every option: lit-gen {command} --help)")


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
