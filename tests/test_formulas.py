"""Unit tests of the pure functions, against worked cases.

Each test names its source and tolerance. "Epoch" is Epoch AI, "Can AI Scaling Continue Through
2030?" (2024), App. E (worked cases 1-10), whose figures are also rows of sim/data/supply.csv.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.world.assembly import build_world
from sim.physics.compute import (
    binding_constraint,
    chinchilla_params,
    compute_optimal_flop,
    compute_optimal_flop_for_tokens,
    training_compute_flop,
    training_flop,
)
from sim.physics.frontier import lab_frontier
from sim.physics.hardware import (
    facility_mw_for,
    facility_w_per_gpu,
    good_dies_per_wafer,
    gpus_within_power,
    gross_dies_per_wafer,
    h100e_per_gpu,
    peak_flop_s,
    poisson_yield,
)
from sim.world.allocator import Allocator, entitlement
from sim.world.fleet import Refresh
from sim.world.labs import Lab
from sim.config.plants import firm_mw_online, plant_firm_mw, plant_lead_time_days, plant_online_day
from sim.config.schedule import DAYS_PER_YEAR, Ramp, month_starts, to_date, to_day
from sim.config.schema import GpuType
from sim.world.sites import Site
from sim.world.supply import assemble
from sim.world.supply_plan import mix_shares, plan_supply

D = dt.date
START = D(2024, 1, 1)


@pytest.fixture(scope="module")
def baseline():
    return sim.load_scenario()


def gpu(bf16: float, fp8: float | None = None, it_w: float = 1400.0) -> GpuType:
    return GpuType(available_from=D(2022, 1, 1), bf16_dense_flop_s=bf16, fp8_dense_flop_s=fp8,
                   all_in_it_w=it_w, hbm_stacks=5, packages_per_cowos_wafer=28.0, die_area_mm2=814.0)


# --- hardware ---------------------------------------------------------------------------------

def test_gross_dies_per_wafer_matches_the_de_vries_formula_by_hand():
    # de Vries (2005): pi r^2 / A - pi d / sqrt(2A); 814 mm2 on 300 mm: 86.84 - 23.36 = 63.48 (+-0.01)
    assert gross_dies_per_wafer(814) == pytest.approx(63.48, abs=0.01)
    # a quarter of the area fits more than four times as many (less edge loss), and a die bigger
    # than the wafer fits none
    assert gross_dies_per_wafer(814 / 4) > 4 * gross_dies_per_wafer(814)
    assert gross_dies_per_wafer(100_000) == 0.0
    assert gross_dies_per_wafer(814, wafer_diameter_mm=200) < gross_dies_per_wafer(814)


def test_poisson_yield():
    # Murphy/Poisson: Y = exp(-D0 A), A in cm2: 8.14 cm2 at 0.1 /cm2 -> exp(-0.814) = 0.4431 (+-1e-4)
    assert poisson_yield(814, 0.1) == pytest.approx(0.4431, abs=1e-4)
    assert poisson_yield(814, 0.0) == 1.0
    assert poisson_yield(400, 0.1) > poisson_yield(814, 0.1)


def test_good_dies_per_wafer_h100_is_epochs_median_28():
    # Epoch 2030 / sim/data/supply.csv dies_per_wafer 2024: 20 / 28 / 40; an 814 mm2 die at 0.1 /cm2 -> 28 (+-10%)
    assert good_dies_per_wafer(814, 0.1) == pytest.approx(28, rel=0.10)
    assert good_dies_per_wafer(814, 0.1) == pytest.approx(gross_dies_per_wafer(814) * poisson_yield(814, 0.1))


def test_facility_power_epoch_case_1():
    # Epoch case 1: 16,000 GPUs x 1,700 W -> 27.2 MW (+-5%); 1,700 W = 1,416.67 W IT x PUE 1.2
    assert facility_w_per_gpu(1416.67, 1.2) == pytest.approx(1700, rel=1e-3)
    assert facility_mw_for(16_000, 1416.67, 1.2) == pytest.approx(27.2, rel=0.05)
    # exact arithmetic (1e-9): MW = GPUs x IT W x PUE / 1e6
    assert facility_mw_for(16_000, 1400, 1.2) == pytest.approx(16_000 * 1400 * 1.2 / 1e6, rel=1e-9)


def test_gpus_within_power_floors_and_refuses_no_power():
    it_w = 1700 / 1.2  # 1,700 W facility per GPU (Epoch case 1)
    assert gpus_within_power(27.2, it_w, 1.2) == 16_000  # exactly case 1's count
    assert gpus_within_power(27.2 - 1e-4, it_w, 1.2) == 15_999  # floor, not round
    assert gpus_within_power(27.2 + 0.0016, it_w, 1.2) == 16_000  # 0.94 of a GPU more is not a GPU
    assert gpus_within_power(0.0, it_w, 1.2) == 0
    assert gpus_within_power(-5.0, it_w, 1.2) == 0
    assert isinstance(gpus_within_power(27.2, it_w, 1.2), int)


def test_h100e_per_gpu_by_dense_bf16(baseline):
    # H100-equivalents by dense BF16 FLOP/s; sim/data/hardware.csv B200 2.25e15 / H100 9.89e14 = 2.275
    h100 = baseline.gpu_types["H100-SXM5"]
    assert h100e_per_gpu(h100, h100) == 1.0
    assert h100e_per_gpu(baseline.gpu_types["B200"], h100) == pytest.approx(2.25e15 / 9.89e14, rel=1e-12)
    assert h100e_per_gpu(baseline.gpu_types["H200-SXM"], h100) == 1.0  # same GH100 compute


def test_hardware_takes_any_object_with_the_specs():
    # duck-typed: anything with bf16_dense_flop_s and fp8_dense_flop_s (sim.physics.hardware.GpuSpecs)
    from types import SimpleNamespace
    no_fp8, fp8 = SimpleNamespace(bf16_dense_flop_s=3.12e14, fp8_dense_flop_s=None), \
        SimpleNamespace(bf16_dense_flop_s=9.89e14, fp8_dense_flop_s=1.979e15)
    assert peak_flop_s(no_fp8, "fp8") == 3.12e14 and peak_flop_s(fp8, "fp8") == 1.979e15
    assert h100e_per_gpu(fp8, no_fp8) == pytest.approx(9.89e14 / 3.12e14, rel=1e-12)


def test_compute_optimal_flop_is_6nd_at_20_tokens_per_param():
    # Hoffmann et al. 2022 / Epoch 2030 App. E: C = 6 N (20 N) = 120 N^2; case 10: 500T tokens -> 7.5e28
    assert compute_optimal_flop(25e12) == pytest.approx(7.5e28, rel=1e-12)
    assert compute_optimal_flop(1e12) == pytest.approx(training_compute_flop(1e12, 20e12), rel=1e-15)
    assert compute_optimal_flop_for_tokens(500e12) == pytest.approx(7.5e28, rel=1e-12)
    assert chinchilla_params(compute_optimal_flop(3e13)) == pytest.approx(3e13, rel=1e-12)


def test_peak_flop_s_fp8_falls_back_to_bf16():
    # sim/data/hardware.csv: A100 has no FP8 (bf16 3.12e14); H100 fp8 1.979e15, bf16 9.89e14
    a100, h100 = gpu(3.12e14, None), gpu(9.89e14, 1.979e15)
    assert peak_flop_s(a100, "fp8") == 3.12e14
    assert peak_flop_s(a100, "bf16") == 3.12e14
    assert peak_flop_s(h100, "fp8") == 1.979e15
    assert peak_flop_s(h100, "bf16") == 9.89e14


# --- training ---------------------------------------------------------------------------------

def test_training_flop_epoch_case_7():
    # Epoch case 7: 16M H100e x 2e15 FLOP/s x 0.4 x 6 months (182.6 days) -> 2.0e29 (+-5%)
    assert training_flop(16e6, 2e15, 0.4, 182.6) == pytest.approx(2.0e29, rel=0.05)
    # and it is linear in each factor (exact to 1e-12)
    assert training_flop(32e6, 2e15, 0.4, 182.6) == pytest.approx(2 * training_flop(16e6, 2e15, 0.4, 182.6), rel=1e-12)
    assert training_flop(1, 1, 1, 1) == 86_400


@pytest.mark.parametrize("utilization", [0.375, 0.4])
def test_training_flop_epoch_case_3(utilization):
    # Epoch case 3: 5 GW campus / 1,700 W per GPU; FLOP/W x4 over H100 at the same power, i.e. each GPU
    # 4 x H100's FP8 2e15 FLOP/s; 37.5-40% utilization: 300 days -> ~2.3e29, 100 days -> ~7.8e28 (x1.3)
    gpus = gpus_within_power(5000, 1700 / 1.2, 1.2)
    assert gpus == 2_941_176  # 5e9 W / 1,700 W
    peak = 4 * 2e15
    for days, expected in [(300, 2.3e29), (100, 7.8e28)]:
        flop = training_flop(gpus, peak, utilization, days)
        assert expected / 1.3 <= flop <= expected * 1.3, (days, flop)


def test_binding_constraint_is_the_smaller_with_ties_to_chips():
    assert binding_constraint(10, 5) == "power"
    assert binding_constraint(5, 10) == "chips"
    assert binding_constraint(7, 7) == "chips"


# --- schedule ---------------------------------------------------------------------------------

def test_ramp_flat_before_linear_between_geometric_after():
    ramp = Ramp(days=(0.0, 100.0), values=(10.0, 20.0), growth_per_year_after=2.0)
    assert ramp.at(-50) == 10.0
    assert ramp.at(0) == 10.0
    assert ramp.at(25) == pytest.approx(12.5, abs=1e-12)
    assert ramp.at(100) == 20.0
    assert ramp.at(100 + DAYS_PER_YEAR) == pytest.approx(40.0, rel=1e-12)
    assert ramp.at(100 + DAYS_PER_YEAR / 2) == pytest.approx(20 * math.sqrt(2), rel=1e-12)
    np.testing.assert_allclose(ramp.at(np.array([-1.0, 50.0, 100 + 2 * DAYS_PER_YEAR])), [10.0, 15.0, 80.0], rtol=1e-12)
    flat = Ramp(days=(0.0, 100.0), values=(10.0, 20.0))
    assert flat.at(1e4) == 20.0


def test_ramp_mean_over():
    ramp = Ramp(days=(0.0, 100.0), values=(10.0, 20.0))
    # trapezoid on 8 sub-steps is exact for a piecewise-linear ramp with kinks on the grid (1e-12)
    np.testing.assert_allclose(ramp.mean_over(np.array([0.0, 20.0, -50.0]), 20.0), [11.0, 13.0, 10.0], rtol=1e-12)
    # across the kink at day 0: [-10, 10) is 10 for half the window and 10..11 for the other
    assert ramp.mean_over(np.array([-10.0]), 20.0)[0] == pytest.approx((10 * 10 + 10 * 10.5) / 20, rel=1e-12)
    grow = Ramp(days=(0.0,), values=(100.0,), growth_per_year_after=1.5)
    year = grow.mean_over(np.array([0.0]), DAYS_PER_YEAR)[0]
    assert year == pytest.approx(100 * 0.5 / math.log(1.5), rel=1e-3)  # integral of 1.5^t (trapezoid, 0.1%)
    assert ramp.mean_over(np.array([50.0]), 0.0)[0] == 15.0  # zero length: the value at the start


def test_month_starts():
    assert month_starts(D(2024, 1, 15), D(2024, 4, 1)) == [D(2024, 1, 1), D(2024, 2, 1), D(2024, 3, 1), D(2024, 4, 1)]
    assert month_starts(D(2024, 11, 1), D(2025, 2, 28)) == [D(2024, 11, 1), D(2024, 12, 1), D(2025, 1, 1), D(2025, 2, 1)]
    assert month_starts(D(2024, 3, 10), D(2024, 3, 20)) == [D(2024, 3, 1)]
    assert len(month_starts(D(2024, 1, 1), D(2030, 12, 31))) == 84


@given(st.dates(min_value=D(1990, 1, 1), max_value=D(2100, 12, 31)))
@settings(max_examples=100, deadline=None)
def test_to_day_to_date_round_trip(date):
    day = to_day(date, START)
    assert day == (date - START).days
    assert to_date(day, START) == date
    assert to_date(day + 0.999, START) == date  # floored to whole days


def test_to_date_floors_fractional_days():
    assert to_day(D(2024, 3, 1), START) == 60.0  # 2024 is a leap year
    assert to_date(10.9, START) == D(2024, 1, 11)
    assert to_date(-0.5, START) == D(2023, 12, 31)


# --- supply: assembly by bill of materials ----------------------------------------------------

ONE = dict(shares=[1.0], dies_per_gpu=[1.0], cowos_wafers_per_gpu=[1 / 28], hbm_dies_per_gpu=[5.0])


def test_assemble_cowos_limited():
    # 10 CoWoS wafers x 28 packages = 280 GPUs, with dies and HBM to spare
    assert assemble([1000.0], 10.0, 1e6, **ONE) == [280]


def test_assemble_hbm_limited():
    # 500 HBM dies / 5 per GPU = 100 GPUs
    assert assemble([1000.0], 10.0, 500.0, **ONE) == [100]


def test_assemble_die_limited():
    assert assemble([50.0], 10.0, 1e6, **ONE) == [50]
    # two dies per GPU (B200): 51 dies make 25
    assert assemble([51.0], 10.0, 1e6, [1.0], [2.0], [1 / 16], [8.0]) == [25]


def test_assemble_leftover_shared_input_goes_to_products_with_dies():
    # CoWoS for 280 GPUs at a 50/50 mix; product 0 has no dies, so product 1 gets all 280
    made = assemble([0.0, 1000.0], 10.0, 1e6, [0.5, 0.5], [1.0, 1.0], [1 / 28, 1 / 28], [5.0, 5.0])
    assert made == [0, 280]
    # a product out of the mix (share 0) still uses its stranded dies when shared input is left
    made = assemble([100.0, 1000.0], 10.0, 1e6, [0.0, 1.0], [1.0, 1.0], [1 / 28, 1 / 28], [5.0, 5.0])
    assert made == [0, 280]  # the in-mix product takes the CoWoS first
    made = assemble([100.0, 50.0], 10.0, 1e6, [0.0, 1.0], [1.0, 1.0], [1 / 28, 1 / 28], [5.0, 5.0])
    assert made == [100, 50]


def test_assemble_splits_by_mix_when_inputs_suffice():
    made = assemble([1e4, 1e4], 10.0, 1e6, [0.75, 0.25], [1.0, 1.0], [1 / 28, 1 / 28], [5.0, 5.0])
    assert made == [210, 70]


def test_assemble_zero_everywhere_makes_nothing():
    assert assemble([0.0, 0.0], 0.0, 0.0, [0.5, 0.5], [1.0, 2.0], [1 / 28, 1 / 16], [5.0, 8.0]) == [0, 0]
    assert assemble([1e6, 1e6], 0.0, 1e6, [0.5, 0.5], [1.0, 2.0], [1 / 28, 1 / 16], [5.0, 8.0]) == [0, 0]
    assert assemble([1e6, 1e6], 1e3, 0.0, [0.5, 0.5], [1.0, 2.0], [1 / 28, 1 / 16], [5.0, 8.0]) == [0, 0]


@st.composite
def _assembly_inputs(draw):
    n = draw(st.integers(1, 4))
    raw = [draw(st.floats(0.0, 1.0)) for _ in range(n)]
    raw[0] = max(raw[0], 0.01)
    return dict(
        dies=[draw(st.floats(0.0, 1e6)) for _ in range(n)],
        cowos_wafers=draw(st.floats(0.0, 1e4)),
        hbm_dies=draw(st.floats(0.0, 1e6)),
        shares=[r / sum(raw) for r in raw],
        dies_per_gpu=[float(draw(st.integers(1, 4))) for _ in range(n)],
        cowos_wafers_per_gpu=[1 / draw(st.floats(4.0, 40.0)) for _ in range(n)],
        hbm_dies_per_gpu=[float(draw(st.integers(0, 12))) for _ in range(n)],
    )


@given(_assembly_inputs())
@settings(max_examples=300, deadline=None)
def test_assemble_never_uses_more_than_the_stocks_and_leaves_no_gpu_unmade(c):
    made = assemble(**c)
    assert all(isinstance(m, int) and m >= 0 for m in made)
    # relative slack 1e-9: the function rounds with +1e-9
    for m, d, per in zip(made, c["dies"], c["dies_per_gpu"]):
        assert m * per <= d * (1 + 1e-9) + 1e-9
    cowos_left = c["cowos_wafers"] - sum(m * w for m, w in zip(made, c["cowos_wafers_per_gpu"]))
    hbm_left = c["hbm_dies"] - sum(m * h for m, h in zip(made, c["hbm_dies_per_gpu"]))
    assert cowos_left >= -1e-9 * max(1.0, c["cowos_wafers"])
    assert hbm_left >= -1e-9 * max(1.0, c["hbm_dies"])
    # the scarcest input limits: no product could be made once more from what is left (slack 1e-6)
    for i in range(len(made)):
        dies_left = c["dies"][i] - made[i] * c["dies_per_gpu"][i]
        one_more = (dies_left >= c["dies_per_gpu"][i] * (1 + 1e-6)
                    and cowos_left >= c["cowos_wafers_per_gpu"][i] * (1 + 1e-6)
                    and hbm_left >= c["hbm_dies_per_gpu"][i] * (1 + 1e-6))
        assert not one_more, (i, made)


# --- supply: mix and plan ---------------------------------------------------------------------

def test_mix_shares_rows_sum_to_one_and_interpolate(baseline):
    names = list(baseline.gpu_types)
    days = np.arange(-400.0, 2600.0, 3.0)
    shares = mix_shares(baseline, names, days)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-12)
    assert (shares >= 0).all()
    # read as unit shares: 2024-01-01 H100 0.65 / TPU-v5p 0.15 / MI300X 0.1 (sum 0.9), 2024-07-01 H100 0.4 /
    # H200 0.25 / TPU-v5p 0.15 / MI300X 0.1; each point normalized, then linear: 2024-04-01 is day 91 of 182
    units = baseline.model_copy(update={"mix_basis": "units"})
    at = mix_shares(units, names, np.array([91.0]))[0]
    assert at[names.index("H100-SXM5")] == pytest.approx((0.65 / 0.9 + 0.4 / 0.9) / 2, abs=1e-12)
    assert at[names.index("H200-SXM")] == pytest.approx(0.25 / 0.9 / 2, abs=1e-12)


def test_mix_shares_by_cowos_wafers_weigh_units_by_packages_per_wafer(baseline):
    # the baseline's mix is in CoWoS wafers: units = wafer share x packages per wafer, normalized
    names = list(baseline.gpu_types)
    at = mix_shares(baseline, names, np.array([0.0]))[0]
    h100, tpu, mi300 = 0.65 * 28, 0.15 * 28, 0.1 * 14
    assert at[names.index("H100-SXM5")] == pytest.approx(h100 / (h100 + tpu + mi300), abs=1e-12)
    # after the last point (2029-07-01): Next-2029 (4 per wafer), TPU-Next-2028 (9), Trainium3 (20), MI355X (13)
    late = mix_shares(baseline, names, np.array([2550.0]))[0]
    total = 0.6 * 4 + 0.185 * 9 + 0.1 * 20 + 0.08 * 13
    assert late[names.index("Next-2029")] == pytest.approx(0.6 * 4 / total, abs=1e-12)


def test_mix_shares_skip_products_not_yet_on_sale(baseline):
    # a product is not made before available_from: its share goes to the others (sim/world/supply_plan.py, mix_shares)
    s = sim.load_scenario(overrides=["gpu_types.H200-SXM.available_from=2024-06-01", "mix_basis=units"])
    names = list(s.gpu_types)
    at = mix_shares(s, names, np.array([91.0, 160.0]))  # 2024-04-01: H200 not on sale; 2024-06-09: on sale
    assert at[0][names.index("H200-SXM")] == 0.0
    assert at[1][names.index("H200-SXM")] == pytest.approx(0.25 / 0.9 * 160 / 182, abs=1e-12)
    np.testing.assert_allclose(at.sum(axis=1), 1.0, rtol=1e-12)


def test_plan_supply_baseline_schedule_and_capacities(baseline):
    plan = plan_supply(baseline)
    n_ticks = len(plan.tick_starts)
    assert plan.planned_gpus.shape[0] > n_ticks  # planned one lead time past the horizon
    assert (plan.planned_gpus >= 0).all() and np.isfinite(plan.planned_gpus).all()
    # the master schedule is what the binding input's nominal capacity allows at the mix
    # (so never more than the CoWoS started one cycle time earlier allows, at the mix of the arrival tick)
    line = plan.cowos_lines[0]
    for k in (line.lead_ticks, 100, 300):
        cowos_allows = line.capacity[k - line.lead_ticks] / (plan.shares[k] @ plan.cowos_wafers_per_gpu)
        assert 0 < plan.planned_gpus[k].sum() <= cowos_allows * (1 + 1e-9)
    # logic wafers a fab can start per year: 180k wpm x 20% x 12 months (+0..15%/yr growth after 2024-01-01)
    fab = plan.fabs[0]
    per_year = 180_000 * 0.2 * 364 / (DAYS_PER_YEAR / 12)
    assert per_year <= fab.capacity[:52].sum() <= per_year * 1.15
    # the pipelines start full: work started before 2024 arrives in the first ticks
    assert fab.pre_start_arrivals.shape == (fab.lead_ticks, len(plan.names)) and fab.pre_start_arrivals[0].sum() > 0
    assert plan.cowos_lines[0].pre_start_arrivals[0] > 0
    # HBM takes stacks x height core dies: H100 5 x 8, Next-2029 16 x 16
    assert plan.hbm_dies_per_gpu[plan.names.index("H100-SXM5")] == 40
    assert plan.hbm_dies_per_gpu[plan.names.index("Next-2029")] == 256


def test_baseline_produces_gpus_in_the_first_week(baseline):
    # pre-filled pipelines and buffers: accelerators come out on day 0, not after the 16-week fab cycle
    world = build_world(baseline)
    world.env.run(until=1)
    assert sum(world.supply.produced_total) > 0


def test_plan_supply_with_nothing_on_sale_when_wafers_start():
    """Regression (fixed in a87897e): H100 on sale from the start date and a 100-day fab cycle (not a
    whole number of 7-day ticks): the earliest pre-filled starts are for a day when nothing is on sale,
    so mix_shares gives an all-zero row; splitting wafers 0/0 used to give NaN and crash assembly."""
    s = sim.load_scenario(overrides=["gpu_types.H100-SXM5.available_from=2024-01-01",
                                     "gpu_types.TPU-v5p.available_from=2024-01-01",
                                     "gpu_types.MI300X.available_from=2024-01-01",
                                     "logic_fabs.tsmc_advanced.cycle_time_days=100"])
    names = list(s.gpu_types)
    assert mix_shares(s, names, np.array([-5.0])).sum() == 0  # the all-zero row this needs
    with np.errstate(all="raise"):
        plan = plan_supply(s)
    pre = plan.fabs[0].pre_start_arrivals
    assert np.isfinite(pre).all() and (pre >= 0).all()
    result = sim.run(s)
    assert result.runs["flop"].max() > 0


# --- labs: allocation, refresh -----------------------------------------------------------------

def test_entitlement_is_floor_of_share_times_cumulative():
    assert entitlement(0.22, 100) == 22
    assert entitlement(0.25, 7) == 1
    assert entitlement(0.5, 1) == 0
    assert entitlement(0.0, 10**9) == 0
    assert entitlement(1.0, 12345) == 12345
    # float products just under a whole number still count it: 0.29 x 100 = 28.999999999999996
    assert 0.29 * 100 < 29 and entitlement(0.29, 100) == 29
    assert entitlement(0.7, 10) == 7


def test_allocator_ships_shares_of_cumulative_output_after_the_lead_time():
    import simpy

    env = simpy.Environment()
    labs = [Lab(env, "a", [], 1), Lab(env, "b", [], 1)]
    alloc = Allocator(env, labs, [[0.25], [0.5]], [10.0, 0.0], 1)
    for _ in range(3):
        alloc.ship([10])  # 30 made in all: a is owed floor(7.5) = 7, b 15
    assert alloc.shipped == [[7], [15]]
    assert alloc.other_buyers_total == [8]
    assert alloc.in_transit == [[7], [15]]
    env.run(until=5)
    alloc.deliver_due(env.now)  # the install pass does this each tick
    assert labs[1].delivered_total == [15] and labs[1].inventory == [15] and alloc.in_transit[1] == [0]
    assert labs[0].delivered_total == [0]
    env.run(until=11)
    alloc.deliver_due(env.now)
    assert labs[0].delivered_total == [7] and alloc.in_transit == [[0], [0]]


def test_allocator_gives_each_lab_only_its_families():
    import simpy

    env = simpy.Environment()
    labs = [Lab(env, "gpu_buyer", [], 2), Lab(env, "tpu_buyer", [], 2)]
    # product 0 is a GPU, product 1 a TPU: each lab has a share of one family only
    alloc = Allocator(env, labs, [[0.5, 0.0], [0.0, 0.25]], [0.0, 0.0], 2)
    alloc.ship([100, 100])
    assert alloc.shipped == [[50, 0], [0, 25]] and alloc.other_buyers_total == [50, 75]


def test_other_buyers_in_service_never_negative_when_two_floors_tip_at_once():
    """Labs' entitlements are floored one by one: one more GPU made can tip two labs' floors, so the
    other buyers' cumulative output dips by one. Their GPUs in service must not go below zero."""
    import simpy
    from sim.world.probes import WorldProbe

    env = simpy.Environment()
    labs = [Lab(env, "a", [], 1), Lab(env, "b", [], 1)]
    alloc = Allocator(env, labs, [[0.5], [0.5]], [0.0, 0.0], 1)
    alloc.ship([1])  # 1 made: each lab owed floor(0.5) = 0, other buyers hold 1
    assert alloc.other_buyers_total == [1]
    probe = WorldProbe(env, _products_for_probe(), alloc, labs, [], service_life_days=1.0, other_buyers_pue=1.0)
    assert probe._other_buyers_in_service(0.0) == [1]
    alloc.ship([1])  # 2 made: both floors tip to 1, other buyers' cumulative falls to 0
    assert alloc.other_buyers_total == [0]
    assert probe._other_buyers_in_service(2.0) == [0]


def _products_for_probe():
    from types import SimpleNamespace
    return SimpleNamespace(h100e=[1.0], it_w=[1000.0])


def _site(name="s", mw=10.0, it_w=(1000.0, 1000.0, 1000.0), pue=1.0, built=True) -> Site:
    """A site built at once (or not yet: its construction ends on day 1, never reached), fed `mw`;
    no service life, so GPUs retire only when a test says so."""
    import simpy

    site = Site(simpy.Environment(), name, "L", mw, pue, list(it_w), built_day=0.0 if built else 1.0)
    site.add_power(mw)
    return site


def _lab(sites: list[Site], n_products: int) -> Lab:
    import simpy

    return Lab(simpy.Environment(), "L", sites, n_products)


def test_refresh_replaces_only_products_less_efficient_by_min_gain():
    # FLOP/W: old 1.0, mid 1.4, new 2.0; min gain 1.5: new may replace old (2.0 >= 1.5) but not mid (< 2.1)
    refresh = Refresh([1.0, 1.4, 2.0], 1.5)
    assert refresh.replaceable == [[], [], [0]]
    site = _site(mw=10.0)  # 10,000 GPUs at 1 kW
    fleet = site.fleet
    fleet.install(0, 5000)
    fleet.install(1, 5000)
    fleet.busy[0] = 3000  # held by a run
    assert site.room_for(2) == 0
    room, evicted = refresh.make_room(fleet, site.available_mw, 2, 1000)
    assert room == 1000 and evicted == 1000 and fleet.retired_total == [1000, 0, 0]
    assert fleet.installed == [4000, 5000, 0]
    # asking for more than the free old GPUs: only the 1,000 free ones left go, never busy or mid ones
    room, evicted = refresh.make_room(fleet, site.available_mw, 2, 5000)
    assert room == 1000 and evicted == 1000 and fleet.retired_total == [2000, 0, 0]  # the extra room made by this call
    assert site.room_for(2) == 2000  # with the 1,000 made (and not yet filled) before
    assert fleet.installed == [3000, 5000, 0] and fleet.busy[0] == 3000
    # a product with nothing to replace makes no room
    assert refresh.make_room(fleet, site.available_mw, 1, 100) == (0, 0) and fleet.retired_total == [2000, 0, 0]


def test_install_fills_spare_power_elsewhere_before_refreshing():
    # site a is full of old GPUs, site b is empty and powered: new GPUs go to b; nothing retires early
    a, b = _site("a", it_w=(1000.0, 1000.0)), _site("b", it_w=(1000.0, 1000.0))
    a.fleet.install(0, 10_000)
    lab = _lab([a, b], 2)
    lab.receive([0, 4000])
    lab.install([1, 0], Refresh([1.0, 2.0], 1.5))
    assert b.fleet.installed == [0, 4000] and a.fleet.installed == [10_000, 0]
    assert lab.retired_total == [0, 0] and lab.inventory == [0, 0]
    # more than b holds: the rest replaces old GPUs at a
    lab.receive([0, 8000])
    lab.install([1, 0], Refresh([1.0, 2.0], 1.5))
    assert b.fleet.installed == [0, 10_000] and a.fleet.installed == [8000, 2000]
    assert lab.retired_total == [2000, 0] and lab.inventory == [0, 0]


def test_room_left_by_a_refresh_is_used_by_products_already_passed():
    """Regression (fixed in a87897e): a full 10 MW site of old 1 kW GPUs. Newest first: 5 small 300 W
    GPUs (nothing they may replace, no room), then 1 new 1.5 kW GPU that replaces old ones: 2 old GPUs
    go (ceil(1.5/1.0)), the new one takes 1.5 kW and 0.5 kW is left, room for one small GPU. The pass
    used to reset `site.changed` with the small GPUs `blocked`, so every later pass was skipped and they
    waited in inventory beside free power. Now the next pass (the next tick) installs one."""
    site = _site(mw=10.0, it_w=(1000.0, 300.0, 1500.0))
    site.fleet.install(0, 10_000)
    lab = _lab([site], 3)
    lab.receive([0, 5, 1])
    refresh = Refresh([1.0, 1.0, 3.0], 1.5)
    lab.install([1, 2, 0], refresh)
    assert site.fleet.installed == [9998, 0, 1] and lab.retired_total == [2, 0, 0]
    lab.install([1, 2, 0], refresh)  # the next tick's pass, nothing else having happened
    assert site.fleet.installed == [9998, 1, 1] and lab.inventory == [0, 4, 0]
    assert site.room_for(1) == 0 and lab.retired_total == [2, 0, 0]
    assert lab.install([1, 2, 0], refresh) == []  # and then nothing more to do


def test_install_without_refresh_keeps_what_does_not_fit():
    a = _site("a", mw=1.0, it_w=(1000.0, 1000.0))
    lab = _lab([a], 2)
    lab.receive([300, 900])
    lab.install([1, 0])  # newest first: 900 of product 1, then 100 of product 0
    assert a.fleet.installed == [100, 900] and lab.inventory == [200, 0]
    assert lab.initial_total[0] + lab.delivered_total[0] == a.fleet.installed[0] + lab.inventory[0] + lab.retired_total[0]


# --- sites ------------------------------------------------------------------------------------

def test_site_power_needs_construction_and_firm_supply():
    import simpy

    env = simpy.Environment()
    site = Site(env, "s", "L", facility_mw=100.0, pue=1.25, it_w_per_gpu=[1000.0], built_day=30.0)
    site.add_power(60.0)
    assert site.available_mw == 0 and site.room_for(0) == 0  # powered but not built
    env.run(until=29.5)
    assert not site.built and site.available_mw == 0  # still under construction
    env.run(until=30.5)  # construction ends on day 30
    assert site.built
    assert site.available_mw == 60.0  # firm supply caps the facility
    assert site.room_for(0) == 48_000  # 60 MW / (1,000 W x 1.25)
    site.add_power(100.0)
    assert site.available_mw == 100.0  # the facility caps the supply


def test_site_install_retire_release_bookkeeping():
    site = _site(mw=10.0, it_w=(1000.0,), pue=1.2)
    fleet = site.fleet
    old = fleet.install(0, 100)
    assert fleet.installed == [100] and fleet.drawn_mw == pytest.approx(100 * 1000 * 1.2 / 1e6)
    new = fleet.install(0, 50)
    fleet.busy[0] = 120  # a run holds 120 of the 150
    # the old cohort reaches its service life: the 30 free GPUs retire now, 70 wait for the run
    assert fleet.retire(0, old) == 30
    assert fleet.installed == [120] and fleet.retire_pending == [70] and old.count == 0
    assert fleet.evict(0, 50) == 0  # nothing free that is not already due to retire
    # the run ends: its 70 overdue GPUs retire, the other 50 stay
    assert fleet.release(0, 120) == 70
    assert fleet.installed == [50] and fleet.busy == [0] and fleet.retire_pending == [0]
    assert fleet.drawn_mw == pytest.approx(50 * 1000 * 1.2 / 1e6)
    assert new.count == 50
    assert fleet.retire(0, new) == 50 and fleet.installed == [0] and fleet.drawn_mw == pytest.approx(0.0, abs=1e-12)
    assert fleet.retired_total == [150]  # 30 + 70 + 50, each counted once


def test_site_evict_takes_free_gpus_oldest_cohort_first():
    fleet = _site(mw=10.0, it_w=(1000.0,)).fleet
    first, second = fleet.install(0, 10), fleet.install(0, 10)
    fleet.busy[0] = 15
    assert fleet.evict(0, 8) == 5  # only 5 are free
    assert first.count == 5 and second.count == 10
    fleet.busy[0] = 0
    assert fleet.evict(0, 8) == 8
    assert first.count == 0 and second.count == 7 and fleet.installed == [7]
    assert fleet.retire(0, second) == 7 and fleet.installed == [0]


# --- frontier ---------------------------------------------------------------------------------

FRONTIER = dict(peak_flop_s=[1e15, 4e15], it_w=[1000.0, 2000.0], h100e=[1.0, 4.0],
                gpu_share=0.5, utilization=0.4, duration_days=100.0)


def test_lab_frontier_chips_power_combined():
    points, binds = lab_frontier(installed=[100, 10], inventory=[50, 5], site_power=[(10.0, 1.25)],
                                 on_sale=[True, True], **FRONTIER)
    secs = 100 * 86_400
    # chips alone: installed + inventory, as if power were unlimited
    assert points["chips"].flop == pytest.approx(0.5 * (150 * 1e15 + 15 * 4e15) * 0.4 * secs, rel=1e-12)
    assert points["chips"].h100e == pytest.approx(0.5 * (150 + 15 * 4))
    # combined: installed only
    assert points["combined"].flop == pytest.approx(0.5 * (100 * 1e15 + 10 * 4e15) * 0.4 * secs, rel=1e-12)
    # power alone: 10 MW filled with the most FLOP per watt on sale, product 1 (2e12 vs 1e12 FLOP/s/W):
    # 10 MW / (2,000 W x 1.25) = 4,000 GPUs
    assert points["power"].flop == pytest.approx(0.5 * 4000 * 4e15 * 0.4 * secs, rel=1e-12)
    assert points["power"].h100e == pytest.approx(0.5 * 4000 * 4)
    assert binds == "chips"


def test_lab_frontier_power_uses_only_products_on_sale_and_can_bind():
    points, _ = lab_frontier(installed=[0, 0], inventory=[0, 0], site_power=[(10.0, 1.25)],
                             on_sale=[True, False], **FRONTIER)
    assert points["power"].h100e == pytest.approx(0.5 * 8000)  # 10 MW / 1,250 W of product 0
    points, binds = lab_frontier(installed=[100, 10], inventory=[50, 5], site_power=[(0.1, 1.25), (0.0, 1.2)],
                                 on_sale=[True, True], **FRONTIER)
    assert points["power"].h100e == pytest.approx(0.5 * 40 * 4)  # 0.1 MW -> 40 GPUs; the unpowered site adds none
    assert points["power"].flop < points["chips"].flop and binds == "power"
    points, binds = lab_frontier(installed=[5, 0], inventory=[0, 0], site_power=[], on_sale=[True, True], **FRONTIER)
    assert points["power"].flop == 0 and binds == "power"


def test_lab_frontier_sums_sites_with_their_own_pue():
    points, _ = lab_frontier(installed=[0, 0], inventory=[0, 0], site_power=[(10.0, 1.25), (10.0, 1.0)],
                             on_sale=[True, True], **FRONTIER)
    assert points["power"].h100e == pytest.approx(0.5 * 4 * (4000 + 5000))


# --- power ------------------------------------------------------------------------------------

def _plant(s, name):
    return next(p for p in s.power_plants if p.name == name)


def test_plant_online_day_is_construction_start_plus_lead_time(baseline):
    # type default: grid 1,826 days (LBNL queue wait, sim/data/power.csv); abilene_grid requested 2020-06-01
    grid = _plant(baseline, "abilene_grid")
    assert plant_lead_time_days(baseline, grid) == 1826
    assert plant_online_day(baseline, grid) == to_day(D(2020, 6, 1), START) + 1826
    assert to_date(plant_online_day(baseline, grid), START) == D(2025, 6, 1)
    # override: colossus_turbines 120 days from 2024-05-15 (not the reciprocating type's 457)
    turbines = _plant(baseline, "colossus_turbines")
    assert plant_lead_time_days(baseline, turbines) == 120
    assert plant_online_day(baseline, turbines) == 135 + 120


def test_plant_firm_mw(baseline):
    hyperion = _plant(baseline, "hyperion_ccgt")
    assert plant_firm_mw(baseline, hyperion) == pytest.approx(2260 * 0.9)  # type's firm fraction
    assert plant_firm_mw(baseline, hyperion.model_copy(update={"firm_fraction": 0.5})) == pytest.approx(1130)
    assert firm_mw_online(baseline, "colossus", 254) == pytest.approx(150)  # TVA grid only
    assert firm_mw_online(baseline, "colossus", 255) == pytest.approx(150 + 200 * 0.9)


def test_engine_brings_plants_online_on_their_day(baseline):
    world = build_world(baseline)
    world.env.run(until=254.5)
    assert world.sites["colossus"].firm_mw_online == pytest.approx(150)
    world.env.run(until=255.5)
    assert world.sites["colossus"].firm_mw_online == pytest.approx(150 + 180)


def test_max_tokens_latency_wall():
    """Epoch App. E: D = T B / (t_L L(N)). 270 days, 110 us per layer, 60M-token batch, N = 7e14."""
    from sim.physics.step_time import layers
    from sim.physics.walls import max_tokens_latency_wall

    duration_s, t_layer_s, batch, params = 270 * 86_400.0, 110e-6, 6e7, 7e14
    tokens = max_tokens_latency_wall(duration_s, t_layer_s, params, batch)
    assert tokens == pytest.approx(duration_s * batch / (t_layer_s * layers(params)), rel=1e-12)
    # Epoch case 8: at N ~ 7e14 the wall allows about the compute-optimal 20 N tokens (within 20%)
    assert tokens == pytest.approx(20 * params, rel=0.2)
    assert max_tokens_latency_wall(2 * duration_s, t_layer_s, params, batch) == pytest.approx(2 * tokens)


def test_service_life_retires_each_pass_together_in_install_order_and_waits_for_busy_gpus():
    """One event per install pass retires its cohorts `life_days` later, in install order; GPUs held
    by a run at that moment retire when the run releases them."""
    import simpy

    from sim.world.fleet import Fleet, ServiceLife

    env = simpy.Environment()
    life = ServiceLife(env, 100.0)
    a, b = Fleet([1000.0], 1.0), Fleet([1000.0], 1.0)
    first = [(a, 0, a.install(0, 10)), (b, 0, b.install(0, 20))]
    life.start(first)
    env.run(until=50)
    life.start([(a, 0, a.install(0, 5))])  # a second pass, 50 days later
    a.take(0, 12)  # a run holds 12 of a's 15
    timeouts = [e for *_, e in env._queue if isinstance(e, simpy.events.Timeout)]
    assert len(timeouts) == 2  # one retirement event per pass
    env.run(until=100.5)
    # a's first cohort (10) retires: only 3 are free, 7 wait for the run; b's 20 retire at once
    assert (a.installed, a.retire_pending, a.retired_total) == ([12], [7], [3])
    assert (b.installed, b.retired_total) == ([0], [20])
    assert a.release(0, 12) == 7 and a.installed == [5] and a.retired_total == [10]
    env.run(until=151)
    assert a.installed == [0] and a.retired_total == [15]
    life.start([])  # nothing installed: no event
    assert not [e for *_, e in env._queue if isinstance(e, simpy.events.Timeout)]
