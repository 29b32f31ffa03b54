"""What a lab's GPUs do besides pre-training: inference serving, research experiments and synthetic
data, held month by month, and the data stock synthetic tokens build.

Each month start (and when a run is about to take GPUs) the `ComputeUses` component places each lab's
monthly uses on its free installed GPUs, oldest products first (the newest are left to the frontier
runs, which pool the fastest products: sim/world/training.py), in this order:
  inference       the month's demand: output tokens/day (the lab's path) x the reasoning multiplier,
                  converted to GPU-seconds by the decode physics of the serving model on each product
                  (sim/physics/inference.py: memory-bound decoding, compute-bound prefill) and the
                  peak-to-mean load; what finds no free GPU goes unserved (`inference_served_share`);
  experiments     `share_of_fleet` of the lab's installed peak FLOP/s;
  synthetic data  `share_of_fleet` of it, generating with the serving model; kept tokens (generated /
                  `samples_per_kept_token`) x `token_value` join the lab's effective data stock as
                  they are made, so the data wall of its later runs and of the frontier follows them.
Priority (a lab policy): experiments and synthetic data are reserved before training (a run takes
only what they leave); inference is too with `priority: before_training`, while with
`after_training` a run about to start takes its GPUs first and inference is served on what is left.
Post-training runs are TrainingRuns' (sim/world/training.py), launched when a pre-training run ends.
GPUs are installed only within power (sim/world/labs.py), so every use is within power.
The ledger itself is integrated by each site's fleet (sim/world/fleet.py `flop_time`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import simpy

from sim.config.schema import Scenario
from sim.config.schema_uses import ComputeUses as UsesSpec, Generation, ServingModel
from sim.physics.inference import Decode, decode, serving_gpu_seconds, synthetic_flop_per_kept_token
from sim.physics.units import SECONDS_PER_DAY
from sim.physics.walls import data_wall_tokens
from sim.world.component import Component, Row
from sim.world.fleet import EXPERIMENTS, INFERENCE, SYNTHETIC_DATA
from sim.world.labs import Lab
from sim.world.products import Products
from sim.world.sites import Site
from sim.world.supply_plan import build_ramp

DEFAULT_KERNEL_EFFICIENCY = 0.5
"""Share of peak FLOP/s compute-bound kernels reach when no training physics is given (the baseline's
calibrated `training.kernel_efficiency` median, docs/calibration.md)."""

Holding = list[tuple[Site, int, int]]  # (site, product, GPUs)


@dataclass
class LabLedger:
    """One lab's monthly uses: what each holds, the tokens made and served, and the data made so far."""

    lab: Lab
    holdings: dict[int, Holding] = field(default_factory=dict)  # use -> what it holds
    synthetic_tokens_total: float = 0.0  # effective tokens generated since the start date
    synthetic_rate_tokens_day: float = 0.0  # effective tokens a day at the current holdings
    synthetic_since_day: float = 0.0
    demand_tokens_day: float = 0.0  # output tokens a day wanted this month
    served_tokens_day: float = 0.0  # output tokens a day the held GPUs can serve
    served_total: float = 0.0  # output tokens served since the start date
    demanded_total: float = 0.0
    served_since_day: float = 0.0


class ComputeUses(Component):
    """Places each lab's monthly uses on its GPUs (see the module docstring) and records them."""

    kind = "lab"

    def __init__(self, env: simpy.Environment, s: Scenario, labs: dict[str, Lab], products: Products,
                 month_days: list[float]):
        super().__init__(env, "compute_uses")
        spec: UsesSpec = s.compute_uses
        self.spec, self.products, self.start_date = spec, products, s.start_date
        self.kernel_efficiency = s.training.kernel_efficiency if s.training else DEFAULT_KERNEL_EFFICIENCY
        data = s.training.data if s.training else None
        self.base_tokens = data_wall_tokens(data.stock_tokens, data.epochs, data.quality) if data else math.inf
        self.ledgers = {name: LabLedger(lab) for name, lab in labs.items()}
        # products oldest first: the monthly uses take the GPUs the frontier runs want least
        self.oldest_first = sorted(range(len(products)), key=lambda i: (products.available_day[i], i))
        inference = spec.inference
        self.demand = {}  # lab -> (output tokens/day ramp, priority)
        self.serving_batch = 1  # this month's serving batch per replica
        if inference is not None:
            self.reasoning = build_ramp(inference.reasoning_token_multiplier, s.start_date)
            self.batch_path = build_ramp(inference.max_batch, s.start_date)
            for name, lab_spec in inference.labs.items():
                self.demand[name] = (build_ramp(lab_spec.output_tokens_per_day, s.start_date),
                                     lab_spec.priority or inference.priority)
        synthetic = spec.synthetic_data
        self.synthetic = synthetic if synthetic is not None and synthetic.enabled else None
        self.add_process(self._months, month_days)

    # ------------------------------------------------------------------ decisions
    def _months(self, month_days: list[float]):
        env = self.env
        for day in month_days:
            if day > env.now:
                yield env.timeout(day - env.now)
            for name in self.ledgers:
                self.replace(name)

    def replace(self, lab: str) -> None:
        """A new month: hand back last month's GPUs and place this month's uses, in priority order."""
        ledger = self.ledgers[lab]
        self._release(ledger, list(ledger.holdings))
        self._demand(ledger)
        self._place(ledger, before_training=True)
        self._place(ledger, before_training=False)

    def yield_all(self, lab: str) -> None:
        """A run typed in the scenario (the record: it had its GPUs) is about to start: every monthly use
        hands its GPUs back; `resume` places them again on what the run leaves."""
        ledger = self.ledgers.get(lab)
        if ledger is not None:
            self._release(ledger, list(ledger.holdings))

    def resume(self, lab: str) -> None:
        """After `yield_all` and the run's take: the monthly uses top up again, in priority order."""
        ledger = self.ledgers.get(lab)
        if ledger is not None:
            self._place(ledger, before_training=True)
            self._place(ledger, before_training=False)

    def reserved(self, site) -> list[int]:
        """GPUs of each product the monthly uses with priority over training hold at a site (what a run
        starting now could not take): experiments, synthetic data, and inference served first."""
        ledger = self.ledgers.get(site.lab)
        held = [0] * len(self.products)
        if ledger is None:
            return held
        first = [EXPERIMENTS, SYNTHETIC_DATA] + ([INFERENCE] if self._inference_first(site.lab) else [])
        for use in first:
            for s, i, n in ledger.holdings.get(use, []):
                if s is site:
                    held[i] += n
        return held

    def before_training(self, lab: str) -> None:
        """A run is about to take GPUs: uses with priority over training top up to this month's needs
        first; inference served after training hands its GPUs back (it is placed again after)."""
        ledger = self.ledgers.get(lab)
        if ledger is None:
            return
        if not self._inference_first(lab):
            self._release(ledger, [INFERENCE])
        self._place(ledger, before_training=True)

    def after_training(self, lab: str) -> None:
        """A run has taken its GPUs: inference served after training takes what is left."""
        ledger = self.ledgers.get(lab)
        if ledger is not None:
            self._place(ledger, before_training=False)

    def _inference_first(self, lab: str) -> bool:
        return lab in self.demand and self.demand[lab][1] == "before_training"

    def _demand(self, ledger: LabLedger) -> None:
        """This month's inference demand (output tokens a day)."""
        now = self.env.now
        self._accrue(ledger)
        path = self.demand.get(ledger.lab.name)
        if path:
            self.serving_batch = max(1, round(float(self.batch_path.at(now))))
        ledger.demand_tokens_day = float(path[0].at(now)) * float(self.reasoning.at(now)) if path else 0.0

    def _place(self, ledger: LabLedger, before_training: bool) -> None:
        """Top up the monthly uses of this priority class to their targets on free GPUs, oldest first."""
        spec, name = self.spec, ledger.lab.name
        if self._inference_first(name) == before_training and ledger.demand_tokens_day > 0:
            self._serve(ledger)
        if not before_training:
            return
        installed = sum(s.fleet.installed_flop_s for s in ledger.lab.sites)
        if spec.experiments is not None and spec.experiments.share_of_fleet > 0:
            self._top_up(ledger, EXPERIMENTS, spec.experiments.share_of_fleet * installed, self._peak_of)
        if self.synthetic is not None and self.synthetic.share_of_fleet > 0:
            self._accrue(ledger)
            self._top_up(ledger, SYNTHETIC_DATA, self.synthetic.share_of_fleet * installed, self._peak_of)
            ledger.synthetic_rate_tokens_day = sum(n * self._kept_tokens_s(i) for _, i, n in
                                                   ledger.holdings.get(SYNTHETIC_DATA, [])) * SECONDS_PER_DAY

    def _serve(self, ledger: LabLedger) -> None:
        """Hold GPUs for this month's demand, oldest products first."""
        self._accrue(ledger)
        wanted_tokens_s = ledger.demand_tokens_day / SECONDS_PER_DAY
        self._top_up(ledger, INFERENCE, wanted_tokens_s, self._served_tokens_s)
        ledger.served_tokens_day = min(ledger.demand_tokens_day, SECONDS_PER_DAY * sum(
            n * self._served_tokens_s(i) for _, i, n in ledger.holdings.get(INFERENCE, [])))

    def _top_up(self, ledger: LabLedger, use: int, target: float, per_gpu) -> None:
        """Take free GPUs (oldest products first, sites in order) until the use holds `target`, counted
        `per_gpu(product)` each (peak FLOP/s, or tokens/s)."""
        held = ledger.holdings.setdefault(use, [])
        short = target - sum(n * per_gpu(i) for _, i, n in held)
        if short <= 0:
            return
        for i in self.oldest_first:
            value = per_gpu(i)
            if value <= 0:
                continue
            for site in ledger.lab.sites:
                free = site.fleet.free(i) if site.built else 0
                if free <= 0:
                    continue
                n = min(free, math.ceil(short / value - 1e-9))
                site.fleet.take(i, n, use)
                held.append((site, i, n))
                short -= n * value
                if short <= 0:
                    return

    def _release(self, ledger: LabLedger, uses: list[int]) -> None:
        self._accrue(ledger)
        for use in uses:
            for site, i, n in ledger.holdings.pop(use, []):
                site.fleet.release(i, n, use)
        if SYNTHETIC_DATA in uses:
            ledger.synthetic_rate_tokens_day = 0.0
        if INFERENCE in uses:
            ledger.served_tokens_day = 0.0

    def _accrue(self, ledger: LabLedger) -> None:
        """Count the tokens made and served since the last change, at the rates held since."""
        now = self.env.now
        ledger.synthetic_tokens_total += ledger.synthetic_rate_tokens_day * (now - ledger.synthetic_since_day)
        ledger.synthetic_since_day = now
        days = now - ledger.served_since_day
        ledger.served_total += ledger.served_tokens_day * days
        ledger.demanded_total += ledger.demand_tokens_day * days
        ledger.served_since_day = now

    # ------------------------------------------------------------------ physics per product
    def _peak_of(self, product: int) -> float:
        return self.products.peak_bf16[product]

    def _served_tokens_s(self, product: int) -> float:
        """Output tokens/s one GPU of a product serves, with its prompts and the peak-to-mean load."""
        inference = self.spec.inference
        return _serving_tokens_s(self.spec.serving_model, inference,
                                 self._decode(product, inference, self.serving_batch),
                                 self.products.peak_fp8[product], self.kernel_efficiency)

    def _kept_tokens_s(self, product: int) -> float:
        """Effective training tokens/s one GPU of a product makes as synthetic data: the FLOP/s decoding
        reaches over the FLOP per kept token (2 N_active x samples per kept token)."""
        synthetic, model = self.synthetic, self.spec.serving_model
        flop_s = self._decode(product, synthetic).flop_utilization * self.products.peak_fp8[product]
        return flop_s / synthetic_flop_per_kept_token(model.active_params, synthetic.samples_per_kept_token) \
            * synthetic.token_value

    def _decode(self, product: int, generation: Generation, batch: int | None = None) -> Decode:
        p, model = self.products, self.spec.serving_model
        return _decode_on(model.active_params, model.total_params or model.active_params, model.bytes_per_param,
                          generation.context_tokens, generation.time_per_output_token_s, batch or generation.max_batch,
                          p.peak_fp8[product], p.hbm_bytes_s[product], p.hbm_bytes[product], self.kernel_efficiency)

    # ------------------------------------------------------------------ what the world reads
    def extra_tokens(self, lab: str, day: float | None = None) -> float:
        """Effective synthetic tokens the lab has made by now (added to the data wall's stock)."""
        ledger = self.ledgers.get(lab)
        if ledger is None:
            return 0.0
        self._accrue(ledger)
        return ledger.synthetic_tokens_total

    def data_tokens(self, lab: str) -> float:
        """The lab's effective data stock now: the shared stock plus its synthetic tokens."""
        return self.base_tokens + self.extra_tokens(lab)

    def probe(self, day: float, rows: list[Row]) -> None:
        kind = self.kind
        for name, ledger in self.ledgers.items():
            self._accrue(ledger)
            rows.append((day, name, kind, "inference_output_tokens_total", ledger.served_total))
            rows.append((day, name, kind, "inference_demand_tokens_total", ledger.demanded_total))
            rows.append((day, name, kind, "synthetic_tokens_total", ledger.synthetic_tokens_total))
            if self.base_tokens != math.inf:
                rows.append((day, name, kind, "data_stock_tokens", self.base_tokens + ledger.synthetic_tokens_total))


@lru_cache(maxsize=256)
def _decode_on(active_params: float, total_params: float, bytes_per_param: float, context_tokens: int,
               time_per_output_token_s: float, max_batch: int, peak_flop_s: float, hbm_bytes_s: float,
               hbm_bytes: float, kernel_efficiency: float) -> Decode:
    """The decode physics of the serving model on one product (cached: a handful of products)."""
    return decode(active_params, total_params, context_tokens, peak_flop_s, hbm_bytes_s, hbm_bytes,
                  bytes_per_param=bytes_per_param, time_per_output_token_s=time_per_output_token_s,
                  max_batch=max_batch, kernel_efficiency=kernel_efficiency)


def _serving_tokens_s(model: ServingModel, inference, dec: Decode, peak_flop_s: float,
                      kernel_efficiency: float) -> float:
    """Output tokens/s per GPU once prompts (prefill) and the peak-to-mean load are paid for: one over
    the GPU-seconds of serving one output token (sim/physics/inference.py `serving_gpu_seconds`)."""
    if dec.tokens_s_per_gpu <= 0:
        return 0.0
    per_token_s = serving_gpu_seconds(1.0, inference.input_tokens_per_output_token, dec, model.active_params,
                                      peak_flop_s, kernel_efficiency, inference.peak_to_mean_load)
    return 1.0 / per_token_s if per_token_s > 0 else 0.0
