"""Reading YAML for scenarios and topologies: numbers like 2e15, no duplicate keys, one-line errors."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from sim.config.errors import ScenarioError, format_path


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads `2e15` as a number (YAML 1.1 wants `2.0e15`) and refuses duplicate keys."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:  # a list or mapping as a key: let SafeLoader report "found unhashable key"
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_value(text: str) -> Any:
    """A `--set` value, read as YAML (numbers, dates, lists, mappings)."""
    return yaml.load(text, Loader=_Loader)


def read_yaml(path: Path) -> dict:
    """A YAML file's top-level mapping; any problem is a ScenarioError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(path, "(file)", "no such file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, "(file)", f"cannot read: {exc}") from None
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        problem = getattr(exc, "problem", None) or str(exc)
        if mark is not None and problem.startswith("duplicate key"):
            key_path = _key_path_at(yaml.compose(text, Loader=_Loader), mark.index)
            if key_path:
                raise ScenarioError(path, format_path(key_path), f"{problem} ({where})") from None
        raise ScenarioError(path, where, f"malformed YAML: {problem}") from None
    if not isinstance(doc, dict):
        raise ScenarioError(path, "(top)", "a scenario must be a mapping of keys to values")
    return doc


def _key_path_at(node: Any, index: int, path: tuple = (), seen: set | None = None) -> tuple | None:
    """Key path of the mapping key that starts at character `index` of the YAML text, if any."""
    seen = set() if seen is None else seen
    if id(node) in seen:  # aliases may point back up the tree
        return None
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        children = [(path + (getattr(k, "value", "?"),), k, v) for k, v in node.value]
    elif isinstance(node, yaml.SequenceNode):
        children = [(path + (i,), None, v) for i, v in enumerate(node.value)]
    else:
        return None
    for here, key_node, value in children:
        if key_node is not None and key_node.start_mark.index == index:
            return here
        found = _key_path_at(value, index, here, seen)
        if found:
            return found
    return None
