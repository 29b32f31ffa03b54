"""A scenario built in Python rather than YAML: one lab, one site, one fab, one CoWoS line, one HBM
supplier, one training run.

    python examples/custom_scenario.py

The dict has the same keys as a scenario file (README, "Scenario files"); `sim.config.loading.validate`
applies the same schema and cross-reference checks as `sim.load_scenario`, so a mistake is refused
with its key path (shown at the end). SIM_EXAMPLE_END=2026-12-31 shortens the horizon.
"""
from __future__ import annotations

import copy
import datetime as dt
import os

import sim
from sim.config.loading import validate

END = os.environ.get("SIM_EXAMPLE_END")  # e.g. 2026-12-31
D = dt.date.fromisoformat  # dates are dates, as YAML reads an unquoted 2024-01-01 (a string is refused)

H100 = {"available_from": D("2022-01-01"), "bf16_dense_flop_s": 9.89e14, "fp8_dense_flop_s": 1.979e15,
        "all_in_it_w": 1400, "hbm_stacks": 5, "packages_per_cowos_wafer": 28, "die_area_mm2": 814, "dies_per_gpu": 1}

SCENARIO = {
    "name": "one-lab-one-site",
    "start_date": D("2024-01-01"),
    "end_date": D(END or "2027-12-31"),
    "tick_days": 7,
    "h100e_reference": "H100-SXM5",
    "gpu_service_life_days": 1826,
    "gpu_types": {"H100-SXM5": H100},
    "mix": [{"date": D("2024-01-01"), "shares": {"H100-SXM5": 1.0}}],
    "logic_fabs": {"fab": {"wafer_capacity_wpm": 20_000, "defect_density_per_cm2": 0.1, "cycle_time_days": 112}},
    "packaging_lines": {"cowos": {"wafer_capacity_wpm": {"points": {D("2024-01-01"): 15_000, D("2025-01-01"): 30_000},
                                                         "growth_per_year_after": 1.3},
                                  "cycle_time_days": 42}},
    "hbm_suppliers": {"hbm": {"tsv_wafer_capacity_wpm": 60_000, "dram_dies_per_tsv_wafer": 130}},
    "labs": {"lab": {"share_of_output": 0.2, "delivery_lead_time_days": 60}},
    "plant_types": {"grid": {"lead_time_days": 730, "firm_fraction": 1.0}},
    "power_plants": [{"name": "grid_1", "site": "campus", "type": "grid", "capacity_mw": 400,
                      "construction_start": D("2023-01-01")}],
    "sites": {"campus": {"lab": "lab", "lat": 32.4, "lon": -99.7, "construction_start": D("2023-06-01"),
                         "construction_days": 365, "facility_mw": 400, "pue": 1.2}},
    "runs": [{"name": "big-run", "lab": "lab", "sites": ["campus"], "start_when_h100e_installed": 100_000,
              "duration_days": 120, "utilization": 0.4, "gpu_share": 0.9, "precision": "fp8"}],
    "frontier": {"duration_days": 180, "utilization": 0.375, "gpu_share": 0.8, "precision": "fp8"},
}


def main() -> None:
    scenario = validate(SCENARIO, [("custom_scenario.py", SCENARIO)])  # a sim.Scenario, as load_scenario gives
    result = sim.run(scenario, seed=0)
    run = result.runs.set_index("run").loc["big-run"]
    print(f"{scenario.name}, {scenario.start_date} to {scenario.end_date}")
    print(f"big-run: {run['status']}, start {run['start'] or '-'}, {run['gpus']:,} GPUs, {run['flop']:.2e} FLOP, "
          f"bound by {run['binding_constraint']}")
    ts = result.timeseries
    world = ts[(ts["entity"] == "world") & (ts["date"].dt.day_of_year == 1)]
    table = world.pivot(index="date", columns="metric", values="value")
    table = table[["produced_h100e_total", "installed_h100e", "power_online_mw"]]
    print(table.to_string(float_format="{:,.0f}".format))

    bad = copy.deepcopy(SCENARIO)
    bad["runs"][0]["lab"] = "no_such_lab"
    try:
        validate(bad, [("custom_scenario.py", bad)])
    except sim.ScenarioError as exc:
        print(f"\na mistake is refused: {exc}")


if __name__ == "__main__":
    main()
