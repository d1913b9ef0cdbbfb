"""lit_gen's VAE vs pythae 0.1.2's `VAE` on scikit-learn digits, side by side, on the same test examples.

The claim checked: on digits with the Bernoulli likelihood on x/16 (grey values, no binarisation), the same
MLP shape (one hidden layer of 512), latent 8, 50 epochs and k = 500 importance samples, lit_gen's test
`nll_iw` is lower than the test NLL of pythae 0.1.2's `VAE` (`reconstruction_loss="bce"`).

Both sides, per seed:

* lit_gen: `lit-gen fit --config configs/experiments/vae_digits_bernoulli.yaml` run as a subprocess (the real
  CLI: training, best-on-`val/nll_iw` checkpoint, then test with k importance samples), with
  `--seed_everything S` and `--data.init_args.shuffle_seed S` so a seed changes the initialisation, the
  sampling noise *and* the training order, as pythae's seed does. The number is `test/nll_iw` of the run's
  `metrics.json`.
* pythae: `pythae.models.VAE(VAEConfig(input_dim=(1, 8, 8), latent_dim=8, reconstruction_loss="bce"))` with a
  `BaseEncoder` / `BaseDecoder` pair of the same shape as lit_gen's MLP (64 → 512 → 2·8 and 8 → 512 → 64, ReLU;
  the decoder ends in a sigmoid because pythae's `bce` expects probabilities; the parameter counts are checked to
  be equal), trained by `TrainingPipeline` / `BaseTrainer` with Adam, lr 1e-3, batch size 128, the same epochs.
  Its final model (the best epoch by pythae's own rule) is reloaded with `AutoModel.load_from_folder` and
  evaluated with `model.get_nll(x_test, n_samples=k)`. In pythae 0.1.2 `get_nll` returns the mean *log* p̂(x)
  (a negative number, about −24 nats here), despite its name; the table shows −get_nll, a positive NLL.

Data: the split is lit_gen's `DigitsDataModule` built from `configs/data/digits.yaml` (split_seed 0:
train 1,350 / val 150 / test 297). pythae gets digits/16 as float32 in [0, 1], shaped (N, 1, 8, 8).
`--pythae_train train` (default): pythae trains on the same 1,350 training examples and gets the 150 val
examples as its eval set, from which it keeps the epoch with the lowest eval loss (−ELBO), as lit_gen keeps the
checkpoint with the lowest val/nll_iw. `--pythae_train train+val`: pythae trains on all 1,500 (the "1,500/297
split" of the claim), has no eval set and keeps the epoch with the lowest training loss. Both are always
evaluated on the same 297 test examples, and both NLLs are the importance-weighted cross-entropy of grey values
(not a normalised density: the Bernoulli on non-binary targets is not one), so they are comparable with each
other, not with binarised-MNIST-style numbers.

A second table cross-checks the first: lit_gen's kept checkpoint re-evaluated in this process on the very tensor
pythae was tested on; the pythae model through lit_gen's own IWAE estimator
(`lit_gen.metrics.likelihood.iwae_log_likelihood`), so estimator differences can be told from model differences;
the epoch each side kept; and each side's model after the final epoch, so differences in training can be told
from differences in checkpoint selection (pythae's eval loss is a one-sample ELBO on 150 examples, noisy enough
to keep an epoch in the 30s). lit_gen's final-epoch weights come from an extra callback (`SaveFinalWeights`)
because with Lightning 2.6 `checkpoints/last.ckpt` is only rewritten when the monitored metric improves.

    python benchmarks/vae_vs_pythae_digits.py                     # seeds 1 2 3, 50 epochs, k = 500
    python benchmarks/vae_vs_pythae_digits.py --seeds 1 --epochs 2 --iw_samples 100   # smoke run

Install pythae 0.1.2 without its dependency list (which would add the `dataclasses` 0.6 backport, useless on
Python ≥ 3.7), then the dependencies it imports that lit_gen does not already bring:
    pip install --no-deps pythae==0.1.2 && pip install imageio "pydantic>=2" "cloudpickle>=2.1"
Exit status: 0 done, 1 a run failed, 2 pythae is not installed.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # pythae's per-epoch progress bars (read when tqdm is imported)

from lightning.pytorch import Callback  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "experiments" / "vae_digits_bernoulli.yaml"
PYTHAE_VERSION = "0.1.2"
INSTALL_HINT = f'pip install --no-deps pythae=={PYTHAE_VERSION} && pip install imageio "pydantic>=2" "cloudpickle>=2.1"'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="run seeds (default: 1 2 3)")
    parser.add_argument("--epochs", type=int, default=50, help="training epochs for both (default: 50)")
    parser.add_argument("--iw_samples", type=int, default=500,
                        help="importance samples k for both test NLLs (default: 500; at most 100 or a multiple of "
                             "100, the only k pythae's get_nll draws exactly)")
    parser.add_argument("--pythae_train", choices=["train", "train+val"], default="train",
                        help="pythae's training set: the 1,350 train examples with val as its eval set (default), "
                             "or all 1,500 train+val examples without an eval set")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for each side (default: 1)")
    parser.add_argument("--out_dir", type=Path, default=None, help="where runs go (default: a new temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.iw_samples > 100 and args.iw_samples % 100:
        parser.error("--iw_samples above 100 must be a multiple of 100: pythae's get_nll silently uses "
                     "(k // 100) * 100 samples otherwise")
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def import_pythae():
    try:
        import pythae  # noqa: F401
        from pythae.models import VAE, AutoModel, VAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
        from pythae.pipelines import TrainingPipeline
        from pythae.trainers import BaseTrainerConfig
        from pythae.trainers.training_callbacks import TrainingCallback
    except ImportError as error:
        print(f"pythae {PYTHAE_VERSION} is needed for this benchmark and could not be imported ({error}).\n"
              f"Install it with:\n    {INSTALL_HINT}", file=sys.stderr)
        raise SystemExit(2) from None
    from importlib.metadata import version

    installed = version("pythae")  # pythae 0.1.2 has no __version__
    if installed != PYTHAE_VERSION:
        print(f"warning: pythae {installed} installed; this benchmark is about {PYTHAE_VERSION}", file=sys.stderr)
    for name in list(logging.root.manager.loggerDict):  # pythae logs every epoch at INFO
        if name.startswith("pythae"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return {"VAE": VAE, "VAEConfig": VAEConfig, "AutoModel": AutoModel, "ModelOutput": ModelOutput,
            "BaseEncoder": BaseEncoder, "BaseDecoder": BaseDecoder, "TrainingPipeline": TrainingPipeline,
            "BaseTrainerConfig": BaseTrainerConfig, "TrainingCallback": TrainingCallback, "version": installed}


# --- the setting, read from lit_gen's config so both sides share one source ---------------------------------

def read_setting() -> dict:
    import yaml

    config = yaml.safe_load(CONFIG.read_text())
    data = config["data"]
    if isinstance(data, str):
        data = yaml.safe_load((CONFIG.parent / data).read_text())
    model = config["model"]["init_args"]
    likelihood = model["likelihood"]
    assert data["class_path"] == "lit_gen.data.DigitsDataModule", data
    assert likelihood["class_path"] == "lit_gen.models.BernoulliLikelihood", likelihood
    assert not likelihood.get("init_args", {}).get("binarize", False), "the benchmark is about grey targets"
    assert model.get("network", "mlp") == "mlp"
    return {
        "data_init_args": data["init_args"],
        "latent_dim": model["latent_dim"],
        "hidden_dims": list(model["hidden_dims"]),
        "lr": model["optimizer"]["init_args"]["lr"],
        "batch_size": data["init_args"]["batch_size"],
    }


def load_split(setting: dict):
    from lit_gen.data import DigitsDataModule

    dm = DigitsDataModule(**setting["data_init_args"])
    dm.setup()
    levels = dm.levels
    return {name: dm.raw_split(name).float() / (levels - 1) for name in ("train", "val", "test")}, dm


# --- pythae side --------------------------------------------------------------------------------------------

def make_pythae_nets(p, data_shape, hidden_dims, latent_dim):
    import torch
    from torch import nn

    n_in = math.prod(data_shape)

    def stack(sizes):
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
        return layers

    class Encoder(p["BaseEncoder"]):
        def __init__(self):
            super().__init__()
            sizes = [n_in, *hidden_dims]
            self.net = nn.Sequential(nn.Flatten(), *stack(sizes), nn.Linear(sizes[-1], 2 * latent_dim))

        def forward(self, x: torch.Tensor):
            mu, log_var = self.net(x).chunk(2, dim=-1)
            return p["ModelOutput"](embedding=mu, log_covariance=log_var)

    class Decoder(p["BaseDecoder"]):
        def __init__(self):
            super().__init__()
            sizes = [latent_dim, *reversed(hidden_dims)]
            self.net = nn.Sequential(*stack(sizes), nn.Linear(sizes[-1], n_in))

        def forward(self, z: torch.Tensor):
            return p["ModelOutput"](reconstruction=torch.sigmoid(self.net(z)).view(-1, *data_shape))

    return Encoder(), Decoder()


def run_pythae(p, setting, data, seed, args, out_dir: Path) -> dict:
    import torch
    import torch.nn.functional as F

    from lit_gen.metrics.likelihood import iwae_log_likelihood

    data_shape = tuple(data["test"].shape[1:])
    torch.manual_seed(seed)  # the initialisation (pythae's trainer seeds only later, in prepare_training)
    encoder, decoder = make_pythae_nets(p, data_shape, setting["hidden_dims"], setting["latent_dim"])
    model_config = p["VAEConfig"](input_dim=data_shape, latent_dim=setting["latent_dim"], reconstruction_loss="bce")
    model = p["VAE"](model_config, encoder=encoder, decoder=decoder)
    n_params = sum(t.numel() for t in model.parameters())
    training_config = p["BaseTrainerConfig"](
        output_dir=str(out_dir / "pythae" / f"seed_{seed}"),
        num_epochs=args.epochs,
        per_device_train_batch_size=setting["batch_size"],
        per_device_eval_batch_size=setting["batch_size"],
        optimizer_cls="Adam",
        learning_rate=setting["lr"],
        seed=seed,
        no_cuda=True,
    )
    if args.pythae_train == "train":
        train, eval_ = data["train"], data["val"]
    else:
        train, eval_ = torch.cat([data["train"], data["val"]]), None
    class EpochLosses(p["TrainingCallback"]):
        def __init__(self):
            self.logs = []

        def on_log(self, training_config, logs, **kwargs):
            self.logs.append(dict(logs))

    losses = EpochLosses()
    start = time.perf_counter()
    pipeline = p["TrainingPipeline"](model=model, training_config=training_config)
    pipeline(train_data=train, eval_data=eval_, callbacks=[losses])
    train_seconds = time.perf_counter() - start
    # pythae's rule (BaseTrainer.train): keep the first epoch with the lowest eval loss, or train loss without one
    key = "eval_epoch_loss" if eval_ is not None else "train_epoch_loss"
    curve = [log[key] for log in losses.logs]
    kept_epoch = 1 + min(range(len(curve)), key=curve.__getitem__)

    final_dir = Path(pipeline.trainer.training_dir) / "final_model"
    best = p["AutoModel"].load_from_folder(str(final_dir))  # the epoch pythae kept, as a user would reload it
    best.eval()
    x_test = data["test"]
    # get_nll draws max(k, batch_size) samples when k <= batch_size, (k // batch_size) * batch_size otherwise
    nll_batch = min(args.iw_samples, 100)

    def pythae_nll(vae) -> float:
        torch.manual_seed(seed)
        with torch.no_grad():  # get_nll does not disable autograd itself; the values are the same either way
            return -float(vae.get_nll(x_test, n_samples=args.iw_samples, batch_size=nll_batch))

    start = time.perf_counter()
    nll = pythae_nll(best)
    nll_seconds = time.perf_counter() - start
    model.eval()
    nll_last = pythae_nll(model)  # the in-memory model after the last epoch

    # the same model through lit_gen's estimator (vectorised over the batch, same formula)
    with torch.no_grad():
        out = best.encoder(x_test)

        def log_px_z(z, xs):
            probs = best.decoder(z)["reconstruction"]
            return -F.binary_cross_entropy(probs.flatten(1), xs.flatten(1), reduction="none").sum(1)

        log_p_lit = iwae_log_likelihood(x_test, out.embedding, out.log_covariance, log_px_z, args.iw_samples).mean()
    return {
        "test_nll": nll,
        "test_nll_last_epoch": nll_last,
        "test_nll_lit_gen_estimator": -float(log_p_lit),
        "get_nll_raw": -nll,
        "kept_epoch": kept_epoch,
        "selection_curve": {key: curve},
        "n_params": n_params,
        "train_examples": len(train),
        "train_seconds": train_seconds,
        "nll_seconds": nll_seconds,
        "final_model": str(final_dir),
    }


# --- lit_gen side -------------------------------------------------------------------------------------------

class SaveFinalWeights(Callback):
    """A callback the lit_gen subprocess is given by class path: saves the weights after the last epoch.

    Needed because with Lightning 2.6 `checkpoints/last.ckpt` is rewritten only when a top-k checkpoint is saved
    (when the monitored metric improves), so it holds the best epoch, not the last, if the last did not improve.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_end(self, trainer, pl_module) -> None:
        import torch

        torch.save({"epoch": trainer.current_epoch, "state_dict": pl_module.state_dict()}, self.path)


def lit_gen_params(setting) -> int:
    from lit_gen.models import VAE, BernoulliLikelihood

    model = VAE(latent_dim=setting["latent_dim"], hidden_dims=setting["hidden_dims"],
                likelihood=BernoulliLikelihood(binarize=False))
    return sum(t.numel() for t in model.parameters())


def run_lit_gen(setting, data, seed, args, out_dir: Path) -> dict:
    import torch
    import yaml

    import lit_gen

    save_dir = out_dir / "lit_gen"
    version = f"seed_{seed}"
    final_path = out_dir / f"lit_gen_seed_{seed}_final_weights.pt"
    command = [
        sys.executable, "-m", "lit_gen.cli", "fit", "--config", str(CONFIG),
        f"--seed_everything={seed}",
        f"--data.init_args.shuffle_seed={seed}",
        f"--trainer.max_epochs={args.epochs}",
        f"--model.init_args.iw_samples={args.iw_samples}",
        "--trainer.enable_model_summary=false",
        f"--trainer.logger.init_args.save_dir={save_dir}",
        f"--trainer.logger.init_args.version={version}",
        "--trainer.callbacks+=" + json.dumps({"class_path": f"{Path(__file__).stem}.SaveFinalWeights",
                                              "init_args": {"path": str(final_path)}}),
    ]
    # no --trainer.enable_progress_bar=false: lit_gen's CLI always adds its ProgressBar callback, and Lightning
    # refuses a ProgressBar callback with enable_progress_bar=False; the bar goes to the log file
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent), env.get("PYTHONPATH")]))
    log_path = out_dir / f"lit_gen_seed_{seed}.log"
    start = time.perf_counter()
    with log_path.open("w") as log:
        done = subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(f"lit-gen fit failed (exit {done.returncode}); the end of {log_path}:", file=sys.stderr)
        print("\n".join(log_path.read_text().splitlines()[-30:]), file=sys.stderr)
        raise SystemExit(1)

    run_dir = save_dir / CONFIG.stem / version
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # the run's saved config must describe the very split the pythae side was given
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    split_keys = ("val_size", "test_size", "split_seed")
    for key in split_keys:
        assert saved["data"]["init_args"][key] == setting["data_init_args"][key], (key, saved["data"])
    assert metrics["meta"]["split_sizes"]["test"] == len(data["test"]), metrics["meta"]

    # cross-check: the kept checkpoint re-evaluated in this process on the exact test tensor pythae gets
    model = lit_gen.load(run_dir)
    model.eval()
    torch.manual_seed(seed)
    with torch.no_grad():
        x = data["test"]  # x/16, what BernoulliLikelihood(binarize=False).prepare makes of the raw levels
        nll_here = -model.log_marginal_likelihood(x, args.iw_samples).mean()
    final = torch.load(final_path, map_location="cpu", weights_only=True)
    last_ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    last = lit_gen.load(run_dir)
    last.load_state_dict(final["state_dict"])
    last.eval()
    torch.manual_seed(seed)
    with torch.no_grad():
        nll_last = -last.log_marginal_likelihood(x, args.iw_samples).mean()
    checkpoint = metrics["meta"].get("test_checkpoint") or ""
    name = Path(checkpoint).stem  # best-{epoch:04d}, epoch counted from 0
    kept_epoch = int(name.split("-")[-1]) + 1 if name.startswith("best-") else None
    return {
        "test_nll_iw": metrics["metrics"]["test/nll_iw"],
        "test_nll_iw_recomputed": float(nll_here),
        "test_nll_iw_last_epoch": float(nll_last),
        "kept_epoch": kept_epoch,
        "epochs_run": final["epoch"],  # trainer.current_epoch at on_train_end
        "last_ckpt_epoch": last_ckpt["epoch"] + 1,  # the epoch checkpoints/last.ckpt holds (1-based)
        "val_nll_iw": metrics["metrics"].get("val/nll_iw"),
        "test_elbo": metrics["metrics"].get("test/elbo"),
        "best_checkpoint": Path(checkpoint).name,
        "seconds": seconds,
        "run_dir": str(run_dir),
        "git_commit": metrics["meta"].get("git_commit"),
        "versions": metrics["meta"].get("versions"),
    }


# --- report -------------------------------------------------------------------------------------------------

def mean_sd(values):
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return mean, sd


def report(rows, args, setting, pythae_version, n_test, train_desc) -> str:
    lines = [
        f"lit_gen VAE vs pythae {pythae_version} VAE on digits: Bernoulli (BCE) on x/16, "
        f"MLP {setting['hidden_dims']}, latent {setting['latent_dim']}, {args.epochs} epochs, "
        f"batch {setting['batch_size']}, Adam lr {setting['lr']}, k = {args.iw_samples}",
        f"test set: the same {n_test} examples for both (DigitsDataModule split_seed "
        f"{setting['data_init_args']['split_seed']}); lit_gen trains on 1,350 and keeps the best val/nll_iw epoch; "
        f"pythae {train_desc}",
        "NLL in nats per example (positive, lower is better); pythae's column is −get_nll(x_test, n_samples=k)",
        "",
        f"{'seed':>4}  {'lit_gen test nll_iw':>19}  {'pythae test NLL':>15}  {'lit_gen − pythae':>16}  "
        f"{'lit_gen lower':>13}",
    ]
    for r in rows:
        diff = r["lit_gen"]["test_nll_iw"] - r["pythae"]["test_nll"]
        lines.append(f"{r['seed']:>4}  {r['lit_gen']['test_nll_iw']:>19.4f}  {r['pythae']['test_nll']:>15.4f}  "
                     f"{diff:>+16.4f}  {'yes' if diff < 0 else 'no':>13}")
    lit = [r["lit_gen"]["test_nll_iw"] for r in rows]
    pyt = [r["pythae"]["test_nll"] for r in rows]
    diffs = [a - b for a, b in zip(lit, pyt, strict=True)]
    (ml, sl), (mp, sp), (md, sd) = mean_sd(lit), mean_sd(pyt), mean_sd(diffs)
    lines.append(f"{'mean':>4}  {ml:>19.4f}  {mp:>15.4f}  {md:>+16.4f}  {'yes' if md < 0 else 'no':>13}")
    if len(rows) > 1:
        se = sd / math.sqrt(len(rows))
        lines.append(f"{'sd':>4}  {sl:>19.4f}  {sp:>15.4f}  {sd:>16.4f}   "
                     f"paired difference {md:+.4f} ± {se:.4f} (s.e.)")
    wins = sum(d < 0 for d in diffs)
    lines += [
        "",
        f"lit_gen lower on the mean: {'YES' if md < 0 else 'NO'} "
        f"(mean {ml:.4f} vs {mp:.4f} nats; lit_gen lower on {wins} of {len(rows)} seeds)",
        "",
        "cross-checks (same seeds, same test set, k as above):",
        "  kept ep.: the epoch each side kept (lit_gen: lowest val/nll_iw; pythae: its own rule, see above)",
        "  recomputed: lit_gen's kept checkpoint re-evaluated in this process on the tensor pythae was given",
        "  lit_gen est.: the pythae model through lit_gen's iwae_log_likelihood instead of get_nll",
        "  last epoch: each side's model after the final epoch instead of the kept one (lit_gen's is saved by an",
        "    extra callback: its checkpoints/last.ckpt holds the epoch in 'last.ckpt ep.', see SaveFinalWeights)",
        "",
        f"{'seed':>4}  {'lit_gen kept ep.':>16}  {'last.ckpt ep.':>13}  {'recomputed':>10}  {'last epoch':>10}  |  "
        f"{'pythae kept ep.':>15}  {'lit_gen est.':>12}  {'last epoch':>10}",
    ]
    for r in rows:
        lg, py = r["lit_gen"], r["pythae"]
        lines.append(f"{r['seed']:>4}  {lg['kept_epoch'] or '?':>16}  {lg['last_ckpt_epoch']:>13}  "
                     f"{lg['test_nll_iw_recomputed']:>10.4f}  {lg['test_nll_iw_last_epoch']:>10.4f}  |  "
                     f"{py['kept_epoch']:>15}  {py['test_nll_lit_gen_estimator']:>12.4f}  "
                     f"{py['test_nll_last_epoch']:>10.4f}")
    last_lit = [r["lit_gen"]["test_nll_iw_last_epoch"] for r in rows]
    last_pyt = [r["pythae"]["test_nll_last_epoch"] for r in rows]
    lines.append(f"{'mean':>4}  {'':>16}  {'':>13}  {'':>10}  {statistics.fmean(last_lit):>10.4f}  |  {'':>15}  "
                 f"{'':>12}  {statistics.fmean(last_pyt):>10.4f}")
    last_wins = sum(a < b for a, b in zip(last_lit, last_pyt, strict=True))
    lines.append(f"last epoch vs last epoch: lit_gen − pythae = "
                 f"{statistics.fmean(last_lit) - statistics.fmean(last_pyt):+.4f} nats on the mean, "
                 f"lit_gen lower on {last_wins} of {len(rows)} seeds")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    p = import_pythae()  # exits 2 with the install command when pythae is missing

    import torch

    torch.set_num_threads(args.threads)
    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="vae_vs_pythae_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    setting = read_setting()
    data, dm = load_split(setting)
    sizes = {k: len(v) for k, v in data.items()}
    train_desc = ("trains on the same 1,350 and keeps the best epoch by its eval loss (−ELBO) on the 150 val examples"
                  if args.pythae_train == "train" else
                  "trains on train+val (1,500) with no eval set and keeps the epoch with the best training loss")
    n_lit, n_pythae = lit_gen_params(setting), None
    print(f"split {sizes} | pythae train set: {args.pythae_train} | seeds {args.seeds} | epochs {args.epochs} | "
          f"k {args.iw_samples} | threads {args.threads} | runs in {out_dir}", flush=True)

    rows = []
    start_all = time.perf_counter()
    for seed in args.seeds:
        t0 = time.perf_counter()
        lit = run_lit_gen(setting, data, seed, args, out_dir)
        pyt = run_pythae(p, setting, data, seed, args, out_dir)
        if n_pythae is None:
            n_pythae = pyt["n_params"]
            if n_pythae != n_lit:
                print(f"error: parameter counts differ: lit_gen {n_lit}, pythae {n_pythae}", file=sys.stderr)
                return 1
        rows.append({"seed": seed, "lit_gen": lit, "pythae": pyt})
        print(f"seed {seed}: lit_gen test nll_iw {lit['test_nll_iw']:.4f} ({lit['best_checkpoint']}, "
              f"{lit['seconds']:.0f} s) | pythae test NLL {pyt['test_nll']:.4f} (train {pyt['train_seconds']:.0f} s, "
              f"get_nll {pyt['nll_seconds']:.0f} s) | seed total {time.perf_counter() - t0:.0f} s", flush=True)
    total = time.perf_counter() - start_all

    print(f"\nparameters: lit_gen {n_lit}, pythae {n_pythae}; lit_gen commit {rows[0]['lit_gen']['git_commit']}, "
          f"versions {rows[0]['lit_gen']['versions']}\n")
    text = report(rows, args, setting, p["version"], sizes["test"], train_desc)
    print(text)
    print(f"\ntotal time {total:.0f} s ({total / 60:.1f} min) for {len(rows)} seed(s)")
    if args.json:
        args.json.write_text(json.dumps({
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "setting": setting, "split_sizes": sizes, "pythae_version": p["version"],
            "params": {"lit_gen": n_lit, "pythae": n_pythae}, "rows": rows, "total_seconds": total,
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
