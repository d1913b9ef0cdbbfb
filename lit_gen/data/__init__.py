"""DataModules: one in-memory base and the sets lit_gen ships."""

from lit_gen.data.base import InMemoryDataModule, Splits
from lit_gen.data.digits import DigitsDataModule
from lit_gen.data.image_folder import ImageFolderDataModule
from lit_gen.data.mixture import GaussianMixture2D, MixtureDataModule
from lit_gen.data.torchvision_sets import CIFAR10DataModule, FashionMNISTDataModule, MNISTDataModule

__all__ = [
    "CIFAR10DataModule",
    "DigitsDataModule",
    "FashionMNISTDataModule",
    "GaussianMixture2D",
    "ImageFolderDataModule",
    "InMemoryDataModule",
    "MNISTDataModule",
    "MixtureDataModule",
    "Splits",
]
