"""Property tests: invariants that must hold in every world, checked over random small scenarios.

Scenarios come from tests/factories.py (1-3 GPU types, 1-2 labs, 1-3 sites, 0-3 plants, 0-3 runs,
1-3 years on a 7-day tick, capacities that may be zero). Counts of GPUs are integers and must balance
exactly; MW and FLOP are floats and get a small relative tolerance (stated at each check).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

from factories import scenario_dicts
from sim.world.assembly import build_world
from sim.physics.frontier import CONSTRAINTS
from sim.outputs.tables import build_result
from sim.config.loading import check_references
from sim.config.schedule import to_day
from sim.config.schema import Scenario
from sim.world.training import SECONDS_PER_DAY, binding_constraint

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MW_TOL = 1e-6  # MW: absolute slack for float sums of per-GPU watts
REL = 1e-9  # relative slack for float products (FLOP, stocks of dies and wafers)


def _scenario(doc: dict) -> Scenario:
    s = Scenario.model_validate(doc)
    assume(check_references(s) is None)
    return s


def _check_state(world) -> None:
    """Every count balances and nothing is negative, right now."""
    alloc, supply = world.allocator, world.supply
    s = world.scenario
    n = len(world.runs.names)
    # supply and allocator count production independently: they must agree
    assert supply.produced_total == alloc.produced_total
    stocks = supply.stocks
    assert min(stocks.dies) >= 0 and stocks.cowos_wafers >= 0 and stocks.hbm_stacks >= 0
    for j, lab in enumerate(world.labs.values()):
        share = s.labs[lab.name].share_of_output
        for i in range(n):
            # each lab gets its share of cumulative output to within one GPU, never more
            # (labs.entitlement: floor(share x produced); 1e-6 GPU of float slack)
            exact = share * alloc.produced_total[i]
            assert exact - 1 - 1e-6 < alloc.shipped[j][i] <= exact + 1e-6
            # shipped = delivered + still in transit
            assert alloc.shipped[j][i] == lab.delivered_total[i] + alloc.in_transit[j][i]
            assert alloc.in_transit[j][i] >= 0 and lab.inventory[i] >= 0
        installed = lab.installed()
        for i in range(n):
            # per lab, per product: what it started with and received = installed + waiting + retired
            assert lab.initial_total[i] + lab.delivered_total[i] == installed[i] + lab.inventory[i] + lab.retired_total[i]
            assert installed[i] <= lab.initial_total[i] + lab.delivered_total[i]
    for i in range(n):
        assert sum(row[i] for row in alloc.shipped) <= alloc.produced_total[i]
        assert alloc.other_buyers_total[i] >= 0
    for site in world.sites.values():
        for i in range(n):
            assert 0 <= site.busy[i] <= site.installed[i]
            assert site.retire_pending[i] >= 0
            # every installed GPU is in a cohort or waiting to retire when its run ends
            assert site.installed[i] == sum(c.count for c in site.cohorts[i]) + site.retire_pending[i]
        expected_mw = sum(k * w * site.pue / 1e6 for k, w in zip(site.installed, site.it_w_per_gpu))
        assert site.drawn_mw == pytest.approx(expected_mw, rel=REL, abs=MW_TOL)
        assert site.drawn_mw <= site.available_mw + MW_TOL
        if not site.built:
            assert not any(site.installed) and site.available_mw == 0


def _check_supply_totals(world) -> None:
    """After the run: stocks = everything that arrived - what assembly used (nothing from nothing)."""
    plan, supply = world.plan, world.supply
    made = np.array(supply.produced_total, dtype=float)
    dies_in = sum(plan.die_arrivals.values())
    dies_in = dies_in.sum(axis=0) if np.ndim(dies_in) else np.zeros(len(made))
    used = made * plan.dies_per_gpu
    assert np.all(used <= dies_in * (1 + REL) + 1e-6)
    np.testing.assert_allclose(supply.stocks.dies, dies_in - used, rtol=REL, atol=1e-6)
    cowos_in = float(sum(a.sum() for a in plan.cowos_arrivals.values()))
    cowos_used = float(made @ plan.cowos_wafers_per_gpu)
    assert cowos_used <= cowos_in * (1 + REL) + 1e-6
    assert supply.stocks.cowos_wafers == pytest.approx(cowos_in - cowos_used, rel=REL, abs=1e-6)
    hbm_in = float(sum(a.sum() for a in plan.hbm_arrivals.values()))
    hbm_used = float(made @ plan.hbm_stacks_per_gpu)
    assert hbm_used <= hbm_in * (1 + REL) + 1e-6
    assert supply.stocks.hbm_stacks == pytest.approx(hbm_in - hbm_used, rel=REL, abs=1e-6)


def _check_snapshots(world) -> None:
    """The monthly copies the outputs are built from obey the same rules."""
    labs = list(world.labs.values())
    for snap in world.probe.snapshots:
        assert np.all(snap.in_transit >= 0) and np.all(snap.other_buyers_total >= 0)
        assert snap.die_stock >= 0 and snap.cowos_wafer_stock >= 0 and snap.hbm_stack_stock >= 0
        for site in snap.sites:
            # nothing installed without power
            assert site.drawn_mw <= site.available_mw + MW_TOL, (snap.day, site.name)
            if not site.built:
                assert not any(site.installed) and site.available_mw == 0
            assert all(0 <= b <= k for b, k in zip(site.busy, site.installed))
        for lab, lab_snap in zip(labs, snap.labs):
            installed = np.sum([snap.sites[i].installed for i in lab_snap.sites], axis=0) if lab_snap.sites else 0
            balance = np.array(lab.initial_total) + lab_snap.delivered_total
            np.testing.assert_array_equal(balance, installed + np.array(lab_snap.inventory) + lab_snap.retired_total)
    # snapshots are in time order and cumulative totals never fall
    days = [snap.day for snap in world.probe.snapshots]
    assert days == sorted(days)
    for a, b in zip(world.probe.snapshots, world.probe.snapshots[1:]):
        assert np.all(b.produced_total >= a.produced_total)


def _check_runs(world) -> None:
    ctx = world.runs
    recorded = [r.run for r in ctx.records]
    assert len(recorded) == len(set(recorded))  # one record per run
    missing = {r.name for r in world.scenario.runs} - set(recorded)
    assert not missing, missing
    assert set(recorded) <= {r.name for r in world.scenario.runs}
    for r in ctx.records:
        spec = next(x for x in world.scenario.runs if x.name == r.run)
        assert r.status in {"completed", "running_at_end", "never_started", "after_horizon", "no_gpus"}
        assert 0 < r.mfu <= 1
        expected = binding_constraint(r.chips_alone_gpus, r.power_alone_gpus)
        assert r.binding_constraint == ("duration" if r.status == "running_at_end" else expected)
        assert r.gpus >= 0 and r.flop >= 0
        # FLOP never above peak x time (relative slack 1e-9 for float products)
        assert r.flop <= r.gpus * r.peak_flop_s * r.duration_days * SECONDS_PER_DAY * (1 + REL)
        if r.gpus == 0:
            assert r.flop == 0
            continue
        product = ctx.names.index(r.gpu_type)
        assert r.peak_flop_s == ctx.peak(product, spec.precision)
        # a run takes at most its share of what chips and power allow (one GPU of float slack per site)
        assert r.gpus <= r.chips_alone_gpus
        assert r.gpus <= r.power_alone_gpus + len(spec.sites)
        if r.status == "completed":
            expected = r.gpus * r.peak_flop_s * spec.utilization * spec.duration_days * SECONDS_PER_DAY
            assert r.flop == pytest.approx(expected, rel=REL)
            assert to_day(r.start, world.scenario.start_date) + spec.duration_days <= world.horizon_day + 1e-9
        else:
            assert r.status == "running_at_end"
            assert r.flop < r.gpus * r.peak_flop_s * spec.utilization * spec.duration_days * SECONDS_PER_DAY


def _watch_install_passes(world) -> list:
    """Wrap each lab's install pass (test side only) to check that no GPU waits in inventory while a
    site of its lab has room for it. Returns the list the violations are appended to."""
    stranded = []
    for lab in world.labs.values():
        def install(*args, _lab=lab, _pass=lab.install, **kwargs):
            retired_before = list(_lab.retired_total)
            batches = _pass(*args, **kwargs)
            evicted = _lab.retired_total != retired_before
            for i, waiting in enumerate(_lab.inventory):
                room = max((site.room_for(i) for site in _lab.sites), default=0)
                # a refresh may free room for a product handled earlier in the same pass; the next
                # pass takes it (test_formulas.py::test_room_left_by_a_refresh_is_used_by_products_already_passed)
                if waiting and room and not evicted:
                    stranded.append((world.env.now, _lab.name, i, waiting, room))
            return batches
        lab.install = install  # the installer process calls lab.install(...) on the instance
    return stranded


@SETTINGS
@given(doc=scenario_dicts())
def test_invariants_hold_after_every_event(doc):
    """Step the SimPy loop one event at a time and check every count after each one."""
    s = _scenario(doc)
    world = build_world(s)
    stranded = _watch_install_passes(world)
    env = world.env
    _check_state(world)
    while env.peek() < world.horizon_day:
        env.step()
        _check_state(world)
    assert not stranded, stranded[:3]  # (day, lab, product, waiting, room at a site)
    _check_supply_totals(world)
    _check_snapshots(world)
    _check_runs(world)


@SETTINGS
@given(doc=scenario_dicts())
def test_output_tables_obey_the_invariants(doc):
    """build_world + env.run(until=horizon), then the tables that sim.run returns."""
    s = _scenario(doc)
    world = build_world(s)
    world.env.run(until=world.horizon_day)
    _check_state(world)
    result = build_result(world)

    runs = result.runs
    assert len(runs) == len(s.runs)  # every planned run has its row
    started = runs[runs["gpus"] > 0]
    assert (started["flop"] <= started["gpus"] * started["peak_flop_s"] * started["duration_days"]
            * SECONDS_PER_DAY * (1 + REL)).all()
    assert ((runs["mfu"] > 0) & (runs["mfu"] <= 1)).all()

    ts = result.timeseries
    world_rows = ts[ts["entity"] == "world"].pivot(index="date", columns="metric", values="value")
    produced = world_rows["produced_h100e_total"].to_numpy()
    assert np.all(np.diff(produced) >= -1e-6)  # cumulative output never falls
    assert np.all(world_rows["delivered_h100e_total"] <= world_rows["produced_h100e_total"] * (1 + REL) + 1e-6)
    assert np.all(world_rows["power_drawn_mw"] <= world_rows["power_available_mw"] + MW_TOL * len(s.sites))
    assert (ts["value"][ts["metric"].str.contains("gpus|stock|mw")] >= -1e-9).all()

    fr = result.frontier
    assert set(fr["constraint"]) <= set(CONSTRAINTS)
    for date, rows in fr.groupby("date"):
        assert sorted(rows["constraint"]) == sorted(CONSTRAINTS), date
        by = rows.set_index("constraint")
        assert (by["max_flop"] >= 0).all()
        assert set(by["binding_constraint"]) <= {"chips", "power"}
        # installed GPUs are a subset of those held: combined never above chips alone
        assert by.loc["combined", "max_flop"] <= by.loc["chips", "max_flop"] * (1 + REL)
        if by["lab"].nunique() == 1:  # all three rows from one lab: its binding follows from them
            assert by["binding_constraint"].iloc[0] == binding_constraint(
                by.loc["chips", "max_flop"], by.loc["power", "max_flop"])


def test_a_threshold_run_that_never_starts_still_gets_a_row():
    """Every planned run has one row in runs.csv (README: status `never_started`).

    Regression (fixed in a87897e): 2024-01-01 .. 2024-12-29 is 364 days = 52 ticks of 7, so the wait
    loop's last timeout landed exactly on the horizon, which env.run(until=horizon) never processes,
    and the run had no row at all.
    """
    import sim

    for end in ["2024-12-29", "2024-12-30"]:  # a whole number of ticks, and not
        s = sim.load_scenario(overrides=[
            f"end_date={end}",
            "runs=[{name: huge, lab: xai, sites: [colossus], start_when_h100e_installed: 1e12,"
            " duration_days: 10, utilization: 0.4}]",
        ])
        result = sim.run(s)
        assert list(result.runs["run"]) == ["huge"], end
        assert result.runs["status"].iloc[0] == "never_started"
        assert result.summary["runs"] == 1
