"""A sweep's summary tables, computed from its replication records (see store.load_replications).

    bands.csv         per grid cell, date and band metric: p10, p50, p90 and mean over replications
    thresholds.csv    per FLOP threshold: the probability of a completed run that large by each year,
                      and quantiles of the date
    replications.csv  one row per replication: its inputs and outcomes

The records come sorted by (cell, index), so the tables do not depend on the order in which
replications finished: an interrupted and resumed sweep writes the same bytes as an uninterrupted one.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from sim.studies.sweep import SweepSpec

QUANTILES = (0.1, 0.5, 0.9)
FILES = {"bands.csv": "bands", "thresholds.csv": "thresholds", "replications.csv": "replications"}


def sweep_tables(spec: SweepSpec, records: list[dict]) -> dict[str, pd.DataFrame]:
    """bands, thresholds and replications tables from the replication records."""
    grid_keys = [k for k, _ in spec.grid]
    band_rows, threshold_rows, rep_rows = [], [], []
    for cell_index, settings in enumerate(spec.cells()):
        cell = dict(settings)
        mine = [r for r in records if r["cell"] == cell_index]
        if not mine:
            continue
        band_rows += bands(mine, cell)
        threshold_rows += thresholds(mine, cell, spec.thresholds_flop)
        rep_rows += [replication_row(r, cell, spec.thresholds_flop) for r in mine]
    return {
        "bands": pd.DataFrame(band_rows, columns=[*grid_keys, "date", "metric", "p10", "p50", "p90", "mean"]),
        "thresholds": pd.DataFrame(threshold_rows),
        "replications": pd.DataFrame(rep_rows),
    }


def csv_files(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    """The tables as the text of bands.csv, thresholds.csv and replications.csv."""
    return {name: tables[key].to_csv(index=False, float_format="%.6g", lineterminator="\n")
            for name, key in FILES.items()}


def replication_row(record: dict, cell: dict, thresholds_flop: tuple[float, ...]) -> dict:
    """A replication's row of replications.csv: its cell, seed, inputs drawn and outcomes."""
    row = {**cell, "replication": record["replication"], "seed": record["seed"],
           "largest_run_flop": record["largest_run_flop"]}
    row.update({f"input:{k}": v for k, v in record["inputs"].items()})
    row.update({f"first_run_at_or_above_{threshold_label(t)}": record["first_end_at_or_above"].get(repr(t)) or ""
                for t in thresholds_flop})
    row["disruptions"] = len(record.get("disruptions", []))
    return row


def threshold_label(threshold: float) -> str:
    """A threshold in a column name: one significant digit when that is exact (1e+29), else the
    shortest exact form (2.5e+29), so two thresholds never share a column."""
    short = f"{float(threshold):.0e}"
    return short if float(short) == float(threshold) else np.format_float_scientific(float(threshold), trim="-",
                                                                                       exp_digits=2)


def bands(records: list[dict], cell: dict) -> list[dict]:
    """Rows of bands.csv for one cell: each band metric's percentiles and mean, date by date."""
    rows = []
    metrics = sorted(records[0]["bands"])
    for metric in metrics:
        dates = sorted(records[0]["bands"][metric])
        values = np.array([[r["bands"][metric].get(d, np.nan) for d in dates] for r in records], dtype=float)
        p10, p50, p90 = np.nanquantile(values, QUANTILES, axis=0)
        mean = np.nanmean(values, axis=0)
        for j, date in enumerate(dates):
            rows.append({**cell, "date": date, "metric": metric, "p10": p10[j], "p50": p50[j], "p90": p90[j], "mean": mean[j]})
    return rows


def thresholds(records: list[dict], cell: dict, thresholds_flop: tuple[float, ...]) -> list[dict]:
    """Per threshold: P(a completed run at or above it has ended by 31 Dec of each year), and the
    10/50/90% quantiles of that date over replications ('' where fewer than that share reach it)."""
    years = sorted({int(d[:4]) for r in records for m in r["bands"].values() for d in m})
    rows = []
    for threshold in thresholds_flop:
        dates = [r["first_end_at_or_above"].get(repr(threshold)) for r in records]
        row = {**cell, "threshold_flop": threshold, "replications": len(records)}
        for year in years:
            row[f"p_by_{year}"] = float(np.mean([d is not None and d <= f"{year}-12-31" for d in dates]))
        row.update(_date_quantiles(dates))
        rows.append(row)
    return rows


def _date_quantiles(dates: list[str | None]) -> dict[str, str]:
    """date_p10/p50/p90: the empirical quantiles (an actual replication's date; '' if not reached)."""
    ordinals = np.sort([dt.date.fromisoformat(d).toordinal() if d else np.inf for d in dates])
    quantiles = {}
    for q in QUANTILES:
        k = int(np.ceil(q * len(ordinals))) - 1
        value = ordinals[max(k, 0)]
        quantiles[f"date_p{int(q * 100)}"] = dt.date.fromordinal(int(value)).isoformat() if np.isfinite(value) else ""
    return quantiles
