"""Stillwatch: mark, watch, trace and prove model distillation."""

__version__ = "0.1.0"
