"""Unit constants: the one place a conversion factor between units is written.

Simulated time is in days; the physics is in seconds, watts, bytes and
square millimetres. Calendar constants (days per year and month) stay in sim.config.schedule.
"""
from __future__ import annotations

SECONDS_PER_MINUTE = 60.0
SECONDS_PER_HOUR = 3_600.0
SECONDS_PER_DAY = 86_400.0
SECONDS_PER_MICROSECOND = 1e-6

WATTS_PER_MEGAWATT = 1e6
BITS_PER_BYTE = 8
MM2_PER_CM2 = 100.0
