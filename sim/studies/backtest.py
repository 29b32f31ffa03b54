"""Backtest: the shipped scenario `backtest_2022` (scenarios/backtest_2022.yaml) starts on 2022-01-01 with
only what was known by the end of 2023, runs to the end of 2024, and is scored against what was published
later, as `sim validate` scores its cases: published, simulated, tolerance, PASS/FAIL.

Every simulated value is read from the run's own tables (timeseries rows `produced_gpus_total` per product,
the world's `produced_h100e_total`, `installed_h100e`, ..., the supply's `capacity_gpus_per_month_cowos`,
runs.csv FLOP); which products count as NVIDIA's is read from the scenario (family `gpu`). No expected
number enters a computation.

Rows and their tolerances (this project's; the reason is given for each):
- nvidia-dc-2022, nvidia-dc-2023: NVIDIA data-centre GPU shipments, 2.64M (2022) and 3.76M (2023)
  (TechInsights). The model makes only HBM/CoWoS accelerators; TechInsights counts every data-centre GPU,
  PCIe and GDDR parts (A10, A2, A40, L4, L40S, T4) included. Epoch AI's ai-chip-counts put NVIDIA's HBM
  parts at 0.83M and 1.29M, 32% and 34% of TechInsights' totals. So the row passes when the simulated HBM
  GPUs are 0.22-0.45 of TechInsights' figure: a third, +-a third of that third (the HBM share is Epoch's
  model estimate, not a published split). An asymmetric band, not a relative error around 2.64M.
- nvidia-hbm-2022, nvidia-hbm-2023: NVIDIA HBM GPUs (A100/A800, H100/H800) vs Epoch's ai-chip-counts
  medians summed by calendar year, 0.83M and 1.29M. +-30%: the units follow from CoWoS wafers x NVIDIA's
  wafer share (~40%, press) x packages per wafer (28, press, low confidence), each uncertain by ~20%,
  and Epoch's counts are model estimates themselves.
- h100e-stock-2023: H100-equivalents in existence at the end of 2023 (all modelled accelerators: the labs'
  installed fleets, inventory, in transit, and other buyers' installed) vs Epoch 2030's 2.2M; tolerance
  its 80% interval, 1.4-3.5M. The model's stock lacks what other buyers bought before 2022 (A100s from
  2020-21): it reads low by that.
- h100e-production-2024: H100e produced in 2024 vs Epoch 2030's 1.85M; tolerance its 80% interval,
  1.0-4.63M.
- cowos-bound-2023: CoWoS-limited output. Accelerators made in 2023 over the accelerators TSMC's CoWoS
  capacity alone allowed in 2023 (the supply's monthly `capacity_gpus_per_month_cowos`, summed over the
  year's months). Published: output was limited by CoWoS in 2023, demand exceeding CoWoS supply by over
  20% (TrendForce CoWoS Sep 2023), so the ratio is 1. +-10%: output lags capacity by the 6-week cycle and
  planned buffers, a few % in a fast ramp; were HBM or logic the binding input, the ratio would fall well
  below 0.9. (TrendForce's 2023 CoWoS output of 110k wafers is *not* scored: the scenario's 2022 CoWoS
  level is calibrated to it.)
- largest-run-2024: FLOP of the largest run started in 2024 (runs.csv) vs Llama 3.1 405B's 3.8e25 (Llama 3
  paper). +-25%: the scenario runs it as the paper describes it, 16,384 H100 for 54 days, but 54 days is
  the period of the paper's reliability figures, not the whole pre-training; at the model's MFU (~0.44,
  paper 38-43%) and goodput (~0.96) that gives ~3.2e25, 15-20% short of 6 N D = 3.8e25.

Calibration (scenarios/backtest_2022.yaml marks it): the CoWoS capacity on 2022-01-01 (6k wafers/month),
set so the ramp through DigiTimes' ~8k (Jul 2023) and 15k (Dec 2023) gives ~117k wafers in 2023, against
TrendForce's 110k output (and "over 120k" from equipment makers, Nov 2023). The HBM dies per TSV wafer and
the training kernel efficiency are the baseline's calibrations, unchanged. None of the scored figures is
a calibration target.

Sources (full citations; short keys as in docs/sources.md where it has them):
- TechInsights 2024: TechInsights data-centre GPU market study, as reported by Tom's Hardware (A. Shilov),
  "Nvidia shipped 3.76 million data-center GPUs in 2023, dominates business with 98% revenue share",
  June 2024, https://www.tomshardware.com/tech-industry/nvidia-shipped-376m-data-center-gpus-in-2023-dominates-business-with-98-revenue-share
  (also HPCwire). 2.64M in 2022, 3.76M in 2023.
- Epoch ai-chip-counts: Epoch AI, "AI Chip Sales" data and its repository epoch-research/ai-chip-counts
  (csv_export/nvidia_calendar_quarter_chip_timelines.csv, quarterly medians by chip), 2026,
  https://epoch.ai/data/ai-chip-sales , https://github.com/epoch-research/ai-chip-counts . NVIDIA HBM
  GPUs: 2022 0.83M (A100 0.77M, H100 0.04M, A800 0.03M), 2023 1.29M (H100 0.89M, H800 0.12M, A100 0.19M,
  A800 0.09M), summed by this project.
- Epoch 2030: J. Sevilla, T. Besiroglu, B. Cottier, J. You, E. Roldán, P. Villalobos, E. Erdil, "Can AI
  Scaling Continue Through 2030?", Epoch AI, August 2024, https://epoch.ai/blog/can-ai-scaling-continue-through-2030
  (data/supply.csv h100e_stock 2023-12 and h100e_annual_production 2024: P10 / median / P90).
- TrendForce CoWoS Sep 2023: TrendForce News, "Facing CoWoS Shortage, TSMC's Taichung Plant Joins Capacity
  Support", 12 September 2023,
  https://trendforce.com/news/2023/09/12/news-facing-cowos-shortage-tsmcs-taichung-plant-joins-capacity-support
  (CoWoS short of demand by over 20%; 2023 output ~110k wafers, doubling in 2024).
- Llama 3: Llama Team, AI @ Meta, "The Llama 3 Herd of Models", arXiv:2407.21783, July 2024 (405B trained
  with 3.8e25 FLOP on up to 16K H100; 54-day snapshot of its interruptions, §3.3.4).
- Inputs of the scenario known in 2023 but not in docs/sources.md: DigiTimes via Taiwan News, "TSMC
  reportedly accelerates advanced packaging expansion", 17 July 2023,
  https://www.taiwannews.com.tw/en/news/4946540 (CoWoS ~8k wafers/month; NVIDIA ~40% of 2024 capacity);
  smbom, 6 November 2023, https://www.smbom.com/news/12786 (15k wafers/month in Nov 2023, doubling in 2024;
  NVIDIA ~40%, AMD ~8% of 2024 capacity; 2023 capacity over 120k wafers).

    sim backtest [--out DIR]     # prints the table; exit 0 when every row passes, 1 otherwise
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import pandas as pd

from sim.studies import scoring

SCENARIO = "backtest_2022"
COLUMNS = ["case", "source", "description", "unit", "published", "simulated", "rel_error", "tolerance", "status"]


@dataclass(frozen=True)
class BacktestOutputs:
    """What the backtest run produced, and the scenario's product families."""

    timeseries: pd.DataFrame
    runs: pd.DataFrame
    start_date: str
    families: dict[str, str]  # product -> family

    def series(self, entity: str, metric: str) -> pd.Series:
        """One entity's metric by sample date (ISO strings, in order)."""
        ts = self.timeseries
        rows = ts[(ts["entity"] == entity) & (ts["metric"] == metric)]
        if rows.empty:
            raise KeyError(f"no timeseries rows for {entity} {metric}")
        return rows.set_index("date")["value"].sort_index()

    def at(self, entity: str, metric: str, date: str) -> float:
        """The metric's last sample on or before `date` (the start of that day: the sample taken then)."""
        s = self.series(entity, metric)
        s = s[s.index <= date]
        if s.empty:
            raise KeyError(f"no sample of {entity} {metric} by {date}")
        return float(s.iloc[-1])

    def made_in(self, entity: str, metric: str, year: int) -> float:
        """Growth of a cumulative metric over a calendar year: its value at the first sample of the next year
        (or the run's last sample) less its value at the start of the year (zero at the run's start)."""
        s = self.series(entity, metric)
        first, last = f"{year}-01-01", f"{year + 1}-01-01"
        before = 0.0 if first <= self.start_date else float(s[s.index <= first].iloc[-1])
        after = s[s.index <= last]
        return float(after.iloc[-1]) - before

    def products(self, family: str) -> list[str]:
        return [name for name, fam in self.families.items() if fam == family]


@dataclass(frozen=True)
class BacktestCase:
    """One published figure and how it is read from the backtest's outputs: it passes when
    low <= simulated <= high; `tolerance` says how the bounds were set."""

    id: str
    source: str
    description: str
    published: float
    unit: str
    low: float
    high: float
    tolerance: str
    compute: Callable[[BacktestOutputs], float]

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"{self.id}: low bound above high bound")

    def rel_error(self, simulated: float) -> float:
        return (simulated - self.published) / self.published

    def passes(self, simulated: float) -> bool:
        return self.low <= simulated <= self.high


def rel(tolerance: float) -> dict:
    """Bounds at +-tolerance around the published figure (filled in by `case`)."""
    return {"kind": "rel", "value": tolerance}


def case(id: str, source: str, description: str, published: float, unit: str, bounds: dict,
         compute: Callable[[BacktestOutputs], float]) -> BacktestCase:
    """A case whose bounds are: {"kind": "rel", value}: published x (1 -+ value); {"kind": "ratio",
    low, high}: published x low .. published x high; {"kind": "interval", low, high, label}: as given."""
    if bounds["kind"] == "rel":
        t = bounds["value"]
        return BacktestCase(id, source, description, published, unit, published * (1 - t), published * (1 + t),
                            f"±{t * 100:g}%", compute)
    if bounds["kind"] == "ratio":
        lo, hi = bounds["low"], bounds["high"]
        return BacktestCase(id, source, description, published, unit, published * lo, published * hi,
                            f"x{lo:g}-{hi:g}", compute)
    return BacktestCase(id, source, description, published, unit, bounds["low"], bounds["high"],
                        bounds["label"], compute)


# --- what each row reads ----------------------------------------------------------------------------

def nvidia_units(year: int) -> Callable[[BacktestOutputs], float]:
    """NVIDIA HBM GPUs made in a year: every product of family `gpu` in the scenario."""
    def compute(out: BacktestOutputs) -> float:
        return sum(out.made_in(name, "produced_gpus_total", year) for name in out.products("gpu"))
    return compute


def h100e_stock(date: str) -> Callable[[BacktestOutputs], float]:
    """H100e in existence on a date: the labs' installed fleets, their inventory and shipments in transit,
    and what other buyers have installed."""
    def compute(out: BacktestOutputs) -> float:
        return sum(out.at("world", metric, date) for metric in
                   ("installed_h100e", "inventory_h100e", "in_transit_h100e", "other_buyers_installed_h100e"))
    return compute


def h100e_made(year: int) -> Callable[[BacktestOutputs], float]:
    def compute(out: BacktestOutputs) -> float:
        return out.made_in("world", "produced_h100e_total", year)
    return compute


def cowos_bound(year: int) -> Callable[[BacktestOutputs], float]:
    """Accelerators made in a year / accelerators CoWoS capacity alone allowed in its months."""
    def compute(out: BacktestOutputs) -> float:
        made = sum(out.made_in(name, "produced_gpus_total", year) for name in out.families)
        cap = out.series("supply", "capacity_gpus_per_month_cowos")
        months = cap[(cap.index >= f"{year}-01-01") & (cap.index < f"{year + 1}-01-01")]
        if len(months) != 12:
            raise KeyError(f"expected 12 monthly CoWoS capacity samples in {year}, found {len(months)}")
        return made / float(months.sum())
    return compute


def largest_run(year: int) -> Callable[[BacktestOutputs], float]:
    """FLOP of the largest run started in a year (runs.csv)."""
    def compute(out: BacktestOutputs) -> float:
        runs = out.runs
        started = runs[runs["start"].astype(str).str.startswith(str(year))]
        if started.empty:
            raise KeyError(f"no run started in {year}")
        return float(started["flop"].max())
    return compute


TI, EP, E30 = "TechInsights 2024", "Epoch ai-chip-counts", "Epoch 2030"
HBM_SHARE = {"kind": "ratio", "low": 0.22, "high": 0.45}  # Epoch's HBM parts: 32-34% of TechInsights' totals
CASES: tuple[BacktestCase, ...] = (
    case("nvidia-dc-2022", TI, "NVIDIA DC GPUs 2022 (sim: HBM parts, ~1/3)", 2.64e6, "GPUs", HBM_SHARE,
         nvidia_units(2022)),
    case("nvidia-dc-2023", TI, "NVIDIA DC GPUs 2023 (sim: HBM parts, ~1/3)", 3.76e6, "GPUs", HBM_SHARE,
         nvidia_units(2023)),
    case("nvidia-hbm-2022", EP, "NVIDIA HBM GPUs 2022 (A100, H100)", 0.83e6, "GPUs", rel(0.30), nvidia_units(2022)),
    case("nvidia-hbm-2023", EP, "NVIDIA HBM GPUs 2023 (A100, H100)", 1.29e6, "GPUs", rel(0.30), nvidia_units(2023)),
    case("h100e-stock-2023", E30, "H100e stock, end of 2023", 2.2e6, "H100e",
         {"kind": "interval", "low": 1.4e6, "high": 3.5e6, "label": "80% CI 1.4M-3.5M"}, h100e_stock("2024-01-01")),
    case("h100e-production-2024", E30, "H100e produced in 2024", 1.85e6, "H100e",
         {"kind": "interval", "low": 1.0e6, "high": 4.63e6, "label": "80% CI 1.0M-4.63M"}, h100e_made(2024)),
    case("cowos-bound-2023", "TrendForce CoWoS Sep 2023", "2023 output / what CoWoS capacity allowed", 1.0,
         "ratio", rel(0.10), cowos_bound(2023)),
    case("largest-run-2024", "Llama 3", "largest 2024 run (Llama 3.1 405B)", 3.8e25, "FLOP", rel(0.25),
         largest_run(2024)),
)


def run_scenario(seed: int = 0) -> BacktestOutputs:
    """Run the shipped backtest scenario and keep what the rows read."""
    from sim.api import run
    from sim.config.loading import load_scenario, packaged_scenario

    scenario = load_scenario(packaged_scenario(SCENARIO))
    result = run(scenario, seed=seed)
    return BacktestOutputs(timeseries=result.timeseries, runs=result.runs,
                           start_date=scenario.start_date.isoformat(),
                           families={name: g.family for name, g in scenario.gpu_types.items()})


def run_backtest(cases: Iterable[BacktestCase] = CASES, outputs: BacktestOutputs | None = None) -> pd.DataFrame:
    """Score every case on the backtest run (run here unless given): one row each with the columns of
    `COLUMNS`, status PASS or FAIL."""
    out = run_scenario() if outputs is None else outputs
    rows = []
    for c in cases:
        simulated = float(c.compute(out))
        rows.append({
            "case": c.id,
            "source": c.source,
            "description": c.description,
            "unit": c.unit,
            "published": c.published,
            "simulated": simulated,
            "rel_error": c.rel_error(simulated),
            "tolerance": c.tolerance,
            "status": "PASS" if c.passes(simulated) else "FAIL",
        })
    return pd.DataFrame(rows, columns=COLUMNS)


_NUMERIC = ("published", "simulated", "rel_error")


def format_table(table: pd.DataFrame) -> str:
    """The table as the command prints it, with a closing count of passes (sim/studies/scoring.py)."""
    return scoring.format_table(table, _NUMERIC)


def markdown_table(table: pd.DataFrame) -> str:
    """The same table as Markdown."""
    return scoring.markdown_table(table, _NUMERIC)
