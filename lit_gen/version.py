"""lit_gen's version, in a module of its own so that provenance can name it without importing the package."""

__version__ = "0.1.0"
