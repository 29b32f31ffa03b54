"""Hostile scenario files and --set values: YAML resource limits, dates and magnitudes, messages in
the user's terms, and paths (extends:, topology:, the scenario's name).

Each case in CASES writes its bad file(s) into tmp_path (FIFOs, symlink loops, /dev/zero, a 2 MB file,
an alias bomb built as text), runs the real `sim run` in a subprocess and checks the refusal contract
of refusal.py: one line `error: WHERE: what is wrong`, exit status 2, no traceback, nothing written.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

import sim
from refusal import Case, assert_refused, run_sim
from sim.config.yaml_io import load_text

BASE = "extends: baseline\n"  # the shipped baseline, by name


@dataclass
class Call:
    """What to run: `sim run ARGS --out OUT` (OUT added unless `out` is False), from `cwd`."""

    args: list[str]
    out: bool = True
    cwd: Path | None = None
    untouched: tuple[Path, ...] = ()


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def scenario(body: str) -> Callable[[Path], Call]:
    """A case whose one file is the baseline plus `body`."""
    return lambda tmp: Call([str(write(tmp, "bad.yaml", BASE + body))])


def raw(text: str) -> Callable[[Path], Call]:
    """A case whose one file is `text` exactly."""
    return lambda tmp: Call([str(write(tmp, "bad.yaml", text))])


def sets(*assignments: str) -> Callable[[Path], Call]:
    """A case made of --set assignments on the baseline."""
    return lambda tmp: Call([arg for a in assignments for arg in ("--set", a)])


def extends_to(make_target: Callable[[Path], str]) -> Callable[[Path], Call]:
    """A scenario whose `extends:` names what `make_target` made (a path)."""
    return lambda tmp: Call([str(write(tmp, "child.yaml", f"extends: {make_target(tmp)}\n"))])


def topology_to(make_target: Callable[[Path], str]) -> Callable[[Path], Call]:
    """A baseline scenario whose `topology:` names what `make_target` made (a path)."""
    return lambda tmp: Call([str(write(tmp, "child.yaml", f"{BASE}topology: {make_target(tmp)}\n"))])


def fifo(tmp: Path) -> str:
    os.mkfifo(tmp / "pipe.yaml")
    return str(tmp / "pipe.yaml")


def symlink_loop(tmp: Path) -> str:
    os.symlink(tmp / "loop_b.yaml", tmp / "loop_a.yaml")
    os.symlink(tmp / "loop_a.yaml", tmp / "loop_b.yaml")
    return str(tmp / "loop_a.yaml")


def folder(tmp: Path) -> str:
    (tmp / "a_folder.yaml").mkdir()
    return str(tmp / "a_folder.yaml")


def two_megabytes(tmp: Path) -> str:
    """A valid scenario padded with a comment to 2 MB."""
    return str(write(tmp, "big.yaml", BASE + "# " + "x" * 2_000_000 + "\n"))


def alias_bomb(levels: int = 9, indent: str = "", flow: bool = False) -> str:
    """A billion laughs: each level a list of ten aliases to the level below (10**levels leaves);
    block lines under `indent`, or one flow mapping (for --set)."""
    items = ["x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        items.append(f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 10) + "]")
    if flow:
        return "{" + ", ".join(items) + "}"
    return "".join(f"{indent}{item}\n" for item in items)


def merge_bomb() -> str:
    """An alias bomb through merge keys: each mapping merges the one below ten times over a list."""
    lines = ["m0: &m0 {" + ", ".join(f"k{j}: {j}" for j in range(10)) + "}"]
    for i in range(1, 9):
        lines.append(f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 10) + f"], own{i}: 1}}")
    return "\n".join(lines) + "\n"


def chain_to_dev_zero(tmp: Path) -> Call:
    """child -> middle -> /dev/zero: the middle file (whose extends names the device) is at fault."""
    write(tmp, "middle.yaml", "extends: /dev/zero\nname: middle\n")
    return Call([str(write(tmp, "child.yaml", "extends: middle.yaml\nname: child\n"))])


def random_outage(name: str, rate: str) -> str:
    """One random fab outage (a list item under `disruptions:`) at `rate` a year."""
    return (f"  - {{name: {name}, kind: fab_outage, target: all, rate_per_year: {rate}, duration_days: 1,"
            " capacity_factor: 0.5}\n")


def fab_ramp(growth: str) -> str:
    """The logic fab's capacity as a ramp from 2024 growing `growth` a year."""
    return ("logic_fabs:\n  tsmc_advanced:\n    wafer_capacity_wpm:\n"
            f"      {{points: {{2024-01-01: 180000}}, growth_per_year_after: {growth}}}\n")


def latin1(tmp: Path) -> Call:
    (tmp / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    return Call([str(tmp / "latin1.yaml")])


def name_without_out(name: str) -> Callable[[Path], Call]:
    """A scenario named `name`, run without --out (the name picks results/NAME) from tmp/work."""
    def make(tmp: Path) -> Call:
        work = tmp / "work"
        work.mkdir()
        path = write(tmp, "named.yaml", f"{BASE}name: {name}\n")
        return Call([str(path)], out=False, cwd=work,
                    untouched=(work / "results", tmp / "escape", tmp / "work" / "escape"))
    return make


# One builder per case (by case name); each line's comment says what the case attacks.
BUILD: dict[str, Callable[[Path], Call]] = {}
CASES: list[Case] = []


def case(category: str, name: str, says: tuple[str, ...], build: Callable[[Path], Call]) -> None:
    CASES.append(Case(category, name, says))
    BUILD[name] = build


# --- yaml: resource limits and YAML features ------------------------------------------------------
# billion laughs: 1e9 leaves from 1 kB
case("yaml", "alias_bomb", ("line", "too large", "50,000 YAML nodes"), raw("description: ok\n" + alias_bomb()))
# bomb among real keys (the walk over distributions would visit every leaf)
case("yaml", "alias_bomb_under_a_key", ("line", "too large"), scenario("labs:\n" + alias_bomb(indent="  ")))
# bomb built from merge keys, not plain aliases
case("yaml", "merge_key_bomb", ("line", "too large"), raw(merge_bomb()))
# alias inside the list it names (RecursionError before)
case("yaml", "self_alias_list", ("line 2", "recursive structure"), scenario("sites: &loop [*loop]\n"))
# mapping containing itself
case("yaml", "self_alias_mapping", ("recursive structure",), scenario("labs: &labs\n  openai: *labs\n"))
# a mapping merging itself
case("yaml", "self_merge", ("recursive structure",), scenario("frontier: &f\n  <<: *f\n  duration_days: 90\n"))
# 20,000 nested brackets (RecursionError before)
case("yaml", "nested_brackets_20000", ("line 1", "nest"), raw("[" * 20_000 + "]" * 20_000 + "\n"))
# 150 levels of indentation
case("yaml", "nested_block_mappings", ("nested more than 100 levels",),
     raw("".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "v\n"))
# each part 60 deep, 120 with the alias expanded
case("yaml", "nested_through_aliases", ("expanded",),
     raw("a: &a " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 60 + "*a" + "]" * 60 + "\n"))
# 120 kB of one flat list
case("yaml", "flat_list_60000", ("too large", "50,000"),
     scenario("description: [" + ",".join(["0"] * 60_000) + "]\n"))
# code execution through a tag
case("yaml", "object_tag", ("tag !!python/object/apply:os.system is not allowed",),
     scenario("description: !!python/object/apply:os.system ['echo pwned']\n"))
# two merge keys in one mapping
case("yaml", "duplicate_merge_keys", ("duplicate key '<<'",),
     scenario("frontier:\n  <<: {duration_days: 90}\n  <<: {duration_days: 91}\n"))
# << given something that cannot merge
case("yaml", "merge_of_a_number", ("merge key", "not a scalar"), scenario("frontier:\n  <<: 5\n"))
# a tag its constructor cannot read (ValueError traceback before)
case("yaml", "tag_misuse", ("tick_days", "cannot read seven as !!int"), scenario("tick_days: !!int seven\n"))
# alias to no anchor
case("yaml", "undefined_alias", ("line 2", "undefined alias"), scenario("description: *nowhere\n"))
# a stream of two scenarios
case("yaml", "two_documents", ("single document",), raw(BASE + "---\n" + BASE))
# deep nesting through --set
case("yaml", "set_nested_value", ("--set", "nest"), sets("labs=" + "[" * 500 + "]" * 500))
# a bomb as a --set value
case("yaml", "set_alias_bomb", ("--set", "too large"), sets("description=" + alias_bomb(flow=True)))

# --- dates_magnitudes ---------------------------------------------------------------------------
# impossible calendar date (ValueError traceback before)
case("dates_magnitudes", "february_30", ("start_date", "2024-02-30 is not a real date"),
     scenario("start_date: 2024-02-30\n"))
# impossible time of day
case("dates_magnitudes", "hour_25", ("end_date", "not a real date and time"),
     scenario("end_date: 2030-01-01 25:00:00\n"))
# year 0 does not exist
case("dates_magnitudes", "year_zero", ("start_date", "not a real date"), scenario("start_date: 0000-01-01\n"))
# year past 9999
case("dates_magnitudes", "year_10000", ("end_date", "should be a date"), scenario("end_date: 10000-01-01\n"))
# date outside the modelled era
case("dates_magnitudes", "date_before_1900",
     ("sites.colossus.construction_start", "from 1900-01-01 to 2200-12-31"),
     scenario("sites:\n  colossus: {construction_start: 1800-01-01}\n"))
# impossible date through --set (internal error before)
case("dates_magnitudes", "set_february_30", ("--set: start_date", "not a real date"),
     sets("start_date=2024-02-30"))
# past Python's int-to-str limit
case("dates_magnitudes", "integer_5000_digits", ("sites.colossus.facility_mw", "number too long"),
     scenario("sites:\n  colossus: {facility_mw: " + "9" * 5000 + "}\n"))
# YAML 1.1 base-60 integer (a long bigint loop)
case("dates_magnitudes", "sexagesimal_huge", ("number too long",),
     scenario("tick_days: " + ":".join(["1"] * 5000) + "\n"))
# a literal that overflows to inf
case("dates_magnitudes", "float_literal_overflow", ("tick_days", "finite number (got inf)"),
     scenario("tick_days: 1e400\n"))
# 52 GiB of occurrences before
case("dates_magnitudes", "rate_per_year_1e9", ("disruptions.0.rate_per_year", "less than or equal to 365"),
     scenario("disruptions:\n" + random_outage("d", "1e9")))
# many daily disruptions together
case("dates_magnitudes", "expected_occurrences", ("disruptions.3.rate_per_year", "at most 10,000"),
     scenario("disruptions:\n" + "".join(random_outage(f"d{i}", "365") for i in range(30))))
# 1e9 ticks (hung before)
case("dates_magnitudes", "tick_one_microday", ("tick_days", "greater than or equal to 1"),
     scenario("tick_days: 1e-6\n"))
# a horizon of centuries
case("dates_magnitudes", "horizon_175_years", ("end_date", "at most 50 years"), scenario("end_date: 2199-01-01\n"))
# a count past int64-safe magnitudes
case("dates_magnitudes", "initial_gpus_1e18", ("initial_gpus.H100-SXM5", "less than or equal to 1e15"),
     scenario("sites:\n  meta_2023:\n    initial_gpus: {H100-SXM5: 1000000000000000000}\n"))
# a run ending past year 9999 (OverflowError before)
case("dates_magnitudes", "run_duration_1e15", ("runs.0.duration_days", "less than or equal to 36525"),
     sets("runs.0.duration_days=1e15"))
# capacity overflowing to inf (NaN crash before)
case("dates_magnitudes", "growth_1e300", ("growth_per_year_after", "less than or equal to 10"),
     scenario(fab_ramp("1e300")))
# allowed growth, compounding over decades
case("dates_magnitudes", "growth_compounding", ("growth_per_year_after", "grows the capacity past 1e15"),
     scenario("end_date: 2070-12-31\n" + fab_ramp("10")))
# inf FLOP (OverflowError before)
case("dates_magnitudes", "flops_1e300", ("gpu_types.H100-SXM5.bf16_dense_flop_s", "less than or equal to 1e21"),
     sets("gpu_types.H100-SXM5.bf16_dense_flop_s=1e300"))
# infinite GPUs per MW
case("dates_magnitudes", "watts_tiny", ("all_in_it_w", "greater than or equal to 1"),
     sets("gpu_types.B200.all_in_it_w=1e-300"))
# math range error before
case("dates_magnitudes", "wafer_diameter_1e300", ("wafer_diameter_mm", "less than or equal to 1000"),
     sets("logic_fabs.tsmc_advanced.wafer_diameter_mm=1e300"))
# a 1e15-day pipeline (memory error before)
case("dates_magnitudes", "cycle_time_1e15", ("cycle_time_days", "less than or equal to 36525"),
     sets("packaging_lines.tsmc_cowos.cycle_time_days=1e15"))
# quantiles overflowing a float
case("dates_magnitudes", "lognormal_sigma_huge", ("lognormal spread too wide",),
     sets("frontier.duration_days={dist: lognormal, median: 180, sigma: 1e300}"))

# --- messages: the user's terms, never Python's ---------------------------------------------------
# dict repr {'a': 1} before
case("messages", "date_given_a_mapping", ("start_date", "(got {a: 1})"), scenario("start_date: {a: 1}\n"))
# dict repr through --set
case("messages", "set_number_given_a_mapping", ("--set: tick_days", "(got {a: 1})"), sets("tick_days={a: 1}"))
# [datetime.date(2024, 1, 1)] before
case("messages", "set_date_given_a_list_of_dates", ("--set: start_date", "(got [2024-01-01])"),
     sets("start_date=[2024-01-01]"))
# a mapping where a mapping of mappings goes
case("messages", "set_labs_given_a_mapping", ("--set: labs.a", "should be a mapping"), sets("labs={a: 1}"))
# a list where a mapping goes
case("messages", "mapping_given_a_list", ("labs", "(got [openai, meta])"), scenario("labs: [openai, meta]\n"))
case("messages", "share_of_an_unknown_family", ("labs.meta.share_of_output.gpus", "'gpu', 'tpu', 'trainium' or 'other'"),
     sets("labs.meta.share_of_output={gpus: 0.2}"))
case("messages", "share_of_a_family_given_a_word", ("labs.meta.share_of_output.gpu", "(got 'lots')"),
     sets("labs.meta.share_of_output={gpu: lots}"))
# a datetime where a date goes
case("messages", "date_given_a_time", ("start_date", "(got 2024-01-01 10:00:00)"),
     scenario("start_date: 2024-01-01 10:00:00\n"))
# None in place of null
case("messages", "date_given_null", ("gpu_types.B200.available_from", "(got null)"),
     scenario("gpu_types:\n  B200: {available_from: null}\n"))
# YAML 1.1 reads yes as a boolean
case("messages", "number_given_yes", ("tick_days", "should be a valid number (got True)"),
     scenario("tick_days: yes\n"))
# a list where text goes
case("messages", "text_given_a_list", ("description", "should be text (got [1, 2])"),
     scenario("description: [1, 2]\n"))
# b'hello' before
case("messages", "text_given_binary", ("description", "binary data"), scenario("description: !!binary aGVsbG8=\n"))
# datetime.date(2024, 1, 1) before
case("messages", "duplicate_date_key", ("points.2024-01-01", "duplicate key 2024-01-01"),
     scenario("logic_fabs:\n  tsmc_advanced:\n    wafer_capacity_wpm:\n      points: {2024-01-01: 1, 2024-01-01: 2}\n"))
# dict repr in a distribution's message
case("messages", "distribution_parameter_mapping",
     ("frontier.duration_days", "uniform low should be a number (got {a: 1})"),
     scenario("frontier:\n  duration_days: {dist: uniform, low: {a: 1}, high: 9}\n"))
# dict repr in choice's message
case("messages", "choice_values_mapping", ("choice values should be a list of numbers (got {a: 1})",),
     scenario("frontier:\n  duration_days: {dist: choice, values: {a: 1}}\n"))
# an empty --set value is null
case("messages", "set_empty_value", ("--set: start_date", "(got null)"), sets("start_date="))
# a 20-digit MW figure before
case("messages", "huge_power_need", ("sites.azure_2023.initial_gpus", "needs 1.68e9 MW"),
     sets("sites.azure_2023.initial_gpus.H100-SXM5=1000000000000"))

# --- paths -------------------------------------------------------------------------------------
# results/NAME would be /tmp/evil
case("paths", "name_absolute", ("name", "plain folder name", "'/tmp/evil'"), scenario("name: /tmp/evil\n"))
# results/../escape, run without --out
case("paths", "name_parent", ("name", "plain folder name"), name_without_out("../escape"))
# a hidden folder
case("paths", "name_hidden", ("name", "plain folder name"), scenario("name: .hidden\n"))
# a folder name past file-system limits
case("paths", "name_too_long", ("name", "at most 100 characters"), scenario("name: " + "n" * 300 + "\n"))
# the same through --set
case("paths", "set_name_parent", ("--set: name", "plain folder name"), sets("name=../../escape"))
# silently ignored before
case("paths", "set_extends", ("--set: extends", "cannot be set from the command line"), sets("extends=/dev/zero"))
# reads forever, exhausting memory
case("paths", "extends_dev_zero", ("child.yaml: extends: /dev/zero", "is a device"),
     extends_to(lambda tmp: "/dev/zero"))
# blocks forever on open
case("paths", "extends_fifo", ("child.yaml: extends:", "named pipe"), extends_to(fifo))
# traceback (RuntimeError) before
case("paths", "extends_symlink_loop", ("child.yaml: extends:", "symlink loop"), extends_to(symlink_loop))
# a directory
case("paths", "extends_folder", ("child.yaml: extends:", "is a folder"), extends_to(folder))
# a file of any size
case("paths", "extends_2mb_file", ("child.yaml: extends:", "too large"), extends_to(two_megabytes))
# the file whose extends names the device
case("paths", "extends_chain_blames_the_middle", ("middle.yaml: extends: /dev/zero", "is a device"),
     chain_to_dev_zero)
# ValueError: embedded null byte
case("paths", "extends_nul", ("extends", "NUL"), raw('extends: "base\\0line"\n'))
# OSError ENAMETOOLONG before
case("paths", "extends_name_too_long", ("extends", "file name too long"), raw("extends: " + "a" * 5000 + "\n"))
# reads forever
case("paths", "topology_dev_zero", ("child.yaml: topology: /dev/zero", "is a device"),
     topology_to(lambda tmp: "/dev/zero"))
# blocks forever
case("paths", "topology_fifo", ("child.yaml: topology:", "named pipe"), topology_to(fifo))
# a loop
case("paths", "topology_symlink_loop", ("child.yaml: topology:", "symlink loop"), topology_to(symlink_loop))
# a directory
case("paths", "topology_folder", ("child.yaml: topology:", "is a folder"), topology_to(folder))
# a file of any size
case("paths", "topology_2mb_file", ("child.yaml: topology:", "too large"), topology_to(two_megabytes))
# the same through --set
case("paths", "set_topology_dev_zero", ("--set: topology: /dev/zero", "is a device"), sets("topology=/dev/zero"))
# the scenario argument itself
case("paths", "scenario_is_a_fifo", ("(file)", "named pipe"), lambda tmp: Call([fifo(tmp)]))
# the scenario argument itself
case("paths", "scenario_is_2mb", ("(file)", "too large"), lambda tmp: Call([two_megabytes(tmp)]))
# the scenario argument itself
case("paths", "scenario_is_a_folder", ("(file)", "is a folder"), lambda tmp: Call([folder(tmp)]))
# Latin-1 bytes
case("paths", "scenario_not_utf8", ("(file)", "not UTF-8"), latin1)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.category}-{c.name}" for c in CASES])
def test_refused(case: Case, tmp_path: Path) -> None:
    call = BUILD[case.name](tmp_path)
    out = tmp_path / "out"
    args = ["run", *call.args, *(["--out", str(out)] if call.out else [])]
    proc = run_sim(*args, cwd=call.cwd, timeout=60)
    assert_refused(proc, *case.says, untouched=(out, *call.untouched))


def test_the_corpus_has_40_cases_in_four_categories() -> None:
    assert len(CASES) >= 40
    assert {c.category for c in CASES} == {"yaml", "dates_magnitudes", "messages", "paths"}


# --- YAML merge keys work (YAML 1.1) ----------------------------------------------------------------

MERGED = BASE + """\
labs:
  openai: &lab_a {share_of_output: {gpu: 0.2}, delivery_lead_time_days: 60}
  meta: &lab_b {share_of_output: {gpu: 0.1}, delivery_lead_time_days: 30}
  xai:
    <<: [*lab_b, *lab_a]     # both give delivery_lead_time_days: the first listed wins
    share_of_output: {gpu: 0.05}  # the mapping's own key wins over both
sites:
  colossus: &colossus
    lab: xai
    lat: 35.06
    lon: -90.05
    construction_start: 2024-05-15
    construction_days: 122
    facility_mw: 300
    pue: 1.2
  colossus3:
    <<: *colossus
    topology_site: colossus
    construction_start: 2026-01-01
    facility_mw: 900
"""


def test_a_scenario_with_merge_keys_loads_with_yaml_1_1_semantics(tmp_path: Path) -> None:
    s = sim.load_scenario(write(tmp_path, "merged.yaml", MERGED))
    assert (s.labs["xai"].share_of_output, s.labs["xai"].delivery_lead_time_days) == ({"gpu": 0.05}, 30)
    assert s.labs["openai"].share_of_output == {"gpu": 0.2}
    c3 = s.sites["colossus3"]
    assert (c3.lab, c3.lat, c3.lon, c3.pue, c3.construction_days) == ("xai", 35.06, -90.05, 1.2, 122)
    assert (str(c3.construction_start), c3.facility_mw, c3.topology_site) == ("2026-01-01", 900, "colossus")
    assert s.sites["colossus"].facility_mw == 300  # the anchored mapping is untouched


def test_merge_key_semantics_in_the_loader() -> None:
    doc = load_text("a: &a {p: 1, q: 2}\nb: &b {q: 3, r: 4}\nc: {<<: [*a, *b], r: 5}\nd: {<<: *b, s: 6}\n")
    assert doc["c"] == {"p": 1, "q": 2, "r": 5}
    assert doc["d"] == {"q": 3, "r": 4, "s": 6}


def test_the_alias_bomb_is_refused_before_it_expands() -> None:
    """Twelve levels of ten aliases would expand to 10^12 nodes: the refusal comes at the node limit,
    so the work done is bounded by the limit, not by the expansion (no timing asserted)."""
    with pytest.raises(Exception, match="more than 50,000 YAML nodes"):
        load_text(alias_bomb(12))


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero are POSIX")
def test_load_scenario_names_the_extending_file_in_process(tmp_path: Path) -> None:
    call = chain_to_dev_zero(tmp_path)
    with pytest.raises(sim.ScenarioError) as info:
        sim.load_scenario(call.args[0])
    assert (Path(info.value.file).name, info.value.key_path) == ("middle.yaml", "extends")
