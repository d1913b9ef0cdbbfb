"""`lit-gen`: fit / validate / test through LightningCLI, plus lit_gen's own sub-commands.

    lit-gen fit --config configs/experiments/vae_digits.yaml [--model.init_args.latent_dim 16 ...]
    lit-gen sample --ckpt_path runs/vae_digits/version_0 --num 64 --out grid.png
    lit-gen features train --data digits --out features/digits.pt
    lit-gen compare RUN_OR_CONFIG RUN_OR_CONFIG ...
    lit-gen sweep run|status|best|report|submit|cancel SPEC
    lit-gen submit --cluster slurm/PROFILE.yaml fit --config ...

The top of lit_gen: each command is imported only when it is used, so `lit-gen --help` and the help of every
command that does not train answer at once, without loading torch or Lightning.
"""

from __future__ import annotations

import importlib
import sys

from lit_gen.console import VERBOSE_FLAG, quiet_third_parties, set_verbose
from lit_gen.errors import LitGenError

#: every command: where it lives, and the line `lit-gen --help` shows for it
COMMANDS = {
    "fit": ("lit_gen.lightning_cli:run_lightning_command", "train a model from an experiment config (LightningCLI)"),
    "validate": ("lit_gen.lightning_cli:run_lightning_command", "evaluate a checkpoint on the validation split"),
    "test": ("lit_gen.lightning_cli:run_lightning_command", "evaluate a checkpoint on the test split"),
    "sample": ("lit_gen.sample_command:main", "draw samples of a trained model into a PNG"),
    "compare": ("lit_gen.compare.command:main", "models trained on the same data, side by side: a table and a figure"),
    "features": ("lit_gen.features.command:main", "train or show the domain classifier behind FID, KID and IS"),
    "sweep": ("lit_gen.sweep.command:main", "Optuna sweeps: run, status, best, report, submit, cancel"),
    "submit": ("lit_gen.slurm.submit_command:main", "one training run as a SLURM job (DDP under srun)"),
}
#: the commands LightningCLI runs; they take the whole command line, the command's name included
LIGHTNING_COMMANDS = ("fit", "validate", "test")
#: lit_gen's own sub-commands beside LightningCLI's fit/validate/test
OWN_COMMANDS = {name: target for name, (target, _) in COMMANDS.items() if name not in LIGHTNING_COMMANDS}


def usage() -> str:
    from lit_gen.version import __version__

    width = max(map(len, COMMANDS))
    lines = [f"usage: lit-gen [{VERBOSE_FLAG}] COMMAND [options]", "",
             f"lit_gen {__version__}: train, evaluate and sweep VAEs and GANs with PyTorch Lightning.", "",
             "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "options:",
              f"  {VERBOSE_FLAG:<{width}}  show every progress bar, warning and library message (default: a quiet log)",
              f"  {'--version':<{width}}  print lit_gen's version", "",
              "Each command's options: lit-gen COMMAND --help   (e.g. lit-gen fit --help)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if VERBOSE_FLAG in _before_separator(args):
        set_verbose(True)
        args = _without_verbose_flag(args)
        if argv is None:  # LightningCLI (and a DDP rank Lightning starts) reads the command line from sys.argv
            sys.argv[1:] = args
    quiet_third_parties()
    try:
        if not args or args[0] in ("-h", "--help"):
            print(usage(), file=sys.stdout if args else sys.stderr)
            raise SystemExit(0 if args else 2)
        if args[0] == "--version":
            from lit_gen.version import __version__

            print(f"lit_gen {__version__}")
            return
        if args[0] in OWN_COMMANDS:
            command = _command(OWN_COMMANDS[args[0]])
            command(args[1:])
        elif args[0].startswith("-") or args[0] in LIGHTNING_COMMANDS:  # `lit-gen --config x.yaml fit` as well
            run_lightning_command = _command(COMMANDS["fit"][0])
            run_lightning_command(None if argv is None else args)
        else:
            from lit_gen.typed_yaml import nearest

            raise LitGenError(f"unknown command {args[0]!r}: {nearest(args[0], list(COMMANDS), 'commands')} "
                              "(all commands: lit-gen --help)")
    except LitGenError as error:
        print(f"lit-gen: error: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def _command(target: str):
    module_name, function_name = target.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def _before_separator(args: list[str]) -> list[str]:
    """The arguments before a `--` (those after it belong to a command `compare` runs)."""
    return args[: args.index("--")] if "--" in args else args


def _without_verbose_flag(args: list[str]) -> list[str]:
    cut = args.index("--") if "--" in args else len(args)
    return [a for a in args[:cut] if a != VERBOSE_FLAG] + args[cut:]


if __name__ == "__main__":
    main()
