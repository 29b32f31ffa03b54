"""The scenario file's schema: plain typed objects, validated by pydantic before anything runs.

Key names carry their units (`_mw`, `_days`, `_flop_s`, `_wpm`), so a file reads without a manual.
Validation is strict: a string where a number belongs, a negative or non-finite number, or an
unknown key is refused with its key path.
Cross-references (a run naming a missing site, a mix naming an unknown GPU) are checked in
`sim.config.loading.check_references`, which reports key paths the same way.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
FractionOrZero = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]
Name = Annotated[str, Field(min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RampSpec(Strict):
    """A capacity over time: values at dates, linear between, `growth_per_year_after` past the last."""

    points: dict[dt.date, NonNeg] = Field(min_length=1)
    growth_per_year_after: Positive = 1.0

    @model_validator(mode="after")
    def _dates_in_order(self) -> "RampSpec":
        dates = list(self.points)
        if dates != sorted(dates):
            raise ValueError("ramp dates must be in increasing order")
        return self


RampOrNumber = Union[NonNeg, RampSpec]


class GpuType(Strict):
    """One accelerator product; shipped specs: the catalog sim/data/hardware.csv (sources: docs/sources.md)."""

    available_from: dt.date
    bf16_dense_flop_s: Positive
    fp8_dense_flop_s: Positive | None = None
    all_in_it_w: Positive  # GPU + its share of server, network, storage IT power, before PUE
    hbm_stacks: Count
    packages_per_cowos_wafer: Positive
    die_area_mm2: Positive
    dies_per_gpu: Annotated[int, Field(ge=1)] = 1


class MixPoint(Strict):
    """The share of GPU assembly going to each product from `date` on (interpolated between points)."""

    date: dt.date
    shares: dict[Name, NonNeg] = Field(min_length=1)

    @model_validator(mode="after")
    def _shares_sum_positive(self) -> "MixPoint":
        if sum(self.shares.values()) <= 0:
            raise ValueError("mix shares must not all be zero")
        return self


class LogicFab(Strict):
    wafer_capacity_wpm: RampOrNumber  # advanced-node wafers per month
    allocation_share: Fraction = 1.0  # share of those wafers going to the modelled accelerators
    defect_density_per_cm2: NonNeg
    wafer_diameter_mm: Positive = 300.0
    cycle_time_days: NonNeg


class PackagingLine(Strict):
    wafer_capacity_wpm: RampOrNumber  # CoWoS interposer wafers per month
    allocation_share: Fraction = 1.0  # share going to the modelled accelerators
    packaging_yield: Fraction = 1.0
    cycle_time_days: NonNeg


class HbmSupplier(Strict):
    stack_capacity_per_month: RampOrNumber  # HBM stacks per month
    allocation_share: Fraction = 1.0  # share going to the modelled accelerators


class Lab(Strict):
    share_of_output: FractionOrZero
    delivery_lead_time_days: NonNeg


class PlantType(Strict):
    lead_time_days: NonNeg  # construction start (or interconnection request) to operation
    firm_fraction: Fraction  # share of nameplate MW that can be counted on around the clock


class PowerPlant(Strict):
    name: Name
    site: Name
    type: Name
    capacity_mw: NonNeg
    construction_start: dt.date
    lead_time_days: NonNeg | None = None  # overrides the plant type's
    firm_fraction: Fraction | None = None  # overrides the plant type's


class Site(Strict):
    lab: Name
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    construction_start: dt.date
    construction_days: NonNeg
    facility_mw: NonNeg
    pue: Annotated[float, Field(ge=1, allow_inf_nan=False)]
    initial_gpus: dict[Name, Count] = Field(default_factory=dict)  # installed on the start date
    topology_site: Name | None = None  # the topology's site hosting this one (default: same name)


class TrainingRun(Strict):
    name: Name
    lab: Name
    sites: list[Name] = Field(min_length=1)
    start: dt.date | None = None
    start_when_h100e_installed: Positive | None = None  # in the run's sites
    duration_days: Positive
    utilization: Fraction | None = None  # fixed MFU; default: from the topology's step time
    gpu_share: Fraction = 1.0  # share of the sites' free installed GPUs the run takes
    precision: Literal["bf16", "fp8"] = "bf16"
    gpu_type: Name | None = None  # default: the installed type with the most peak FLOP/s
    model_params: Positive | None = None  # default: compute-optimal for the run's budget (C = 6ND, D = 20N)

    @model_validator(mode="after")
    def _one_start_rule(self) -> "TrainingRun":
        if (self.start is None) == (self.start_when_h100e_installed is None):
            raise ValueError("give exactly one of start or start_when_h100e_installed")
        return self


class DataStock(Strict):
    """Training data available to a run: effective tokens = stock x epochs x quality (Epoch 2030)."""

    stock_tokens: Positive
    epochs: Positive
    quality: Fraction


class TrainingPhysics(Strict):
    """How runs turn GPUs and a network into useful FLOP (issue: topologies and run physics)."""

    kernel_efficiency: Fraction  # fraction of peak that compute kernels reach
    sequence_tokens: Annotated[int, Field(ge=1)]  # tokens per sequence: the smallest microbatch per replica
    batch_tokens: Positive | None = None  # fixed batch; default: critical batch growing with model size
    checkpoint_write_s: NonNeg
    restart_s: NonNeg
    failure_rate_quantile: FractionOrZero  # 0 = Meta RSC-2's rate, 1 = RSC-1's (Kokolis et al. 2024)
    data: DataStock


class Frontier(Strict):
    """How the month-by-month frontier sizes a hypothetical run starting in each month."""

    duration_days: Positive
    utilization: Fraction
    gpu_share: Fraction = 1.0
    precision: Literal["bf16", "fp8"] = "bf16"


DISRUPTION_KINDS = (
    "fab_outage", "packaging_outage", "hbm_shortfall", "export_rule", "turbine_backlog",
    "interconnection_delay", "construction_delay", "fiber_cut",
)


class Disruption(Strict):
    """A disruption (sim/world/disruptions.py): scheduled on `start`, or random at `rate_per_year`.

    Each kind has one effect field (`capacity_factor`, `share_factor`, `lead_time_factor` or
    `delay_days`) and a target; which of them a kind needs, and whether the target exists, is checked
    by `sim.config.disruption_checks.check_disruptions` (key paths such as disruptions.2.target).
    """

    name: Name
    kind: Literal[DISRUPTION_KINDS]
    target: Name  # a fab, packaging line, HBM supplier, lab, plant type, site, "a-b" link, or "all"
    start: dt.date | None = None  # a scheduled disruption: its first day
    rate_per_year: Positive | None = None  # a random one: Poisson arrivals per year over the horizon
    duration_days: Positive | None = None  # outages, shortfalls, fiber cuts; export rules and turbine
    #                                        backlogs: optional (default: through the end date)
    capacity_factor: FractionOrZero | None = None  # outages, HBM shortfall: capacity left (0.5 = down 50%)
    share_factor: FractionOrZero | None = None  # export rule: the lab's share is multiplied by this
    lead_time_factor: Annotated[float, Field(ge=1, allow_inf_nan=False)] | None = None  # turbine backlog
    delay_days: Positive | None = None  # interconnection and construction delays


class Scenario(Strict):
    name: Name
    description: str = ""
    start_date: dt.date
    end_date: dt.date
    tick_days: Annotated[float, Field(gt=0, le=31, allow_inf_nan=False)] = 7.0
    h100e_reference: Name  # the GPU type whose dense BF16 FLOP/s defines one H100-equivalent
    gpu_service_life_days: Positive
    # replace installed GPUs with ones doing at least this many times their FLOP per watt (off if absent)
    gpu_refresh_min_flop_per_w_gain: Annotated[float, Field(ge=1, allow_inf_nan=False)] | None = None
    gpu_types: dict[Name, GpuType] = Field(min_length=1)
    mix: list[MixPoint] = Field(min_length=1)
    logic_fabs: dict[Name, LogicFab] = Field(min_length=1)
    packaging_lines: dict[Name, PackagingLine] = Field(min_length=1)
    hbm_suppliers: dict[Name, HbmSupplier] = Field(min_length=1)
    labs: dict[Name, Lab] = Field(min_length=1)
    plant_types: dict[Name, PlantType] = Field(default_factory=dict)
    power_plants: list[PowerPlant] = Field(default_factory=list)
    sites: dict[Name, Site] = Field(default_factory=dict)
    runs: list[TrainingRun] = Field(default_factory=list)
    frontier: Frontier
    topology: Name | None = None  # a shipped topology's name or a path (relative to the scenario file)
    training: TrainingPhysics | None = None
    disruptions: list[Disruption] = Field(default_factory=list)
