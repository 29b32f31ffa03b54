"""A JSON Schema (draft 2020-12) of the scenario format, for editors: `sim schema`.

Derived from the pydantic models (sim/config/schema.py, schema_uses.py, types.py), then widened to what
the loader accepts: a distribution (`{dist: lognormal, p10: 18, p90: 36}`, sim/config/distribution_specs.py)
wherever a number is, one number for a lab's `share_of_output`, and `extends`. A scenario that extends
another may be partial: nothing is required and a mapping may give only the keys it changes (list items
replace whole, so they stay complete). Each key is described by its comment in the schema source and the
unit its name carries (`_mw` MW, `_days` days, ...). YAML dates are strings here (`format: date`), as
editors read them. Cross-references and rules between keys are the loader's (sim/config/references.py).
"""
from __future__ import annotations

import copy
import inspect
import re
import typing
from typing import Any

from pydantic import BaseModel

from sim.config.distribution_specs import PARAMS
from sim.config.schema import Scenario

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# a key's unit from its name's ending, longest ending first (a whole name counts as an ending too)
UNIT_SUFFIXES = (
    ("usd_per_mw_year", "USD per MW per year"), ("usd_per_mwh", "USD/MWh"), ("usd_per_mw", "USD/MW"),
    ("usd_per_year", "USD/year"), ("usd", "USD"), ("t_per_mwh", "tCO2/MWh"), ("mw_per_year", "MW/year"),
    ("mwh", "MWh"), ("mw", "MW"), ("flop_s", "FLOP/s"), ("bytes_s_per_gpu", "bytes/s per GPU"),
    ("bytes_s", "bytes/s"), ("bit_s", "bit/s"), ("s_per_doubling", "seconds per doubling of the GPU count"),
    ("tokens_per_day", "tokens/day"), ("days", "days"), ("weeks", "weeks"), ("years", "years"),
    ("hours", "hours"), ("wpm", "wafers/month"), ("mm2", "mm²"), ("mm", "mm"), ("per_cm2", "per cm²"),
    ("gb", "GB"), ("h100e_installed", "H100e"), ("h100e_per_year", "H100e/year"), ("growth_per_year", "x per year"),
    ("growth_per_year_after", "x per year"), ("per_year", "per year"), ("tokens", "tokens"), ("params", "parameters"),
    ("w", "W"), ("s", "seconds"), ("lat", "degrees"), ("lon", "degrees"),
)


def unit_of(key: str) -> str | None:
    """The unit a key's name carries (`facility_mw` -> MW), or None."""
    for suffix, unit in sorted(UNIT_SUFFIXES, key=lambda item: -len(item[0])):
        if key == suffix or key.endswith("_" + suffix):
            return unit
    return None


def field_comments(model: type[BaseModel]) -> dict[str, str]:
    """Each field's comment in the model's source: the comment lines just above it and the one after it
    (a continuation line, `#` and two spaces or more, belongs to the field above)."""
    try:
        lines = inspect.getsource(model).splitlines()
    except (OSError, TypeError):  # no source (a frozen build): no comments
        return {}
    comments: dict[str, str] = {}
    above: list[str] = []
    last: str | None = None
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            text = stripped[1:]
            if last is not None and text.startswith("  ") and not above:
                comments[last] = f"{comments.get(last, '')} {text.strip()}".strip()
            else:
                above.append(text.strip())
            continue
        match = re.match(r"^    (\w+)\s*:\s*[^#]*?(?:#\s*(.*))?$", line)
        if match and match.group(1) in model.model_fields:
            last = match.group(1)
            parts = [*above, match.group(2) or ""]
            text = " ".join(p for p in parts if p).replace("# noqa", "").strip()
            if text:
                comments[last] = text
        elif stripped:
            last = None
        above = []
    return comments


def models_under(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every model reachable from `root`'s fields, by class name (pydantic's `$defs` names)."""
    found: dict[str, type[BaseModel]] = {}

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation.__name__ not in found:
                found[annotation.__name__] = annotation
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(root)
    return found


def distribution_schema() -> dict:
    """What a distribution mapping may be: one shape per `dist` (distribution_specs.PARAMS)."""
    number = {"type": "number"}
    shapes = []
    for kind, (required, optional) in PARAMS.items():
        params = {name: ({"type": "array", "items": number, "minItems": 1} if name in ("values", "weights") else number)
                  for name in (*required, *optional)}
        shape = {"type": "object", "properties": {"dist": {"const": kind}, **params, "round": {"type": "boolean"}},
                 "required": ["dist", *required], "additionalProperties": False}
        if kind == "lognormal":
            shape["oneOf"] = [{"required": ["p10", "p90"]}, {"required": ["median", "sigma"]}]
        shapes.append(shape)
    return {"description": "an uncertain number: `sim run` uses its median, `sim sweep` draws it, `sim sensitivity` "
                           "swings it from p10 to p90; `round: true` for whole numbers",
            "type": "object", "required": ["dist"], "oneOf": shapes}


def distribution_change_schema() -> dict:
    """A mapping without `dist` over an inherited distribution: the parameters it changes."""
    names = sorted({name for required, optional in PARAMS.values() for name in (*required, *optional)} | {"round"})
    return {"description": "changes the named parameters of the distribution this scenario extends",
            "type": "object", "minProperties": 1, "additionalProperties": False,
            "properties": {name: ({"type": "boolean"} if name == "round" else
                                  {"type": "array", "items": {"type": "number"}} if name in ("values", "weights")
                                  else {"type": "number"}) for name in names}}


def _describe(defs: dict, root: dict) -> None:
    """Add each property's comment and unit to its description (in place)."""
    models = models_under(Scenario)
    for name, schema in [("Scenario", root), *defs.items()]:
        model = models.get(name)
        comments = field_comments(model) if model is not None else {}
        for key, prop in schema.get("properties", {}).items():
            words = [comments[key].rstrip(".") + "."] if key in comments else []
            unit = unit_of(key)
            if unit:
                words.append(f"Unit: {unit}.")
            if words:
                prop["description"] = " ".join(words)


def _numbers_may_be_uncertain(node: Any, partial: bool) -> Any:
    """A copy of a schema node in which every number may also be a distribution (and, in a partial
    scenario, a change to an inherited one)."""
    if isinstance(node, list):
        return [_numbers_may_be_uncertain(item, partial) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: (value if key in ("propertyNames", "default", "enum", "const")
                 else _numbers_may_be_uncertain(value, partial)) for key, value in node.items()}
    if out.get("type") in ("number", "integer"):
        notes = {key: out.pop(key) for key in ("title", "description", "default") if key in out}
        branches = [out, {"$ref": "#/$defs/Distribution"}]
        if partial:
            branches.append({"$ref": "#/$defs/DistributionChange"})
        return {**notes, "anyOf": branches}
    return out


def _partial(node: Any, names: set[str]) -> Any:
    """A copy of a schema node for a scenario that extends another: no `required` in mappings reached
    through mappings (they merge key by key); list items replace whole, so stay complete. `names`
    collects the definitions referred to as partial."""
    if isinstance(node, list):
        return [_partial(item, names) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "required":
            continue
        if key == "$ref":
            name = value.rsplit("/", 1)[1]
            names.add(name)
            out[key] = f"#/$defs/{name}Partial"
        elif key in ("items", "prefixItems"):
            out[key] = copy.deepcopy(value)  # a list replaces the inherited one whole: complete items
        else:
            out[key] = _partial(value, names)
    return out


def scenario_json_schema() -> dict:
    """The JSON Schema of a scenario file (draft 2020-12), as `sim schema` prints it."""
    full = Scenario.model_json_schema()
    defs = full.pop("$defs")
    _describe(defs, full)
    lab = defs["Lab"]["properties"]["share_of_output"]  # one number: that share of every family
    lab_notes = {key: lab.pop(key) for key in ("title", "description") if key in lab}
    defs["Lab"]["properties"]["share_of_output"] = {
        **lab_notes, "anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, lab]}
    defs["Scenario"] = {key: value for key, value in full.items() if key != "title"}

    partial_defs = {}
    pending = ["Scenario"]
    while pending:
        name = pending.pop()
        if f"{name}Partial" not in partial_defs:
            referred: set[str] = set()
            partial_defs[f"{name}Partial"] = _partial(defs[name], referred)
            pending += sorted(referred)
    every = {**{name: _numbers_may_be_uncertain(schema, False) for name, schema in defs.items()},
             **{name: _numbers_may_be_uncertain(schema, True) for name, schema in partial_defs.items()}}
    every["Distribution"] = distribution_schema()
    every["DistributionChange"] = distribution_change_schema()

    top = copy.deepcopy(every["ScenarioPartial"])
    top["properties"] = {"extends": {
        "type": "string", "minLength": 1,
        "description": "the scenario this one changes: a path relative to this file, or a shipped scenario's "
                       "name (`sim scenarios`). With it, every key is optional: give only what differs."},
        **top["properties"]}
    return {
        "$schema": DRAFT,
        "title": "sim scenario",
        "description": "A scenario for `sim run` (the shipped ones: `sim scenarios`). Any number may be a "
                       "distribution {dist: ...}. Without `extends` the keys marked required must all be given.",
        **top,
        "if": {"not": {"required": ["extends"]}},
        "then": {"$ref": "#/$defs/Scenario"},
        "$defs": dict(sorted(every.items())),
    }
