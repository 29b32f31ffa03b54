"""The scenario file's schema: plain typed objects, validated by pydantic before anything runs.

Key names carry their units (`_mw`, `_days`, `_flop_s`, `_wpm`), so a file reads without a manual.
Validation is strict: a string where a number belongs, a negative or non-finite number, a number or
date out of its bounds (sim/config/limits.py), or an unknown key is refused with its key path.
Cross-references (a run naming a missing site, a mix naming an unknown GPU) are checked in
`sim.config.references.check_references`, which reports key paths the same way.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field, model_validator

from sim.config.limits import (MAX_DIE_MM2, MAX_GROWTH_PER_YEAR, MAX_LEAD_TIME_FACTOR, MAX_MW,
                               MAX_PACKAGES_PER_WAFER, MAX_PUE, MAX_QUANTITY, MAX_STACK_HEIGHT, MAX_RATE_PER_YEAR,
                               MAX_SEQUENCE_TOKENS, MAX_TICK_DAYS, MAX_TOKENS, MAX_WAFER_DIAMETER_MM, MIN_DIE_MM2,
                               MIN_TICK_DAYS, NAME_CHARS)
from sim.config.schema_uses import ComputeUses
from sim.config.types import (  # noqa: F401 (NonNeg, Positive, RampSpec: re-exported for the topology and loaders)
    Amount, Count, Date, Days, FlopS, Fraction, FractionOrZero, Megawatts, Name, NonNeg, PathText, PerPackage, Positive,
    PositiveAmount, PositiveDays, RampOrNumber, RampSpec, ScenarioName, Strict, Watts)
from sim.physics.recovery import REPAIR_HOURS, RESTART_BASE_S, RESTART_S_PER_DOUBLING, STORAGE_BYTES_S_PER_GPU


FAMILIES = ("gpu", "tpu", "trainium", "other")
Family = Literal[FAMILIES]


class GpuType(Strict):
    """One accelerator product; shipped specs: the catalog sim/data/hardware.csv (sources: docs/sources.md)."""

    available_from: Date
    bf16_dense_flop_s: FlopS
    fp8_dense_flop_s: FlopS | None = None
    fp4_dense_flop_s: FlopS | None = None  # FP4 tensor cores (Blackwell on); absent: FP4 runs at FP8
    all_in_it_w: Watts  # GPU + its share of server, network, storage IT power, before PUE
    hbm_stacks: PerPackage
    packages_per_cowos_wafer: Annotated[float, Field(gt=0, le=MAX_PACKAGES_PER_WAFER, allow_inf_nan=False)]
    die_area_mm2: Annotated[float, Field(ge=MIN_DIE_MM2, le=MAX_DIE_MM2, allow_inf_nan=False)]
    dies_per_gpu: Annotated[PerPackage, Field(ge=1)] = 1
    family: Family = "gpu"  # which buyers take it (labs buy by family: `labs.NAME.share_of_output`)
    hbm_stack_height: Annotated[int, Field(ge=1, le=MAX_STACK_HEIGHT)] = 8  # DRAM core dies per HBM stack
    hbm_gb: PositiveAmount | None = None  # HBM capacity: a run's parallel plan must fit in it (absent: not checked)
    hbm_bandwidth_bytes_s: PositiveAmount | None = None  # paces decoding (absent: H100's bytes per FLOP x peak)
    # what a buyer pays for one accelerator; servers and network on top: costs.server_overhead. Absent:
    # the price trend (costs.price_doubling_years) from the reference GPU's price
    price_usd: Amount | None = None
    # failure rate per GPU against the Kokolis et al. 2024 central rate (sim/physics/reliability.py): 1 for
    # A100 (measured there) and H100 (Llama 3's interruptions, within 3%); other products: 1, an assumption
    failure_rate_factor: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = 1.0


class MixPoint(Strict):
    """The share of GPU assembly going to each product from `date` on (interpolated between points)."""

    date: Date
    shares: dict[Name, Amount] = Field(min_length=1)

    @model_validator(mode="after")
    def _shares_sum_positive(self) -> "MixPoint":
        if sum(self.shares.values()) <= 0:
            raise ValueError("mix shares must not all be zero")
        return self


class LogicFab(Strict):
    wafer_capacity_wpm: RampOrNumber  # advanced-node wafers per month
    allocation_share: Fraction = 1.0  # share of those wafers going to the modelled accelerators
    defect_density_per_cm2: Amount
    wafer_diameter_mm: Annotated[float, Field(gt=0, le=MAX_WAFER_DIAMETER_MM, allow_inf_nan=False)] = 300.0
    cycle_time_days: Days


class PackagingLine(Strict):
    wafer_capacity_wpm: RampOrNumber  # CoWoS interposer wafers per month
    allocation_share: Fraction = 1.0  # share going to the modelled accelerators
    packaging_yield: Fraction = 1.0
    cycle_time_days: Days


class HbmSupplier(Strict):
    """An HBM maker: TSV (through-silicon via) wafers a month, each giving `dram_dies_per_tsv_wafer` good
    DRAM core dies after stacking; a product's stacks take hbm_stacks x hbm_stack_height of them."""

    tsv_wafer_capacity_wpm: RampOrNumber  # TSV wafers per month
    dram_dies_per_tsv_wafer: PositiveAmount  # good core dies per TSV wafer (after die and stacking yield)
    allocation_share: Fraction = 1.0  # share going to the modelled accelerators
    cycle_time_days: Days = 0.0  # TSV wafer start to finished stacks


class SupplyPlanning(Strict):
    """How the supply chain plans (sim/world/supply.py): each stage keeps this many weeks of the planned
    use in stock (its safety stock), on top of what is on order for its lead time."""

    die_buffer_weeks: Amount = 4.0
    cowos_buffer_weeks: Amount = 2.0
    hbm_buffer_weeks: Amount = 4.0


class LabBudget(Strict):
    """A lab's capital budget (sim/world/money.py): it accrues at `usd_per_year` (a ramp over dates);
    accelerators, datacenters and plants are paid from it when ordered or started."""

    usd_per_year: RampOrNumber
    initial_usd: Amount = 0.0  # unspent on the start date


class Campus(Strict):
    """A place the lab's procurement policy may build: a region, coordinates, and the topology site
    whose fabric and links its halls use (default: none; a run there then stays on it)."""

    region: Name
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    topology_site: Name | None = None


class Procurement(Strict):
    """A lab's power procurement policy (sim/world/procurement.py): each month it compares the power
    its planned purchases will need `planning_horizon_days` ahead with the power its sites and
    projects will deliver then, and starts projects of `project_mw` for the gap, choosing among
    `plant_types` at `campuses` by online date, then cost."""

    first_start: Date  # no policy project starts before this (projects known then are typed)
    campuses: dict[Name, Campus] = Field(min_length=1)
    plant_types: list[Name] = Field(min_length=1)
    planning_horizon_days: PositiveDays
    project_mw: Annotated[float, Field(gt=0, le=MAX_MW, allow_inf_nan=False)]  # facility MW of one project
    max_projects_per_year: Annotated[int, Field(ge=1, le=1000)] = 4
    pue: Annotated[float, Field(ge=1, le=MAX_PUE, allow_inf_nan=False)] = 1.2
    construction_days: Days = 365.0  # a hall's shell and fit-out, first phase


class LabPurchasing(Strict):
    """A lab's purchase policy (sim/world/labs.py, Purchasing): order only for the power expected at
    delivery x (1 + power_buffer), and at most max_h100e_per_year H100e a calendar year."""

    power_buffer: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.1
    max_h100e_per_year: PositiveAmount | None = None


def _every_family(value):
    """One number for `share_of_output` means that share of every family (read before validation, so
    errors name the family key: labs.NAME.share_of_output.gpu)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {family: value for family in FAMILIES}
    return value


class Lab(Strict):
    # share of each family's output this lab buys ({gpu: 0.2, tpu: 0.6}; a family left out: none);
    # one number: that share of every family
    share_of_output: Annotated[dict[Family, FractionOrZero], BeforeValidator(_every_family)]
    delivery_lead_time_days: Days
    purchasing: LabPurchasing | None = None  # absent: the lab takes its whole share of output
    budget: LabBudget | None = None  # absent: money never limits the lab
    procurement: Procurement | None = None  # absent: only the scenario's typed sites and plants

    def share_of(self, family: str) -> float:
        """The share of a family's output this lab buys."""
        return self.share_of_output.get(family, 0.0)


class PlantType(Strict):
    lead_time_days: Days  # construction start (or interconnection request) to operation
    firm_fraction: Fraction  # share of nameplate MW that can be counted on around the clock
    capex_usd_per_mw: Amount = 0.0  # overnight cost per MW of nameplate
    lease_usd_per_mw_year: Amount = 0.0  # leased capacity: a yearly fee per facility MW instead of capex
    # cost of the energy it delivers (fuel and O&M); absent: the region's grid price
    energy_price_usd_per_mwh: Amount | None = None
    carbon_t_per_mwh: Amount | None = None  # tCO2 per MWh delivered; absent: the region's grid intensity
    # MW of each power equipment type (power_equipment) one MW of nameplate needs, ordered at construction start
    equipment: dict[Name, PositiveAmount] = Field(default_factory=dict)
    install_days: Days = 0.0  # last equipment delivered -> operation (the plant waits for both)
    completion_probability: Fraction = 1.0  # policy projects that ever finish (interconnection queues)
    phases: Annotated[int, Field(ge=1, le=100)] = 1  # policy projects come online in this many equal blocks
    phase_interval_days: Days = 0.0  # between blocks
    uses_grid_headroom: bool = False  # draws on its region's grid_headroom_mw (grid interconnections)
    regions: list[Name] | None = None  # where the procurement policy may use it (default: anywhere)


class Region(Strict):
    """A power region (a US grid region, a province, a country): its grid price and carbon intensity,
    and how many MW of new interconnections it can give large loads by each date."""

    energy_price_usd_per_mwh: Amount
    grid_carbon_t_per_mwh: Amount
    grid_headroom_mw: RampOrNumber = 0.0  # cumulative MW of new large-load interconnections it can grant


class PowerEquipment(Strict):
    """Power equipment made by manufacturers (sim/world/equipment.py): a yearly output shared, first
    come first served, by an order book holding other buyers' orders too."""

    capacity_mw_per_year: RampOrNumber
    backlog_mw: Amount = 0.0  # other buyers' orders waiting on the start date
    other_orders_mw_per_year: RampOrNumber = 0.0  # orders from buyers outside the modelled labs


class Costs(Strict):
    """What hardware and buildings cost (sim/physics/costs.py)."""

    server_overhead: Amount  # servers, networking and storage per accelerator, as a share of its price
    hardware_life_days: PositiveDays  # straight-line depreciation of a cluster's hardware
    datacenter_capex_usd_per_mw: Amount  # building, electrical and cooling per facility MW
    # dense BF16 FLOP/s per dollar doubles every this many years: prices the GPU types that give no price
    price_doubling_years: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = 2.95
    discount_rate: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.08  # to compare power options
    plant_life_years: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = 20.0  # their capex repaid over this


class PowerPlant(Strict):
    name: Name
    site: Name
    type: Name
    capacity_mw: Megawatts
    construction_start: Date
    lead_time_days: Days | None = None  # overrides the plant type's
    firm_fraction: Fraction | None = None  # overrides the plant type's
    phases: Annotated[int, Field(ge=1, le=100)] = 1  # comes online in this many equal blocks
    phase_interval_days: Days = 0.0  # between blocks (the first on the online day)
    equipment_on_hand: bool = False  # its equipment was bought outside the order book (rented units, ordered earlier)


class Site(Strict):
    lab: Name
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    construction_start: Date
    construction_days: Days
    facility_mw: Megawatts
    pue: Annotated[float, Field(ge=1, le=MAX_PUE, allow_inf_nan=False)]
    initial_gpus: dict[Name, Count] = Field(default_factory=dict)  # installed on the start date
    topology_site: Name | None = None  # the topology's site hosting this one (default: same name)
    region: Name | None = None  # its power region (regions): energy price and carbon of grid power
    phases: Annotated[int, Field(ge=1, le=100)] = 1  # halls finished in this many equal blocks
    phase_interval_days: Days = 0.0  # between them (the first on construction start + construction_days)


class DiLoCoSpec(Strict):
    """DiLoCo across a run's sites (sim/physics/sizing.py OuterSync; sources in docs/sources.md)."""

    inner_steps: Annotated[int, Field(ge=1, le=1_000_000)] = 500  # H: Douillard et al. 2023 use 500
    outer_bits: Annotated[float, Field(ge=1, le=32, allow_inf_nan=False)] = 16.0  # bits per outer-gradient value
    overlap: bool = False  # streaming DiLoCo: the outer exchange runs behind the next inner steps
    token_efficiency: Fraction = 1.0  # a token's worth against synchronous training (1: as good)


class DiLoCo(Strict):
    diloco: DiLoCoSpec = DiLoCoSpec()


Sync = Union[Literal["synchronous"], DiLoCo]  # how a run's sites keep their model replicas in step


class TrainingRun(Strict):
    name: Name
    lab: Name
    sites: list[Name] = Field(min_length=1)
    start: Date | None = None
    start_when_h100e_installed: PositiveAmount | None = None  # in the run's sites
    duration_days: PositiveDays
    utilization: Fraction | None = None  # fixed MFU; default: from the topology's step time
    gpu_share: Fraction = 1.0  # share of the sites' free installed GPUs the run takes
    precision: Literal["bf16", "fp8", "fp4"] = "bf16"
    gpu_type: Name | None = None  # default: the installed type with the most peak FLOP/s
    model_params: PositiveAmount | None = None  # default: compute-optimal for the run's budget (C = 6ND, D = 20N)
    sync: Sync = "synchronous"  # or {diloco: {inner_steps: 500, outer_bits: 4}} across its sites

    @model_validator(mode="after")
    def _one_start_rule(self) -> "TrainingRun":
        if (self.start is None) == (self.start_when_h100e_installed is None):
            raise ValueError("give exactly one of start or start_when_h100e_installed")
        return self


class RunPolicySpec(Strict):
    """Labs' frontier pre-training runs from policy (sim/world/run_policy.py): each lab launches its
    next run when its previous one ends, or earlier once the cluster it could use has grown by
    `relaunch_growth_factor` since its last launch."""

    first_start: Date  # no policy run starts before this (typed runs cover the history)
    labs: list[Name] | None = None  # default: every lab with sites
    gpu_share: Fraction  # share of the free accelerators at the run's sites it takes
    duration_days_at_first_start: PositiveDays
    duration_growth_per_year: Annotated[float, Field(ge=1, le=MAX_GROWTH_PER_YEAR, allow_inf_nan=False)] = 1.0
    max_duration_days: PositiveDays
    relaunch_growth_factor: Annotated[float, Field(gt=1, le=MAX_QUANTITY, allow_inf_nan=False)]
    precision: Literal["bf16", "fp8", "fp4"] = "fp8"
    utilization: Fraction | None = None  # fixed MFU; default (and with a topology): from the step time
    sync: Sync = "synchronous"  # the policy's runs across sites (and the frontier's network wall)


class DataStock(Strict):
    """Training data available to a run: effective tokens = stock x epochs x quality (Epoch 2030)."""

    stock_tokens: Annotated[float, Field(gt=0, le=MAX_TOKENS, allow_inf_nan=False)]
    epochs: PositiveAmount
    quality: Fraction


# a checkpoint write or restart: at most 1e6 s (11.6 days, longer than any run could live with)
RecoverySeconds = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]


class TrainingPhysics(Strict):
    """How runs turn GPUs and a network into useful FLOP (issue: topologies and run physics)."""

    kernel_efficiency: Fraction  # fraction of peak that compute kernels reach
    # tokens per sequence: the smallest microbatch per replica
    sequence_tokens: Annotated[int, Field(ge=1, le=MAX_SEQUENCE_TOKENS)]
    batch_tokens: PositiveAmount | None = None  # fixed batch; default: critical batch growing with model size
    data: DataStock
    # reliability (sim/physics/recovery.py `recovery`; defaults: the central values, sources there)
    checkpoint: Literal["sync", "async", "in_memory"] = "async"  # how checkpoints are written
    checkpoint_write_s: RecoverySeconds | None = None  # fixed blocking time per checkpoint; default: from bytes
    storage_bytes_s_per_gpu: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)] = STORAGE_BYTES_S_PER_GPU
    restart_s: RecoverySeconds = RESTART_BASE_S  # the fixed part of each restart
    restart_s_per_doubling: RecoverySeconds = RESTART_S_PER_DOUBLING  # grows with log2(GPUs)
    failure_rate_quantile: FractionOrZero = 0.5  # 0 = Meta RSC-2's rate, 1 = RSC-1's (Kokolis et al. 2024)
    failure_blast: Literal["node", "nvlink_domain"] = "nvlink_domain"  # what one failure takes down
    hot_spares: bool = True  # a spare unit replaces a failed one within the restart (else: wait for repair)
    repair_hours: Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)] = REPAIR_HOURS


class Frontier(Strict):
    """How the month-by-month frontier sizes a hypothetical run starting in each month."""

    duration_days: PositiveDays
    utilization: Fraction
    gpu_share: Fraction = 1.0
    precision: Literal["bf16", "fp8", "fp4"] = "bf16"


DISRUPTION_KINDS = (
    "fab_outage", "packaging_outage", "hbm_shortfall", "export_rule", "turbine_backlog",
    "interconnection_delay", "construction_delay", "fiber_cut", "equipment_shortfall",
)


class Disruption(Strict):
    """A disruption (sim/world/disruptions.py): scheduled on `start`, or random at `rate_per_year`.

    Each kind has one effect field (`capacity_factor`, `share_factor`, `lead_time_factor` or
    `delay_days`) and a target; which of them a kind needs, and whether the target exists, is checked
    by `sim.config.disruption_checks.check_disruptions` (key paths such as disruptions.2.target).
    """

    name: Name
    kind: Literal[DISRUPTION_KINDS]
    # a fab, packaging line, HBM supplier, lab, plant type, site, "a-b" link (two names), or "all"
    target: Annotated[str, Field(min_length=1, max_length=2 * NAME_CHARS + 1)]
    start: Date | None = None  # a scheduled disruption: its first day
    # a random one: Poisson arrivals per year over the horizon (at most one a day; the expected total
    # over the horizon is bounded too, in disruption_checks)
    rate_per_year: Annotated[float, Field(gt=0, le=MAX_RATE_PER_YEAR, allow_inf_nan=False)] | None = None
    duration_days: PositiveDays | None = None  # outages, shortfalls, fiber cuts; export rules and turbine
    #                                        backlogs: optional (default: through the end date)
    capacity_factor: FractionOrZero | None = None  # outages, HBM and equipment shortfalls: capacity left (0.5 = down 50%)
    share_factor: FractionOrZero | None = None  # export rule: the lab's share is multiplied by this
    # turbine backlog: lead times multiplied by this
    lead_time_factor: Annotated[float, Field(ge=1, le=MAX_LEAD_TIME_FACTOR, allow_inf_nan=False)] | None = None
    delay_days: PositiveDays | None = None  # interconnection and construction delays


class Scenario(Strict):
    name: ScenarioName
    description: str = ""
    start_date: Date
    end_date: Date
    tick_days: Annotated[float, Field(ge=MIN_TICK_DAYS, le=MAX_TICK_DAYS, allow_inf_nan=False)] = 7.0
    h100e_reference: Name  # the GPU type whose dense BF16 FLOP/s defines one H100-equivalent
    gpu_service_life_days: PositiveDays
    # replace installed GPUs with ones doing at least this many times their FLOP per watt (off if absent)
    gpu_refresh_min_flop_per_w_gain: Annotated[float, Field(ge=1, le=MAX_QUANTITY, allow_inf_nan=False)] | None = None
    gpu_refresh_min_age_days: Days = 0.0  # a refresh replaces only GPUs at least this old
    gpu_types: dict[Name, GpuType] = Field(min_length=1)
    mix: list[MixPoint] = Field(min_length=1)
    # what mix shares are shares of: accelerators assembled, or CoWoS wafers (as foundry allocations by
    # customer are reported; a product's units are then its wafer share x packages per wafer)
    mix_basis: Literal["units", "cowos_wafers"] = "units"
    logic_fabs: dict[Name, LogicFab] = Field(min_length=1)
    packaging_lines: dict[Name, PackagingLine] = Field(min_length=1)
    hbm_suppliers: dict[Name, HbmSupplier] = Field(min_length=1)
    supply_planning: SupplyPlanning = SupplyPlanning()
    labs: dict[Name, Lab] = Field(min_length=1)
    plant_types: dict[Name, PlantType] = Field(default_factory=dict)
    regions: dict[Name, Region] = Field(default_factory=dict)
    power_equipment: dict[Name, PowerEquipment] = Field(default_factory=dict)
    costs: Costs | None = None  # absent: nothing is priced
    power_plants: list[PowerPlant] = Field(default_factory=list)
    sites: dict[Name, Site] = Field(default_factory=dict)
    runs: list[TrainingRun] = Field(default_factory=list)
    frontier: Frontier
    other_buyers_pue: Annotated[float, Field(ge=1, le=MAX_PUE, allow_inf_nan=False)] = 1.2  # their sites' PUE
    topology: PathText | None = None  # a shipped topology's name or a path (relative to the scenario file)
    training: TrainingPhysics | None = None
    run_policy: RunPolicySpec | None = None
    # a run whose sites are not built (or hold no accelerators yet) waits up to this long, then starts
    # on what it finds (or on the lab's other sites); its label is then `construction`
    run_wait_limit_days: Days = 0.0
    disruptions: list[Disruption] = Field(default_factory=list)
    compute_uses: ComputeUses | None = None  # absent: GPUs only pre-train (and idle)
