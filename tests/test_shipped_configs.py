"""The shipped experiments and the documentation's commands as a user runs them: the experiments meant to be compared
share their data, and every `lit-gen` line in the ```bash blocks of README.md and docs/*.md names files that exist
and parses. No training (tests/test_docs_examples.py runs the README's examples)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from lit_gen.compare import Entry
from lit_gen.compare.check import check_same_data
from lit_gen.lightning_cli import check_fit_config
from lit_gen.sweep.spec import load_spec
from tests.conftest import CONFIGS, REPO

EXPERIMENTS = CONFIGS / "experiments"
#: the VAE and the GAN on each 2D mixture, meant to go side by side in `lit-gen compare` as shipped
TWINS = [("vae_mixture", "gan_ring8"), ("vae_grid25", "gan_grid25")]


def config_entries(*paths: Path) -> list[Entry]:
    return [Entry(str(path), path.stem, config=path) for path in paths]


def run_entry(folder: Path, experiment: Path) -> Entry:
    """A run directory as compare's check after training reads it: config.yaml with the data LightningCLI resolved
    (data file, class defaults) for the experiment."""
    folder.mkdir(parents=True)
    data = check_fit_config(["--config", str(experiment)])["data"]
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": data}))
    return Entry(str(folder), folder.name, run_dir=folder)


@pytest.mark.parametrize("vae, gan", TWINS)
def test_the_vae_and_the_gan_of_each_mixture_pass_compares_data_check_as_shipped(tmp_path, vae, gan):
    vae_config, gan_config = EXPERIMENTS / f"{vae}.yaml", EXPERIMENTS / f"{gan}.yaml"
    # before training, as compare checks configs (that this check reads such configs at all, and refuses a ring
    # beside a grid: tests/test_compare.py::test_configs_on_different_data_are_refused_before_any_training)
    check_same_data(config_entries(vae_config, gan_config), [], final=False)
    runs = [run_entry(tmp_path / vae, vae_config), run_entry(tmp_path / gan, gan_config)]
    check_same_data(runs, [], final=True)  # after training, on each run's config.yaml


# --- the documentation's command lines ----------------------------------------------------------------------------

#: the pages a user reads: the README and every page of the documentation site
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def page_commands(page: Path) -> list[list[str]]:
    """Every `lit-gen …` command in a page's ```bash blocks, as argument lists (continuations joined, comments and
    `cmd && cmd` split)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(), re.S):
        for line in re.sub(r"\\\n", " ", block).splitlines():
            for part in line.split("&&"):
                tokens = shlex.split(part, comments=True)
                if tokens[:1] == ["lit-gen"]:
                    commands.append(tokens[1:])
    return commands


#: each distinct command once (the README and a page often show the same one)
COMMANDS = [list(args) for args in dict.fromkeys(tuple(args) for page in PAGES for args in page_commands(page))]
#: what the pages' commands write (`--out`, `--export`, `--out_dir`) may be read by a later one
WRITTEN = {args[i + 1] for args in COMMANDS for i, arg in enumerate(args[:-1])
           if arg in ("--out", "--export", "--out_dir")}
#: written by the user: the cluster profile the docs say to copy from slurm/gpu_example.yaml
USER_FILES = {"slurm/my_cluster.yaml"}


def named_files(args: list[str]) -> list[str]:
    """The arguments that are paths to read (not options, values like `[sigma, digits]`, or outputs)."""
    paths = [arg for arg in args if not arg.startswith("-") and ("/" in arg or arg.endswith((".yaml", ".pt")))]
    # runs/… is made by an earlier command; an absolute or home path (`--data.init_args.data_dir /path/to/…`) is the
    # reader's own
    return [path for path in paths if not path.startswith(("runs/", "/", "~")) and path not in WRITTEN | USER_FILES]


def command_id(args: list[str]) -> str:
    return " ".join(args)[:70]


def test_the_pages_have_the_commands_this_test_checks():
    subcommands = {args[0] for args in COMMANDS}
    assert {"fit", "test", "sample", "compare", "features", "sweep", "submit"} <= subcommands, subcommands
    assert len(COMMANDS) > 20
    assert page_commands(REPO / "README.md") and page_commands(REPO / "docs" / "sweeps.md")


@pytest.mark.parametrize("args", [args for args in COMMANDS if "..." not in args], ids=command_id)
def test_every_documented_command_names_files_that_exist_and_parses(args):
    for path in named_files(args):
        assert (REPO / path).exists(), f"`lit-gen {' '.join(args)}` names {path}, which does not exist"
    if args[:2] == ["submit", "--cluster"]:
        args = args[3:]  # the command it submits
    if args[0] == "fit" and all(path not in WRITTEN for path in args):
        # parse only, from the repository's root as the pages' paths are; --print_config would print and exit
        fit_args = [str(REPO / arg) if arg.startswith("configs/") else arg for arg in args[1:]]
        check_fit_config([arg for arg in fit_args if arg != "--print_config"])
    elif args[0] == "sweep":
        assert load_spec(REPO / args[2]).n_trials > 0


@pytest.mark.parametrize("args", [args for args in COMMANDS if args[0] == "compare"], ids=command_id)
def test_documented_compare_examples_need_no_data_overrides(args):
    assert "--" not in args  # the configs that ship share their data (test above): nothing to give after `--`
    configs = [REPO / arg for arg in args[1:] if arg.endswith(".yaml")]
    if configs:
        assert len(configs) >= 2 and all(path.is_file() for path in configs)
        check_same_data(config_entries(*configs), [], final=False)
    runs = [arg for arg in args[1:] if arg.startswith("runs/")]
    # a finished run directory is a shipped experiment's, trained by `lit-gen fit` into runs/<name>/version_<n>
    assert all((EXPERIMENTS / f"{Path(run).parts[1]}.yaml").is_file() for run in runs)
