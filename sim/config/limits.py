"""Every bound on what a scenario or topology file may hold, in one place, each with its reason.

No input, however hostile, may hang the loader or the simulation, exhaust memory, overflow a float or a
date, or crash with a traceback: each is refused first, with its file and key path. The bounds are
far past any real value; the comments say why each is where it is. Plain constants (no imports), so
every module of sim.config can use them.
"""
from __future__ import annotations

import datetime as dt

# --- files and YAML (sim.config.yaml_io) ---------------------------------------------------------
# The shipped baseline scenario is 21 kB and 849 YAML nodes (keys, values, lists and mappings), nested
# 6 deep; the shipped topologies are smaller. Composing a node costs ~13 us in Python (libyaml or not,
# PyYAML's resolver and composer are Python), so the worst file stops within ~0.6 s.
MAX_FILE_BYTES = 1_000_000  # 1 MB, for a scenario or a topology file: 50x the baseline
MAX_NODES = 50_000  # YAML nodes once aliases are expanded (an alias bomb is refused at once): 60x the baseline
MAX_DEPTH = 100  # nesting of lists and mappings, aliases expanded (and keys in a --set path): the baseline needs 6
MAX_NUMBER_CHARS = 100  # a number written with more characters is no number a scenario means (it also keeps
#                         Python's int() from its 4,300-digit refusal, or a base-60 integer from a long loop)
MAX_EXTENDS = 50  # files in one extends chain: the shipped scenarios use two

# --- dates (sim.config.schema, sim.config.loading) -------------------------------------------------
# Dates: 1900-2200. The model's inputs are the trends of the 2020s (docs/sources.md); an earlier or
# later date is a typo (0202-01-01). With durations of at most MAX_DAYS, every date the simulation
# computes stays within 1900-2300, far inside Python's years 1-9999.
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2200, 12, 31)
# Horizon: end_date at most 50 years after start_date. Supply forecasts reach a decade (Epoch 2030:
# 2030); 50 years at the smallest tick (1 day) is 18,263 ticks, a few seconds of simulation.
MAX_HORIZON_YEARS = 50
MAX_HORIZON_DAYS = round(MAX_HORIZON_YEARS * 365.25)
# Durations and lead times: at most 100 years (36,525 days), twice the longest horizon; the longest
# real one in the baseline is the 5-year grid interconnection queue (LBNL, data/power.csv).
MAX_DAYS = 36_525.0
# Ticks: 1 day to a month. Every date in a scenario is a whole day, so a shorter tick resolves nothing
# the inputs say (and a tick of 1e-6 days would mean 1e9 ticks).
MIN_TICK_DAYS, MAX_TICK_DAYS = 1.0, 31.0

# --- magnitudes (sim.config.schema) ----------------------------------------------------------------
# Counts and capacities: 1e15, below 2**53 = 9.0e15, the largest whole number a float64 holds
# exactly, so counts stay exact and fit numpy's int64; the world makes ~1e7 GPUs a year (Epoch 2030),
# eight orders of magnitude fewer.
MAX_QUANTITY = 1e15
# Capacity growth after a ramp's last point: at most 10x a year (the fastest on record, CoWoS in
# 2023-2024, was ~2.3x, data/supply.csv); the ramp's value at end_date must also stay at most
# MAX_QUANTITY a month (sim.config.references.check_references), so no growth overflows a float.
MAX_GROWTH_PER_YEAR = 10.0
# One accelerator: a million H100s' FLOP/s in one package (1e21) is past any roadmap; no accelerator
# server draws under 1 W or over 10 MW per GPU (H100: 1,400 W all-in, data/hardware.csv), so GPUs per
# MW stay finite; an interposer wafer (300 mm: 70,686 mm2) holds at most 1e5 packages of 1 mm2; a die
# is at least 1 mm2 and fits a wafer at most 1 m across (450 mm is the largest ever planned); a
# package holds at most 1,000 dies or HBM stacks (today: 2 dies, 8-12 stacks).
MAX_FLOP_S = 1e21
MIN_WATTS, MAX_WATTS = 1.0, 1e7
MAX_PACKAGES_PER_WAFER = 1e5
MIN_DIE_MM2, MAX_DIE_MM2 = 1.0, 1e6
MAX_WAFER_DIAMETER_MM = 1000.0
MAX_PER_PACKAGE = 1000
# HBM stacks are 4 to 16 dies high today (JEDEC HBM4 allows 16); 64 leaves room for what comes next.
MAX_STACK_HEIGHT = 64
# Power: 1e9 MW = 1,000 TW, ~100x all the world's generating capacity (~9 TW); the baseline's largest
# campus is 2,500 MW. PUE at most 10 (real sites: 1.1-2, data/power.csv).
MAX_MW = 1e9
MAX_PUE = 10.0
# Training data: 1e20 tokens, 4e4 times the baseline's effective stock (2.6e15, Epoch 2030); a
# sequence of at most a billion tokens.
MAX_TOKENS = 1e20
MAX_SEQUENCE_TOKENS = 10**9
# Random disruptions: at most one a day each (365 a year: occurrences fall on whole days, so a higher
# rate only piles them onto the same days, and 1e9 a year would allocate billions), and at most
# 10,000 occurrences expected over the horizon, all together: each costs work on every tick
# (~0.2 ms); the shipped stress scenario expects ~11 over 2024-2030
# (scenarios/stress/random_disruptions.yaml).
MAX_RATE_PER_YEAR = 365.0
MAX_EXPECTED_OCCURRENCES = 10_000
# A turbine backlog multiplies lead times at most 10x (the stress scenario's stretches 4.5 years to 7,
# x1.6; large frame turbines up to 7 years: docs/sources.md, Industry blogs, GE Vernova backlog 2025).
MAX_LEAD_TIME_FACTOR = 10.0
# A lognormal's sigma: at most 10, a p90/p10 ratio of e^25.6 = 1.4e11. Wider is no estimate of a number,
# and its far quantiles (a draw reaches 8.3 sd) would overflow a float (e^(sigma x 8.3) past 1e308).
MAX_SIGMA = 10.0

# --- names ---------------------------------------------------------------------------------------
NAME_CHARS = 200  # a name of a GPU, lab, site, run...
PATH_CHARS = 4096  # a topology path: PATH_MAX on Linux
FOLDER_NAME_CHARS = 100  # a scenario's name, which names its output folder results/NAME
