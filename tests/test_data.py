"""The reference tables shipped in sim/data: they load, every row names a source cited in
docs/sources.md, and the catalog agrees with the baseline scenario's GPU products."""
from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import pytest

import sim.data
from sim.config.loading import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SOURCES_MD = ROOT / "docs" / "sources.md"

# Columns of the catalog holding a number, with the unit each name carries (counts have none).
UNIT_SUFFIXES = ("_flop_s", "_gb", "_bytes_s", "_mm2", "_w")
COUNT_COLUMNS = {"hbm_stacks", "dies_per_gpu", "packages_per_cowos_wafer"}


@pytest.fixture(scope="module")
def catalog() -> list[dict[str, str]]:
    return sim.data.read_table("hardware")


def _cited_keys() -> set[str]:
    """The keys docs/sources.md defines: each entry starts `- **key**`."""
    return set(re.findall(r"^- \*\*(.+?)\*\*", SOURCES_MD.read_text(encoding="utf-8"), flags=re.M))


def test_shipped_tables_are_listed():
    assert {"hardware", "supply", "power"} <= set(sim.data.tables())


def test_catalog_loads_one_row_per_product(catalog):
    names = [row["name"] for row in catalog]
    assert len(names) >= 5 and len(set(names)) == len(names), names
    assert {"A100-SXM4-80GB", "H100-SXM5", "H200-SXM", "B200", "GB200-per-GPU"} <= set(names)
    for row in catalog:
        dt.date.fromisoformat(row["available_from"])
        assert float(row["bf16_dense_flop_s"]) > 0, row["name"]


def test_catalog_numeric_columns_carry_units_and_parse(catalog):
    text_columns = {"name", "available_from", "package", "source", "notes"}
    numeric = [c for c in catalog[0] if c not in text_columns]
    for column in numeric:
        assert column in COUNT_COLUMNS or column.endswith(UNIT_SUFFIXES), f"no unit in column name {column!r}"
        for row in catalog:
            if row[column]:
                assert float(row[column]) > 0, (row["name"], column)


@pytest.mark.parametrize("table", ["hardware", "supply", "power"])
def test_every_row_names_a_source(table):
    for row in sim.data.read_table(table):
        assert row["source"].strip(), row


@pytest.mark.parametrize("table", ["hardware", "supply", "power"])
def test_every_source_key_is_cited_in_docs_sources(table):
    keys = sim.data.sources(table)
    assert keys
    missing = sorted(set(keys) - _cited_keys())
    assert not missing, f"{table}.csv cites keys missing from docs/sources.md: {missing}"


def test_sources_lists_each_key_once():
    keys = sim.data.sources("hardware")
    assert len(keys) == len(set(keys))
    assert "Epoch 2030" in keys and "NVIDIA H100 datasheet" in keys


def test_unknown_table_is_refused():
    with pytest.raises(KeyError):
        sim.data.read_table("no_such_table")
    assert sim.data.read_table("hardware.csv") == sim.data.read_table("hardware")


def test_catalog_h100_matches_the_baseline_scenario(catalog):
    """The baseline's H100-SXM5 is the catalog's, field by field (every field both have)."""
    _assert_matches(catalog, "H100-SXM5")


@pytest.mark.parametrize("name", ["H200-SXM", "B200", "GB200-per-GPU"])
def test_catalog_matches_the_baseline_for_its_other_products(catalog, name):
    _assert_matches(catalog, name)


def _assert_matches(catalog: list[dict[str, str]], name: str) -> None:
    row = next(r for r in catalog if r["name"] == name)
    gpu = load_scenario().gpu_types[name]
    shared = [f for f in type(gpu).model_fields if f in row and row[f] != ""]
    assert {"available_from", "bf16_dense_flop_s", "fp8_dense_flop_s", "all_in_it_w", "hbm_stacks",
            "die_area_mm2", "dies_per_gpu", "packages_per_cowos_wafer"} <= set(shared), shared
    for field in shared:
        value = getattr(gpu, field)
        if isinstance(value, dt.date):
            assert value == dt.date.fromisoformat(row[field]), (name, field)
        else:
            assert value == pytest.approx(float(row[field]), rel=1e-12), (name, field)


def test_package_data_ships_the_tables():
    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "*.csv" in project["tool"]["setuptools"]["package-data"]["sim.data"]
