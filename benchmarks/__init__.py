"""Benchmarks run from the repository root (see compare.py)."""
