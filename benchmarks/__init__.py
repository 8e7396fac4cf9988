"""Benchmarks run from the repository root (see compare.py)."""

from retrieval.config import REPO_ROOT

SHARED_EVAL = REPO_ROOT.parent / "shared" / "eval"  # the evaluation data beside the repository
