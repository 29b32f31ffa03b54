"""Post-training: after each policy pre-training run completes, its lab post-trains the model it made.

The policy (docs/policies.md): the post-training run's FLOP are `share_of_pretraining` (a path by date,
capped at `max_share_of_pretraining`) of the pre-training run's. Of them, `generation_share_of_flop`
go to generating rollouts with the model (memory-bound decoding at its size, sim/physics/inference.py)
and the rest to training steps at the pre-training run's MFU (the same model; a smaller job).
Rollouts are independent samples, so the run takes free GPUs at any of the lab's built sites (the
pre-training run's first, newest products first) until it would finish in `duration_days`, but never
more GPUs than the pre-training run had (labs post-train on the cluster that just finished, as xAI ran
Grok 4's RL on Colossus); with fewer it runs longer, up to `max_duration_days`. It takes its GPUs the moment the pre-training run
releases them, before the lab's next pre-training run or monthly uses see them. It leaves a
`kind: posttraining` row in runs.csv; failures are not sampled (rollouts are restartable samples).
"""
from __future__ import annotations

import math
from functools import lru_cache
import simpy

from sim.config.schedule import to_date
from sim.config.schema_uses import PostTraining
from sim.physics.compute import chinchilla_params
from sim.physics.inference import Decode, decode, posttraining_gpu_seconds
from sim.physics.units import SECONDS_PER_DAY
from sim.world.fleet import POSTTRAINING
from sim.world.products import Products
from sim.world.run_record import RunRecord
from sim.world.sites import Site
from sim.world.supply_plan import build_ramp

POSTTRAINING_SUFFIX = "-post"


class PostTrainingPolicy:
    """Launches the post-training run of each completed policy pre-training run (module docstring)."""

    def __init__(self, spec: PostTraining, start_date, products: Products, kernel_efficiency: float):
        self.spec, self.start_date, self.products = spec, start_date, products
        self.share = build_ramp(spec.share_of_pretraining, start_date)
        self.kernel_efficiency = kernel_efficiency

    def target_flop(self, pretraining_flop: float, day: float) -> float:
        """The post-training run's FLOP: the policy's share (by date, capped) of its pre-training run's."""
        share = min(float(self.share.at(day)), self.spec.max_share_of_pretraining)
        return share * pretraining_flop

    def seconds_per_flop(self, product: int, params: float, precision: str, train_mfu: float) -> float:
        """GPU-seconds one FLOP of post-training takes on a product: rollouts plus training steps."""
        p = self.products
        spec = self.spec
        rollout = _rollout_decode(params, spec.context_tokens, spec.time_per_output_token_s, spec.max_batch,
                                  p.peak_fp8[product], p.hbm_bytes_s[product], p.hbm_bytes[product],
                                  self.kernel_efficiency)
        rollout_s, train_s = posttraining_gpu_seconds(1.0, self.spec.generation_share_of_flop, rollout, params,
                                                      p.peak(product, precision), train_mfu)
        return rollout_s + train_s

    def launch(self, training, pre: RunRecord, pre_sites: list[Site]) -> None:
        """Take GPUs for the post-training of `pre` now and start its process; `training` is the
        TrainingRuns component (its labs, records and costs)."""
        env, spec, products = training.env, self.spec, self.products
        now = env.now
        target = self.target_flop(pre.flop, now)
        train_mfu = pre.mfu if pre.mfu > 0 else self.kernel_efficiency
        params = pre.params if pre.params > 0 else chinchilla_params(pre.flop)  # without a topology: compute-optimal
        lab = training.labs[pre.lab]
        sites = [s for s in pre_sites if s.built] + [s for s in lab.sites if s.built and s not in pre_sites]
        wanted_rate = target / (spec.duration_days * SECONDS_PER_DAY)  # FLOP/s to finish on time
        rate, taken, left = 0.0, [], pre.gpus
        if target > 0 and params > 0:
            for i in products.newest_first:
                per_gpu = 1.0 / self.seconds_per_flop(i, params, pre.precision, train_mfu)
                for s in sites:
                    free = min(s.fleet.free(i), left)
                    if free <= 0 or rate >= wanted_rate:
                        continue
                    n = min(free, math.ceil((wanted_rate - rate) / per_gpu - 1e-9))
                    s.fleet.take(i, n, POSTTRAINING)
                    taken.append((s, i, n))
                    rate += n * per_gpu
                    left -= n
        gpus = sum(n for _, _, n in taken)
        days = min(target / (rate * SECONDS_PER_DAY), spec.max_duration_days) if rate > 0 else 0.0
        run_days = min(days, training.horizon_day - now)
        peak_sum = sum(n * products.peak(i, pre.precision) for _, i, n in taken)
        main = max({i for _, i, _ in taken}, key=lambda i: (sum(n for _, p, n in taken if p == i), i)) if taken \
            else products.names.index(pre.gpu_type)
        flop = rate * run_days * SECONDS_PER_DAY
        record = RunRecord(
            run=pre.run + POSTTRAINING_SUFFIX, lab=pre.lab, start=to_date(now, self.start_date),
            end=to_date(now + days, self.start_date), gpus=gpus, gpu_type=products.names[main],
            sites=";".join(dict.fromkeys(s.name for s, _, _ in taken)), flop=flop,
            mfu=flop / (peak_sum * run_days * SECONDS_PER_DAY) if peak_sum > 0 and run_days > 0 else 0.0,
            binding_constraint="chips" if days > spec.duration_days * (1 + 1e-9) else "policy",
            status=("completed" if run_days >= days else "running_at_end") if gpus else "no_gpus",
            duration_days=days, h100e=sum(n * products.h100e[i] for _, i, n in taken),
            peak_flop_s=peak_sum / gpus if gpus else 0.0, precision=pre.precision, chips_alone_gpus=gpus,
            power_alone_gpus=gpus, params=params, planned_by="policy",
            gpu_types=";".join(products.names[i] for i in dict.fromkeys(i for _, i, _ in taken)),
            kind="posttraining",
        )
        training.records.append(record)
        training.by_name[record.run] = record
        if gpus:
            training.charge(record, taken, run_days)
            env.process(self._hold(env, taken, days))

    @staticmethod
    def _hold(env: simpy.Environment, taken: list[tuple[Site, int, int]], days: float):
        yield env.timeout(days)
        for s, i, n in taken:
            s.fleet.release(i, n, POSTTRAINING)


@lru_cache(maxsize=4096)
def _rollout_decode(params: float, context_tokens: int, time_per_output_token_s: float, max_batch: int,
                    peak_flop_s: float, hbm_bytes_s: float, hbm_bytes: float, kernel_efficiency: float) -> Decode:
    """Decoding rollouts with the (dense) pre-trained model on one product."""
    return decode(params, params, context_tokens, peak_flop_s, hbm_bytes_s, hbm_bytes,
                  time_per_output_token_s=time_per_output_token_s, max_batch=max_batch,
                  kernel_efficiency=kernel_efficiency)
