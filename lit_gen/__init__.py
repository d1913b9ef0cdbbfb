"""lit_gen: train, evaluate and sweep VAEs and GANs with PyTorch Lightning."""

from lit_gen.version import __version__


def load(path, map_location="cpu"):
    """The trained model of a checkpoint or run directory (see `lit_gen.loading.load`)."""
    from lit_gen.loading import load as _load

    return _load(path, map_location)


__all__ = ["__version__", "load"]
