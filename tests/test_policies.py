"""Labs that decide (docs/policies.md): the run policy, pooled runs, waiting for construction, purchases
tied to power and the refresh's minimum age; each rule on a worked case, and the baseline's outcomes."""
from __future__ import annotations

import datetime as dt
import math

import pytest
import simpy

import sim
from sim.config.schema import RunPolicySpec
from sim.outputs.tables import yearly
from sim.world.fleet import Fleet, Refresh
from sim.world.labs import Lab, Purchasing
from sim.world.products import Products
from sim.world.run_policy import run_duration_days
from sim.world.sites import Site
from sim.world.training import choose_products


@pytest.fixture(scope="module")
def result():
    return sim.run(sim.load_scenario())


def _year_end_series(result, kind: str, metric: str):
    ts = result.timeseries
    rows = ts[(ts.kind == kind) & (ts.metric == metric)]
    table = rows.pivot_table(index="date", columns="entity", values="value")
    table.index = table.index.astype(str)
    return table.loc[[f"{y}-01-01" for y in range(2025, 2031)] + ["2030-12-31"]]


# --- the baseline's outcomes ------------------------------------------------------------------------

def test_every_lab_with_sites_launches_policy_runs_in_each_year_2026_to_2030(result):
    runs = result.runs
    policy = runs[runs["planned_by"] == "policy"]
    labs_with_sites = {site.lab for site in sim.load_scenario().sites.values()}
    for lab in labs_with_sites:
        years = {str(start.year) for start in policy[policy["lab"] == lab]["start"].dropna()}
        assert {str(y) for y in range(2026, 2031)} <= years, (lab, sorted(years))
    assert set(runs[runs["planned_by"] == "scenario"]["run"]) == {"meta-2024", "openai-2024", "xai-2025"}


def test_the_largest_run_to_date_rises_over_every_two_years_from_2025(result):
    """Each lab post-trains on the cluster its pre-training run just released, for months (at parity,
    as much compute as the run), so a lab's cadence may skip a year: the largest run to date may hold
    for a year, never for two."""
    text = result.text_tables()  # yearly reads the tables as the files hold them
    table = yearly(text["timeseries"], text["runs"], text["frontier"]).set_index("year")
    to_date = table["largest_run_to_date_flop"]
    assert all(to_date[y] >= to_date[y - 1] for y in range(2025, 2031)), to_date.tolist()
    assert all(to_date[y] > to_date[y - 2] for y in range(2026, 2031)), to_date.tolist()
    # never 0 once a run has completed
    assert (to_date.loc[2024:] > 0).all()


def test_labs_hold_at_most_a_quarter_of_their_installed_h100e_in_inventory(result):
    inventory = _year_end_series(result, "lab", "inventory_h100e")
    installed = _year_end_series(result, "lab", "installed_h100e")
    assert (inventory <= 0.25 * installed + 1.0).all().all(), (inventory / installed).round(2)


def test_some_baseline_run_pools_several_products(result):
    assert (result.runs["gpu_types"].map(len) > 1).any()


def test_a_construction_delay_gives_construction_waits_not_missing_gpus():
    stressed = sim.run(sim.load_scenario("scenarios/stress/construction_delay.yaml"))
    labels = set(stressed.runs["binding_constraint"])
    assert "construction" in labels
    assert "no_gpus" not in set(stressed.runs["status"])
    assert "chips" not in set(stressed.runs[stressed.runs["binding_constraint"] == "construction"]["binding_constraint"])


# --- the rules on worked cases ----------------------------------------------------------------------

def test_run_duration_grows_to_its_cap():
    spec = RunPolicySpec(first_start=dt.date(2026, 1, 1), gpu_share=0.8, duration_days_at_first_start=190,
                         duration_growth_per_year=1.4, max_duration_days=270, relaunch_growth_factor=2.0)
    assert run_duration_days(spec, 0.0) == 190
    assert run_duration_days(spec, 1.0) == pytest.approx(266.0)  # 190 x 1.4
    assert run_duration_days(spec, 2.0) == 270  # capped (190 x 1.96 = 372)


def _products(peaks: list[float], available: list[float] | None = None) -> Products:
    n = len(peaks)
    return Products(names=[f"P{i}" for i in range(n)], h100e=[p / 1e15 for p in peaks], peak_bf16=peaks,
                    peak_fp8=peaks, it_w=[1000.0] * n, available_day=available or [0.0] * n,
                    newest_first=list(range(n)), family=["gpu"] * n)


def _site(env, n_products: int, installed: dict[int, int], mw: float = 1e6) -> Site:
    site = Site(env, "s", "lab", mw, 1.0, [1000.0] * n_products)
    site.add_power(mw)
    for product, count in installed.items():
        site.fleet.install(product, count)
    return site


def test_a_run_pools_products_within_a_quarter_of_the_fastest():
    env = simpy.Environment()
    # peaks 4, 2 and 0.9 PFLOP/s: 0.9 is under a quarter of the fastest, so it stays out
    products = _products([4e15, 2e15, 0.9e15])
    site = _site(env, 3, {0: 100, 1: 100, 2: 100})
    assert choose_products([site], products, "bf16") == [0, 1]  # 0.9 < 0.25 x 4
    # nothing free: the fastest product on sale by the day, never one not yet on sale
    empty = _site(env, 3, {})
    later = _products([4e15, 2e15, 1e15], available=[500.0, 0.0, 0.0])
    assert choose_products([empty], later, "bf16", day=100.0) == [1]


def test_a_lab_orders_only_for_the_power_it_will_have():
    env = simpy.Environment()
    site = Site(env, "s", "lab", 10.0, 1.0, [1e6, 1e6], built_day=0.0)  # 1 MW per GPU
    site.planned_power.append((100.0, 4.0))  # 4 MW online on day 100
    policy = Purchasing(lead_days=100.0, power_buffer=0.5, mw_per_gpu=[1.0, 1.0], newest_rank=[1, 0],
                        buys=[True, True], available_day=[0.0, 0.0])
    lab = Lab(env, "lab", [site], 2, purchasing=policy)
    # owed 5 of each: room = 4 MW x 1.5 = 6 GPUs, newest first (product 1), then product 0
    assert lab.order({0: 5, 1: 5}, now=0.0, in_transit=[0, 0]) == {1: 5, 0: 1}
    # ordered too early: nothing is online on arrival yet
    assert lab.order({0: 5}, now=-50.0, in_transit=[0, 0]) == {}
    # what is in transit counts against the room
    assert lab.order({0: 5}, now=0.0, in_transit=[3, 0]) == {0: 3}


def test_a_yearly_cap_limits_what_a_lab_orders():
    env = simpy.Environment()
    site = Site(env, "s", "lab", 1e6, 1.0, [1e6], built_day=0.0)
    site.planned_power.append((0.0, 1e6))
    policy = Purchasing(lead_days=0.0, power_buffer=0.0, mw_per_gpu=[1.0], newest_rank=[0], buys=[True],
                        available_day=[0.0], max_h100e_per_year=10.0)
    lab = Lab(env, "lab", [site], 1, h100e=[2.0], purchasing=policy)
    assert lab.order({0: 100}, now=0.0, in_transit=[0]) == {0: 5}  # 10 H100e / 2 per GPU
    assert lab.order({0: 100}, now=10.0, in_transit=[0]) == {}  # the year's cap is spent
    assert lab.order({0: 100}, now=400.0, in_transit=[0]) == {0: 5}  # a new year


def test_a_refresh_never_replaces_gpus_younger_than_the_minimum_age():
    fleet = Fleet([2000.0, 1000.0], 1.0)  # product 1 does 2x the FLOP per watt of product 0 below
    fleet.install(0, 10, day=0.0)
    fleet.install(0, 10, day=500.0)
    refresh = Refresh([1.0, 4.0], 1.5, min_age_days=365.0)
    mw = fleet.drawn_mw  # full: no spare power
    room, evicted = refresh.make_room(fleet, mw, 1, 100, now=600.0)
    assert evicted == 10 and fleet.installed[0] == 10  # only the cohort from day 0 is old enough
    assert fleet.installed_by(0, 600.0 - 365.0) == 0
    assert refresh.make_room(fleet, mw, 1, 100, now=600.0) == (0, 0)
    room, evicted = refresh.make_room(fleet, mw, 1, 100, now=900.0)  # the day-500 cohort has come of age
    assert evicted == 10
    assert refresh.replaceable_mw(fleet, [1], 900.0) == 0.0 and not math.isnan(room)


def test_models_are_sized_at_the_efficiency_runs_achieve(baseline_result):
    """A compute-bound run trains a compute-optimal model for the compute it achieves (MFU x goodput,
    not kernel efficiency): ~20 tokens per parameter (Hoffmann et al. 2022), within the rounding of the
    fixed point and the expected-against-sampled goodput."""
    runs = baseline_result.runs
    done = runs[(runs["status"] == "completed") & runs["binding_constraint"].isin(["chips", "power", "network", "reliability"])
                & (runs["gpus"] > 100_000)]
    assert len(done) >= 5
    tokens_per_param = done["flop"] / (6 * done["params"] ** 2)
    assert tokens_per_param.between(15, 25).all(), tokens_per_param.tolist()
