"""Money and energy: what a cluster costs to buy and to run, and what a power option costs a year.

Pure arithmetic on numbers; the scenario's `costs`, `plant_types` and `regions` give the inputs
(sources beside each default in the scenario and in docs/sources.md).
"""
from __future__ import annotations

from sim.physics.units import WATTS_PER_MEGAWATT

HOURS_PER_DAY = 24.0
HOURS_PER_YEAR = 8_766.0  # 365.25 days


def cluster_capex_usd(gpus: list[int] | list[float], price_usd: list[float], server_overhead: float) -> float:
    """Hardware capex of a cluster: accelerators at their price, plus servers, networking and storage
    as a share of it (Cottier et al., "The rising costs of training frontier AI models",
    arXiv:2405.21015, 2024: cluster cost = accelerators + server and interconnect overhead)."""
    return sum(n * p for n, p in zip(gpus, price_usd)) * (1.0 + server_overhead)


def trend_price_usd(anchor_price_usd: float, anchor_flop_s: float, anchor_year: float, flop_s: float, year: float,
                    doubling_years: float) -> float:
    """An accelerator's price from the price-performance trend: the anchor's dollars per FLOP/s, halving
    every `doubling_years` (Hobbhahn & Besiroglu, "Trends in GPU price-performance", Epoch AI 2022:
    FLOP/s per dollar doubles every 2.07 years for ML GPUs, 2.95 for the top GPUs)."""
    return anchor_price_usd * (flop_s / anchor_flop_s) * 2.0 ** (-(year - anchor_year) / doubling_years)


def amortized_hardware_usd(capex_usd: float, duration_days: float, life_days: float) -> float:
    """The hardware's depreciation over a run: straight line over its life, charged for the days the
    run holds it (Cottier et al. 2024 amortize the cluster over its useful life the same way; their
    depreciation also falls with price-performance, which a straight line over a short life matches)."""
    return capex_usd * duration_days / life_days


def energy_mwh(power_mw: float, days: float) -> float:
    """Energy drawn at a constant facility power over some days."""
    return power_mw * days * HOURS_PER_DAY


def facility_mw(gpus: list[int] | list[float], it_w: list[float], pue: float) -> float:
    """Facility power of a set of accelerators: all-in IT watts x PUE (Sevilla et al., "Can AI Scaling
    Continue Through 2030?", Epoch AI 2024)."""
    return sum(n * w for n, w in zip(gpus, it_w)) * pue / WATTS_PER_MEGAWATT


def capital_recovery_factor(rate: float, years: float) -> float:
    """Share of a capital cost paid each year to repay it with interest over its life: r(1+r)^n /
    ((1+r)^n - 1); 1/n at zero rate (Short, Packey & Holt, "A Manual for the Economic Evaluation of
    Energy Efficiency and Renewable Energy Technologies", NREL/TP-462-5173, 1995, eq. 4-4)."""
    if rate == 0:
        return 1.0 / years
    growth = (1.0 + rate) ** years
    return rate * growth / (growth - 1.0)


def firm_mw_year_cost_usd(capex_usd_per_mw: float, lease_usd_per_mw_year: float, energy_usd_per_mwh: float,
                          firm_fraction: float, crf: float, load_factor: float = 1.0) -> float:
    """Yearly cost of one firm MW from a power option: its capital repaid (capex x CRF, per nameplate
    MW divided by the firm fraction), any lease, and the energy of a load running at `load_factor`
    (the levelized-cost arithmetic of Lazard's LCOE analysis, per MW-year rather than per MWh)."""
    return (capex_usd_per_mw * crf + lease_usd_per_mw_year) / firm_fraction + energy_usd_per_mwh * HOURS_PER_YEAR * load_factor
