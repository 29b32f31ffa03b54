"""Score tables, as `sim validate` and `sim backtest` print them: a published (or expected) figure, the
simulated one, the relative error, the tolerance and PASS/FAIL per row. One formatting for both."""
from __future__ import annotations

import pandas as pd


def display(table: pd.DataFrame, numeric: tuple[str, ...]) -> pd.DataFrame:
    """The table as text: figures to 4 significant digits, the relative error in percent."""
    out = table.copy()
    for column in numeric[:-1]:
        out[column] = out[column].map(lambda x: f"{x:.4g}")
    out[numeric[-1]] = out[numeric[-1]].map(lambda x: f"{round(x * 100, 2) + 0.0:+.2f}%")  # no "-0.00%"
    return out.astype(str)


def format_table(table: pd.DataFrame, numeric: tuple[str, ...]) -> str:
    """Text left-aligned, numbers right-aligned, with a closing count of passes. `numeric`: the figure
    columns, the relative error last."""
    shown = display(table, numeric)
    widths = {c: max(len(c), *(len(v) for v in shown[c])) if len(shown) else len(c) for c in shown.columns}

    def line(values: dict) -> str:
        return "  ".join(v.rjust(widths[c]) if c in numeric else v.ljust(widths[c])
                         for c, v in values.items()).rstrip()

    lines = [line({c: c for c in shown.columns})]
    lines += [line(row) for row in shown.to_dict("records")]
    passed = int((table["status"] == "PASS").sum())
    lines.append(f"{passed}/{len(table)} cases pass")
    return "\n".join(lines)


def markdown_table(table: pd.DataFrame, numeric: tuple[str, ...]) -> str:
    """The same table as Markdown."""
    shown = display(table, numeric)
    rule = "|" + "".join("---:|" if c in numeric else "---|" for c in shown.columns)
    lines = ["| " + " | ".join(shown.columns) + " |", rule]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines)
