"""Weights & Biases tracking, read back from the offline run files: no account, no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lightning.pytorch.loggers import CSVLogger

from lit_gen.lightning_cli import LitGenCLI
from lit_gen.loggers.wandb_logger import WandbLogger, existing_run_id, sync_hint
from lit_gen.loggers.wandb_mode import api_key_configured, resolve_mode
from lit_gen.run.identity import TRIAL_ENV, TrialIdentity
from tests.conftest import CONFIGS, REPO
from tests.wandb_offline import config, files, history, read_records, run_files, run_info, summary

EXPERIMENT = str(CONFIGS / "experiments" / "vae_digits.yaml")
SMOKE = str(CONFIGS / "trainer" / "smoke.yaml")
WANDB = str(CONFIGS / "logger" / "wandb.yaml")
QUICK = ["--model.init_args.iw_samples", "5", "--image_quality.backbone", "none"]
FAKE_KEY = "0123456789abcdef" * 2 + "fake0000"  # 40 characters, the shape of a real key


@pytest.fixture
def wandb_env(in_tmp, monkeypatch) -> Path:
    """Offline W&B whose own folders are in the test's directory, with a (fake) API key in the environment."""
    for name in ("DIR", "CACHE_DIR", "CONFIG_DIR", "DATA_DIR"):
        monkeypatch.setenv(f"WANDB_{name}", str(in_tmp / "wandb_home" / name.lower()))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    monkeypatch.setenv("NETRC", str(in_tmp / "no_netrc"))
    monkeypatch.delenv(TRIAL_ENV, raising=False)
    return in_tmp


def lit_gen(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "lit_gen.cli", *args], cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def records_of(folder: Path) -> list[list]:
    return [read_records(path) for path in run_files(folder)]


def fit(*args: str) -> WandbLogger:
    """`lit-gen fit` in this process; returns its W&B logger (after the CSV logger), its run finished and written
    out."""
    csv, logger = LitGenCLI(args=["fit", *args]).trainer.loggers
    assert isinstance(csv, CSVLogger) and isinstance(logger, WandbLogger)
    logger.finish()
    flush_wandb()
    return logger


def flush_wandb() -> None:
    # run.finish() returns before wandb's service has written the last block of the run file; stopping the
    # service waits for it (a process that ends does the same)
    import wandb

    wandb.teardown()


# --- the reader itself ---------------------------------------------------------------------------------------

def test_reader_reads_records_that_span_several_blocks(wandb_env):
    import wandb

    big = "x" * 100_000  # one config record over three 32 KiB blocks: FIRST, MIDDLE, LAST chunks
    run = wandb.init(project="p", dir=str(wandb_env), config={"big": big, "small": 1}, reinit="finish_previous")
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1), "trainer/global_step": 10 * step})
    run.summary["final"] = 7
    run.finish()
    flush_wandb()
    [records] = records_of(wandb_env / "wandb")
    assert config(records)["big"] == big and config(records)["small"] == 1
    assert [(row["loss"], row["trainer/global_step"]) for row in history(records)] == [(1.0, 0), (0.5, 10),
                                                                                       (1 / 3, 20)]
    assert summary(records)["final"] == 7


# --- a tracked fit -------------------------------------------------------------------------------------------

def test_fit_is_tracked_offline_in_the_run_directory(wandb_env, capsys):
    fit("--config", EXPERIMENT, "--config", SMOKE, "--config", WANDB, "--trainer.max_epochs", "2",
        "--model.init_args.iw_samples", "5", "--images.every_n_epochs", "1", "--image_quality.every_n_epochs", "1",
        "--image_quality.num_samples", "100")
    run = wandb_env / "runs" / "vae_digits" / "version_0"  # the experiment's CSV logger settings are kept
    assert (run / "metrics.csv").is_file() and (run / "config.yaml").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    [records] = records_of(run / "wandb")  # W&B's files are inside the run directory
    info = run_info(records)
    assert (info.project, info.display_name, info.job_type, info.run_group) == ("lit_gen", "vae_digits/version_0",
                                                                                "train", "")

    # the full resolved config, as config.yaml holds it
    saved = config(records)
    assert saved["model"] == yaml.safe_load((run / "config.yaml").read_text())["model"]
    assert saved["trainer"]["max_epochs"] == 2 and saved["seed_everything"] == 0
    assert saved["hparams"]["image_quality"]["backbone"]["name"] == "domain_classifier"

    # metric rows against the global step, which never goes back
    rows = history(records)
    val = [row for row in rows if "val/elbo" in row]
    assert len(val) == 3  # two epochs, then the final validation of the best checkpoint
    steps = [row["trainer/global_step"] for row in rows]
    assert steps == sorted(steps) and steps[-1] > 0
    assert any("train/elbo" in row for row in rows) and any("val/fid" in row for row in rows)
    assert any("test/nll_iw" in row for row in rows)

    # images: every figure of images/, every epoch, as a W&B image whose file the run saved
    images = [row for row in rows if "images/samples" in row]
    assert len(images) == 2
    for row in images:
        for kind in ("samples", "reconstructions", "interpolation"):
            assert row[f"images/{kind}"]["_type"] == "image-file"
            assert row[f"images/{kind}"]["path"] in files(records)
            assert (run_files(run)[0].parent / "files" / row[f"images/{kind}"]["path"]).is_file()

    # the summary is metrics.json: the best checkpoint's numbers and their provenance
    final = summary(records)
    metrics = json.loads((run / "metrics.json").read_text())
    assert {key: final[key] for key in metrics["metrics"]} == pytest.approx(metrics["metrics"])
    assert final["meta"]["image_quality"]["test"]["backbone"]["name"] == "domain_classifier"
    assert final["meta"]["image_quality"]["test"]["num_generated"] == 100
    assert final["meta"]["seed"] == 0

    assert f"wandb sync {run_files(run)[0].parent.relative_to(wandb_env)}" in capsys.readouterr().out


def test_no_key_is_written_anywhere(wandb_env):
    # the fit of this process, with WANDB_API_KEY set, read back as files: run dir, W&B's folders, the config
    fit("--config", EXPERIMENT, "--config", SMOKE, "--config", WANDB, *QUICK)
    written = [path for path in wandb_env.rglob("*") if path.is_file()]
    assert any(path.name.endswith(".wandb") for path in written) and any(p.name == "config.yaml" for p in written)
    leaked = [path for path in written if FAKE_KEY.encode() in path.read_bytes()]
    assert leaked == []


def test_a_run_resumed_in_its_directory_continues_the_same_w_and_b_run(wandb_env):
    run = wandb_env / "runs" / "vae_digits" / "fixed"
    args = ["--config", EXPERIMENT, "--config", SMOKE, "--config", WANDB, *QUICK, "--run_dir", str(run)]
    fit(*args, "--trainer.max_epochs", "1")
    fit(*args, "--trainer.max_epochs", "2", "--ckpt_path", str(run / "checkpoints" / "last.ckpt"))
    first, second = records_of(run)
    assert run_info(first).run_id == run_info(second).run_id
    steps = [[row["trainer/global_step"] for row in history(records) if "train/elbo" in row]
             for records in (first, second)]
    assert steps[1][0] > steps[0][-1]  # the curve continues where the first process left it


def test_log_model_logs_the_best_checkpoint_as_an_artifact(wandb_env):
    fit("--config", EXPERIMENT, "--config", SMOKE, "--config", WANDB, *QUICK, "--trainer.logger.init_args.log_model",
        "true")
    [records] = records_of(wandb_env / "runs")
    artifacts = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    assert artifacts and {a.type for a in artifacts} == {"model"}
    assert any("best" in a.aliases for a in artifacts)
    assert all(a.name == f"model-{run_info(records).run_id}" for a in artifacts)


@pytest.mark.slow
def test_2d_gan_logs_its_scatter_and_the_d_versus_d_star_figure(wandb_env):
    fit("--config", str(CONFIGS / "experiments" / "gan_ring8.yaml"), "--config", SMOKE, "--config", WANDB,
        "--images.every_n_epochs", "1", "--trainer.check_val_every_n_epoch", "1", "--test_after_fit", "false",
        "--data.init_args.num_samples", "12000", "--data.init_args.val_size", "1000", "--data.init_args.test_size",
        "1000")
    [records] = records_of(wandb_env / "runs" / "gan_ring8")
    [row] = [row for row in history(records) if "images/samples" in row]
    assert row["images/discriminator"]["_type"] == "image-file" and row["images/samples"]["_type"] == "image-file"
    steps = [row["trainer/global_step"] for row in history(records)]  # a GAN steps twice per batch: images
    assert steps == sorted(steps)  # go in the row of Lightning's logging step, not at trainer.global_step
    assert any("val/modes_covered" in row for row in history(records))


# --- sweeps: one run per trial ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_trials_are_runs_of_one_group_and_a_retry_logs_to_its_trial_s_run(wandb_env):
    args = ["fit", "--config", EXPERIMENT, "--config", SMOKE, "--config", WANDB, *QUICK,
            "--model.init_args.latent_dim", "4"]
    params = {"model.init_args.latent_dim": 4}

    def trial(number: int, root: int, attempt: int, max_epochs: int, *extra: str) -> subprocess.CompletedProcess:
        identity = TrialIdentity("study-x", number, trial_id=number, root_number=root, attempt=attempt, params=params)
        return lit_gen(*args, "--run_dir", f"runs/vae_digits/trial-{root}", "--trainer.max_epochs",
                       str(max_epochs), *extra, cwd=wandb_env, env={TRIAL_ENV: identity.to_env()})

    trial(0, 0, 0, 1)
    trial(1, 1, 0, 1)
    first = wandb_env / "runs" / "vae_digits" / "trial-0"
    out = trial(2, 0, 1, 2, "--ckpt_path", str(first / "checkpoints" / "last.ckpt")).stdout  # the retry of trial 0

    runs = {path.name: records_of(wandb_env / "runs" / "vae_digits" / path.name) for path in
            (wandb_env / "runs" / "vae_digits").iterdir()}
    assert sorted(runs) == ["trial-0", "trial-1"] and len(runs["trial-0"]) == 2 and len(runs["trial-1"]) == 1
    infos = {name: [run_info(records) for records in parts] for name, parts in runs.items()}
    assert {info.run_group for parts in infos.values() for info in parts} == {"study-x"}
    assert [info.display_name for info in infos["trial-0"]] == ["trial-0", "trial-0"]
    ids = {name: {info.run_id for info in parts} for name, parts in infos.items()}
    assert ids == {"trial-0": {TrialIdentity("study-x", 0, 0, 0).run_id},
                   "trial-1": {TrialIdentity("study-x", 1, 1, 1).run_id}}
    original, retry = runs["trial-0"]
    assert config(retry)["trial"] == {"study_name": "study-x", "number": 2, "attempt": 1, "root_number": 0,
                                      "seed": None, "params": params}
    assert config(retry)["model"]["init_args"]["latent_dim"] == 4
    steps = [[row["trainer/global_step"] for row in history(records) if "train/elbo" in row]
             for records in (original, retry)]
    assert steps[1] and steps[1][0] > steps[0][-1]
    assert f"wandb sync runs/vae_digits/trial-0/wandb/offline-run-*-{TrialIdentity('study-x', 0, 0, 0).run_id}" in out


# --- W&B off ---------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_fit_without_w_and_b_never_imports_it(wandb_env):
    # one process, as the sweep's fork server runs a trial: fit, then end with os._exit (no atexit handlers)
    script = (
        "import os, sys\n"
        "from lit_gen.cli import main\n"
        "from lit_gen.loggers import finish_runs\n"
        f"common = ['--config', {EXPERIMENT!r}, '--config', {SMOKE!r}, *{QUICK!r}]\n"
        "main(['fit', *common])\n"
        "print('csv fit imported wandb:', 'wandb' in sys.modules)\n"
        f"main(['fit', *common, '--config', {WANDB!r}])\n"
        "print('wandb fit imported wandb:', 'wandb' in sys.modules)\n"
        "finish_runs()\n"
        "sys.stdout.flush()\n"
        "os._exit(0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=wandb_env, capture_output=True, text=True,
                            timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "csv fit imported wandb: False" in result.stdout
    assert "wandb fit imported wandb: True" in result.stdout  # the check sees an import when there is one
    csv_run, wandb_run = (wandb_env / "runs" / "vae_digits" / f"version_{n}" for n in (0, 1))
    assert (csv_run / "metrics.csv").is_file() and not (csv_run / "wandb").exists()
    # finish_runs() wrote the run out although the process skipped its exit handlers
    [records] = records_of(wandb_run)
    assert run_info(records).display_name == "vae_digits/version_1"
    assert any(r.WhichOneof("record_type") == "exit" for r in records) and "test/nll_iw" in summary(records)
    assert "wandb sync runs/vae_digits/version_1/wandb/offline-run-" in result.stdout


def test_wandb_mode_disabled_turns_it_off_for_one_run(wandb_env, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "disabled")  # as when re-running the config.yaml of a tracked run
    fit("--config", EXPERIMENT, "--config", SMOKE, "--config", WANDB, *QUICK)
    run = wandb_env / "runs" / "vae_digits" / "version_0"
    assert (run / "metrics.json").is_file() and not list(wandb_env.rglob("*.wandb"))
    assert not (run / "wandb").exists() and "wandb sync" not in capsys.readouterr().out


# --- DDP: rank 0 only --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_under_ddp_only_rank_zero_logs(wandb_env):
    lit_gen("fit", "--config", EXPERIMENT, "--config", SMOKE, "--config", str(CONFIGS / "trainer" / "ddp_cpu.yaml"),
            "--config", WANDB, *QUICK, "--images.every_n_epochs", "1", cwd=wandb_env)
    [records] = records_of(wandb_env / "runs")
    rows = history(records)
    train = [row for row in rows if "train/elbo" in row]
    assert len(train) == 1  # one epoch, logged once
    assert len([row for row in rows if "images/samples" in row]) == 1


# --- offline by default, ids, the sync command -----------------------------------------------------------------

def test_mode_auto_is_offline_without_a_key(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_IDENTITY_TOKEN_FILE", raising=False)
    monkeypatch.delenv("WANDB_BASE_URL", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert not api_key_configured() and resolve_mode("auto") == "offline"
    (tmp_path / "netrc").write_text("machine example.org login user password secret\n")
    assert resolve_mode("auto") == "offline"  # a key for another host
    (tmp_path / "netrc").write_text("machine api.wandb.ai login user password " + FAKE_KEY + "\n")
    assert resolve_mode("auto") == "online"  # what `wandb login` writes
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    assert resolve_mode("auto") == "online"
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_mode("auto") is None  # wandb follows WANDB_MODE itself
    assert resolve_mode("disabled") == "disabled"


def test_existing_run_id_and_sync_hint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "wandb"
    assert existing_run_id(folder) is None
    for name in ("offline-run-20250102_000000-my-run-id", "offline-run-20250101_000000-old", "latest-run"):
        (folder / name).mkdir(parents=True)
    assert existing_run_id(folder) == "my-run-id"
    assert sync_hint(folder, "old").endswith("wandb sync wandb/offline-run-20250101_000000-old")
    (folder / "offline-run-20250103_000000-old").mkdir()
    assert sync_hint(folder, "old", "trial-3").endswith("wandb sync wandb/offline-run-*-old")


# --- the sweep's summary run -------------------------------------------------------------------------------------

def test_sweep_summary_run_holds_a_table_of_every_trial(wandb_env):
    from lit_gen.sweep.wandb_report import JOB_TYPE, TABLE_KEY, summary_run_id, write_sweep_summary_run

    trials = [
        {"number": 0, "state": "COMPLETE", "value": 1.5, "duration": 12.5, "attempt": 0,
         "intermediate_values": {0: 2.0, 1: 1.5},
         "params": {"model.init_args.latent_dim": 4, "model.init_args.optimizer.init_args.lr": 1e-3},
         "user_attrs": {"root_number": 0, "metrics": {"val/nll_iw": 1.5}}},
        {"number": 1, "state": "PRUNED", "value": None, "duration": 3.0, "attempt": 1,
         "intermediate_values": {0: 9.0},
         "params": {"model.init_args.latent_dim": 8}, "user_attrs": {"root_number": 1}},
    ]
    folder = write_sweep_summary_run("study-x", trials, wandb_env / "sweep", project="proj", entity=None)
    flush_wandb()
    assert folder.is_dir() and folder.parent == wandb_env / "sweep" / "wandb"
    [records] = records_of(folder)
    info = run_info(records)
    assert (info.run_group, info.job_type, info.project, info.run_id) == ("study-x", JOB_TYPE, "proj",
                                                                          summary_run_id("study-x"))
    [row] = [row for row in history(records) if TABLE_KEY in row]
    assert row[TABLE_KEY]["_type"] == "table-file" and row[TABLE_KEY]["path"] in files(records)
    table = json.loads((folder / "files" / row[TABLE_KEY]["path"]).read_text())
    assert table["columns"] == ["number", "state", "value", "duration", "attempt", "intermediate_values",
                                "params/model.init_args.latent_dim", "params/model.init_args.optimizer.init_args.lr",
                                "user_attrs/metrics", "user_attrs/root_number"]
    assert table["data"] == [[0, "COMPLETE", 1.5, 12.5, 0, '{"0": 2.0, "1": 1.5}', 4, 1e-3, '{"val/nll_iw": 1.5}', 0],
                             [1, "PRUNED", None, 3.0, 1, '{"0": 9.0}', 8, None, None, 1]]
    assert summary(records)["n_trials"] == 2 and summary(records)["states"] == {"COMPLETE": 1, "PRUNED": 1}


@pytest.mark.slow
def test_a_real_sweep_gives_one_w_and_b_run_per_trial_in_the_study_s_group(wandb_env):
    from tests.sweep_helpers import run_sweep_cli, write_spec

    spec = write_spec(wandb_env, name="wandb_sweep", n_trials=2, config=[EXPERIMENT, WANDB],
                      space={"model.init_args.latent_dim": {"type": "categorical", "choices": [3, 5]}},
                      enqueue=[{"model.init_args.latent_dim": 3}, {"model.init_args.latent_dim": 5}],
                      limits={"max_epochs": 1})
    result = run_sweep_cli("run", str(spec), "--workers", "2", cwd=wandb_env)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = wandb_env / "sweep" / "trials"
    infos = {path.name: [run_info(records) for records in records_of(path)] for path in sorted(trials.iterdir())}
    assert sorted(infos) == ["trial-0", "trial-1"] and all(len(parts) == 1 for parts in infos.values())
    assert {parts[0].run_group for parts in infos.values()} == {"wandb_sweep"}
    assert {name: parts[0].run_id for name, parts in infos.items()} == {
        "trial-0": "wandb_sweep-trial-0", "trial-1": "wandb_sweep-trial-1"}
    latent = {name: config(records_of(trials / name)[0])["trial"]["params"]["model.init_args.latent_dim"]
              for name in infos}
    assert sorted(latent.values()) == [3, 5]
    assert all(history(records_of(trials / name)[0]) for name in infos)  # the forked trials wrote their files out
