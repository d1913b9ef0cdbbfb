"""`lit-gen`: fit / validate / test through LightningCLI, plus lit_gen's own sub-commands.

    lit-gen fit --config configs/experiments/vae_digits.yaml [--model.init_args.latent_dim 16 ...]
    lit-gen sample --ckpt_path runs/vae_digits/version_0 --num 64 --out grid.png
    lit-gen features train --data digits --out features/digits.pt
    lit-gen compare RUN_OR_CONFIG RUN_OR_CONFIG ...
    lit-gen sweep run|status|best|report|submit|cancel SPEC
    lit-gen submit --cluster slurm/PROFILE.yaml fit --config ...

The top of lit_gen: each command is imported only when it is used.
"""

from __future__ import annotations

import importlib
import sys

from lit_gen.errors import LitGenError

#: lit_gen's own sub-commands beside LightningCLI's fit/validate/test
OWN_COMMANDS = {
    "sample": "lit_gen.sample_command:main",
    "features": "lit_gen.features.command:main",
    "compare": "lit_gen.compare:main",
    "sweep": "lit_gen.sweep.command:main",
    "submit": "lit_gen.slurm.submit_command:main",
}


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in OWN_COMMANDS:
            module_name, function_name = OWN_COMMANDS[args[0]].split(":")
            command = getattr(importlib.import_module(module_name), function_name)
            command(args[1:])
        else:
            from lit_gen.lightning_cli import run_lightning_command

            run_lightning_command(None if argv is None else args)
    except LitGenError as error:
        print(f"lit-gen: error: {error}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
