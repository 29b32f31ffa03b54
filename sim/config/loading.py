"""Loading a scenario: YAML files, `extends:` chains, `--set` overrides, validation.

Every problem is raised as one `ScenarioError` naming the file the offending key came from,
the key path and what is wrong, before anything runs.

Any number may be a distribution instead (`{dist: lognormal, p10: 18, p90: 36}`, sim/config/distributions.py).
`load_template` gives a `ScenarioTemplate`: the merged document with its uncertain inputs, from which
`median()`, `at(values)` and `sample(rng)` make validated Scenarios. `load_scenario` is the median.
"""
from __future__ import annotations

import errno
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import pydantic
import yaml

from sim.config.distribution_specs import find_distributions, is_distribution, parse_distribution, replace_at
from sim.config.distributions import Distribution
from sim.config.errors import ScenarioError, did_you_mean, format_path, from_pydantic, show
from sim.config.yaml_io import (YamlLimitError, YamlValueError, is_regular_file, os_problem, parse_value, path_exists,
                                read_yaml, short_path, yaml_error)

from sim.config.disruption_checks import check_disruptions
from sim.config.limits import MAX_DEPTH, MAX_EXTENDS
from sim.config.references import check_references
from sim.config.schema import Scenario
from sim.network.topology import Topology, load_topology, require_connected

SET_SOURCE = "--set"


def packaged_scenario(name: str = "baseline") -> Path:
    """Path of a scenario shipped inside the package (scenarios/NAME.yaml)."""
    return Path(str(resources.files("sim.scenarios") / f"{name}.yaml"))


def shipped_scenarios() -> dict[str, Path]:
    """The scenarios shipped in the package by name (`baseline`, `stress/taiwan_outage`): the baseline
    first, then the other top-level ones, then each subfolder's, alphabetically."""
    root = Path(str(resources.files("sim.scenarios")))
    names = {p.relative_to(root).with_suffix("").as_posix(): p for p in root.rglob("*.yaml") if p.is_file()}
    return {name: names[name] for name in sorted(names, key=lambda n: (n != "baseline", n.count("/"), n))}


def shipped_scenario(name: str) -> Path | None:
    """The shipped scenario a name gives (`stress/taiwan_outage`, with or without `.yaml`), or None.
    Only names from the shipped list match, so no name reaches outside the package."""
    key = name.replace("\\", "/").strip()
    for suffix in (".yaml", ".yml"):
        key = key.removesuffix(suffix)
    return shipped_scenarios().get(key)


def find_scenario(ref: str | Path) -> Path:
    """The file a scenario argument names: an existing path wins; otherwise a shipped scenario's name
    (`stress/taiwan_outage`, with or without `.yaml`). Neither: a ScenarioError suggesting close names."""
    text = str(ref)
    if "\0" in text:
        return Path(ref)  # read_yaml refuses it in plain words
    try:
        os.lstat(ref)
        return Path(ref)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            return Path(ref)  # there but unreadable, or a part of its path is a file: read_yaml says why
    shipped = shipped_scenario(text)
    if shipped is not None:
        return shipped
    key = text.removesuffix(".yaml").removesuffix(".yml")
    raise ScenarioError(short_path(text), "(file)",
                        f"no such file or shipped scenario{did_you_mean(key, shipped_scenarios(), cutoff=0.75)}")


def _resolve_extends(ref: Any, child: Path) -> Path:
    """The file an `extends:` value names: a path relative to the extending file, or a shipped
    scenario's name. Only looked up here; read_yaml refuses anything but a small regular file."""
    if not isinstance(ref, str) or not ref:
        raise ScenarioError(child, "extends", "must be a file path or a shipped scenario name")
    if "\0" in ref:
        raise ScenarioError(child, "extends", "must not hold a NUL character")
    local = child.parent / ref
    try:
        os.lstat(local)
        return _real(local)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise ScenarioError(child, "extends", f"{short_path(ref)}: {os_problem(exc)}") from None
    shipped = shipped_scenario(ref)
    if shipped is not None:
        return _real(shipped)
    key = ref.removesuffix(".yaml").removesuffix(".yml")
    suggestion = did_you_mean(key, shipped_scenarios(), cutoff=0.75)
    raise ScenarioError(child, "extends", f"no such scenario {show(ref)}{suggestion}")


def _real(path: Path) -> Path:
    """The absolute path with symlinks resolved as far as they go (a symlink loop is left for
    read_yaml to refuse; Path.resolve would raise RuntimeError)."""
    return Path(os.path.realpath(path))


def _load_chain(path: Path) -> list[tuple[str, dict]]:
    """The file and each file it extends, child first: [(file, raw dict), ...].

    A file that cannot be read (missing, a folder, a device, a FIFO, a symlink loop, too large) is
    the fault of the file whose `extends:` names it: that file, key path `extends`.
    """
    chain: list[tuple[str, dict]] = []
    seen: list[Path] = []
    current = Path(path)
    named_by: tuple[str, str] | None = None  # (file, its extends value) that led to `current`
    while True:
        resolved = _real(current)
        if resolved in seen:
            cycle = " -> ".join(p.name for p in [*seen, resolved])
            raise ScenarioError(chain[-1][0], "extends", f"extends cycle: {cycle}")
        if len(seen) >= MAX_EXTENDS:
            raise ScenarioError(chain[-1][0], "extends", f"extends chain longer than {MAX_EXTENDS} files")
        seen.append(resolved)
        try:
            doc = read_yaml(current)
        except ScenarioError as exc:
            if named_by is None or exc.key_path != "(file)":
                raise
            raise ScenarioError(named_by[0], "extends", f"{short_path(named_by[1])}: {exc.problem}") from None
        chain.append((str(current), doc))
        if "extends" not in doc:
            return chain
        named_by = (str(current), doc["extends"])
        current = _resolve_extends(doc["extends"], current)


REPLACED_WHOLE = {"points"}  # a ramp's dated points: a child states its own timeline


def deep_merge(base: dict, override: dict) -> dict:
    """`override` on top of `base`: mappings merge key by key, anything else is replaced.

    A ramp's `points` mapping is replaced whole, so a child can redraw a capacity timeline. A
    distribution (`{dist: ...}`) replaces whatever was there whole; a mapping without `dist` on top
    of a distribution changes just the parameters it names.
    """
    out = dict(base)
    for key, value in override.items():
        if (isinstance(value, dict) and isinstance(out.get(key), dict) and key not in REPLACED_WHOLE
                and not is_distribution(value)):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_set(doc: dict, assignment: str) -> tuple[dict, tuple]:
    """Apply one `path.to.key=value` override (list items by index); returns the new doc and path."""
    if "=" not in assignment:
        raise ScenarioError(SET_SOURCE, assignment, "expected path.to.key=value")
    key_path, text = assignment.split("=", 1)
    parts = tuple(key_path.strip().split("."))
    if not all(parts):
        raise ScenarioError(SET_SOURCE, key_path.strip() or assignment, "empty key in path")
    if len(parts) > MAX_DEPTH:
        raise ScenarioError(SET_SOURCE, short_path(key_path.strip()), f"key path deeper than {MAX_DEPTH} keys")
    if parts[0] == "extends":
        raise ScenarioError(SET_SOURCE, key_path.strip(), "cannot be set from the command line "
                                                          "(name the scenario to extend in a scenario file)")
    try:
        value = parse_value(text)
    except yaml.YAMLError as exc:
        err = yaml_error(SET_SOURCE, text, exc)
        problem = err.problem if isinstance(exc, (YamlLimitError, YamlValueError)) else \
            f"cannot parse value: {' '.join(str(getattr(exc, 'problem', None) or exc).split())}"
        raise ScenarioError(SET_SOURCE, key_path, problem) from None
    doc = deep_merge(doc, {})
    node: Any = doc
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(SET_SOURCE, where, f"no list item {part} (list has {len(node)})")
            index = int(part)
            if last:
                node[index] = value
            else:
                node[index] = _copy(node[index])
                node = node[index]
        elif isinstance(node, dict):
            key = _match_key(node, part)
            if last:
                node[key] = value
            else:
                if key not in node:
                    node[key] = {}
                node[key] = _copy(node[key])
                node = node[key]
        else:
            raise ScenarioError(SET_SOURCE, where, "cannot set a key inside a plain value")
    return doc, parts


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


def _match_key(node: dict, part: str) -> Any:
    """A mapping key as written on the command line, matching dates and numbers used as keys."""
    if part in node:
        return part
    for key in node:
        if str(key) == part:
            return key
    return part


def _has_path(doc: Any, path: tuple) -> tuple[int, bool]:
    """How many leading parts of `path` exist in `doc`, and whether `doc` holds a whole value
    (a list or plain value, not a mapping) on the way: that value replaced whatever the files
    below had there (`deep_merge` merges mappings only), so none of them wrote anything beneath."""
    depth, whole = 0, False
    for part in path:
        if isinstance(doc, dict):
            hit = next((k for k in doc if str(k) == str(part)), _MISSING)
            if hit is _MISSING:
                break
            doc = doc[hit]
        elif isinstance(doc, list) and isinstance(part, int) and 0 <= part < len(doc):
            doc = doc[part]
        else:
            break
        depth += 1
        whole = whole or not isinstance(doc, dict)
    return depth, whole


_MISSING = object()


def _source_of(path: tuple, sources: list[tuple[str, dict]]) -> str:
    """The file that wrote the deepest part of `path`; earlier sources win ties.

    A key no source has at all (a missing required key) is blamed on the scenario file, not --set.
    """
    best = next((name for name, _ in sources if name != SET_SOURCE), sources[0][0])
    best_depth = 0
    for name, doc in sources:
        depth, whole = _has_path(doc, path)
        if depth > best_depth:
            best, best_depth = name, depth
        if whole:
            break
    return best


def validate(doc: dict, sources: list[tuple[str, dict]], uncertain: Iterable[str] = ()) -> Scenario:
    """Schema and reference checks on a merged scenario dict.

    `uncertain`: the key paths that held distributions; a whole number wanted there is hinted at.
    """
    doc = {k: v for k, v in doc.items() if k != "extends"}
    try:
        scenario = Scenario.model_validate(doc)
    except pydantic.ValidationError as exc:
        err = from_pydantic(exc, lambda loc: _source_of(loc, sources), model=Scenario)
        if err.key_path in set(uncertain) and "valid integer" in err.problem:
            err = ScenarioError(err.file, err.key_path, f"{err.problem}; use round: true for whole numbers")
        raise err from None
    problem = check_references(scenario)
    if problem is not None:
        path, msg = problem
        raise ScenarioError(_source_of(path, sources), format_path(path), msg)
    scenario, topology = _with_topology(scenario, sources)
    problem = check_disruptions(scenario, topology_graph=topology.graph if topology else None)
    if problem is not None:
        path, msg = problem
        raise ScenarioError(_source_of(path, sources), format_path(path), msg)
    return scenario


def _with_topology(s: Scenario, sources: list[tuple[str, dict]]) -> tuple[Scenario, Topology | None]:
    """Check the scenario against its topology; the topology's path is made absolute.

    Every site must be a site of the topology and every run's sites connected by it. Without a
    topology, runs must give their utilization (there is no network to derive it from).
    """
    def fail(path: tuple, problem: str) -> ScenarioError:
        return ScenarioError(_source_of(path, sources), format_path(path), problem)

    if s.topology is None:
        for i, run in enumerate(s.runs):
            if run.utilization is None:
                raise fail(("runs", i, "utilization"), "required when the scenario names no topology")
        if s.run_policy is not None and s.run_policy.utilization is None:
            raise fail(("run_policy", "utilization"), "required when the scenario names no topology")
        return s, None
    if s.training is None:
        raise fail(("training",), "required when the scenario names a topology")
    defined_in = _source_of(("topology",), sources)
    base = Path.cwd() if defined_in == SET_SOURCE else Path(defined_in).parent
    if "\0" in s.topology:
        raise fail(("topology",), "must not hold a NUL character")
    candidate = base / s.topology
    if is_regular_file(candidate):
        ref = str(_real(candidate))
    elif path_exists(candidate) and ("/" in s.topology or s.topology.endswith((".yaml", ".yml"))):
        ref = str(candidate)  # not a regular file (a folder, a device, a FIFO, a loop): read_yaml refuses it
    else:
        ref = s.topology  # a shipped topology's name
    try:
        topology = load_topology(ref)
    except ScenarioError as exc:
        if exc.key_path != "(file)":
            raise  # a fault inside the topology file: that file and key path
        problem = exc.problem if "shipped topology" in exc.problem else f"{short_path(s.topology)}: {exc.problem}"
        raise fail(("topology",), problem) from None
    for name, site in s.sites.items():
        if (site.topology_site or name) not in topology.graph:
            where = ("sites", name, "topology_site") if site.topology_site else ("sites", name)
            raise fail(where, f"{show(site.topology_site or name)} is not a site of topology {show(topology.name)}")
    for i, run in enumerate(s.runs):
        nodes = [s.sites[name].topology_site or name for name in run.sites]
        require_connected(topology.graph, nodes, source=_source_of(("runs", i, "sites"), sources),
                          key_path=f"runs.{i}.sites")
    for lab_name, lab in s.labs.items():
        for campus_name, campus in (lab.procurement.campuses.items() if lab.procurement else ()):
            where = ("labs", lab_name, "procurement", "campuses", campus_name, "topology_site")
            if campus.topology_site is None:
                raise fail(where, f"required with a topology: the site of topology {show(topology.name)} "
                                  f"whose fabric and links the campus's halls use")
            if campus.topology_site not in topology.graph:
                raise fail(where, f"{show(campus.topology_site)} is not a site of topology {show(topology.name)}")
    return s.model_copy(update={"topology": ref}), topology


def load_scenario(path: str | Path | None = None, overrides: Iterable[str] = ()) -> Scenario:
    """Read, merge (`extends`), override (`--set` style strings) and validate a scenario.

    With no path, the baseline shipped in the package. Raises ScenarioError on any problem.
    Every distribution in it is at its median (`load_template` for the distributions themselves).
    """
    return load_template(path, overrides).median()


@dataclass(frozen=True)
class UncertainInput:
    """A number of the scenario given as a distribution: where it is and what it is."""

    key_path: str  # dotted, as errors name it: "labs.openai.delivery_lead_time_days", "runs.0.duration_days"
    path: tuple  # the same as a tuple of mapping keys (dates as dates) and list indices (ints)
    distribution: Distribution
    file: str = ""  # the file that wrote it ("--set" for a command-line override)


@dataclass(frozen=True)
class ScenarioTemplate:
    """A scenario whose numbers may be distributions: a recipe for Scenarios.

    `inputs` are in document order, the order `sample` draws them in. Every Scenario it makes is
    validated; the median one is validated when the template is loaded, so a bad scenario is
    refused before any sweep starts.
    """

    name: str
    inputs: tuple[UncertainInput, ...]
    doc: Mapping = field(repr=False, compare=False)  # the merged document, distributions and all
    sources: tuple = field(repr=False, compare=False)  # ((file, raw dict), ...) for naming the file at fault
    _median: Scenario = field(repr=False, compare=False)  # validated when loaded

    def median(self) -> Scenario:
        """The scenario with every distribution at its median."""
        return self._median

    def at(self, values: Mapping[str | tuple, float]) -> Scenario:
        """The scenario with the given inputs at the given numbers (by dotted key path, or path tuple)
        and the rest at their medians. A distribution with `round: true` gets the number rounded."""
        by_key = {item.key_path: item for item in self.inputs}
        by_path = {item.path: item for item in self.inputs}
        chosen: dict[tuple, float] = {}
        for key, value in values.items():
            item = by_path.get(key) if isinstance(key, tuple) else by_key.get(key)
            if item is None:
                known = ", ".join(by_key) or "none"
                file = next((name for name, _ in self.sources if name != SET_SOURCE), "(scenario)")
                where = format_path(key) if isinstance(key, tuple) else str(key)
                raise ScenarioError(file, where, f"is not an uncertain input of this scenario (its inputs: {known})")
            if hasattr(value, "item"):  # a numpy number: the schema takes plain Python numbers
                value = value.item()
            if item.distribution.round and isinstance(value, (int, float)) and math.isfinite(value):
                value = item.distribution._out(value)
            chosen[item.path] = value
        return self._build({**{i.path: i.distribution.median() for i in self.inputs}, **chosen})

    def sample(self, rng) -> tuple[Scenario, dict[str, float]]:
        """A scenario with every input drawn from `rng` (a numpy Generator), one draw per input in the
        order of `inputs`, and the numbers drawn by key path. The same generator state gives the same draw."""
        drawn = {item.path: item.distribution.sample(rng) for item in self.inputs}
        values = {item.key_path: drawn[item.path] for item in self.inputs}
        return self._build(drawn), values

    def _build(self, values: dict[tuple, float]) -> Scenario:
        return _realise(self.doc, self.sources, self.inputs, values)


def _realise(doc: Mapping, sources: Iterable[tuple[str, dict]], inputs: Iterable[UncertainInput],
             values: dict[tuple, float]) -> Scenario:
    """The validated scenario with numbers in place of the distributions at `values`' paths."""
    return validate(replace_at(dict(doc), values), list(sources), uncertain=[item.key_path for item in inputs])


def load_template(path: str | Path | None = None, overrides: Iterable[str] = ()) -> ScenarioTemplate:
    """Read, merge (`extends`) and override a scenario, parse its distributions and validate its
    median. With no path, the baseline shipped in the package. Raises ScenarioError on any problem,
    naming the file that wrote the offending key."""
    doc, sources = _merged(path, overrides)
    inputs = []
    for where, spec in find_distributions(doc):
        file = _source_of(where, sources)
        key_path = format_path(where)
        inputs.append(UncertainInput(key_path, where, parse_distribution(spec, file, key_path), file))
    median = _realise(doc, sources, inputs, {item.path: item.distribution.median() for item in inputs})
    return ScenarioTemplate(name=median.name, inputs=tuple(inputs), doc=doc, sources=tuple(sources), _median=median)


def _merged(path: str | Path | None, overrides: Iterable[str]) -> tuple[dict, list[tuple[str, dict]]]:
    """The merged document (extends chain, then --set) and its sources, --set first, child before parent."""
    path = packaged_scenario() if path is None else find_scenario(path)
    chain = _load_chain(path)
    doc: dict = {}
    for _, raw in reversed(chain):
        doc = deep_merge(doc, raw)
    set_doc: dict = {}
    for assignment in overrides:
        doc, set_path = apply_set(doc, assignment)
        set_doc = _nest(set_doc, set_path)
    sources = ([(SET_SOURCE, set_doc)] if set_doc else []) + chain
    return doc, sources


def _nest(tree: dict, path: tuple) -> dict:
    """Record that `path` was written by --set (for naming the source of an error)."""
    out = dict(tree)
    node = out
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = True
    return out


def parent_scenario(path: str | Path | None) -> str | None:
    """The file a scenario directly `extends` (None for one that extends nothing, or the shipped baseline):
    what `sim run` compares a stress scenario against."""
    if path is None:
        return None
    chain = load_template(path).sources
    files = [file for file, _ in chain if file != SET_SOURCE]
    return files[1] if len(files) > 1 else None
