"""SLURM: cluster profiles, the sbatch script, and submitting, following and cancelling sweeps and single runs."""

from lit_gen.slurm.profile import ClusterProfile, load_profile

__all__ = ["ClusterProfile", "load_profile"]
