"""Where a run's inputs came from: what was set on the command line, and each uncertain input's
distribution, the value a run uses and the source comment written beside it in the scenario file.

`sim run` records this in summary.json (`inputs`) and the report shows it ("Inputs and their sources").
Every default in a shipped scenario names its source in a trailing comment (`# data/supply.csv ...`,
`# assumption: ...`); `source_comments` reads those comments back by key path.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from sim.config.loading import SET_SOURCE, ScenarioTemplate

_KEY = re.compile(r"^(\s*)(- )?([A-Za-z0-9_.\-]+):(.*)$")


@lru_cache(maxsize=32)
def source_comments(file: str) -> dict[str, str]:
    """Key path (dotted, mapping keys only) -> the comment beside it in a YAML file, with the comment
    lines that continue it (indented comment-only lines below). Keys inside lists are not indexed."""
    try:
        lines = Path(file).read_text().splitlines()
    except OSError:
        return {}
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    last_key, last_indent = None, -1
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            if last_key is not None and len(line) - len(line.lstrip()) > last_indent:
                out[last_key] = (out.get(last_key, "") + " " + stripped.lstrip("# ").strip()).strip()
            continue
        match = _KEY.match(line)
        if not match:  # a value on its own line (a flow mapping): its comment continues the key's
            if last_key is not None and "#" in line and len(line) - len(line.lstrip()) > last_indent:
                out[last_key] = (out.get(last_key, "") + " " + line.split("#", 1)[1].strip()).strip()
            else:
                last_key = None
            continue
        indent = len(match.group(1)) + (2 if match.group(2) else 0)
        if match.group(2):  # a list item: paths below it are not indexed
            stack = [(i, k) for i, k in stack if i < indent]
            stack.append((indent, "[]"))
            last_key = None
            continue
        stack = [(i, k) for i, k in stack if i < indent]
        stack.append((indent, match.group(3)))
        rest = match.group(4)
        path = ".".join(k for _, k in stack)
        last_key, last_indent = (None, indent) if "[]" in path else (path, indent)
        if "#" in rest and last_key is not None:
            out[last_key] = rest.split("#", 1)[1].strip()
    return out


def describe_inputs(template: ScenarioTemplate, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """The `inputs` record of summary.json: the --set assignments, the scenario files, and each uncertain
    input (key path, distribution, the median a run uses, its p10 and p90, the file and the source comment)."""
    uncertain = []
    for item in template.inputs:
        comment = "" if item.file == SET_SOURCE else _comment_for(item.file, item.key_path)
        d = item.distribution
        uncertain.append({"input": item.key_path, "distribution": d.describe(), "median (used)": d.median(),
                          "p10": d.quantile(0.1), "p90": d.quantile(0.9), "file": Path(item.file).name,
                          "source": comment})
    return {
        "overridden": [{"input": text.split("=", 1)[0].strip(), "value": text.split("=", 1)[1].strip() if "=" in text
                        else ""} for text in overrides],
        "uncertain": uncertain,
        "files": [Path(file).name for file, _ in template.sources if file != SET_SOURCE],
    }


def _comment_for(file: str, key_path: str) -> str:
    """The source comment beside an input: on its own key, else on the nearest enclosing key."""
    comments = source_comments(file)
    parts = key_path.split(".")
    while parts:
        found = comments.get(".".join(parts))
        if found:
            return found
        parts.pop()
    return ""
