"""Labelled data: CSV/JSONL architecture tables, target equations and the embedded demo data."""

from __future__ import annotations

from .builtin import builtin_data_path
from .equation import TargetEquation
from .table import LabelledTable, read_labelled, write_labelled

__all__ = ["LabelledTable", "TargetEquation", "builtin_data_path", "read_labelled", "write_labelled"]
