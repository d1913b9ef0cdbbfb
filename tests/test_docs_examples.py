"""The documentation's examples, run or loaded as written, so the docs cannot drift from the code silently.

- The README's examples are executed as written, in a folder holding copies of `configs/`, `sweeps/` and `slurm/`
  (as a user's clone has them), in-process through `lit_gen.cli.main`. The few that need a cluster or a finished
  sweep are listed in PARSED_ONLY with where they do run; a new README example must be put in one of the two.
- The Python API example of docs/api.md runs on the README's trained run.
- Every `configs/experiments/*.yaml` resolves with `--print_config`.
- Every sweep file and SLURM profile a page names loads; the docs' every-key sweep example loads; the table of
  shipped sweeps in docs/sweeps.md names the sampler, pruner and budget each file has; the image-quality defaults
  docs/metrics.md shows are the callback's.

Every `lit-gen` line of every page also parses: tests/test_shipped_configs.py.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

import lit_gen.lightning_cli  # noqa: F401  (Lightning's log handler then holds the real stderr, not one test's capture)
from lit_gen.callbacks.image_quality import ImageQuality
from lit_gen.cli import main
from lit_gen.slurm.profile import load_profile
from lit_gen.sweep.spec import load_spec
from tests.conftest import CONFIGS, REPO
from tests.test_shipped_configs import PAGES, page_commands

README = REPO / "README.md"
DOCS = REPO / "docs"

#: README examples run as written, in the order the README gives them (`sample` reads what `fit` wrote)
EXECUTED = [
    "fit --config configs/experiments/vae_digits.yaml",
    "sample --ckpt_path runs/vae_digits/version_0 --num 64 --out grid.png",
    "fit --config configs/experiments/vae_digits.yaml --model.init_args.latent_dim 16 --print_config",
    "sweep submit sweeps/vae_sigma_digits.yaml --cluster slurm/cpu.yaml --workers 2 --dry_run",
]
#: README examples parsed here (tests/test_shipped_configs.py) but run elsewhere, and why
PARSED_ONLY = {
    "sweep run sweeps/quickstart.yaml --workers 2":
        "the main job: .ci/run runs it as written (20-90 s) and checks that it prints the best trial",
    "sweep status sweeps/quickstart.yaml":
        "needs the main job's finished study; tests/test_sweep.py runs status on a real sweep's study",
    "sweep best sweeps/quickstart.yaml --export best.yaml --full":
        "needs a finished study; tests/test_sweep_status.py exports a real study's best trial, --full and not",
    "sweep report sweeps/quickstart.yaml --out report/":
        "needs a finished study; tests/test_sweep.py runs report on a real sweep's study",
    "sweep submit sweeps/vae_sigma_digits.yaml --cluster slurm/my_cluster.yaml --workers 8":
        "submits to a SLURM cluster with the user's own profile; tests/test_slurm.py submits sweeps to a real "
        "one-node cluster",
}


def readme_examples() -> list[str]:
    return [" ".join(args) for args in page_commands(README)]


def run(args: list[str]) -> str:
    """`lit-gen ARGS` in this process, as the console script runs it; its stdout. A clean exit (--print_config
    exits 0) is a success."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            main(args)
    except SystemExit as exit_:
        assert exit_.code in (0, None), f"lit-gen {' '.join(args)} exited {exit_.code}"
    return out.getvalue()


def users_clone(folder: Path) -> Path:
    """A folder with what a clone holds beside the package: configs/, sweeps/, slurm/ (the template's link
    followed)."""
    for name in ("configs", "sweeps", "slurm"):
        shutil.copytree(REPO / name, folder / name, symlinks=False)
    return folder


@contextlib.contextmanager
def working_directory(folder: Path):
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


# --- the README's examples, run -----------------------------------------------------------------------------------


def test_every_readme_example_is_run_here_or_says_where_it_runs():
    examples = readme_examples()
    assert set(examples) == set(EXECUTED) | set(PARSED_ONLY), "a README example this test neither runs nor explains"
    assert [e for e in examples if e in EXECUTED] == EXECUTED  # in the README's order


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory) -> dict:
    """The README's executed examples, run once as written in a user's clone; their outputs by example."""
    folder = users_clone(tmp_path_factory.mktemp("clone"))
    # a module fixture runs before conftest's per-test ones: keep any trained classifier out of the user's cache here
    with pytest.MonkeyPatch.context() as patch, working_directory(folder):
        patch.setenv("LIT_GEN_CACHE", str(tmp_path_factory.mktemp("lit_gen_cache")))
        outputs = {example: run(example.split()) for example in EXECUTED}
    return {"folder": folder, "outputs": outputs}


@pytest.mark.slow
def test_readme_fit_and_sample_run_as_written(readme_run):
    folder, outputs = readme_run["folder"], readme_run["outputs"]
    run_dir = folder / "runs" / "vae_digits" / "version_0"
    assert (run_dir / "metrics.json").is_file() and (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert "Results in runs/vae_digits/version_0" in outputs[EXECUTED[0]]
    assert (folder / "grid.png").stat().st_size > 1000 and "64 samples written" in outputs[EXECUTED[1]]


@pytest.mark.slow
def test_readme_print_config_shows_the_override(readme_run):
    config = yaml.safe_load(readme_run["outputs"][EXECUTED[2]])
    assert config["model"]["init_args"]["latent_dim"] == 16


@pytest.mark.slow
def test_readme_slurm_dry_run_writes_the_array_script(readme_run):
    script = readme_run["folder"] / "runs" / "sweeps" / "vae_sigma_digits" / "slurm" / "sweep.sbatch"
    text = script.read_text()
    assert "#SBATCH --array=0-1" in text and "--signal=SIGUSR1@90" in text
    assert "lit-gen sweep run" in text and text in readme_run["outputs"][EXECUTED[3]]


@pytest.mark.slow
def test_the_python_api_example_runs_on_the_readme_run(readme_run):
    """docs/api.md's ```python block, as written, in the folder where the README's fit wrote its run."""
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "api.md").read_text(), re.S)
    assert len(blocks) == 1
    with working_directory(readme_run["folder"]), contextlib.redirect_stdout(io.StringIO()) as out:
        namespace: dict = {}
        exec(compile(blocks[0], "docs/api.md", "exec"), namespace)
    assert tuple(namespace["images"].shape) == (8, 1, 8, 8) and tuple(namespace["samples"].shape) == (64, 1, 8, 8)
    assert namespace["log_px"].shape == (8,) and "torch.Size" in out.getvalue()


# --- every experiment resolves ------------------------------------------------------------------------------------


@pytest.mark.parametrize("experiment", sorted(p.name for p in (CONFIGS / "experiments").glob("*.yaml")))
def test_every_experiment_resolves_with_print_config(experiment):
    config = yaml.safe_load(run(["fit", "--config", str(CONFIGS / "experiments" / experiment), "--print_config"]))
    assert config["model"]["class_path"].startswith("lit_gen.models.")
    assert config["data"]["class_path"].startswith("lit_gen.data.")
    assert config["trainer"]["max_epochs"] > 0


# --- the sweep and SLURM files the pages name -----------------------------------------------------------------------


def named_in_pages(pattern: str) -> set[str]:
    return {name for page in PAGES for name in re.findall(pattern, page.read_text())}


SWEEPS = sorted(named_in_pages(r"\bsweeps/[\w-]+\.yaml"))
PROFILES = sorted(named_in_pages(r"\bslurm/[\w-]+\.yaml") - {"slurm/my_cluster.yaml"})  # the user's own copy


def test_the_pages_name_the_shipped_sweeps_and_profiles():
    assert set(SWEEPS) == {f"sweeps/{p.name}" for p in (REPO / "sweeps").glob("*.yaml")}
    assert set(PROFILES) == {f"slurm/{p.name}" for p in (REPO / "slurm").glob("*.yaml")}


@pytest.mark.parametrize("sweep", SWEEPS)
def test_every_sweep_file_the_docs_name_loads(sweep):
    spec = load_spec(REPO / sweep)
    assert spec.n_trials > 0 and all(path.is_file() for path in spec.configs)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_slurm_profile_the_docs_name_loads(profile):
    assert load_profile(REPO / profile).devices >= 1


def yaml_blocks(page: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", page.read_text(), re.S)


def test_the_every_key_sweep_example_loads_beside_the_shipped_sweeps(tmp_path):
    """docs/sweeps.md's example of every key, saved where a sweep file lives (its config path is relative)."""
    (example,) = [block for block in yaml_blocks(DOCS / "sweeps.md") if block.startswith("name: my_sweep")]
    users_clone(tmp_path)
    (tmp_path / "sweeps" / "my_sweep.yaml").write_text(example)
    spec = load_spec(tmp_path / "sweeps" / "my_sweep.yaml")
    documented = {key for key in yaml.safe_load(example)}
    assert documented >= {"name", "config", "metric", "space", "sampler", "pruner", "limits", "storage", "faults"}
    assert spec.name == "my_sweep" and spec.seeds == [0, 1, 2]


def component(text: str) -> dict | None:
    """`TPESampler(n_startup_trials=4)` → the sweep file's {class_path, init_args}; `none` → None."""
    if text == "none":
        return None
    name, arguments = re.fullmatch(r"(\w+)\((.*)\)", text).groups()
    init_args = {key: yaml.safe_load(value) for key, value in (arg.split("=") for arg in arguments.split(", "))}
    return {"class_path": name, "init_args": init_args}


def test_the_table_of_shipped_sweeps_says_what_each_file_uses():
    rows = re.findall(r"^\| `(sweeps/[\w-]+\.yaml)` \|[^|]*\| `?([^|`]*)`? \| `?([^|`]*)`? \| (\d+) × (\d+) \|$",
                      (DOCS / "sweeps.md").read_text(), re.M)
    assert {row[0] for row in rows} == set(SWEEPS)
    for path, sampler, pruner, trials, epochs in rows:
        spec = load_spec(REPO / path)
        assert spec.sampler == component(sampler), path
        assert spec.pruner == component(pruner), path
        assert (spec.n_trials, spec.limits.max_epochs) == (int(trials), int(epochs)), path


def test_the_image_quality_defaults_the_metrics_page_shows_are_the_callback_s():
    (block,) = [block for block in yaml_blocks(DOCS / "metrics.md") if block.startswith("image_quality:")]
    shown = yaml.safe_load(block)["image_quality"]
    defaults = {name: parameter.default for name, parameter in inspect.signature(ImageQuality).parameters.items()}
    assert shown == defaults
