"""Results in a notebook: Result renders as HTML tables."""
from __future__ import annotations


def test_result_renders_in_a_notebook(baseline_result):
    html = baseline_result._repr_html_()
    assert html.count("<table") == 2  # the year-by-year figures and the runs
    assert "baseline" in html and "openai-2030" in html and "binding_constraint" in html
