"""Evaluation as plain functions of a model and data, called by thin callbacks and by `lit-gen compare`."""
