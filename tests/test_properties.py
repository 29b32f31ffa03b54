"""Property tests: invariants that must hold in every world, checked over random small scenarios.

Scenarios come from tests/factories.py (1-3 GPU types, 1-2 labs, 1-3 sites, 0-3 plants, 0-3 runs,
1-3 years on a 7-day tick, capacities that may be zero). Counts of GPUs are integers and must balance
exactly; MW and FLOP are floats and get a small relative tolerance (stated at each check).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings

from factories import scenario_dicts
from sim.world.assembly import build_world
from sim.physics.frontier import CONSTRAINTS
from sim.outputs.tables import build_result
from sim.config.references import check_references
from sim.config.schedule import to_day
from sim.config.schema import Scenario
from sim.physics.compute import binding_constraint
from sim.physics.units import SECONDS_PER_DAY

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
    n = len(world.products.names)
    # supply and allocator count production independently: they must agree
    assert supply.produced_total == alloc.produced_total
    stocks = supply.stocks
    assert min(stocks.dies) >= 0 and stocks.cowos_wafers >= 0 and stocks.hbm_dies >= 0
    for j, lab in enumerate(world.labs.values()):
        for i in range(n):
            share = s.labs[lab.name].share_of(world.products.family[i])
            # each lab gets its share of cumulative output to within one GPU, never more
            # (allocator.entitlement: floor(share x produced); 1e-6 GPU of float slack)
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
        fleet = site.fleet
        for i in range(n):
            assert 0 <= fleet.busy[i] <= fleet.installed[i]
            assert fleet.retire_pending[i] >= 0
            # every installed GPU is in a cohort or waiting to retire when its run ends
            assert fleet.installed[i] == sum(c.count for c in fleet.cohorts[i]) + fleet.retire_pending[i]
        expected_mw = sum(k * w * site.pue / 1e6 for k, w in zip(fleet.installed, fleet.it_w_per_gpu))
        assert fleet.drawn_mw == pytest.approx(expected_mw, rel=REL, abs=MW_TOL)
        assert fleet.drawn_mw <= site.available_mw + MW_TOL
        if not site.built:
            assert not any(fleet.installed) and site.available_mw == 0


def _check_supply_totals(world) -> None:
    """After the run: stocks = everything received - what assembly used - what was written off
    (nothing from nothing)."""
    plan, supply = world.plan, world.supply
    made = np.array(supply.produced_total, dtype=float)
    received = supply.received
    used = made * plan.dies_per_gpu
    assert np.all(used <= np.array(received.dies) * (1 + REL) + 1e-6)
    np.testing.assert_allclose(supply.stocks.dies, np.array(received.dies) - used - supply.written_off_dies,
                               rtol=REL, atol=1e-6)
    cowos_used = float(made @ plan.cowos_wafers_per_gpu)
    assert cowos_used <= received.cowos_wafers * (1 + REL) + 1e-6
    assert supply.stocks.cowos_wafers == pytest.approx(received.cowos_wafers - cowos_used, rel=REL, abs=1e-6)
    hbm_used = float(made @ plan.hbm_dies_per_gpu)
    assert hbm_used <= received.hbm_dies * (1 + REL) + 1e-6
    assert supply.stocks.hbm_dies == pytest.approx(received.hbm_dies - hbm_used, rel=REL, abs=1e-6)


def _recorded(world) -> pd.DataFrame:
    """The probe rows the outputs are built from, as a table: day, entity, kind, metric, value."""
    rows = pd.DataFrame(world.recorder.rows, columns=["day", "entity", "kind", "metric", "value"])
    return rows.astype({"value": float})  # GPU counts stay exact: far below 2**53


def _by_day(rows: pd.DataFrame, kind: str, metric: str) -> pd.DataFrame:
    """One metric of one kind of entity: a day x entity table."""
    picked = rows[(rows["kind"] == kind) & (rows["metric"] == metric)]
    return picked.pivot(index="day", columns="entity", values="value").sort_index()


def _check_snapshots(world) -> None:
    """The rows the probes recorded at each sample day (what the outputs are built from) obey the same
    rules. They hold totals over products, so the GPU balance is checked over the whole world."""
    rows = _recorded(world)
    days = world.recorder.sample_days
    # samples are in time order, and every probe recorded at every sample
    assert days == sorted(days) and len(days) == len(set(days))
    assert list(dict.fromkeys(rows["day"])) == days

    def metric(kind: str, name: str) -> pd.DataFrame:
        table = _by_day(rows, kind, name)
        assert list(table.index) == days, (kind, name)
        return table

    # nothing in transit or for other buyers below zero; shipped + other buyers = produced (H100e)
    in_transit, other = metric("world", "in_transit_h100e")["world"], metric("world", "other_buyers_h100e_total")["world"]
    assert (in_transit >= 0).all() and (other >= 0).all()
    produced_h100e = metric("world", "produced_h100e_total")["world"]
    delivered_h100e = metric("world", "delivered_h100e_total")["world"]
    np.testing.assert_allclose(delivered_h100e + in_transit + other, produced_h100e, rtol=REL, atol=1e-6)
    # stocks waiting for assembly never below zero
    for stock in ("logic_die_stock", "cowos_wafer_stock", "hbm_die_stock"):
        assert (metric("supply", stock)["supply"] >= 0).all(), stock

    # per site, per sample: nothing installed without power, nothing before it is built
    drawn, available = metric("site", "power_drawn_mw"), metric("site", "power_available_mw")
    installed, busy, built = metric("site", "installed_gpus"), metric("site", "busy_gpus"), metric("site", "built")
    assert (drawn <= available + MW_TOL).all().all(), (drawn - available).max()
    not_built = built == 0
    assert (installed.where(not_built, 0) == 0).all().all() and (available.where(not_built, 0) == 0).all().all()
    assert ((busy >= 0) & (busy <= installed)).all().all()

    # per lab: installed = what its sites hold; per sample, over the world: what the labs started with
    # and were delivered = installed + waiting + retired (GPUs, exact)
    lab_installed = metric("lab", "installed_gpus")
    for lab in world.labs.values():
        own = [site.name for site in lab.sites]
        expected = installed[own].sum(axis=1) if own else 0
        np.testing.assert_array_equal(lab_installed[lab.name], expected)
    initial = sum(sum(lab.initial_total) for lab in world.labs.values())
    delivered = metric("product", "delivered_gpus_total").sum(axis=1)
    held = (lab_installed.sum(axis=1) + metric("lab", "inventory_gpus").sum(axis=1)
            + metric("lab", "retired_gpus_total").sum(axis=1))
    np.testing.assert_array_equal(initial + delivered, held)
    # and the products' installed GPUs add up to the world's
    np.testing.assert_array_equal(metric("product", "installed_gpus").sum(axis=1), metric("world", "installed_gpus")["world"])

    # cumulative totals never fall
    for kind, name in (("product", "produced_gpus_total"), ("product", "delivered_gpus_total"),
                       ("lab", "retired_gpus_total"), ("world", "produced_h100e_total")):
        assert (metric(kind, name).diff().iloc[1:] >= 0).all().all(), (kind, name)


def _check_runs(world) -> None:
    training, products = world.training, world.products
    recorded = [r.run for r in training.records]
    assert len(recorded) == len(set(recorded))  # one record per run
    missing = {r.name for r in world.scenario.runs} - set(recorded)
    assert not missing, missing
    assert set(recorded) <= {r.name for r in world.scenario.runs}
    for r in training.records:
        spec = next(x for x in world.scenario.runs if x.name == r.run)
        assert r.status in {"completed", "running_at_end", "never_started", "after_horizon", "no_gpus"}
        assert 0 < r.mfu <= 1
        expected = binding_constraint(r.chips_alone_gpus, r.power_alone_gpus)
        # `construction`: a site it was due on was still being built (it waited, then took what was there)
        assert r.binding_constraint in (("duration",) if r.status == "running_at_end" else (expected, "construction"))
        assert r.gpus >= 0 and r.flop >= 0
        # FLOP never above peak x time (relative slack 1e-9 for float products)
        assert r.flop <= r.gpus * r.peak_flop_s * r.duration_days * SECONDS_PER_DAY * (1 + REL)
        if r.gpus == 0:
            assert r.flop == 0
            continue
        pooled = [products.names.index(name) for name in r.gpu_types.split(";")]
        peaks = [products.peak(i, spec.precision) for i in pooled]
        # the throughput-weighted mean of the products it pooled (one product: exactly its peak)
        assert min(peaks) * (1 - REL) <= r.peak_flop_s <= max(peaks) * (1 + REL)
        # a run never on a product before that product is on sale
        start_day = to_day(r.start, world.scenario.start_date)
        assert all(products.available_day[i] <= start_day for i in pooled)
        # a run takes at most its share of what chips and power allow (one GPU of float slack per site)
        assert r.gpus <= r.chips_alone_gpus
        if len(pooled) == 1:
            assert r.peak_flop_s == products.peak(pooled[0], spec.precision)
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
    # energy: the world's month is its sites' (a ledger that sums), and no site draws more than its
    # halls could over the month (nothing drawn without power); the run's energy follows its GPUs
    energy = ts[ts["metric"] == "energy_mwh"]
    sites_month = energy[energy["kind"] == "site"].groupby("date")["value"].sum()
    world_month = energy[energy["kind"] == "world"].set_index("date")["value"]
    assert np.allclose(world_month.to_numpy(), sites_month.reindex(world_month.index, fill_value=0.0).to_numpy(),
                       rtol=1e-9, atol=1e-6)
    hours = 32 * 24.0  # the longest gap between two samples is a month
    for name, spec in s.sites.items():
        site_energy = energy[energy["entity"] == name]["value"]
        assert (site_energy <= spec.facility_mw * hours * (1 + REL) + 1e-6).all(), name
    assert ((started["energy_mwh"] > 0) | (started["gpus"] == 0)).all()

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
