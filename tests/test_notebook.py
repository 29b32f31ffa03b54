"""examples/quickstart.ipynb runs top to bottom: every code cell, in order, in one namespace, with the
working folder a temporary one and matplotlib drawing off-screen (no Jupyter needed)."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def code_cells() -> list[str]:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_the_notebook_is_saved_without_outputs():
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_the_quickstart_notebook_runs(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    for i, source in enumerate(code_cells()):
        try:
            exec(compile(source, f"{NOTEBOOK.name} cell {i}", "exec"), namespace)
        except Exception as exc:  # say which cell failed
            pytest.fail(f"code cell {i} failed: {type(exc).__name__}: {exc}\n{source}")
    plt.close("all")
    assert list(tmp_path.iterdir()) == []  # it writes nothing where it runs
    result, swept = namespace["result"], namespace["swept"]
    assert str(result.runs["start"].dtype).startswith("datetime64")
    assert swept.thresholds["threshold_flop"].tolist() == [1e26, 1e27, 2e27]
    assert set(namespace["ledger"].columns) == set(namespace["USES"])
