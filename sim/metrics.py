"""The metrics registry: every quantity the simulator records, defined once.

Each metric has a name, a unit, the kind of entity it describes and one line saying what it is.
Probes record (entity, kind, metric, value); the tables, sweep bands, plots, the report and the
README's table all read units and descriptions from here (the idea of Mesa's
`DataCollector(model_reporters=...)`: one table of what is recorded). `sim metrics` prints it.

Kinds: `product` (a GPU type, all labs), `supply` (the chip supply chain), `lab`, `site`, `world`
(everything modelled), `disruption`, `equipment` (a power equipment type's makers), `plant_type` and
`region` (the modelled sites' energy by where it came from), `run` (a column of runs.csv), `frontier` (a column of
frontier.csv) and `sweep` (a band of a sweep's bands.csv). This module imports nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

KINDS = ("product", "supply", "lab", "site", "world", "disruption", "equipment", "plant_type", "region", "run",
         "frontier", "sweep")


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    kind: str
    description: str

    @property
    def table(self) -> str:
        """The output file the metric appears in."""
        return {"run": "runs.csv", "frontier": "frontier.csv", "sweep": "bands.csv"}.get(self.kind, "timeseries.csv")


def _m(kind: str, rows: list[tuple[str, str, str]]) -> list[Metric]:
    return [Metric(name, unit, kind, description) for name, unit, description in rows]


METRICS: tuple[Metric, ...] = tuple(
    _m("product", [
        ("produced_gpus_total", "GPUs", "GPUs of this type assembled since the start date (cumulative)"),
        ("delivered_gpus_total", "GPUs", "GPUs of this type delivered to the modelled labs (cumulative)"),
        ("installed_gpus", "GPUs", "GPUs of this type installed and in service at all sites"),
    ])
    + _m("supply", [
        ("capacity_gpus_per_month_logic", "GPUs/month", "accelerators a month the logic fabs' capacity allows, at the product mix"),
        ("capacity_gpus_per_month_cowos", "GPUs/month", "accelerators a month the CoWoS lines' capacity allows, at the product mix"),
        ("capacity_gpus_per_month_hbm", "GPUs/month", "accelerators a month the HBM makers' capacity allows, at the product mix"),
        ("planned_gpus_per_month", "GPUs/month", "the master schedule: accelerators a month the binding input's nominal capacity allows"),
        ("logic_die_stock", "dies", "good logic dies waiting for assembly"),
        ("cowos_wafer_stock", "wafers", "yielded CoWoS wafers waiting for assembly"),
        ("hbm_die_stock", "dies", "HBM DRAM core dies waiting for assembly (a stack is 8, 12 or 16 of them)"),
        ("dies_written_off_total", "dies", "good logic dies of products that left the mix, written off (cumulative)"),
        ("weeks_of_cover_dies", "weeks", "logic die stock over this week's planned use"),
        ("weeks_of_cover_cowos", "weeks", "CoWoS wafer stock over this week's planned use"),
        ("weeks_of_cover_hbm", "weeks", "HBM die stock over this week's planned use"),
    ])
    + _m("lab", [
        ("delivered_h100e_total", "H100e", "GPUs delivered to the lab since the start date, in H100-equivalents (cumulative)"),
        ("inventory_gpus", "GPUs", "GPUs delivered and waiting for powered room at the lab's sites"),
        ("inventory_h100e", "H100e", "GPUs delivered and waiting for powered room, in H100-equivalents"),
        ("installed_gpus", "GPUs", "GPUs installed and in service at the lab's sites"),
        ("installed_h100e", "H100e", "GPUs installed at the lab's sites, in H100-equivalents"),
        ("retired_gpus_total", "GPUs", "GPUs retired (end of service life or replaced by a refresh; cumulative)"),
        ("power_available_mw", "MW", "facility power the lab's built sites can deliver: min(facility MW, firm MW online)"),
        ("power_drawn_mw", "MW", "facility power drawn by the GPUs installed at the lab's sites"),
        ("power_expected_mw", "MW", "power the lab's sites are planned to deliver on the day (halls and plant blocks due)"),
        ("energy_mwh", "MWh", "energy drawn at the lab's sites in the month to the sample"),
        ("energy_cost_usd_total", "USD", "cost of that energy at each site's supply mix (cumulative)"),
        ("emissions_tco2_total", "tCO2", "CO2 of that energy at each site's supply mix (cumulative)"),
        ("capex_usd_total", "USD", "accelerators, datacenter halls and plants paid since the start date (cumulative)"),
        ("budget_usd_remaining", "USD", "capital budget accrued and not yet spent"),
        ("flop_available", "FLOP", "the ledger: installed dense BF16 peak FLOP/s x seconds in the month to the sample"),
        ("flop_pretraining", "FLOP", "of that, held by pre-training runs (peak x time, whatever the MFU)"),
        ("flop_posttraining", "FLOP", "of that, held by post-training (RL) runs"),
        ("flop_synthetic_data", "FLOP", "of that, held to generate synthetic training data"),
        ("flop_experiments", "FLOP", "of that, held for research experiments"),
        ("flop_inference", "FLOP", "of that, held to serve inference"),
        ("flop_idle", "FLOP", "of that, installed GPUs no use held (the six uses sum to flop_available)"),
        ("inference_output_tokens_total", "tokens", "output tokens served to users and API customers (cumulative)"),
        ("inference_demand_tokens_total", "tokens", "output tokens wanted (the lab's demand path x the reasoning multiplier; cumulative)"),
        ("synthetic_tokens_total", "tokens", "effective training tokens generated as synthetic data (cumulative)"),
        ("data_stock_tokens", "tokens", "the lab's effective data stock: the shared stock plus its synthetic tokens"),
    ])
    + _m("site", [
        ("built", "flag", "1 once the site's construction is finished, else 0"),
        ("power_online_mw", "MW", "firm MW of the site's power plants that are online"),
        ("power_available_mw", "MW", "facility power the site can deliver: min(facility MW, firm MW online) once built"),
        ("power_drawn_mw", "MW", "facility power drawn by the GPUs installed (all-in IT watts x PUE)"),
        ("installed_gpus", "GPUs", "GPUs installed and in service at the site"),
        ("busy_gpus", "GPUs", "installed GPUs held by a running training run"),
        ("facility_mw", "MW", "facility MW of the site's halls finished so far"),
        ("energy_mwh", "MWh", "energy the site drew in the month to the sample"),
        ("energy_mwh_total", "MWh", "energy the site drew since the start date (cumulative)"),
        ("energy_cost_usd_total", "USD", "cost of that energy at the site's supply mix (cumulative)"),
        ("emissions_tco2_total", "tCO2", "CO2 of that energy at the site's supply mix (cumulative)"),
    ])
    + _m("world", [
        ("produced_h100e_total", "H100e", "GPUs assembled since the start date, in H100-equivalents (cumulative)"),
        ("delivered_h100e_total", "H100e", "GPUs delivered to the modelled labs, in H100-equivalents (cumulative)"),
        ("other_buyers_h100e_total", "H100e", "output that went to buyers outside the modelled labs (cumulative)"),
        ("in_transit_h100e", "H100e", "GPUs shipped to labs and not yet delivered"),
        ("installed_gpus", "GPUs", "GPUs installed and in service at all sites"),
        ("installed_h100e", "H100e", "GPUs installed at all sites, in H100-equivalents"),
        ("inventory_h100e", "H100e", "GPUs held by labs waiting for powered room"),
        ("power_online_mw", "MW", "firm MW of all power plants online"),
        ("power_available_mw", "MW", "facility power all built sites can deliver"),
        ("power_drawn_mw", "MW", "facility power drawn by all installed GPUs"),
        ("other_buyers_installed_h100e", "H100e", "other buyers' accelerators in service (bought within the service life)"),
        ("other_buyers_power_mw", "MW", "facility power other buyers' accelerators in service draw (their sites are not modelled)"),
        ("ai_power_demand_mw", "MW", "the world power balance: power drawn at the modelled sites plus other buyers'"),
        ("energy_mwh", "MWh", "energy drawn at all modelled sites in the month to the sample"),
        ("emissions_tco2_total", "tCO2", "CO2 of the energy drawn at all modelled sites (cumulative)"),
        ("capex_usd_total", "USD", "capex of all labs with a budget since the start date (cumulative)"),
    ])
    + _m("plant_type", [
        ("energy_mwh_total", "MWh", "energy the modelled sites drew from plants of this type since the start date (cumulative)"),
        ("emissions_tco2_total", "tCO2", "CO2 of that energy at the type's intensity (grid: its region's; cumulative)"),
    ])
    + _m("region", [
        ("energy_mwh_total", "MWh", "energy the modelled sites in this region drew since the start date (cumulative)"),
        ("emissions_tco2_total", "tCO2", "CO2 of that energy (cumulative)"),
    ])
    + _m("equipment", [
        ("backlog_mw", "MW", "orders waiting in the makers' book (other buyers' and the labs' plants')"),
        ("delivered_mw", "MW", "equipment made and delivered in the month to the sample"),
        ("delivered_mw_total", "MW", "equipment delivered since the start date (cumulative)"),
        ("delivered_to_labs_mw_total", "MW", "of that, delivered to the modelled labs' plants (cumulative)"),
    ])
    + _m("disruption", [
        ("disruption_active", "occurrences", "occurrences of the disruption in effect on the day"),
    ])
    + _m("run", [
        ("gpus", "GPUs", "GPUs the run held"),
        ("flop", "FLOP", "training compute achieved: GPUs x peak x MFU x goodput x time"),
        ("mfu", "fraction", "model FLOP utilisation: achieved over peak FLOP/s while stepping"),
        ("goodput", "fraction", "share of the run's wall time that made progress (failures, checkpoints, restarts)"),
        ("interruptions", "failures", "failures that stopped the run"),
        ("step_time_s", "s", "time of one optimizer step on the run's best parallel plan"),
        ("comm_fraction", "fraction", "share of the step spent in exposed communication"),
        ("params", "parameters", "model size the run trains"),
        ("duration_days", "days", "planned length of the run"),
        ("h100e", "H100e", "the run's GPUs in H100-equivalents"),
        ("peak_flop_s", "FLOP/s", "dense peak FLOP/s of one of the run's GPUs at its precision"),
        ("chips_alone_gpus", "GPUs", "GPUs the run could take if only chips limited it"),
        ("power_alone_gpus", "GPUs", "GPUs the run could take if only power limited it"),
        ("disrupted_days", "days", "days a fiber cut slowed or stalled the run"),
        ("stalled_days", "days", "of those, days the run's sites were cut off from each other"),
        ("cluster_capex_usd", "USD", "what the run's accelerators cost with their servers and network (price x (1 + server overhead))"),
        ("energy_mwh", "MWh", "energy the run's accelerators draw over its duration (all-in IT watts x PUE)"),
        ("amortized_cost_usd", "USD", "the cluster's depreciation over the run (straight line over the hardware life) plus its energy"),
        ("usd_per_flop", "USD/FLOP", "amortized cost over the FLOP the run achieved"),
    ])
    + _m("frontier", [
        ("max_flop", "FLOP", "the largest run any lab could start that month under the constraint"),
        ("h100e", "H100e", "the GPUs of that run, in H100-equivalents"),
    ])
    + _m("sweep", [
        ("produced_h100e_total", "H100e", "world output to date (percentiles over replications)"),
        ("installed_h100e", "H100e", "world installed fleet (percentiles over replications)"),
        ("power_online_mw", "MW", "world firm power online (percentiles over replications)"),
        ("power_drawn_mw", "MW", "world power drawn (percentiles over replications)"),
        ("largest_run_flop_to_date", "FLOP", "the largest run completed by the date (percentiles over replications)"),
        ("frontier_combined_flop", "FLOP", "the frontier's combined largest run (percentiles over replications)"),
    ])
)

_BY_KEY = {(m.kind, m.name): m for m in METRICS}
if len(_BY_KEY) != len(METRICS) or any(m.kind not in KINDS for m in METRICS):
    raise ValueError("sim/metrics.py: a metric is defined twice or has an unknown kind")

# the timeseries metrics a sweep summarises as percentile bands (the world's, month by month)
BAND_METRICS = ("produced_h100e_total", "installed_h100e", "power_online_mw", "power_drawn_mw")


def metric(kind: str, name: str) -> Metric:
    """The registered metric; a KeyError names what is missing."""
    try:
        return _BY_KEY[(kind, name)]
    except KeyError:
        raise KeyError(f"metric {name!r} of kind {kind!r} is not in sim/metrics.py") from None


def unit(kind: str, name: str) -> str:
    return metric(kind, name).unit


def of_kind(kind: str) -> list[Metric]:
    return [m for m in METRICS if m.kind == kind]


def label(kind: str, name: str) -> str:
    """`name (unit)`, for axis labels and table headers."""
    return f"{name} ({unit(kind, name)})"


def markdown_table() -> str:
    """The registry as a Markdown table (the README's list of metrics is this table)."""
    lines = ["| kind | metric | unit | file | description |", "|---|---|---|---|---|"]
    lines += [f"| {m.kind} | `{m.name}` | {m.unit} | {m.table} | {m.description} |" for m in METRICS]
    return "\n".join(lines)


def text_table() -> str:
    """The registry as aligned plain text (`sim metrics`)."""
    width = max(len(m.name) for m in METRICS)
    unit_width = max(len(m.unit) for m in METRICS)
    lines = [f"{'kind':<10}  {'metric':<{width}}  {'unit':<{unit_width}}  description"]
    lines += [f"{m.kind:<10}  {m.name:<{width}}  {m.unit:<{unit_width}}  {m.description}" for m in METRICS]
    return "\n".join(lines)
