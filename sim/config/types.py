"""The scenario format's building blocks: bounded numbers, names, dates and ramps, and the strict base
every schema object derives from (sim/config/schema.py and sim/config/schema_uses.py build on them).

Every number has a finite range (sim/config/limits.py says why each bound is where it is), so no
value, however typed, can hang the simulation, exhaust memory or overflow a date or a float.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from sim.config.limits import (FIRST_DATE, FOLDER_NAME_CHARS, LAST_DATE, MAX_DAYS, MAX_FLOP_S, MAX_GROWTH_PER_YEAR,
                               MAX_MW, MAX_PER_PACKAGE, MAX_QUANTITY, MAX_WATTS, MIN_WATTS, NAME_CHARS, PATH_CHARS)

NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]  # (unbounded: for the topology's schema)
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]  # (unbounded: for the topology's schema)
Amount = Annotated[float, Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False)]
PositiveAmount = Annotated[float, Field(gt=0, le=MAX_QUANTITY, allow_inf_nan=False)]
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
FractionOrZero = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=int(MAX_QUANTITY))]
Days = Annotated[float, Field(ge=0, le=MAX_DAYS, allow_inf_nan=False)]
PositiveDays = Annotated[float, Field(gt=0, le=MAX_DAYS, allow_inf_nan=False)]
Date = Annotated[dt.date, Field(ge=FIRST_DATE, le=LAST_DATE)]
FlopS = Annotated[float, Field(gt=0, le=MAX_FLOP_S, allow_inf_nan=False)]
Watts = Annotated[float, Field(ge=MIN_WATTS, le=MAX_WATTS, allow_inf_nan=False)]
Megawatts = Annotated[float, Field(ge=0, le=MAX_MW, allow_inf_nan=False)]
PerPackage = Annotated[int, Field(ge=0, le=MAX_PER_PACKAGE)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_CHARS)]
PathText = Annotated[str, Field(min_length=1, max_length=PATH_CHARS)]

_FOLDER_NAME = re.compile(rf"[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{FOLDER_NAME_CHARS - 1}}}")


def _folder_name(name: str) -> str:
    """A scenario's name names its output folder (`sim run` writes results/NAME without --out): only
    a plain folder name, never a path (`../x`, `/tmp/x`) or a hidden folder."""
    if not _FOLDER_NAME.fullmatch(name):
        shown = " ".join(name.split())
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ValueError(f"should be a plain folder name (it names the output folder results/NAME): letters, "
                         f"digits, -, _ and . (not first), at most {FOLDER_NAME_CHARS} characters (got '{shown}')")
    return name


ScenarioName = Annotated[str, AfterValidator(_folder_name)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RampSpec(Strict):
    """A capacity over time: values at dates, linear between, `growth_per_year_after` past the last."""

    points: dict[Date, Amount] = Field(min_length=1)
    growth_per_year_after: Annotated[float, Field(gt=0, le=MAX_GROWTH_PER_YEAR, allow_inf_nan=False)] = 1.0

    @model_validator(mode="after")
    def _dates_in_order(self) -> "RampSpec":
        dates = list(self.points)
        if dates != sorted(dates):
            raise ValueError("ramp dates must be in increasing order")
        return self


RampOrNumber = Union[Amount, RampSpec]
