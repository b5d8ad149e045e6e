"""Delineate's Python runtime: fine-tune, evaluate and export Segment Anything (SAM)."""

__version__ = "0.1.0"
