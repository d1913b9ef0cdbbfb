"""A checkpoint is data, not code: every way lit_gen reads one refuses a pickle that would run something.

The crafted checkpoint looks like a lit_gen checkpoint (state_dict, lit_gen_class, hyper_parameters, epoch), but one
entry unpickles by calling `exec`, which would write a marker file. `torch.load(weights_only=True)` refuses the call
before it happens; each entry point says so in one `lit-gen: error:` line and the marker never appears.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lit_gen
from lit_gen.errors import LitGenError
from lit_gen.sweep.fit_run import checkpoint_epoch
from tests.conftest import CONFIGS

SMOKE = str(CONFIGS / "trainer" / "smoke.yaml")
VAE_DIGITS = str(CONFIGS / "experiments" / "vae_digits.yaml")


class WritesAFile:
    """Unpickles by calling exec on code that writes `marker` (what a hostile checkpoint could do instead)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"import pathlib; pathlib.Path({str(self.marker)!r}).write_text('code ran')",)


def hostile_checkpoint(path: Path, marker: Path) -> Path:
    torch.save({
        "state_dict": {},
        "epoch": 3,
        "lit_gen_class": "lit_gen.models.vae.VAE",
        "hyper_parameters": {"latent_dim": 8, "note": WritesAFile(marker)},
    }, path)
    return path


@pytest.fixture
def hostile(in_tmp) -> tuple[Path, Path]:
    """(the checkpoint, the file its pickle would write)."""
    marker = in_tmp / "written_by_the_checkpoint.txt"
    return hostile_checkpoint(in_tmp / "from_a_colleague.ckpt", marker), marker


def test_the_crafted_checkpoint_really_writes_the_file_when_unpickled_as_code(hostile):
    # guards the test itself: the payload is live, so the refusals below mean something
    checkpoint, marker = hostile
    torch.load(checkpoint, weights_only=False)
    assert marker.read_text() == "code ran"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lit_gen.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def run_in_process(*args: str, capsys) -> tuple[int, str]:
    """`lit-gen ARGS` in this process (a fresh interpreter per command costs ~10 s here): (exit code, stderr).
    Any exception other than the one-line exit escapes and fails the test, as a traceback would."""
    from lit_gen.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    return exited.value.code, capsys.readouterr().err


def assert_refused_in_one_line(returncode: int, stderr: str, checkpoint: Path) -> None:
    assert returncode != 0
    assert "Traceback" not in stderr, stderr[-2000:]
    errors = [line for line in stderr.splitlines() if line.startswith("lit-gen: error:")]
    assert len(errors) == 1, stderr[-2000:]
    assert f"{checkpoint} is refused: loading it would call exec" in errors[0]
    assert stderr.rstrip().endswith(errors[0]), "the error is the last thing printed, on one line"


def test_a_real_process_exits_with_the_one_line(hostile):
    checkpoint, marker = hostile
    result = run_cli("sample", "--ckpt_path", str(checkpoint), "--num", "4", "--out", "grid.png",
                     cwd=checkpoint.parent)
    assert_refused_in_one_line(result.returncode, result.stderr, checkpoint)
    assert not marker.exists() and not (checkpoint.parent / "grid.png").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["sample", "--num", "4", "--out", "grid.png"],
        ["test", "--config", VAE_DIGITS, "--config", SMOKE],
        ["validate", "--config", VAE_DIGITS, "--config", SMOKE],
        ["fit", "--config", VAE_DIGITS, "--config", SMOKE],
    ],
    ids=lambda command: command[0],
)
def test_each_command_refuses_a_checkpoint_that_would_run_code(hostile, command, capsys):
    checkpoint, marker = hostile
    assert_refused_in_one_line(*run_in_process(*command, "--ckpt_path", str(checkpoint), capsys=capsys), checkpoint)
    assert not marker.exists()
    assert not (checkpoint.parent / "grid.png").exists() and not (checkpoint.parent / "runs").exists()


def test_sample_refuses_it_inside_a_run_directory_too(hostile, capsys):
    checkpoint, marker = hostile
    run = checkpoint.parent / "shared_run"
    (run / "checkpoints").mkdir(parents=True)
    inside = checkpoint.rename(run / "checkpoints" / "best-0003.ckpt")
    result = run_in_process("sample", "--ckpt_path", str(run), "--num", "4", "--out", "grid.png", capsys=capsys)
    assert_refused_in_one_line(*result, inside)
    assert not marker.exists()


def test_load_refuses_it(hostile):
    checkpoint, marker = hostile
    with pytest.raises(LitGenError, match="is refused: loading it would call exec") as refused:
        lit_gen.load(checkpoint)
    assert "\n" not in str(refused.value)
    assert not marker.exists()


@pytest.mark.parametrize("class_path", ["os.system", "builtins.exec", "lit_gen.errors.LitGenError", "no_such.Module"])
def test_load_calls_only_a_lit_gen_model_class_the_checkpoint_names(in_tmp, class_path):
    path = in_tmp / "named.ckpt"
    torch.save({"state_dict": {}, "lit_gen_class": class_path, "hyper_parameters": {}}, path)
    with pytest.raises(LitGenError, match="GenerativeModel|cannot be imported"):
        lit_gen.load(path)


def test_a_sweep_retry_reads_its_epoch_without_running_it(hostile):
    checkpoint, marker = hostile
    assert checkpoint_epoch(checkpoint) is None  # unreadable as data: the retried trial itself reports it
    assert not marker.exists()


def test_weights_only_false_is_refused_on_the_command_line(in_tmp, capsys):
    returncode, stderr = run_in_process("fit", "--config", VAE_DIGITS, "--config", SMOKE, "--weights_only", "false",
                                        capsys=capsys)
    assert returncode != 0 and "lit-gen: error: --weights_only false is not supported" in stderr


@pytest.mark.parametrize("experiment", ["vae_digits.yaml", "dcgan_digits.yaml", "vae_mnist.yaml"])
def test_lit_gens_own_checkpoints_load_as_data(in_tmp, experiment):
    """A VAE, a GAN and a conv VAE trained by lit_gen come back through `lit_gen.load` (weights_only=True) and
    resume through `fit --ckpt_path` (the pre-check, then Lightning's own weights_only loads)."""
    from lit_gen.cli import main
    from tests.helpers import write_fake_mnist

    write_fake_mnist(in_tmp / "data")
    common = ["--config", str(CONFIGS / "experiments" / experiment), "--config", SMOKE,
              "--data.init_args.val_size", "50", "--test_after_fit", "false", "--image_quality.backbone", "none"]
    main(["fit", *common, "--run_dir", "first"])
    last = in_tmp / "first" / "checkpoints" / "last.ckpt"
    torch.load(last, weights_only=True)  # plain data, no allow-list needed
    model = lit_gen.load(last)
    assert not model.training
    assert checkpoint_epoch(last) == 0
    main(["fit", *common, "--run_dir", "resumed", "--trainer.max_epochs", "2", "--ckpt_path", str(last)])
    assert checkpoint_epoch(in_tmp / "resumed" / "checkpoints" / "last.ckpt") == 1
