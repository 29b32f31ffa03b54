"""The hostile-input corpus: at least 70 cases, every category covered (see refusal.py)."""
from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path

from refusal import CATEGORIES

MODULES = sorted(p.stem for p in Path(__file__).parent.glob("test_*.py") if p.stem != "test_corpus")


def all_cases():
    return [case for name in MODULES for case in getattr(importlib.import_module(name), "CASES", [])]


def test_the_corpus_covers_every_category_with_at_least_70_cases():
    cases = all_cases()
    counts = Counter(case.category for case in cases)
    assert set(counts) == set(CATEGORIES), counts
    assert len(cases) >= 70, counts
    names = [(case.category, case.name) for case in cases]
    assert len(names) == len(set(names))
