"""Reference tables shipped with the package, the published numbers the scenarios' defaults rest on.

`hardware.csv` is the accelerator catalog (one row per product: dense BF16/FP8 FLOP/s, HBM, die
area, watts, CoWoS packaging, NVLink; units in the column names), `supply.csv` the chip supply
chain (CoWoS and HBM capacity, production, Epoch 2030's chip figures) and `power.csv` power plants,
grid queues, build times and PUE. Every row names its source in a `source` column: one or more
short keys, separated by "; ", each cited in full in docs/sources.md. Values are strings as written;
an empty cell means no published figure. `available_from` in the catalog is 1 January of the year
the product first shipped, the convention of scenarios/baseline.yaml.
"""
from __future__ import annotations

import csv
import io
from importlib import resources

SOURCE_SEPARATOR = "; "


def tables() -> list[str]:
    """Names of the shipped tables (file names without `.csv`), sorted."""
    return sorted(p.name[:-4] for p in resources.files(__name__).iterdir() if p.name.endswith(".csv"))


def read_table(name: str) -> list[dict[str, str]]:
    """The rows of a shipped table, e.g. `read_table("hardware")`, as dicts of column -> string."""
    stem = name[:-4] if name.endswith(".csv") else name
    if stem not in tables():
        raise KeyError(f"no shipped table {name!r}; shipped: {', '.join(tables())}")
    text = resources.files(__name__).joinpath(f"{stem}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def sources(name: str) -> list[str]:
    """The distinct source keys a table's rows cite, in order of first use (see docs/sources.md)."""
    keys: dict[str, None] = {}
    for row in read_table(name):
        for key in row["source"].split(SOURCE_SEPARATOR.strip()):
            if key.strip():
                keys.setdefault(key.strip(), None)
    return list(keys)
