"""Packaging shim: the metadata lives in pyproject.toml (`pip install .`, `pip install -e .`)."""

import setuptools

setuptools.setup()
