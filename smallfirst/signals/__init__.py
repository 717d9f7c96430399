"""Cheap request signals: task type, lengths, language, code/math density, JSON/tools, turns."""

from smallfirst.signals.extract import detect_task, extract, normalise_task
from smallfirst.signals.patterns import TASK_TYPES

__all__ = ["TASK_TYPES", "detect_task", "extract", "normalise_task"]
