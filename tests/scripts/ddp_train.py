"""Train a small model with DDP on 2 CPU processes (gloo), then save each rank's parameters.

Run as a script (DDP re-executes sys.argv, so it cannot run inside pytest):
    python tests/scripts/ddp_train.py {gan,vae} OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.strategies import DDPStrategy

from lit_gen.data import DigitsDataModule, MixtureDataModule
from lit_gen.models import GAN, VAE


def main(kind: str, out_dir: Path) -> None:
    seed_everything(0)
    torch.set_num_threads(1)
    if kind == "gan":
        data = MixtureDataModule(shape="ring", num_samples=4000, batch_size=128)
        # every option that adds a network or a second backward: EMA, R1, packing, clipping
        model = GAN(latent_dim=4, generator_hidden=[32], discriminator_hidden=[32], r1_gamma=0.1, ema_decay=0.9,
                    pack=2, clip_grad_norm=10.0, num_eval_samples=200)
    else:
        data = DigitsDataModule(batch_size=64)
        model = VAE(data_shape=data.data_shape, levels=data.levels, latent_dim=4, hidden_dims=[32], iw_samples=5)
    trainer = Trainer(
        accelerator="cpu", devices=2, strategy=DDPStrategy(find_unused_parameters=True), max_epochs=2,
        limit_val_batches=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=str(out_dir),
    )
    trainer.fit(model, datamodule=data)
    vector = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    torch.save({"params": vector, "world_size": trainer.world_size, "global_step": trainer.global_step},
               out_dir / f"rank{trainer.global_rank}.pt")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
