"""Readable names of a scenario's uncertain inputs for figures and tables: the key path
`labs.openai.share_of_output.gpu` becomes "OpenAI share of NVIDIA output (fraction)".

A few patterns cover the inputs the shipped scenarios make uncertain; any other key path falls back
to its last two parts, title-cased, with the unit its name implies. Pure text: no numpy, no matplotlib.
"""
from __future__ import annotations

import re

# How a word of a key path is written in a label (names, acronyms); others are capitalised.
WORDS = {
    "openai": "OpenAI", "xai": "xAI", "meta": "Meta", "anthropic": "Anthropic", "google": "Google",
    "deepmind": "DeepMind", "gdm": "GDM", "tsmc": "TSMC", "cowos": "CoWoS", "hbm": "HBM", "tsv": "TSV",
    "gpu": "GPU", "gpus": "GPUs", "tpu": "TPU", "tpus": "TPUs", "usd": "USD", "mfu": "MFU", "wan": "WAN",
    "sk": "SK", "hynix": "hynix", "nvlink": "NVLink", "h100e": "H100e", "gw": "GW", "mw": "MW", "wpm": "WPM",
    "ai": "AI", "dc": "DC", "co2": "CO2",
}
# Names of whole key parts (several words in one).
NAMES = {
    "google_deepmind": "Google DeepMind", "sk_hynix": "SK hynix", "tsmc_cowos": "TSMC CoWoS",
    "gas_combined_cycle": "Gas combined-cycle", "reciprocating_engines": "Reciprocating-engine",
}
# The product of a lab's `share_of_output` entry: whose output it is a share of.
OUTPUT_OF = {"gpu": "NVIDIA", "tpu": "Google TPU", "trainium": "AWS Trainium"}

AFTER_LAST_POINT = "growth after the last dated point"

# (pattern over the whole key path, label template): the groups are names, written with `name`.
PATTERNS: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(p), t) for p, t in (
    (r"labs\.(?P<lab>\w+)\.share_of_output\.(?P<product>\w+)", "{lab} share of {product} output"),
    (r"labs\.(?P<lab>\w+)\.purchasing\.power_buffer", "{lab} spare power ordered"),
    (r"labs\.(?P<lab>\w+)\.budget\.usd_per_year\.growth_per_year_after", "{lab} budget " + AFTER_LAST_POINT),
    (r"labs\.(?P<lab>\w+)\.budget\.usd_per_year(\.points\.(?P<date>[\d-]+))?", "{lab} budget{at}"),
    (r"labs\.(?P<lab>\w+)\.delivery_lead_time_days", "{lab} delivery lead time"),
    (r"hbm_suppliers\.(?P<supplier>\w+)\.tsv_wafer_capacity_wpm\.growth_per_year_after",
     "{supplier} HBM (TSV) capacity " + AFTER_LAST_POINT),
    (r"packaging_lines\.(?P<line>\w+)\.wafer_capacity_wpm\.growth_per_year_after", "{line} capacity " + AFTER_LAST_POINT),
    (r"plant_types\.(?P<plant>\w+)\.lead_time_days", "{plant} plant lead time"),
    (r"sites\.(?P<site>\w+)\.construction_days", "{site} campus construction time"),
    (r"run_policy\.gpu_share", "Share of free accelerators a frontier run takes"),
    (r"run_policy\.duration_growth_per_year", "Frontier run duration growth"),
    (r"run_policy\.relaunch_growth_factor", "Frontier run relaunch size factor"),
    (r"training\.kernel_efficiency", "Kernel efficiency of peak"),
    (r"compute_uses\.inference\.reasoning_token_multiplier(\.points\.(?P<date>[\d-]+))?",
     "Reasoning tokens per request multiplier{at}"),
    (r"compute_uses\.(?P<use>\w+)\.share_of_fleet", "{use} share of the fleet"),
    (r"compute_uses\.posttraining\.share_of_pretraining\.growth_per_year_after",
     "Post-training share of pre-training " + AFTER_LAST_POINT),
))

# The unit a key's name implies, by the last part that says (first match wins).
UNITS: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(p), u) for p, u in (
    (r"growth_per_year", "x per year"), (r"_days$", "days"), (r"_gw$", "GW"), (r"_mw$", "MW"), (r"_km$", "km"),
    (r"_s$", "s"), (r"_wpm$", "wafers per month"), (r"usd_per_year", "USD per year"), (r"usd", "USD"), (r"_flop$", "FLOP"), (r"h100e", "H100e"),
    (r"(share|fraction|efficiency|buffer|mfu|utilization)", "fraction"), (r"(factor|multiplier)", "x"),
))
UNIT_SUFFIX = re.compile(r"_(days|gw|mw|km|s|wpm)$")  # dropped from a fallback name: the unit follows it


def name(part: str) -> str:
    """One key part as a name: `google_deepmind` -> Google DeepMind, `gdm_nebraska` -> GDM Nebraska."""
    if part in NAMES:
        return NAMES[part]
    return " ".join(WORDS.get(w, w.capitalize()) for w in part.split("_") if w)


def _meaningful(parts: list[str]) -> list[str]:
    """Key parts without list indices, dates and `points` (a ramp's dated values)."""
    return [p for p in parts if not re.fullmatch(r"\d+|\d{4}-\d\d-\d\d|points", p)]


def input_unit(key_path: str) -> str:
    """The unit an input's key path implies (`..._days` -> days), or "" when it says none."""
    for part in reversed(_meaningful(key_path.split("."))):
        for pattern, unit in UNITS:
            if pattern.search(part):
                return unit
    return ""


def input_name(key_path: str) -> str:
    """An input's readable name without its unit: a known pattern, else the last two parts title-cased."""
    for pattern, template in PATTERNS:
        match = pattern.fullmatch(key_path)
        if match:
            groups = match.groupdict()
            date = groups.pop("date", None)
            values = {k: (OUTPUT_OF.get(v, name(v)) if k == "product" else name(v)) for k, v in groups.items() if v}
            return template.format(at=f" at {date}" if date else "", **values)
    parts = (_meaningful(key_path.split(".")) or [key_path])[-2:]
    parts[-1] = re.sub(UNIT_SUFFIX, "", parts[-1]) or parts[-1]  # the unit is said once, in brackets
    return " ".join(name(p) for p in parts)


def input_label(key_path: str) -> str:
    """An input's readable name and unit: `labs.openai.share_of_output.gpu` -> "OpenAI share of
    NVIDIA output (fraction)"; an unknown `a.b.ramp_time_days` -> "B Ramp Time (days)"."""
    unit = input_unit(key_path)
    label = input_name(key_path)
    return f"{label} ({unit})" if unit else label
