"""Shipped flow files: ``default.json`` (the FlexAPI device agent) and ``examples/``."""

from importlib.resources import files
from pathlib import Path


def default_flow() -> Path:
    """Path of the shipped default flow."""
    return Path(str(files(__name__) / "default.json"))
