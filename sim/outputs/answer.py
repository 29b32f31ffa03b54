"""The answer a run gives to the question the simulator exists for, stated first: can frontier training keep
growing ~4x a year to ~2e29 FLOP by 2030, and what binds first? (Sevilla et al., "Can AI Scaling Continue
Through 2030?", Epoch AI 2024: training compute of frontier models grew ~4x a year, 2010-2024; a 2e29 FLOP run
is feasible by 2030 at the median of its constraints.)

The block (summary.json `answer`, the console after `sim run`, the top of the report) holds:
  trajectory   the largest run completed to date at each year end against the trend line through 2e29 in
               2030 at 4x a year (2030: 2e29, 2029: 5e28, ..., 2024: 4.9e25);
  binding      one definition everywhere: the constraint that caps the largest run any lab could start
               that month (frontier.csv `binding_constraint` of the `combined` row: chips, power, or a wall),
               as a timeline of spans;
  waiting      what waits for what at the end: GPUs delivered and waiting for powered room, the labs'
               plants started and not yet online (waiting for equipment and construction), the makers'
               equipment backlog, and runs that waited for sites still under construction;
  compute use  the last year's compute ledger over all labs, as shares of the installed FLOP-time;
  headline     one sentence saying all of it.
Built from the output tables alone (string dates, as written), so it is the same from a run in memory and
from its files.
"""
from __future__ import annotations

import pandas as pd

TARGET_FLOP = 2e29
TARGET_YEAR = 2030
TREND_GROWTH_PER_YEAR = 4.0  # Epoch AI (2024): frontier training compute ~4x a year
LEDGER_USES = ("pretraining", "posttraining", "synthetic_data", "experiments", "inference", "idle")


def trend_flop(year: int) -> float:
    """The trend line: 2e29 FLOP in 2030, 4x a year (Epoch AI 2024)."""
    return TARGET_FLOP * TREND_GROWTH_PER_YEAR ** (year - TARGET_YEAR)


def binding_timeline(frontier: pd.DataFrame) -> list[dict]:
    """The frontier's binding constraint month by month, merged into spans {from, to, constraint}."""
    combined = frontier[frontier["constraint"] == "combined"].sort_values("date")
    by_month = {}  # a month's last sample speaks for it (the end date's sample for the last month)
    for date, constraint in zip(combined["date"].astype(str), combined["binding_constraint"].astype(str)):
        by_month[date[:7]] = constraint
    spans: list[dict] = []
    for month, constraint in by_month.items():
        if spans and spans[-1]["constraint"] == constraint:
            spans[-1]["to"] = month
        else:
            spans.append({"from": month, "to": month, "constraint": constraint})
    return spans


def _last(timeseries: pd.DataFrame, kind: str, metric: str) -> float:
    rows = timeseries[(timeseries["kind"] == kind) & (timeseries["metric"] == metric)]
    if not len(rows):
        return 0.0
    last = rows["date"].astype(str).max()
    return float(rows[rows["date"].astype(str) == last]["value"].sum())


def waiting(timeseries: pd.DataFrame, runs: pd.DataFrame, buildout: pd.DataFrame | None) -> dict:
    """What waits for what at the end date."""
    out = {
        "gpus_waiting_for_power_h100e": _last(timeseries, "world", "inventory_h100e"),
        "gpus_in_transit_h100e": _last(timeseries, "world", "in_transit_h100e"),
        "equipment_backlog_mw": _last(timeseries, "equipment", "backlog_mw"),
        "runs_waited_for_sites": sorted(runs[runs["binding_constraint"] == "construction"]["run"].astype(str)),
    }
    if buildout is not None and len(buildout):
        plants = buildout[buildout["kind"].astype(str) == "plant"]
        pending = plants[plants["online"].isna() | (plants["online"].astype(str) == "")]
        out["plants_not_online_mw"] = float(pending["mw"].sum())
        out["plants_not_online"] = int(len(pending))
    return out


def compute_use_shares(timeseries: pd.DataFrame) -> dict:
    """Shares of the last full year's installed FLOP-time, all labs, by use (empty without a ledger)."""
    ledger = timeseries[(timeseries["kind"] == "lab") & timeseries["metric"].astype(str).str.startswith("flop_")]
    if not len(ledger):
        return {}
    dates = ledger["date"].astype(str)
    year = str(int(dates.max()[:4]) - (0 if dates.max()[5:] == "12-31" else 1))
    # a sample on 1 January closes the previous year's last month
    in_year = ledger[((dates > f"{year}-01-01") & (dates <= f"{year}-12-31")) | (dates == f"{int(year) + 1}-01-01")]
    totals = in_year.groupby(in_year["metric"].astype(str))["value"].sum()
    available = float(totals.get("flop_available", 0.0))
    if available <= 0:
        return {}
    return {"year": int(year), **{use: float(totals.get(f"flop_{use}", 0.0)) / available for use in LEDGER_USES}}


def build_answer(runs: pd.DataFrame, timeseries: pd.DataFrame, frontier: pd.DataFrame, years: list[dict],
                 buildout: pd.DataFrame | None = None) -> dict:
    """The answer block of a run (see the module docstring)."""
    trajectory = [{"year": int(y["year"]), "largest_to_date_flop": float(y["largest_run_to_date_flop"]),
                   "trend_flop": trend_flop(int(y["year"])),
                   "ratio_to_trend": float(y["largest_run_to_date_flop"]) / trend_flop(int(y["year"]))}
                  for y in years]
    last = trajectory[-1] if trajectory else None
    spans = binding_timeline(frontier)
    answer = {
        "question": "Can frontier training keep growing ~4x a year to ~2e29 FLOP by 2030, and what binds first?",
        "target_flop": TARGET_FLOP, "target_year": TARGET_YEAR, "trend_growth_per_year": TREND_GROWTH_PER_YEAR,
        "trajectory": trajectory,
        "reaches_target": bool(last and last["year"] >= TARGET_YEAR and last["largest_to_date_flop"] >= TARGET_FLOP),
        "binding": spans,
        "waiting": waiting(timeseries, runs, buildout),
        "compute_use": compute_use_shares(timeseries),
    }
    answer["headline"] = headline(answer)
    return answer


def _sci(value: float) -> str:
    return f"{value:.1e}".replace("e+", "e")


def headline(answer: dict) -> str:
    """One sentence: the trajectory against the trend and the target, and what binds."""
    trajectory = answer["trajectory"]
    if not trajectory:
        return "no year simulated"
    last = trajectory[-1]
    largest, year = last["largest_to_date_flop"], last["year"]
    if largest <= 0:
        parts = [f"no run completed by {year}"]
    elif answer["reaches_target"]:
        parts = [f"yes: the largest run completed by {year} is {_sci(largest)} FLOP, at or above 2e29"]
    else:
        verdict = "no" if year >= TARGET_YEAR else "not yet"
        parts = [f"{verdict}: the largest run completed by {year} is {_sci(largest)} FLOP, "
                 f"{last['trend_flop'] / largest:.0f}x below the 4x-a-year trend ({_sci(last['trend_flop'])})"]
    spans = answer["binding"]
    if spans:
        order = list(dict.fromkeys(s["constraint"] for s in spans))
        parts.append(f"the largest run that could start is bound by {spans[0]['constraint']} first"
                     + (f", then {', '.join(order[1:])}" if len(order) > 1 else "")
                     + f"; at the end by {spans[-1]['constraint']}")
    return "; ".join(parts) + "."


def condensed_binding(spans: list[dict], min_months: int = 3) -> list[dict]:
    """The binding timeline for reading: consecutive spans shorter than `min_months` (the frontier's
    constraints within a few percent, trading places month to month) merge into one span labelled by
    all of them, e.g. `chips/power`."""
    def months(span: dict) -> int:
        (y0, m0), (y1, m1) = (map(int, span["from"].split("-")), map(int, span["to"].split("-")))
        return (y1 - y0) * 12 + (m1 - m0) + 1

    out: list[dict] = []
    for span in spans:
        short = months(span) < min_months
        if short and out and out[-1]["short"]:
            group = out[-1]
            group["to"] = span["to"]
            if span["constraint"] not in group["constraints"]:
                group["constraints"].append(span["constraint"])
        else:
            out.append({**span, "constraints": [span["constraint"]], "short": short})
    return [{"from": g["from"], "to": g["to"], "constraint": "/".join(sorted(g["constraints"]))} for g in out]


def against_parent(summary: dict, parent_summary: dict, parent_name: str) -> dict:
    """What changed against the scenario this one extends: the last year's largest run to date, power
    online, H100e installed and the frontier's best, each as child / parent."""
    def last(s: dict, key: str) -> float:
        years = s.get("years") or []
        return float(years[-1][key]) if years else 0.0

    changes = []
    for key, label in (("largest_run_to_date_flop", "largest run to date"), ("power_online_gw", "power online"),
                       ("installed_h100e", "H100e installed"), ("frontier_max_flop", "frontier")):
        a, b = last(parent_summary, key), last(summary, key)
        changes.append({"key": key, "label": label, "parent": a, "scenario": b,
                        "ratio": b / a if a > 0 else float("nan")})
    return {"scenario": parent_name, "changes": changes}


def format_answer(answer: dict) -> str:
    """The answer block for the terminal."""
    if not answer:
        return ""
    lines = [f"answer: {answer['headline']}"]
    trajectory = [t for t in answer["trajectory"] if t["largest_to_date_flop"] > 0]
    if trajectory:
        lines.append("  largest to date / 4x-a-year trend to 2e29: " + ", ".join(
            f"{t['year']} {t['ratio_to_trend']:.2g}x" for t in trajectory))
    if answer["binding"]:
        lines.append("  what binds (the largest run that could start): " + ", ".join(
            f"{s['constraint']} {s['from']}" + (f"..{s['to']}" if s["to"] != s["from"] else "")
            for s in condensed_binding(answer["binding"])))
    wait = answer["waiting"]
    said = [f"{wait['gpus_waiting_for_power_h100e']:,.0f} H100e of GPUs waiting for power"]
    if "plants_not_online_mw" in wait:
        said.append(f"{wait['plants_not_online']} lab plants ({wait['plants_not_online_mw'] / 1e3:,.1f} GW) "
                    "started and not online")
    said.append(f"{wait['equipment_backlog_mw'] / 1e3:,.0f} GW of power equipment on order")
    if wait["runs_waited_for_sites"]:
        said.append(f"{len(wait['runs_waited_for_sites'])} runs waited for sites")
    lines.append("  waiting at the end: " + "; ".join(said))
    use = answer.get("compute_use")
    if use:
        lines.append(f"  compute use {use['year']} (all labs): " + ", ".join(
            f"{name.replace('_', ' ')} {use[name]:.0%}" for name in LEDGER_USES))
    parent = answer.get("against_parent")
    if parent:
        lines.append(f"  against {parent['scenario']} (the scenario it extends): " + ", ".join(
            f"{c['label']} x{c['ratio']:.2f}" for c in parent["changes"]))
    return "\n".join(lines)
