"""The metrics registry (sim/metrics.py) is the one list of what is recorded: every recorded metric is
in it with its unit, and nothing in it is stale."""
from __future__ import annotations

import pytest

import sim
from sim import metrics
from sim.config.loading import packaged_scenario

TIMESERIES_KINDS = ("product", "supply", "lab", "site", "world", "disruption", "equipment", "plant_type", "region")


@pytest.fixture(scope="module")
def disrupted_result():
    return sim.run(sim.load_scenario(packaged_scenario("stress/random_disruptions")), seed=3)


def test_every_recorded_metric_is_registered_with_its_unit(baseline_result, disrupted_result):
    for result in (baseline_result, disrupted_result):
        ts = result.timeseries
        assert list(ts.columns) == ["date", "entity", "kind", "metric", "value", "unit"]
        for (kind, name), units in ts.groupby(["kind", "metric"])["unit"]:
            assert set(units) == {metrics.unit(kind, name)}, (kind, name)


def test_no_registered_timeseries_metric_is_stale(baseline_result, disrupted_result):
    recorded = set()
    for result in (baseline_result, disrupted_result):
        recorded |= set(zip(result.timeseries["kind"], result.timeseries["metric"]))
    registered = {(m.kind, m.name) for m in metrics.METRICS if m.kind in TIMESERIES_KINDS}
    assert registered == recorded


def test_run_and_frontier_metrics_are_columns_of_their_files(baseline_result):
    assert {m.name for m in metrics.of_kind("run")} <= set(baseline_result.runs.columns)
    assert {m.name for m in metrics.of_kind("frontier")} <= set(baseline_result.frontier.columns)


def test_each_metric_is_defined_once_with_a_kind_a_unit_and_a_description():
    keys = [(m.kind, m.name) for m in metrics.METRICS]
    assert len(keys) == len(set(keys))
    for m in metrics.METRICS:
        assert m.kind in metrics.KINDS and m.unit and len(m.description.split()) >= 3, m
    with pytest.raises(KeyError, match="not in sim/metrics.py"):
        metrics.metric("world", "no_such_metric")


def test_every_sweep_band_has_a_drawing():
    from sim.outputs.plots import BAND_DISPLAY, BAND_DRAWING

    assert set(BAND_DRAWING) == {m.name for m in metrics.of_kind("sweep")} == set(BAND_DISPLAY)


def test_band_metrics_are_world_metrics():
    for name in metrics.BAND_METRICS:
        assert metrics.metric("world", name).unit == metrics.metric("sweep", name).unit
