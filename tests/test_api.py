"""sim's Python interface: typed tables (datetime64 dates, NaT for none, lists, categoricals) whose files
stay the text they were, a short repr, Parquet and xarray, sweeps in memory, FLOP thresholds."""
from __future__ import annotations

import io
import json
import sys

import numpy as np
import pandas as pd
import pytest

import sim
import sim.outputs.tables as tables
from sim.cli import main
from sim.outputs.study_plots import threshold_curves
from sim.studies.sweep import THRESHOLDS_FLOP

SHORT = ["end_date=2026-12-31"]  # three years: a second to run, with runs still going and sites not yet online
SHORTER = ["end_date=2025-06-30"]  # for sweeps: a fraction of a second a replication


@pytest.fixture(scope="module")
def short_result():
    return sim.run(sim.load_scenario(overrides=SHORT), seed=0)


def text_of(result, name: str) -> pd.DataFrame:
    """A table as its file holds it, every field as written."""
    return pd.read_csv(io.StringIO(result.files()[f"{name}.csv"]), dtype=str, keep_default_na=False)


# --- typed tables ---------------------------------------------------------------------------------

def test_dates_are_datetime64_and_none_is_nat(short_result):
    for name, columns in tables.DATE_COLUMNS.items():
        typed, text = getattr(short_result, name), text_of(short_result, name)
        for col in columns:
            assert pd.api.types.is_datetime64_dtype(typed[col]), (name, col, typed[col].dtype)
            assert (typed[col].isna().to_numpy() == (text[col] == "").to_numpy()).all(), (name, col)
            written = typed[col].dropna().dt.strftime("%Y-%m-%d").tolist()
            assert written == text[col][text[col] != ""].tolist(), (name, col)
    assert short_result.buildout["online"].isna().any()  # sites not yet online by the end date: NaT


def test_an_empty_date_becomes_nat_and_back():
    text = pd.DataFrame({"run": ["a", "b"], "start": ["2025-03-01", ""], "end": ["", ""],
                         "sites": ["x;y", ""], "gpu_types": ["H100", ""], "lab": ["l", "l"]})
    typed = tables.typed_table("runs", text)
    assert typed["start"].tolist()[0] == pd.Timestamp("2025-03-01") and typed["start"].isna().tolist() == [False, True]
    assert typed["end"].isna().all() and pd.api.types.is_datetime64_dtype(typed["end"])
    assert typed["sites"].tolist() == [["x", "y"], []]
    pd.testing.assert_frame_equal(tables.text_table("runs", typed), text, check_dtype=False, check_categorical=False)


def test_sites_and_gpu_types_are_lists_of_names(short_result):
    runs, text = short_result.runs, text_of(short_result, "runs")
    for col in tables.LIST_COLUMNS["runs"]:
        assert all(isinstance(v, list) and all(isinstance(n, str) for n in v) for v in runs[col]), col
        assert [";".join(v) for v in runs[col]] == text[col].tolist(), col
    assert (runs["gpu_types"].map(len) > 1).any() and (runs["sites"].map(len) > 1).any()


def test_names_are_categoricals(short_result):
    for name, columns in tables.CATEGORY_COLUMNS.items():
        table = getattr(short_result, name)
        for col in columns:
            assert isinstance(table[col].dtype, pd.CategoricalDtype), (name, col, table[col].dtype)
    assert set(short_result.runs["status"].cat.categories) >= {"completed", "running_at_end"}


def test_files_are_byte_identical_to_the_string_tables(short_result, monkeypatch):
    """The typed Result writes exactly what a Result holding the text tables (no conversion) writes."""
    monkeypatch.setattr(tables, "typed_table", lambda name, text: text)
    untyped = sim.run(sim.load_scenario(overrides=SHORT), seed=0)
    assert untyped.runs["start"].dtype == object or pd.api.types.is_string_dtype(untyped.runs["start"])
    assert short_result.files() == untyped.files()
    for name in tables.TABLES:
        pd.testing.assert_frame_equal(tables.text_table(name, getattr(short_result, name)), getattr(untyped, name),
                                      check_dtype=False, check_categorical=False)


def test_repr_is_one_short_line(short_result):
    text = repr(short_result)
    assert len(text) < 300 and "\n" not in text, text
    best = short_result.summary["largest_run_completed"]
    assert "'baseline'" in text and "seed 0" in text and best["run"] in text and f"{len(short_result.runs)} runs" in text


def test_html_repr_shows_dates_as_the_files_do(short_result):
    html = short_result._repr_html_()
    assert short_result.summary["largest_run_completed"]["end"] in html and "NaT" not in html


# --- Parquet and xarray ---------------------------------------------------------------------------

def test_parquet_round_trip_keeps_the_types(short_result, tmp_path):
    paths = short_result.to_parquet(tmp_path / "pq")
    assert sorted(p.name for p in paths) == sorted([*(f"{n}.parquet" for n in tables.TABLES), "summary.json"])
    assert sorted(p.name for p in (tmp_path / "pq").iterdir()) == sorted(p.name for p in paths)  # no leftovers
    for name in tables.TABLES:
        back = pd.read_parquet(tmp_path / "pq" / f"{name}.parquet")
        for col in tables.LIST_COLUMNS.get(name, ()):
            back[col] = back[col].map(list)
        pd.testing.assert_frame_equal(back, getattr(short_result, name), check_categorical=False)
        for col in tables.CATEGORY_COLUMNS[name]:
            assert isinstance(back[col].dtype, pd.CategoricalDtype), (name, col)
    assert json.loads((tmp_path / "pq" / "summary.json").read_text()) == json.loads(short_result.files()["summary.json"])
    again = short_result.to_parquet(tmp_path / "pq2")
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]  # deterministic


def test_xarray_dataset_of_the_timeseries(short_result):
    ds = short_result.to_xarray()
    ts = short_result.timeseries
    assert set(ds.dims) == {"date", "entity"}
    assert ds.sizes["date"] == ts["date"].nunique() and ds.sizes["entity"] == ts["entity"].nunique()
    assert set(ds.data_vars) == set(ts["metric"].astype(str))
    row = ts[(ts["kind"] == "lab") & (ts["metric"] == "flop_inference")].iloc[-1]
    assert float(ds["flop_inference"].sel(date=row["date"], entity=row["entity"])) == row["value"]
    assert str(ds["kind"].sel(entity=row["entity"]).item()) == "lab"
    assert ds["flop_inference"].attrs["unit"] == row["unit"]
    assert int(ds["flop_inference"].notnull().sum()) == int(((ts["metric"] == "flop_inference")).sum())


@pytest.mark.parametrize("module, extra, method", [("pyarrow", "parquet", "to_parquet"), ("xarray", "xarray", "to_xarray")])
def test_a_missing_extra_says_how_to_install_it(short_result, tmp_path, monkeypatch, module, extra, method):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    args = (tmp_path / "out",) if method == "to_parquet" else ()
    with pytest.raises(ImportError, match=rf'pip install "sim-buildout\[{extra}\]"'):
        getattr(short_result, method)(*args)
    assert not (tmp_path / "out").exists()


# --- sweeps in memory -----------------------------------------------------------------------------

def test_sweep_in_memory_writes_nothing_and_repeats(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = sim.sweep(None, n=4, overrides=SHORTER)
    assert list(tmp_path.iterdir()) == []
    assert isinstance(first, sim.SweepResult) and "sweep" in sim.__all__ and "SweepResult" in dir(sim)
    assert first.replications["replication"].tolist() == [0, 1, 2, 3]
    assert first.thresholds["threshold_flop"].tolist() == list(THRESHOLDS_FLOP)
    assert {"date", "metric", "p10", "p50", "p90", "mean"} <= set(first.bands.columns)
    assert len(repr(first)) < 300 and "\n" not in repr(first)
    second = sim.sweep(None, n=4, overrides=SHORTER, workers=2)
    for name, table in first.tables().items():
        pd.testing.assert_frame_equal(table, second.tables()[name])
    assert list(tmp_path.iterdir()) == []


def test_sweep_with_out_writes_the_same_tables(tmp_path):
    kept = sim.sweep(None, n=2, overrides=SHORTER, out=tmp_path / "sweep")
    assert {"bands.csv", "thresholds.csv", "replications.csv", "sweep.json"} <= {p.name for p in (tmp_path / "sweep").iterdir()}
    memory = sim.sweep(None, n=2, overrides=SHORTER)
    for name, table in memory.tables().items():
        pd.testing.assert_frame_equal(table, kept.tables()[name])
        written = pd.read_csv(tmp_path / "sweep" / f"{name}.csv", keep_default_na=False)
        assert list(written.columns) == [str(c) for c in table.columns]


def test_sweep_thresholds_replace_the_default(tmp_path):
    result = sim.sweep(None, n=1, overrides=SHORTER, thresholds=[2e29, 2.5e25, 2e29])
    assert result.thresholds["threshold_flop"].tolist() == [2.5e25, 2e29]  # sorted, without repeats
    assert {"first_run_at_or_above_2.5e+25", "first_run_at_or_above_2e+29"} <= set(result.replications.columns)
    assert result.thresholds.set_index("threshold_flop").loc[2.5e25, "p_by_2024"] == 1.0  # the 2024 runs pass 2.5e25
    for bad in ([0], [-1e29], [float("nan")], [float("inf")], ["x"], []):
        with pytest.raises(ValueError):
            sim.sweep(None, n=1, overrides=SHORTER, thresholds=bad)
    with pytest.raises(ValueError, match="n: must be"):
        sim.sweep(None, n=0)


def test_cli_threshold_is_recorded_and_resumed(tmp_path, capsys):
    out = tmp_path / "sweep"
    base = ["sweep", "-n", "1", "--set", SHORTER[0], "--out", str(out), "--quiet"]
    assert main([*base, "--threshold", "2e29", "--threshold", "2.5e25"]) == 0
    assert json.loads((out / "sweep.json").read_text())["thresholds_flop"] == [2.5e25, 2e29]
    assert pd.read_csv(out / "thresholds.csv")["threshold_flop"].tolist() == [2.5e25, 2e29]
    assert main([*base, "--resume"]) == 0  # without --threshold: the sweep's own
    assert pd.read_csv(out / "thresholds.csv")["threshold_flop"].tolist() == [2.5e25, 2e29]
    capsys.readouterr()
    assert main([*base, "--resume", "--threshold", "1e26"]) == 2
    assert "--threshold differs" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["abc", "0", "-1e29", "nan", "inf"])
def test_cli_refuses_a_bad_threshold(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "-n", "1", f"--threshold={value}", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("error: --threshold: must be a positive FLOP value")
    assert err.count("\n") == 1 and not (tmp_path / "s").exists()


def test_threshold_curves_are_steps():
    table = pd.DataFrame({"threshold_flop": [1e26, 1e27], "replications": [4, 4], "p_by_2024": [0.25, 0.0],
                          "p_by_2025": [1.0, 0.5], "p_by_2026": [1.0, 0.75]})
    fig = threshold_curves(table)
    lines = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("≥")]
    assert len(lines) == 2 and all(line.get_drawstyle() == "steps-post" for line in lines)
    assert np.allclose(lines[1].get_ydata(), [0.0, 0.5, 0.75])
