"""Distributions in place of numbers (sim/config/distributions.py) and scenario templates (sim/config/loading.py).

Each distribution's median and quantiles are checked against closed forms, its sample mean against
its mean, its draws for determinism; templates give the plain scenario at their medians and the
same draws from the same seed.
"""
from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.config.distribution_specs import find_distributions, parse_distribution, replace_at
from sim.config.distributions import Choice, Lognormal, Pert, Triangular, TruncNormal, Uniform
from sim.config.special_functions import beta_cdf, beta_quantile, normal_cdf
from sim.config.errors import ScenarioError
from sim.config.loading import load_template

Z = NormalDist()


def parse(**spec):
    return parse_distribution(spec, "f.yaml", "a.b")


def sample_mean(dist, n=40_000, seed=7):
    rng = np.random.default_rng(seed)
    return float(np.mean([dist.sample(rng) for _ in range(n)]))


# --- each distribution against its closed forms ------------------------------------------------

def test_lognormal_p10_p90_round_trip():
    d = parse(dist="lognormal", p10=18, p90=36)
    assert isinstance(d, Lognormal)
    assert d.quantile(0.1) == pytest.approx(18, rel=1e-12)
    assert d.quantile(0.9) == pytest.approx(36, rel=1e-12)
    assert d.median() == pytest.approx(math.sqrt(18 * 36), rel=1e-15)
    assert d.sigma == pytest.approx(math.log(2) / (2 * Z.inv_cdf(0.9)))


def test_lognormal_median_sigma_form():
    d = parse(dist="lognormal", median=60, sigma=0.5)
    assert d.median() == 60.0
    assert d.quantile(Z.cdf(1.0)) == pytest.approx(60 * math.exp(0.5), rel=1e-12)
    assert d.mean() == pytest.approx(60 * math.exp(0.125))
    assert sample_mean(d) == pytest.approx(d.mean(), rel=0.02)


def test_triangular_median_and_quantiles():
    low, mode, high = 10.0, 12.0, 30.0
    d = parse(dist="triangular", low=low, mode=mode, high=high)
    # median: the mode is below the midpoint, so the median is high - sqrt((high - low)(high - mode) / 2)
    assert d.median() == pytest.approx(high - math.sqrt((high - low) * (high - mode) / 2))
    assert d.quantile((mode - low) / (high - low)) == pytest.approx(mode)  # the CDF at the mode
    q = 0.05
    assert d.quantile(q) == pytest.approx(low + math.sqrt(q * (high - low) * (mode - low)))
    assert sample_mean(d) == pytest.approx((low + mode + high) / 3, rel=0.01)
    mirrored = parse(dist="triangular", low=0, mode=18, high=20)
    assert mirrored.median() == pytest.approx(math.sqrt(20 * 18 / 2))


def test_uniform():
    d = parse(dist="uniform", low=5, high=9)
    assert d.median() == 7.0
    assert d.quantile(0.25) == 6.0 and d.quantile(0.9) == pytest.approx(8.6)
    assert sample_mean(d) == pytest.approx(7.0, rel=0.01)


def test_pert_mean_and_quantiles():
    low, mode, high = 2.0, 3.0, 10.0
    d = parse(dist="pert", low=low, mode=mode, high=high)
    assert isinstance(d, Pert)
    assert d.mean() == pytest.approx((low + 4 * mode + high) / 6)
    assert sample_mean(d) == pytest.approx((low + 4 * mode + high) / 6, rel=0.01)
    assert (d.alpha, d.beta) == pytest.approx((1 + 4 * 1 / 8, 1 + 4 * 7 / 8))
    # mode at the low end: Beta(1, 5), whose quantile is 1 - (1 - q)^(1/5)
    edge = parse(dist="pert", low=0, mode=0, high=1)
    for q in (0.01, 0.3, 0.5, 0.97):
        assert edge.quantile(q) == pytest.approx(1 - (1 - q) ** 0.2, abs=1e-12)
    assert parse(dist="pert", low=50, mode=60, high=70).median() == 60.0  # symmetric: exactly the mode


def test_beta_cdf_against_polynomials():
    for x in (0.05, 0.3, 0.5, 0.8):
        assert beta_cdf(x, 2, 2) == pytest.approx(3 * x ** 2 - 2 * x ** 3, abs=1e-14)
        assert beta_cdf(x, 3, 1) == pytest.approx(x ** 3, abs=1e-14)
        assert beta_cdf(x, 1, 4) == pytest.approx(1 - (1 - x) ** 4, abs=1e-14)
    assert beta_quantile(0.216, 2, 2) == pytest.approx(0.3, abs=1e-12)


def test_truncnormal():
    plain = parse(dist="truncnormal", mean=10, sd=2)
    for q in (0.01, 0.3, 0.5, 0.9):
        assert plain.quantile(q) == pytest.approx(10 + 2 * Z.inv_cdf(q), abs=1e-12)
    one_sided = parse(dist="truncnormal", mean=5, sd=2, low=0)
    a = -2.5  # (low - mean) / sd
    want = 5 + 2 * Z.pdf(a) / (1 - normal_cdf(a))
    assert one_sided.mean() == pytest.approx(want)
    assert sample_mean(one_sided) == pytest.approx(want, rel=0.01)
    assert one_sided.quantile(1e-9) >= 0
    boxed = parse(dist="truncnormal", mean=0, sd=1, low=-1, high=1)
    assert boxed.median() == 0.0
    assert boxed.quantile(0.75) == pytest.approx(Z.inv_cdf(normal_cdf(-1) + 0.75 * (normal_cdf(1) - normal_cdf(-1))))
    far = parse(dist="truncnormal", mean=0, sd=1, low=10)  # mass 7.6e-24: still exact, by the mirrored tail
    assert 10 < far.median() < 10.2 and far.quantile(0.999) < 11.5
    assert parse(dist="truncnormal", mean=0, sd=1, high=-10).median() == pytest.approx(-far.median())


def test_choice_weighted_median_and_frequencies():
    d = parse(dist="choice", values=[30, 10, 20], weights=[0.6, 0.1, 0.3])
    assert isinstance(d, Choice)
    assert d.median() == 30.0  # sorted 10 (0.1), 20 (0.4 cumulative), 30 (1.0)
    assert d.quantile(0.1) == 10.0 and d.quantile(0.4) == 20.0 and d.quantile(0.41) == 30.0
    rng = np.random.default_rng(3)
    draws = np.array([d.sample(rng) for _ in range(20_000)])
    assert np.mean(draws == 30) == pytest.approx(0.6, abs=0.015)
    assert np.mean(draws == 10) == pytest.approx(0.1, abs=0.01)
    equal = parse(dist="choice", values=[1, 2, 3, 4])
    assert equal.median() == 2.0  # the lower median


def test_round_gives_whole_numbers():
    d = parse(dist="lognormal", p10=9000, p90=30000, round=True)
    assert isinstance(d.median(), int) and d.median() == round(math.sqrt(9000 * 30000))
    assert all(isinstance(d.quantile(q), int) for q in (0.1, 0.5, 0.9))
    rng = np.random.default_rng(0)
    assert all(isinstance(d.sample(rng), int) for _ in range(50))
    assert parse(dist="uniform", low=0, high=5, round=True).median() == 3  # 2.5 rounds half up
    assert isinstance(parse(dist="uniform", low=0, high=5).median(), float)


def test_sampling_is_deterministic_and_takes_one_uniform_per_draw():
    dists = [parse(dist="lognormal", p10=1, p90=4), parse(dist="pert", low=0, mode=1, high=9),
             parse(dist="truncnormal", mean=1, sd=1, low=0), parse(dist="choice", values=[1, 2])]
    for d in dists:
        a, b = np.random.default_rng(42), np.random.default_rng(42)
        assert [d.sample(a) for _ in range(20)] == [d.sample(b) for _ in range(20)]
        rng, ref = np.random.default_rng(5), np.random.default_rng(5)
        d.sample(rng)
        ref.random()
        assert rng.random() == ref.random()  # one draw from the stream, whatever the distribution


def test_quantile_outside_open_interval_is_refused():
    with pytest.raises(ValueError):
        parse(dist="uniform", low=0, high=1).quantile(1.0)


# --- property: quantiles are monotone, the median is the 50th percentile -----------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def distributions(draw):
    kind = draw(st.sampled_from(["lognormal", "lognormal_ms", "triangular", "uniform", "truncnormal", "pert", "choice"]))
    if kind == "lognormal":
        p10 = draw(positive)
        return Lognormal.from_p10_p90(p10, p10 * draw(st.floats(min_value=1.001, max_value=100)))
    if kind == "lognormal_ms":
        return Lognormal.from_median_sigma(draw(positive), draw(st.floats(min_value=0.01, max_value=3)))
    low = draw(finite)
    high = low + draw(st.floats(min_value=1e-2, max_value=1e6))
    if kind == "uniform":
        return Uniform(low, high)
    if kind in ("triangular", "pert"):
        mode = low + (high - low) * draw(st.floats(min_value=0, max_value=1))
        return (Triangular if kind == "triangular" else Pert)(low, min(max(mode, low), high), high)
    if kind == "truncnormal":
        mean, sd = draw(finite), draw(positive)
        return TruncNormal(mean, sd, draw(st.none() | st.just(mean - 2 * sd)), draw(st.none() | st.just(mean + sd)))
    values = draw(st.lists(finite, min_size=1, max_size=6))
    weights = draw(st.lists(st.floats(min_value=0.01, max_value=10), min_size=len(values), max_size=len(values)))
    return Choice(tuple(values), tuple(weights))


@settings(max_examples=150, deadline=None)
@given(distributions(), st.lists(st.floats(min_value=1e-6, max_value=1 - 1e-6), min_size=2, max_size=8))
def test_quantile_is_monotone_and_median_is_the_50th_percentile(d, qs):
    qs = sorted(qs)
    values = [d.quantile(q) for q in qs]
    scale = max(1.0, *(abs(v) for v in values))
    assert all(b >= a - 1e-9 * scale for a, b in zip(values, values[1:]))
    assert d.median() == pytest.approx(d.quantile(0.5), rel=1e-9, abs=1e-9)
    if isinstance(d, (Uniform, Triangular, Pert)):
        assert d.low - 1e-9 * scale <= values[0] and values[-1] <= d.high + 1e-9 * scale
    if isinstance(d, TruncNormal) and d.low is not None:
        assert values[0] >= d.low - 1e-9 * scale


# --- bad specs ----------------------------------------------------------------------------------

BAD = [
    ({"dist": "gamma", "k": 2}, "unknown distribution 'gamma'"),
    ({"dist": 3}, "unknown distribution 3"),
    ({"dist": "lognormal", "p10": 36, "p90": 18}, "p10 must be below p90"),
    ({"dist": "lognormal", "p10": 5, "p90": 5}, "p10 must be below p90"),
    ({"dist": "lognormal", "p10": 0, "p90": 5}, "p10 must be greater than 0"),
    ({"dist": "lognormal", "median": -1, "sigma": 1}, "median must be greater than 0"),
    ({"dist": "lognormal", "median": 1, "sigma": 0}, "sigma must be greater than 0"),
    ({"dist": "lognormal", "p10": 1, "sigma": 1}, "needs p10 and p90, or median and sigma"),
    ({"dist": "lognormal"}, "needs p10 and p90, or median and sigma (got nothing)"),
    ({"dist": "lognormal", "p10": 1, "p90": 2, "mean": 3}, "no parameter 'mean'"),
    ({"dist": "triangular", "low": 1, "high": 3}, "missing mode"),
    ({"dist": "triangular", "low": 1, "mode": 4, "high": 3}, "mode must be between low and high"),
    ({"dist": "pert", "low": 2, "mode": 1, "high": 3}, "mode must be between low and high"),
    ({"dist": "pert", "low": 3, "mode": 3, "high": 3}, "low must be below high"),
    ({"dist": "uniform", "low": 3, "high": 3}, "low must be below high"),
    ({"dist": "uniform", "low": "3", "high": 4}, "low should be a number (got '3')"),
    ({"dist": "uniform", "low": True, "high": 4}, "low should be a number (got True)"),
    ({"dist": "uniform", "low": 0, "high": float("inf")}, "finite number (got inf)"),
    ({"dist": "uniform", "low": 0, "high": float("nan")}, "finite number (got nan)"),
    ({"dist": "truncnormal", "mean": 1, "sd": 0}, "sd must be greater than 0"),
    ({"dist": "truncnormal", "mean": 1, "sd": 1, "low": 2, "high": 1}, "low must be below high"),
    ({"dist": "truncnormal", "mean": 0, "sd": 1, "low": 60}, "leave no probability"),
    ({"dist": "choice", "values": []}, "at least one value"),
    ({"dist": "choice", "values": 3}, "should be a list of numbers"),
    ({"dist": "choice", "values": [1, "x"]}, "values[1] should be a number"),
    ({"dist": "choice", "values": [1, 2], "weights": [1]}, "2 values but 1 weights"),
    ({"dist": "choice", "values": [1, 2], "weights": [1, -1]}, "must not be negative"),
    ({"dist": "choice", "values": [1, 2], "weights": [0, 0]}, "must not all be zero"),
    ({"dist": "uniform", "low": 0, "high": 1, "round": "yes"}, "round should be true or false"),
]


@pytest.mark.parametrize(("spec", "problem"), BAD, ids=[p for _, p in BAD])
def test_bad_specs_are_refused_with_file_and_key_path(spec, problem):
    with pytest.raises(ScenarioError) as info:
        parse_distribution(spec, "child.yaml", "labs.x.delivery_lead_time_days")
    err = info.value
    assert (err.file, err.key_path) == ("child.yaml", "labs.x.delivery_lead_time_days")
    assert problem in err.problem, err.problem


def test_names_are_case_insensitive():
    assert isinstance(parse(dist="PERT", low=0, mode=1, high=2), Pert)


# --- finding and replacing distributions in a document -----------------------------------------

def test_find_and_replace_keep_dates_and_indices_and_do_not_mutate():
    spec = {"dist": "uniform", "low": 1, "high": 3}
    day = dt.date(2025, 1, 1)
    doc = {"tick_days": spec, "ramp": {"points": {day: spec}}, "runs": [{"d": 1}, {"d": spec}],
           "sites": {"dist": {"lat": 1}}}  # a section entry named 'dist' is not a distribution
    found = find_distributions(doc)
    assert [path for path, _ in found] == [("tick_days",), ("ramp", "points", day), ("runs", 1, "d")]
    out = replace_at(doc, {path: 2.0 for path, _ in found})
    assert out == {"tick_days": 2.0, "ramp": {"points": {day: 2.0}}, "runs": [{"d": 1}, {"d": 2.0}],
                   "sites": {"dist": {"lat": 1}}}
    assert doc["tick_days"] is spec and doc["runs"][1]["d"] is spec and doc["ramp"]["points"][day] is spec
    assert out["sites"] is doc["sites"]  # untouched branches are shared, not copied


# --- templates ----------------------------------------------------------------------------------

BASELINE_AT_MEDIANS = """\
extends: baseline
tick_days: {dist: uniform, low: 5, high: 9}                              # median 7, the baseline's
labs:
  openai:
    delivery_lead_time_days: {dist: lognormal, median: 60, sigma: 0.4}
sites:
  azure_2023:
    initial_gpus: {H100-SXM5: {dist: choice, values: [100000, 150000, 200000], round: true}}
plant_types:
  grid:
    lead_time_days: {dist: pert, low: 1626, mode: 1826, high: 2026}
"""
SET_AT_MEDIAN = ("hbm_suppliers.micron.tsv_wafer_capacity_wpm.points.2023-12-01="
                 "{dist: triangular, low: 2000, mode: 3000, high: 4000}")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("tpl") / "uncertain.yaml"
    path.write_text(BASELINE_AT_MEDIANS)
    return load_template(path, overrides=[SET_AT_MEDIAN])


def find(template, key_path):
    """The template's input at `key_path` (the baseline has uncertain inputs of its own)."""
    return next((i for i in template.inputs if i.key_path == key_path), None)


MINE = ["tick_days", "hbm_suppliers.micron.tsv_wafer_capacity_wpm.points.2023-12-01",
        "labs.openai.delivery_lead_time_days", "plant_types.grid.lead_time_days",
        "sites.azure_2023.initial_gpus.H100-SXM5"]


def test_template_inputs_in_document_order(template):
    keys = [i.key_path for i in template.inputs]
    assert [k for k in keys if k in MINE] == MINE  # the merged document's order (the baseline's key order)
    baseline_inputs = [i.key_path for i in load_template().inputs]
    assert [k for k in keys if k not in MINE] == baseline_inputs
    micron = find(template, MINE[1])
    assert micron.path[-1] == dt.date(2023, 12, 1) and micron.file == "--set"
    assert Path(find(template, "tick_days").file).name == "uncertain.yaml"
    assert template.name == "baseline"


def test_medians_give_the_plain_scenario(template, baseline):
    assert template.median() == baseline
    assert isinstance(template.median().sites["azure_2023"].initial_gpus["H100-SXM5"], int)


def test_load_scenario_is_the_median(template, tmp_path):
    path = tmp_path / "u.yaml"
    path.write_text(BASELINE_AT_MEDIANS)
    assert sim.load_scenario(path, overrides=[SET_AT_MEDIAN]) == template.median()


def test_sample_is_reproducible(template):
    s1, v1 = template.sample(np.random.default_rng(11))
    s2, v2 = template.sample(np.random.default_rng(11))
    assert v1 == v2 and s1 == s2
    assert list(v1) == [i.key_path for i in template.inputs]
    assert len(set(v1.values())) == len(v1)  # every input drawn, each from its own uniform
    assert s1.tick_days == v1["tick_days"] and 5 <= s1.tick_days <= 9
    assert s1.labs["openai"].delivery_lead_time_days == v1["labs.openai.delivery_lead_time_days"]
    assert s1.sites["azure_2023"].initial_gpus["H100-SXM5"] in (100000, 150000, 200000)
    _, v3 = template.sample(np.random.default_rng(12))
    assert v3 != v1


def test_at_sets_one_input_and_leaves_the_rest_at_median(template):
    s = template.at({"tick_days": 5.5})
    assert s.tick_days == 5.5
    assert s.labs["openai"].delivery_lead_time_days == 60.0
    s = template.at({"sites.azure_2023.initial_gpus.H100-SXM5": 123456.7})  # round: true rounds it
    assert s.sites["azure_2023"].initial_gpus["H100-SXM5"] == 123457
    with pytest.raises(ScenarioError, match="not an uncertain input"):
        template.at({"end_date": 3})
    with pytest.raises(ScenarioError) as info:
        template.at({"tick_days": 40})
    assert info.value.key_path == "tick_days" and "less than or equal to 31" in info.value.problem


def test_set_may_give_a_distribution():
    t = load_template(overrides=["tick_days={dist: uniform, low: 5, high: 9}"])
    assert (find(t, "tick_days").file, find(t, "tick_days").distribution) == ("--set", Uniform(5.0, 9.0))
    assert sim.load_scenario(overrides=["tick_days={dist: uniform, low: 5, high: 8}"]).tick_days == 6.5
    with pytest.raises(ScenarioError) as info:
        load_template(overrides=["tick_days={dist: uniform, low: 9, high: 5}"])
    assert (info.value.file, info.value.key_path) == ("--set", "tick_days")


def test_a_set_may_change_one_parameter_of_a_distribution(tmp_path):
    path = tmp_path / "u.yaml"
    path.write_text("extends: baseline\ntick_days: {dist: uniform, low: 5, high: 9}\n")
    t = load_template(path, overrides=["tick_days.high=7"])
    assert find(t, "tick_days").distribution == Uniform(5.0, 7.0)


def test_extends_replaces_a_distribution_whole_and_blames_the_file_that_wrote_it(tmp_path):
    parent = tmp_path / "parent.yaml"
    parent.write_text("extends: baseline\ntick_days: {dist: lognormal, p10: 5, p90: 9}\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent.yaml\ntick_days: {dist: uniform, low: 4, high: 6}\n")
    assert find(load_template(child), "tick_days").distribution == Uniform(4.0, 6.0)
    child.write_text("extends: parent.yaml\ntick_days: 3\n")
    assert find(load_template(child), "tick_days") is None and sim.load_scenario(child).tick_days == 3
    child.write_text("extends: parent.yaml\ntick_days: {p90: 12}\n")  # a tweak: merged into the parent's
    assert find(load_template(child), "tick_days").distribution.quantile(0.9) == pytest.approx(12)
    parent.write_text("extends: baseline\ntick_days: {dist: lognormal, p10: 9, p90: 5}\n")
    child.write_text("extends: parent.yaml\nname: child\n")
    with pytest.raises(ScenarioError) as info:
        load_template(child)
    assert (Path(info.value.file), info.value.key_path) == (parent, "tick_days")


def test_whole_number_key_without_round_says_how_to_fix(tmp_path):
    path = tmp_path / "u.yaml"
    path.write_text("extends: baseline\nsites:\n  azure_2023:\n    initial_gpus:\n"
                    "      H100-SXM5: {dist: uniform, low: 100000, high: 200000}\n")
    with pytest.raises(ScenarioError, match="use round: true for whole numbers"):
        load_template(path)
    path.write_text(path.read_text().replace("high: 200000}", "high: 200000, round: true}"))
    assert load_template(path).median().sites["azure_2023"].initial_gpus["H100-SXM5"] == 150000


def test_a_draw_outside_the_schema_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "u.yaml"
    path.write_text("extends: baseline\nlabs:\n  openai:\n"
                    "    delivery_lead_time_days: {dist: choice, values: [60, 60, -1]}\n")
    t = load_template(path)  # its median (60) is fine
    rng = np.random.default_rng(0)
    with pytest.raises(ScenarioError) as info:
        for _ in range(200):
            t.sample(rng)
    err = info.value
    assert (Path(err.file), err.key_path) == (path, "labs.openai.delivery_lead_time_days")
    assert "greater than or equal to 0 (got -1.0)" in err.problem


def test_cli_refuses_a_bad_distribution_in_set(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "sim", "run", "--out", str(out),
                           "--set", "tick_days={dist: triangular, low: 5, mode: 10, high: 9}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "error: --set: tick_days: triangular mode must be between low and high " \
                          "(got low=5, mode=10, high=9)\n"
    assert not out.exists()


def test_the_readme_distribution_example_loads(tmp_path):
    readme = Path(__file__).resolve().parents[1] / "README.md"
    section = readme.read_text().split("### Uncertain numbers", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.yaml"
    path.write_text("extends: baseline\n" + example)
    t = load_template(path)
    assert find(t, "labs.openai.delivery_lead_time_days").distribution.kind == "lognormal"
    assert find(t, "sites.azure_2023.initial_gpus.H100-SXM5").distribution.kind == "triangular"
    assert isinstance(t.median().sites["azure_2023"].initial_gpus["H100-SXM5"], int)
