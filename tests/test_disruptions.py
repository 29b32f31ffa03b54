"""Disruptions (sim/world/disruptions.py): each kind changes what it should and nothing else, the counts still
balance under them, random ones are reproducible, and every stress scenario runs.

Most tests compare the baseline with the baseline plus one disruption, both at seed 0.
"""
from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import sim
from factories import scenario_dicts
from sim.config.disruption_checks import check_disruptions
from sim.world.disruptions import (capacity_factors, cut_pieces, occurrences, plant_online_days, share_changes,
                                   site_built_days, split_link, FiberCut)
from sim.world.assembly import build_world
from sim.world.allocator import Allocator, entitlement
from sim.world.labs import Lab
from sim.world.streams import DISRUPTION_SPAWN_KEY, RandomStreams
from sim.config.plants import plant_online_day
from sim.outputs.tables import build_result
from sim.config.references import check_references
from sim.config.schedule import to_day
from sim.config.schema import Scenario
from sim.world.supply_plan import plan_supply
from sim.physics.units import SECONDS_PER_DAY
from test_properties import _check_snapshots, _check_supply_totals

ROOT = Path(__file__).resolve().parents[1]
STRESS = sorted((ROOT / "scenarios" / "stress").glob("*.yaml"))
START = dt.date(2024, 1, 1)
MW_TOL = 1e-6


def with_disruptions(*disruptions: dict, overrides: tuple[str, ...] = ()) -> Scenario:
    """The baseline (plus overrides) with these disruptions, validated like a file."""
    text = yaml.safe_dump(list(disruptions), default_flow_style=True, width=10**6).strip()
    return sim.load_scenario(overrides=[*overrides, f"disruptions={text}"])


def series(result, entity: str, metric: str) -> pd.Series:
    ts = result.timeseries
    return ts[(ts["entity"] == entity) & (ts["metric"] == metric)].set_index("date")["value"]


def runs_by_name(result) -> pd.DataFrame:
    return result.runs.set_index("run")


def without_disruption_rows(ts: pd.DataFrame) -> pd.DataFrame:
    return ts[ts["metric"] != "disruption_active"].reset_index(drop=True)


# --- occurrences ---------------------------------------------------------------------------------

def test_scheduled_occurrences_are_as_given(baseline):
    s = with_disruptions(
        {"name": "out", "kind": "fab_outage", "target": "tsmc_advanced", "start": dt.date(2026, 1, 1),
         "duration_days": 90, "capacity_factor": 0.0},
        {"name": "cap", "kind": "export_rule", "target": "xai", "start": dt.date(2025, 1, 1), "share_factor": 0.5},
        {"name": "late", "kind": "construction_delay", "target": "all", "start": dt.date(2024, 7, 1), "delay_days": 30},
    )
    occs = occurrences(s, np.random.default_rng(0))
    assert [(o.name, o.start_day, o.end_day) for o in occs] == [
        ("late", 182.0, 182.0),  # instantaneous
        ("cap", 366.0, math.inf),  # through the end date
        ("out", 731.0, 821.0),
    ]
    assert occs[2].record(START) == {"name": "out", "kind": "fab_outage", "target": "tsmc_advanced",
                                     "start": "2026-01-01", "end": "2026-04-01", "capacity_factor": 0.0}
    assert occs[1].record(START)["end"] is None


def test_random_occurrences_are_poisson_and_reproducible():
    s = with_disruptions({"name": "cuts", "kind": "fiber_cut", "target": "abilene_ph1-openai_campus2",
                          "rate_per_year": 10.0, "duration_days": 2})
    first = occurrences(s, np.random.default_rng(7))
    assert first == occurrences(s, np.random.default_rng(7))
    assert first != occurrences(s, np.random.default_rng(8))
    horizon = to_day(s.end_date, s.start_date) + 1
    assert all(0 <= o.start_day < horizon and o.end_day == o.start_day + 2 for o in first)
    assert all(o.start_day == int(o.start_day) for o in first)  # whole days: calendar dates
    assert [o.start_day for o in first] == sorted(o.start_day for o in first)
    # counts over many draws: Poisson with mean rate x years (7 years: 70); 400 draws, mean within 4 SE
    counts = [len(occurrences(s, np.random.default_rng(k))) for k in range(400)]
    mean = 10.0 * horizon / 365.25
    assert abs(np.mean(counts) - mean) < 4 * math.sqrt(mean / 400)
    assert np.var(counts) == pytest.approx(mean, rel=0.25)


def test_one_random_disruption_does_not_move_anothers_days():
    a = {"name": "a", "kind": "fiber_cut", "target": "abilene_ph1-openai_campus2", "rate_per_year": 3.0, "duration_days": 2}
    b = {"name": "b", "kind": "hbm_shortfall", "target": "all", "rate_per_year": 1.0, "duration_days": 30, "capacity_factor": 0.5}
    days = lambda s: [o.start_day for o in occurrences(s, np.random.default_rng(3)) if o.name == "b"]
    assert days(with_disruptions(a, b)) == days(with_disruptions({**a, "rate_per_year": 9.0}, b))


def test_random_disruptions_in_a_run_follow_the_seed():
    s = with_disruptions({"name": "outages", "kind": "packaging_outage", "target": "tsmc_cowos",
                          "rate_per_year": 2.0, "duration_days": 30, "capacity_factor": 0.5},
                         overrides=("end_date=2026-12-31",))
    one, again, other = sim.run(s, seed=1), sim.run(s, seed=1), sim.run(s, seed=2)
    assert one.files() == again.files()
    assert one.summary["disruptions"] != other.summary["disruptions"]
    assert one.summary["disruptions"] and all(d["name"] == "outages" for d in one.summary["disruptions"])


def test_the_disruption_stream_is_apart_from_the_run_streams(baseline, baseline_result):
    """Run streams are the children of SeedSequence(seed) (one-word spawn keys); disruptions use a
    two-word key. A disruption that changes nothing leaves every output as it was."""
    assert len(DISRUPTION_SPAWN_KEY) == 2
    draws = RandomStreams(0).disruptions().random(4)
    for rng in RandomStreams(0).runs([f"r{i}" for i in range(50)]).values():
        assert not np.array_equal(rng.random(4), draws)
    noop = with_disruptions({"name": "noop", "kind": "export_rule", "target": "xai", "start": dt.date(2026, 1, 1),
                             "share_factor": 1.0},
                            {"name": "nothing_left_to_cut", "kind": "hbm_shortfall", "target": "micron",
                             "rate_per_year": 3.0, "duration_days": 30, "capacity_factor": 1.0})
    result = sim.run(noop, seed=0)
    pd.testing.assert_frame_equal(result.runs, baseline_result.runs)
    pd.testing.assert_frame_equal(result.frontier, baseline_result.frontier)
    pd.testing.assert_frame_equal(without_disruption_rows(result.timeseries), baseline_result.timeseries,
                                  check_categorical=False)  # the same rows; its categories also name the disruptions
    assert baseline_result.summary["disruptions"] == []
    assert {d["name"] for d in result.summary["disruptions"]} == {"noop", "nothing_left_to_cut"}


# --- supply --------------------------------------------------------------------------------------

def test_capacity_factors_count_the_share_of_each_tick_inside_the_window(baseline):
    s = with_disruptions({"name": "out", "kind": "fab_outage", "target": "tsmc_advanced", "start": dt.date(2024, 1, 4),
                          "duration_days": 14, "capacity_factor": 0.25})  # days 3 .. 17
    occs = occurrences(s, np.random.default_rng(0))
    got = capacity_factors(occs, "logic", "tsmc_advanced", np.array([-7.0, 0.0, 7.0, 14.0, 21.0]), 7.0)
    np.testing.assert_allclose(got, [1.0, 1 - 4 / 7 * 0.75, 0.25, 1 - 3 / 7 * 0.75, 1.0])
    assert np.all(capacity_factors(occs, "cowos", "tsmc_cowos", np.array([7.0]), 7.0) == 1.0)  # other input
    assert np.all(capacity_factors(occs, "logic", "other_fab", np.array([7.0]), 7.0) == 1.0)  # other fab


LOGIC_BINDS = ("logic_fabs.tsmc_advanced.allocation_share=0.02",)  # so that dies, not CoWoS, limit output


def typed_buildout(result) -> pd.DataFrame:
    """The scenario's own sites and plants in buildout.csv (not the procurement policies')."""
    b = result.buildout
    return b[b["planned_by"] == "scenario"].reset_index(drop=True)


def test_a_full_fab_outage_stops_wafer_starts_and_cuts_output_after_the_cycle_time():
    spec = {"name": "fab_down", "kind": "fab_outage", "target": "tsmc_advanced", "start": dt.date(2026, 1, 1),
            "duration_days": 91, "capacity_factor": 0.0}
    base_s = sim.load_scenario(overrides=list(LOGIC_BINDS))
    s = with_disruptions(spec, overrides=LOGIC_BINDS)
    base_plan = plan_supply(base_s)
    world = build_world(s)
    plan, tick = world.plan, 7.0
    start = to_day(dt.date(2026, 1, 1), START)
    days = plan.tick_starts
    wafers, base_wafers = plan.fabs[0].capacity, base_plan.fabs[0].capacity
    inside = (days >= start) & (days + tick <= start + 91)
    assert inside.sum() >= 12 and np.all(wafers[inside] == 0)  # no wafer starts in the window
    outside = (days + tick <= start) | (days >= start + 91)
    np.testing.assert_array_equal(wafers[outside], base_wafers[outside])
    # other stages and the master schedule (planned on nominal capacity) untouched
    for line, base_line in zip(plan.cowos_lines + plan.hbm_makers, base_plan.cowos_lines + base_plan.hbm_makers):
        np.testing.assert_array_equal(line.capacity, base_line.capacity)
    np.testing.assert_array_equal(plan.planned_gpus, base_plan.planned_gpus)

    world.env.run(until=world.horizon_day)
    result, base = build_result(world), sim.run(base_s)
    made, base_made = series(result, "world", "produced_h100e_total"), series(base, "world", "produced_h100e_total")
    assert made["2026-04-01"] == base_made["2026-04-01"]  # 112-day cycle: not at assembly yet
    assert made["2026-07-01"] < base_made["2026-07-01"] * 0.95
    assert made["2030-12-31"] < base_made["2030-12-31"]
    # the scenario's own sites and plants as in the baseline (the labs' procurement policies answer the
    # chips they get, so their projects may move), and power as in the baseline before the outage
    pd.testing.assert_frame_equal(typed_buildout(result), typed_buildout(base))
    before = series(result, "world", "power_online_mw").index < "2026-01-01"
    pd.testing.assert_series_equal(series(result, "world", "power_online_mw")[before],
                                   series(base, "world", "power_online_mw")[before])


def test_a_packaging_outage_cuts_output_during_the_window_and_the_loss_persists(baseline_result):
    s = with_disruptions({"name": "cowos_down", "kind": "packaging_outage", "target": "tsmc_cowos",
                          "start": dt.date(2025, 3, 1), "duration_days": 60, "capacity_factor": 0.2})
    result = sim.run(s)
    made, base = series(result, "world", "produced_h100e_total"), series(baseline_result, "world", "produced_h100e_total")
    assert made["2025-04-01"] == base["2025-04-01"]  # 42-day cycle: not yet at assembly
    lost = base - made
    window_output = base["2025-06-01"] - base["2025-04-01"]
    assert lost["2025-06-01"] > 0.25 * window_output  # a deep cut for about a month
    # in 2025 HBM binds, not CoWoS: CoWoS's spare capacity afterwards makes part of the loss up, not all
    assert 0 < lost["2030-12-31"] < lost["2025-07-01"]
    cap = series(result, "supply", "capacity_gpus_per_month_cowos")
    base_cap = series(baseline_result, "supply", "capacity_gpus_per_month_cowos")
    assert cap["2025-04-01"] < 0.3 * base_cap["2025-04-01"] and cap["2025-08-01"] == base_cap["2025-08-01"]
    pd.testing.assert_frame_equal(typed_buildout(result), typed_buildout(baseline_result))


def test_an_hbm_shortfall_stops_hbm_and_output_follows(baseline_result):
    s = with_disruptions({"name": "no_hbm", "kind": "hbm_shortfall", "target": "all", "start": dt.date(2025, 1, 1),
                          "duration_days": 365, "capacity_factor": 0.0})
    world = build_world(s)
    base_plan = plan_supply(sim.load_scenario())
    k = int(to_day(dt.date(2025, 6, 2), START) // 7)
    assert all(m.capacity[k] == 0 and b.capacity[k] > 0 for m, b in zip(world.plan.hbm_makers, base_plan.hbm_makers))
    world.env.run(until=world.horizon_day)
    result = build_result(world)
    assert series(result, "supply", "hbm_die_stock")["2025-10-01"] < 256  # less than one accelerator's HBM
    made, base = series(result, "world", "produced_h100e_total"), series(baseline_result, "world", "produced_h100e_total")
    assert made["2026-01-01"] < 0.8 * base["2026-01-01"]


# --- allocation ----------------------------------------------------------------------------------

def test_allocator_share_changes_keep_counts_whole_and_exact():
    import simpy

    env = simpy.Environment()
    labs = [Lab(env, "a", [], 1), Lab(env, "b", [], 1)]
    alloc = Allocator(env, labs, [[0.25], [0.5]], [0.0, 0.0], 1, share_changes=[[(10.0, 0.5), (20.0, 1.0)], []])
    for day in range(30):
        env.run(until=day + 0.5) if day else None
        alloc.ship([10])
    # a: 0.25 x 100 (days 0-9) + 0.125 x 100 (days 10-19) + 0.25 x 100 (days 20-29) = 25 + 12.5 + 25
    assert alloc.shipped[0] == [62]
    assert alloc.shipped[1] == [entitlement(0.5, 300)]
    assert alloc.other_buyers_total == [300 - 62 - 150]
    assert alloc.base_shares == [[0.25], [0.5]] and alloc.factors == [1.0, 1.0]


def test_an_export_rule_cuts_that_labs_deliveries_and_raises_other_buyers():
    # xai takes its whole share here (no purchase policy), so the cut shows in what it gets
    takes_all = ("labs.xai.purchasing=null",)
    baseline_result = sim.run(sim.load_scenario(overrides=list(takes_all)))
    s = with_disruptions({"name": "cap", "kind": "export_rule", "target": "xai", "start": dt.date(2026, 1, 1),
                          "duration_days": 365, "share_factor": 0.25}, overrides=takes_all)
    assert share_changes(s, occurrences(s, np.random.default_rng(0))) == {"xai": [(731.0, 0.25), (1096.0, 1.0)]}
    world = build_world(s)
    world.env.run(until=world.horizon_day)
    result = build_result(world)
    for metric in ("produced_h100e_total",):
        pd.testing.assert_series_equal(series(result, "world", metric), series(baseline_result, "world", metric))
    for lab in ("openai", "meta", "google_deepmind", "anthropic"):  # the other labs get exactly what they got
        pd.testing.assert_series_equal(series(result, lab, "delivered_h100e_total"),
                                       series(baseline_result, lab, "delivered_h100e_total"))
    got, base = series(result, "xai", "delivered_h100e_total"), series(baseline_result, "xai", "delivered_h100e_total")
    assert got["2026-01-01"] == base["2026-01-01"]
    assert got["2027-03-01"] < base["2027-03-01"]
    lost = base["2030-12-31"] - got["2030-12-31"]
    other, base_other = (series(r, "world", "other_buyers_h100e_total") for r in (result, baseline_result))
    assert other["2030-12-31"] - base_other["2030-12-31"] == pytest.approx(lost + (series(baseline_result, "world", "in_transit_h100e")
                                                                                   - series(result, "world", "in_transit_h100e"))["2030-12-31"], rel=1e-9)
    # whole GPUs, nothing from nothing: each product's output = what the labs were shipped + other buyers
    alloc = world.allocator
    for i in range(len(alloc.produced_total)):
        assert sum(row[i] for row in alloc.shipped) + alloc.other_buyers_total[i] == alloc.produced_total[i]
        assert alloc.other_buyers_total[i] >= 0
    xai = list(world.labs).index("xai")
    for i in range(len(alloc.produced_total)):  # the last segment (after the window) at the full share
        full_share = 0.08 if world.products.family[i] == "gpu" else 0.0
        owed = alloc.segment_entitled[xai][i] + full_share * (alloc.produced_total[i] - alloc.segment_produced[xai][i])
        assert alloc.shipped[xai][i] == int(owed + 1e-9)


# --- power and construction ----------------------------------------------------------------------

def test_a_turbine_backlog_stretches_gas_plants_started_in_its_window(baseline, baseline_result):
    s = with_disruptions({"name": "backlog", "kind": "turbine_backlog", "target": "gas_combined_cycle",
                          "start": dt.date(2024, 6, 1), "lead_time_factor": 1.556})
    online = plant_online_days(s, occurrences(s, np.random.default_rng(0)))
    for plant, day in zip(s.power_plants, online):
        begin = to_day(plant.construction_start, START)
        if plant.type == "gas_combined_cycle" and begin >= to_day(dt.date(2024, 6, 1), START):
            assert day == pytest.approx(begin + 1644 * 1.556)
        else:
            assert day == plant_online_day(baseline, plant)  # earlier gas plants and other types unchanged
    result = sim.run(s)
    hyperion, base = series(result, "hyperion", "power_online_mw"), series(baseline_result, "hyperion", "power_online_mw")
    assert base["2030-01-01"] > 0 and hyperion["2030-01-01"] == 0
    pd.testing.assert_series_equal(series(result, "colossus", "power_online_mw"), series(baseline_result, "colossus", "power_online_mw"))
    pd.testing.assert_series_equal(series(result, "world", "produced_h100e_total"),
                                   series(baseline_result, "world", "produced_h100e_total"))


def test_an_interconnection_delay_moves_only_grid_plants_not_yet_online(baseline):
    s = with_disruptions({"name": "queue", "kind": "interconnection_delay", "target": "grid",
                          "start": dt.date(2024, 1, 1), "delay_days": 730})
    online = plant_online_days(s, occurrences(s, np.random.default_rng(0)))
    for plant, day in zip(s.power_plants, online):
        before = plant_online_day(baseline, plant)
        if plant.type == "grid" and before > 0:
            assert day == before + 730
        else:
            assert day == before
    # delays add up; a site target delays only that site's plants
    s = with_disruptions(
        {"name": "q1", "kind": "interconnection_delay", "target": "colossus", "start": dt.date(2024, 1, 1), "delay_days": 100},
        {"name": "q2", "kind": "interconnection_delay", "target": "colossus", "start": dt.date(2024, 2, 1), "delay_days": 50})
    online = dict(zip((p.name for p in s.power_plants), plant_online_days(s, occurrences(s, np.random.default_rng(0)))))
    grid = next(p for p in baseline.power_plants if p.name == "colossus_grid")
    assert online["colossus_grid"] == plant_online_day(baseline, grid) + 150
    assert online["abilene_grid"] == plant_online_day(baseline, next(p for p in baseline.power_plants if p.name == "abilene_grid"))


def test_a_construction_delay_moves_sites_not_yet_built(baseline, baseline_result):
    s = with_disruptions({"name": "slow", "kind": "construction_delay", "target": "all", "start": dt.date(2024, 7, 1),
                          "delay_days": 365})
    built = site_built_days(s, occurrences(s, np.random.default_rng(0)))
    for name, site in baseline.sites.items():
        day = to_day(site.construction_start, START) + site.construction_days
        assert built[name] == (day + 365 if day > 182 else day)
    result = sim.run(s)
    assert series(result, "colossus2", "built")["2026-06-01"] == 0 == 1 - series(baseline_result, "colossus2", "built")["2026-06-01"]
    assert series(result, "azure_2023", "built").eq(1).all()


# --- fiber cuts ----------------------------------------------------------------------------------

def test_split_link_and_cut_pieces():
    assert split_link("a-b", {"a", "b"}) == ("a", "b")
    assert split_link("x-1-y", {"x-1", "y", "x"}) == ("x-1", "y")
    assert split_link("a-c", {"a", "b"}) is None
    cuts = [FiberCut(10, 20, (("a", "b"),), 0.0), FiberCut(15, 30, (("b", "c"),), 0.0)]
    pieces = cut_pieces(cuts, 0, 25)
    assert [(length, len(c)) for length, c in pieces] == [(10, 0), (5, 1), (5, 2), (5, 1)]
    assert cut_pieces(cuts, 40, 50) == [(10, ())]


CUT = {"name": "cut", "kind": "fiber_cut", "target": "abilene_ph1-openai_campus2", "start": dt.date(2030, 3, 1),
       "duration_days": 14}
# the fiber-cut cases follow one typed run across three OpenAI sites, with no policy runs
TYPED_2030 = ("run_policy=null", "runs=[{name: openai-2030, lab: openai, sites: [abilene_ph1, abilene_ph2, "
              "openai_campus2], start: 2030-01-01, duration_days: 270, gpu_share: 0.8, precision: fp8}]")


@pytest.fixture(scope="module")
def typed_result():
    return sim.run(sim.load_scenario(overrides=list(TYPED_2030)))


def test_a_fiber_cut_that_splits_a_runs_sites_stalls_it(typed_result):
    result = sim.run(with_disruptions(CUT, overrides=TYPED_2030))
    runs, base = runs_by_name(result), runs_by_name(typed_result)
    big = runs.loc["openai-2030"]
    assert big["disrupted_days"] == 14 and big["stalled_days"] == 14
    assert big["flop"] == pytest.approx(base.loc["openai-2030", "flop"] * (270 - 14) / 270, rel=1e-9)
    assert big["mfu"] == pytest.approx(base.loc["openai-2030", "mfu"] * (270 - 14) / 270, rel=1e-9)
    others = runs.drop(index="openai-2030")
    pd.testing.assert_frame_equal(others, base.drop(index="openai-2030"))
    assert (runs["disrupted_days"].drop(index="openai-2030") == 0).all()


def test_a_partial_fiber_cut_re_plans_at_a_lower_mfu(typed_result):
    result = sim.run(with_disruptions({**CUT, "capacity_factor": 0.25}, overrides=TYPED_2030))
    big, base = runs_by_name(result).loc["openai-2030"], runs_by_name(typed_result).loc["openai-2030"]
    assert big["disrupted_days"] == 14 and big["stalled_days"] == 0
    stalled = base["flop"] * (270 - 14) / 270
    assert stalled < big["flop"] < base["flop"]
    assert big["mfu"] < base["mfu"]
    assert big["gpus"] == base["gpus"] and big["step_time_s"] == base["step_time_s"]  # the plan as started


def test_a_fiber_cut_with_a_detour_re_plans_over_it(tmp_path):
    """With a second route to openai_campus2 (via azure_2023), the run keeps going over the detour."""
    topo = yaml.safe_load(resources.files("sim.topologies").joinpath("baseline_sites.yaml").read_text())
    topo["links"].append({"a": "azure_2023", "b": "openai_campus2", "bandwidth_bit_s": 8.19e14})
    path = tmp_path / "meshed.yaml"
    path.write_text(yaml.safe_dump(topo))
    base = runs_by_name(sim.run(sim.load_scenario(overrides=[*TYPED_2030, f"topology={path}"]))).loc["openai-2030"]
    cut = runs_by_name(sim.run(with_disruptions(CUT, overrides=(*TYPED_2030, f"topology={path}")))).loc["openai-2030"]
    assert cut["disrupted_days"] == 14 and cut["stalled_days"] == 0
    assert base["flop"] * (270 - 14) / 270 < cut["flop"] < base["flop"]


def test_a_fiber_cut_elsewhere_changes_nothing(baseline_result):
    far = {**CUT, "start": dt.date(2025, 1, 1)}  # before openai-2030 starts, after openai-2024 ends
    result = sim.run(with_disruptions(far))
    pd.testing.assert_frame_equal(result.runs, baseline_result.runs)


# --- invariants under disruptions ----------------------------------------------------------------

KINDS_WITHOUT_TOPOLOGY = ["fab_outage", "packaging_outage", "hbm_shortfall", "export_rule", "turbine_backlog",
                          "interconnection_delay", "construction_delay"]


@st.composite
def disrupted_scenario_dicts(draw) -> dict:
    doc = draw(scenario_dicts())
    horizon = (doc["end_date"] - doc["start_date"]).days
    disruptions = []
    for k in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(KINDS_WITHOUT_TOPOLOGY))
        targets = {
            "fab_outage": list(doc["logic_fabs"]), "packaging_outage": list(doc["packaging_lines"]),
            "hbm_shortfall": list(doc["hbm_suppliers"]), "export_rule": list(doc["labs"]),
            "turbine_backlog": list(doc["plant_types"]), "interconnection_delay": list(doc["plant_types"]),
            "construction_delay": list(doc["sites"]),
        }[kind] + ["all"]
        d = {"name": f"D{k}", "kind": kind, "target": draw(st.sampled_from(targets))}
        if draw(st.booleans()):
            d["start"] = doc["start_date"] + dt.timedelta(days=draw(st.sampled_from(range(0, horizon + 1, 7))))
        else:
            d["rate_per_year"] = draw(st.sampled_from([0.5, 1.0, 3.0, 6.0]))
        if kind in ("fab_outage", "packaging_outage", "hbm_shortfall"):
            d["duration_days"] = float(draw(st.sampled_from([1, 7, 30, 90, 365])))
            d["capacity_factor"] = draw(st.sampled_from([0.0, 0.3, 0.9, 1.0]))
        elif kind == "export_rule":
            d["share_factor"] = draw(st.sampled_from([0.0, 0.3, 0.7]))
            if draw(st.booleans()):
                d["duration_days"] = float(draw(st.sampled_from([7, 100, 400])))
        elif kind == "turbine_backlog":
            d["lead_time_factor"] = draw(st.sampled_from([1.0, 1.5, 3.0]))
        else:
            d["delay_days"] = float(draw(st.sampled_from([1, 30, 400])))
        disruptions.append(d)
    doc["disruptions"] = disruptions
    return doc


def _check_balances(world) -> None:
    alloc, supply = world.allocator, world.supply
    assert supply.produced_total == alloc.produced_total
    stocks = supply.stocks
    assert min(stocks.dies) >= 0 and stocks.cowos_wafers >= 0 and stocks.hbm_dies >= 0
    n = len(world.products.names)
    for i in range(n):
        shipped = sum(row[i] for row in alloc.shipped)
        assert shipped + alloc.other_buyers_total[i] == alloc.produced_total[i]
        assert alloc.other_buyers_total[i] >= 0
    for j, lab in enumerate(world.labs.values()):
        installed = lab.installed()
        for i in range(n):
            assert alloc.shipped[j][i] == lab.delivered_total[i] + alloc.in_transit[j][i]
            assert alloc.in_transit[j][i] >= 0 and lab.inventory[i] >= 0
            assert lab.initial_total[i] + lab.delivered_total[i] == installed[i] + lab.inventory[i] + lab.retired_total[i]
    for site in world.sites.values():
        fleet = site.fleet
        assert fleet.drawn_mw <= site.available_mw + MW_TOL  # installed power never above available
        if not site.built:
            assert not any(fleet.installed)
        for i in range(n):
            assert 0 <= fleet.busy[i] <= fleet.installed[i]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=disrupted_scenario_dicts())
def test_invariants_hold_under_random_disruptions(doc):
    s = Scenario.model_validate(doc)
    assume(check_references(s) is None)
    world = build_world(s, seed=1)
    env = world.env
    while env.peek() < world.horizon_day:
        env.step()
        _check_balances(world)
    _check_supply_totals(world)
    _check_snapshots(world)
    result = build_result(world)
    started = result.runs[result.runs["gpus"] > 0]
    assert (started["flop"] <= started["gpus"] * started["peak_flop_s"] * started["duration_days"] * SECONDS_PER_DAY
            * (1 + 1e-9)).all()
    assert len(result.summary["disruptions"]) == len(world.occurrences)


# --- checks --------------------------------------------------------------------------------------

def _problem(*disruptions: dict, overrides: tuple[str, ...] = ()) -> tuple[tuple, str] | None:
    base = sim.load_scenario(overrides=list(overrides))
    from sim.config.schema import Disruption
    return check_disruptions(base.model_copy(update={"disruptions": [Disruption.model_validate(d) for d in disruptions]}))


OUT = {"name": "out", "kind": "fab_outage", "target": "tsmc_advanced", "start": dt.date(2026, 1, 1),
       "duration_days": 30, "capacity_factor": 0.5}


@pytest.mark.parametrize(("change", "path", "words"), [
    ({"target": "all"}, None, None),
    ({"start": None}, ("disruptions", 0), "give start"),
    ({"start": dt.date(2023, 1, 1)}, ("disruptions", 0, "start"), "before start_date"),
    ({"capacity_factor": None}, ("disruptions", 0, "capacity_factor"), "required for a fab_outage"),
    ({"share_factor": 0.5}, ("disruptions", 0, "share_factor"), "not used by a fab_outage"),
    ({"duration_days": None}, ("disruptions", 0, "duration_days"), "required for a fab_outage"),
    ({"kind": "packaging_outage"}, ("disruptions", 0, "target"), "unknown packaging line 'tsmc_advanced'"),
    ({"kind": "hbm_shortfall", "target": "sk_hynix"}, None, None),
    ({"kind": "export_rule", "target": "mistral", "capacity_factor": None, "share_factor": 0.5},
     ("disruptions", 0, "target"), "unknown lab 'mistral'"),
    ({"kind": "turbine_backlog", "target": "fusion", "capacity_factor": None, "lead_time_factor": 2.0,
      "duration_days": None}, ("disruptions", 0, "target"), "matches no power plant"),
    ({"kind": "turbine_backlog", "target": "colossus", "capacity_factor": None, "lead_time_factor": 2.0}, None, None),
    ({"kind": "interconnection_delay", "target": "grid", "capacity_factor": None, "delay_days": 30},
     ("disruptions", 0, "duration_days"), "not used by an interconnection_delay"),
    ({"kind": "construction_delay", "target": "colossus3", "capacity_factor": None, "delay_days": 30,
      "duration_days": None}, ("disruptions", 0, "target"), "unknown site 'colossus3'"),
    ({"kind": "fiber_cut", "target": "abilene_ph1", "capacity_factor": None},
     ("disruptions", 0, "target"), "should be a link 'a-b'"),
    ({"kind": "fiber_cut", "target": "abilene_ph1-abilene_ph1", "capacity_factor": None},
     ("disruptions", 0, "target"), "joins a site to itself"),
    ({"kind": "fiber_cut", "target": "prometheus-hyperion", "capacity_factor": None}, None, None),
])
def test_disruption_checks(change, path, words):
    problem = _problem({**OUT, **change})
    if path is None:
        assert problem is None
    else:
        assert problem[0] == path and words in problem[1], problem


def test_disruption_names_are_unique_and_a_fiber_cut_needs_a_topology():
    assert _problem(OUT, OUT) == (("disruptions", 1, "name"), "duplicate disruption name 'out'")
    cut = {**CUT}
    problem = _problem(cut, overrides=("topology=null", "training=null", "run_policy.utilization=0.4",
                                       *(f"runs.{i}.utilization=0.4" for i in range(3))))
    assert problem[0] == ("disruptions", 0, "kind") and "needs a topology" in problem[1]


def test_a_disruption_fault_is_refused_with_its_key_path():
    with pytest.raises(sim.ScenarioError) as info:
        with_disruptions({**OUT, "rate_per_year": 1.0})
    assert (info.value.file, info.value.key_path) == ("--set", "disruptions.0.rate_per_year")


# --- outputs and the stress library ----------------------------------------------------------------

def test_occurrences_are_in_the_summary_and_the_timeseries():
    result = sim.run(with_disruptions({**OUT, "start": dt.date(2026, 1, 10), "duration_days": 40}))
    assert result.summary["disruptions"] == [{"name": "out", "kind": "fab_outage", "target": "tsmc_advanced",
                                              "start": "2026-01-10", "end": "2026-02-19", "capacity_factor": 0.5}]
    active = series(result, "out", "disruption_active")
    assert active["2026-02-01"] == 1 and active["2026-01-01"] == 0 and active["2026-03-01"] == 0
    assert active.sum() == 1


def test_the_stress_library_ships_in_the_package():
    shipped = resources.files("sim.scenarios").joinpath("stress")
    names = sorted(p.name for p in shipped.iterdir() if p.name.endswith(".yaml"))
    assert names == [p.name for p in STRESS] and len(names) >= 6
    for name in ("taiwan_outage", "hbm_shortfall", "export_rule", "turbine_backlog", "interconnection_delay",
                 "construction_delay", "fiber_cut", "random_disruptions"):
        assert f"{name}.yaml" in names


@pytest.mark.parametrize("path", STRESS, ids=[p.stem for p in STRESS])
def test_every_stress_scenario_runs_and_does_not_beat_the_baseline(path, baseline_result):
    """No stress makes more accelerators than the baseline, or brings more power online than it by more
    than 2%: the procurement policies build in 200 MW projects on monthly reviews, so a stress that
    reshuffles deliveries may leave a lab a project ahead at the end. Runs may move either way: the labs'
    run policy launches on events, so a stress reshuffles when runs start, and a later run on later,
    more efficient GPUs (or on one site without the WAN penalty) can be larger."""
    text = path.read_text()
    assert text.startswith("#") and "extends: ../baseline.yaml" in text
    s = sim.load_scenario(path)
    assert s.name == path.stem and s.disruptions
    result = sim.run(s, seed=0)
    for metric, slack in (("produced_h100e_total", 1e-9), ("power_online_mw", 0.02)):
        assert series(result, "world", metric).iloc[-1] <= series(baseline_result, "world", metric).iloc[-1] * (1 + slack)
    assert result.summary["disruptions"]
    changed = not result.runs.drop(columns=["disrupted_days", "stalled_days"]).equals(
        baseline_result.runs.drop(columns=["disrupted_days", "stalled_days"])) or not result.timeseries.equals(baseline_result.timeseries)
    assert changed


def test_a_stress_scenario_may_extend_the_baseline_by_name(tmp_path):
    source = ROOT / "scenarios" / "stress" / "fiber_cut.yaml"
    copy = tmp_path / "fiber_cut.yaml"
    copy.write_text(source.read_text().replace("extends: ../baseline.yaml", "extends: baseline"))
    assert sim.load_scenario(copy) == sim.load_scenario(source)


def test_sim_run_on_a_stress_scenario(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "sim", "run", str(ROOT / "scenarios" / "stress" / "fiber_cut.yaml"),
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    runs = pd.read_csv(out / "runs.csv")
    assert (runs["stalled_days"] == 14).any()  # the OpenAI run across the cut link stalls for the overlap


def test_the_readme_disruption_example_loads_and_runs(tmp_path):
    import re

    section = (ROOT / "README.md").read_text().split("### Disruptions", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "disrupted.yaml"
    path.write_text(example)
    result = sim.run(sim.load_scenario(path), seed=0)
    kinds = {d["kind"] for d in result.summary["disruptions"]}
    assert {"packaging_outage", "fiber_cut"} <= kinds
    assert (result.runs["stalled_days"] == 14).any()
