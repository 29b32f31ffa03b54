"""One training job on one cluster (`sim job`): the same physics a scenario's runs use, no scenario.

The job's step is timed by the best parallel plan that fits in HBM (sim/physics/step_time.py; a fixed
`plan` narrows the search to it), on its topology's sites (their weakest fabric and the WAN ring
across them, sim/network/spans.py) or on one site with an inline `fabric`. Its wall time is the
FLOP over GPUs x peak x MFU, stretched by failures: failures arrive at the job's MTTF (Kokolis et al.
2024 rates), checkpoints follow Daly's interval (Daly 2006) and cost what the model's state takes to
write, restarts grow with the job, hot spares are held for its blast radius (`recovery` in
sim/physics/reliability.py), and the run's goodput is what a sampled failure walk of that length keeps,
less the spares' share; the wall time is solved for the useful time the FLOP need.

`sim compare --job FILE --topology A --topology B` times the same job on each topology.
"""
from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pydantic

from sim.config.errors import ScenarioError, from_pydantic, known_names, show
from sim.config.job import Job, job_error
from sim.config.yaml_io import is_regular_file
from sim.data import read_table
from sim.network.spans import run_network
from sim.network.topology import FabricSpec, Topology, load_topology
from sim.physics.fabric import Fabric, Network
from sim.physics.hardware import peak_flop_s
from sim.physics.recovery import recovery, simulate_recovery
from sim.physics.sizing import MoeShape, outer_sync_of, step_on
from sim.physics.memory import HBM_SHARE_FOR_MODEL_STATE, model_state_bytes, moe_split
from sim.physics.step_time import Overlap, critical_batch_tokens
from sim.physics.units import BITS_PER_BYTE, SECONDS_PER_DAY
from sim.world.streams import RandomStreams

GOODPUT_ITERATIONS = 4  # wall time <-> goodput: converges in two or three


def _gpu(job: Job, source: Path) -> tuple[float, float | None]:
    """(peak FLOP/s at the job's precision, HBM bytes or None) of the job's GPU type."""
    if job.gpu_type in job.gpu_types:
        g = job.gpu_types[job.gpu_type]
        spec, hbm_gb = g, g.hbm_gb
    else:
        rows = {row["name"]: row for row in read_table("hardware")}
        if job.gpu_type not in rows:
            raise job_error(source, ("gpu_type",), f"unknown GPU type {show(job.gpu_type)} "
                                                   f"{known_names([*rows, *job.gpu_types])}")
        row = rows[job.gpu_type]
        spec = SimpleNamespace(**{k: float(row[k]) if row[k] else None
                                  for k in ("bf16_dense_flop_s", "fp8_dense_flop_s", "fp4_dense_flop_s")})
        hbm_gb = float(row["hbm_gb"]) if row["hbm_gb"] else None
    return peak_flop_s(spec, job.precision), hbm_gb * 1e9 if hbm_gb is not None else None


def _topology(job: Job, source: Path, topology: str | None = None) -> Topology:
    """The job's topology: a file next to the job file, else a shipped name; a missing one is the job
    file's fault (`topology`), a fault inside a topology file that file's."""
    ref = topology or job.topology
    local = source.parent / ref
    try:
        return load_topology(str(local) if is_regular_file(local) else ref)
    except ScenarioError as exc:
        if exc.key_path != "(file)" or topology is not None:
            raise
        raise job_error(source, ("topology",), exc.problem) from None


def job_network(job: Job, source: Path, topology: str | None = None) -> Network:
    """The network the job spans: its topology's sites (all, or `sites`), or one inline fabric."""
    if topology is None and job.fabric is not None:
        try:
            spec = FabricSpec.model_validate(job.fabric)
        except pydantic.ValidationError as exc:  # name the key inside `fabric`
            err = from_pydantic(exc, lambda loc: str(source))
            raise ScenarioError(str(source), f"fabric.{err.key_path}", err.problem) from None
        return Network(Fabric(name="fabric", **spec.model_dump()), 1, 0.0, math.inf)
    topo = _topology(job, source, topology)
    sites = list(job.sites) if job.sites and topology is None else list(topo.sites)
    for i, site in enumerate(sites):
        if site not in topo.graph:
            raise job_error(source, ("sites", i), f"{show(site)} is not a site of topology {show(topo.name)}")
    if not topo.connected(sites):
        raise job_error(source, ("sites",), f"the sites are not connected in topology {show(topo.name)}")
    return run_network(topo, sites)


def run_job(job: Job, source: str | Path, seed: int = 0, topology: str | None = None) -> dict[str, Any]:
    """Time the job and return what job.json holds (see the module docstring)."""
    source = Path(source)
    peak, hbm_bytes = _gpu(job, source)
    network = job_network(job, source, topology)
    if job.gpus < network.sites:
        raise job_error(source, ("gpus",), f"needs at least one GPU per site ({network.sites} sites)")
    params = job.model.params
    moe = MoeShape(job.model.active_params, job.model.experts, job.model.top_k) if job.model.experts else None
    active = moe.active_params if moe else params  # compute and structure follow the active parameters
    tokens = job.tokens if job.tokens is not None else job.flop / (6.0 * active)
    flop = 6.0 * active * tokens
    batch = job.batch_tokens or critical_batch_tokens(active)
    gpus = job.gpus
    plan = job.plan
    if plan.ep is not None and moe is None:
        raise job_error(source, ("plan", "ep"), "expert parallelism needs a mixture-of-experts model "
                                                "(model.active_params and model.experts)")
    if plan.dp is not None:  # a fixed plan uses exactly tp x cp x pp x dp GPUs
        if plan.tp is None or plan.pp is None:
            raise job_error(source, ("plan", "dp"), "a fixed dp needs tp and pp too")
        gpus = plan.tp * (plan.cp or 1) * plan.pp * plan.dp
        if gpus > job.gpus:
            raise job_error(source, ("plan",), f"tp x cp x pp x dp = {gpus:,} GPUs, more than the job's {job.gpus:,}")
    training = job.training
    physics = SimpleNamespace(kernel_efficiency=training.kernel_efficiency, sequence_tokens=job.sequence_tokens)
    sync = outer_sync_of(job.sync)
    step = step_on(network, params, batch, gpus, peak, physics, hbm_bytes,
                   tp_choices=(plan.tp,) if plan.tp else None,
                   pp_choices=(plan.pp,) if plan.pp else None, sync=sync,
                   cp_choices=(plan.cp,) if plan.cp else None, ep_choices=(plan.ep,) if plan.ep else None,
                   moe=moe, overlap=Overlap(**job.overlap.model_dump()))
    if step.tp == 0:
        fixed = bool(plan.tp or plan.pp or plan.cp or plan.ep)
        what = "the fixed plan does not fit" if fixed else "no parallel plan fits"
        room = f"{HBM_SHARE_FOR_MODEL_STATE * hbm_bytes / 1e9:,.0f} GB" if hbm_bytes else "the GPUs"
        raise job_error(source, ("plan",) if fixed else ("model", "params"),
                        f"{what}: the model state per GPU exceeds {room} (3/4 of HBM), or the plan is larger "
                        f"than a site")
    # MFU counts every GPU of the job (idle ones too)
    mfu = step.mfu * gpus / job.gpus
    useful_s = flop / (job.gpus * peak * mfu)
    # checkpoints and restarts scale with the job and its model (sim/physics/recovery.py `recovery`)
    inline = job.gpu_types.get(job.gpu_type)  # the catalog's products fail at the central rate (factor 1)
    rec = recovery(job.gpus, params, training, network.fabric.nvlink_domain_gpus,
                   network.fabric.scale_out_bandwidth_bit_s_per_gpu / BITS_PER_BYTE,
                   rate_factor=inline.failure_rate_factor if inline is not None else 1.0,
                   min_interval_s=step.step_time_s if 0 < step.step_time_s < math.inf else 1.0)
    wall_s, outcome = useful_s, None
    for _ in range(GOODPUT_ITERATIONS):
        outcome, goodput = simulate_recovery(RandomStreams(seed).job(), wall_s, rec)
        wall_s = useful_s / max(goodput, 1e-9)
    goodput = outcome.useful_s / wall_s * (1.0 - rec.spare_share) if wall_s > 0 else 1.0
    token_efficiency = sync.token_efficiency if sync else 1.0
    checkpoints_s = wall_s - outcome.useful_s - outcome.lost_s
    step_s = step.step_time_s
    return {
        "name": job.name, "gpu_type": job.gpu_type, "gpus": job.gpus, "sites": network.sites,
        "params": params, "active_params": active, "experts": moe.experts if moe else 1, "tokens": tokens, "tokens_per_param": tokens / params,
        "batch_tokens": batch, "precision": job.precision,
        "peak_flop_s": peak, "mfu": mfu, "goodput": goodput, "step_time_s": step_s,
        "sync": "synchronous" if sync is None else {"diloco": {"inner_steps": sync.inner_steps,
                                                               "outer_bits": sync.outer_gradient_bytes * BITS_PER_BYTE,
                                                               "overlap": sync.overlap,
                                                               "token_efficiency": sync.token_efficiency}},
        "token_efficiency": token_efficiency,
        "effective_mfu_goodput": mfu * goodput * token_efficiency,
        "days": wall_s / SECONDS_PER_DAY, "flop": flop, "interruptions": outcome.interruptions,
        "plan": {"tp": step.tp, "pp": step.pp, "dp": step.dp, "cp": step.cp, "ep": step.ep,
                 "microbatch": step.microbatches, "virtual_stages": step.virtual_stages},
        "gpus_used": step.gpus_used,
        "memory_per_gpu_bytes": model_state_bytes(params, step.tp, step.pp, step.dp, step.cp, step.ep,
                                                  moe_split(params, active, moe.experts, moe.top_k)[1] if moe else 0.0),
        "hbm_bytes": hbm_bytes,
        "breakdown": {  # seconds per step, and shares of the wall time for failures
            "compute_s": step.compute_s, "bubble_s": step.bubble_s, "exposed_communication_s": step.exposed_comm_s,
            "exposed_tensor_s": step.exposed_tensor_s, "exposed_context_s": step.exposed_context_s,
            "exposed_expert_s": step.exposed_expert_s, "exposed_pipeline_s": step.exposed_pipeline_s,
            "exposed_data_s": step.exposed_data_s, "exposed_wan_s": step.exposed_wan_s,
            "latency_floor_s": step.latency_floor_s,
            "checkpoint_share": checkpoints_s / wall_s if wall_s > 0 else 0.0,
            "failure_loss_share": outcome.lost_s / wall_s if wall_s > 0 else 0.0,
            "spare_share": rec.spare_share,  # GPU-time held as hot spares
            "checkpoint_bytes": rec.state_bytes, "checkpoint_s": rec.checkpoint_s,  # blocking, per checkpoint
            "checkpoint_interval_s": rec.interval_s, "checkpoint_durable_s": rec.write_s,
            "restart_s": rec.restart_s, "mttf_s": rec.mttf_s,
        },
        "topology": topology or job.topology or "fabric",
        "seed": seed,
    }


def compare_job(job: Job, source: str | Path, topologies: list[str], seed: int = 0) -> pd.DataFrame:
    """The job on each topology (all of each topology's sites): one row per topology."""
    rows = []
    for ref in topologies:
        out = run_job(job, source, seed, topology=ref)
        rows.append({"topology": ref, "run": job.name, "status": "completed", "sites": out["sites"], "mfu": out["mfu"], "goodput": out["goodput"],
                     "step_time_s": out["step_time_s"], "days": out["days"], "flop": out["flop"],
                     "tp": out["plan"]["tp"], "cp": out["plan"]["cp"], "pp": out["plan"]["pp"], "dp": out["plan"]["dp"],
                     "ep": out["plan"]["ep"], "exposed_communication_s": out["breakdown"]["exposed_communication_s"],
                     "exposed_data_s": out["breakdown"]["exposed_data_s"],
                     "exposed_wan_s": out["breakdown"]["exposed_wan_s"]})
    return pd.DataFrame(rows)


def format_job(out: dict[str, Any]) -> str:
    """The job's answer in a few lines for the terminal."""
    plan, b = out["plan"], out["breakdown"]
    memory = (f"{out['memory_per_gpu_bytes'] / 1e9:.1f} GB of model state per GPU"
              + (f" of {out['hbm_bytes'] / 1e9:.0f} GB HBM" if out["hbm_bytes"] else ""))
    return "\n".join([
        f"job {out['name']}: {out['gpus']:,} x {out['gpu_type']} on {out['topology']} ({out['sites']} site(s))",
        f"  {out['flop']:.3g} FLOP in {out['days']:.1f} days: MFU {out['mfu']:.3f} x goodput {out['goodput']:.3f}, "
        f"{out['interruptions']} interruptions",
        f"  plan TP {plan['tp']} x CP {plan['cp']} x PP {plan['pp']} x DP {plan['dp']}"
        + (f" (EP {plan['ep']})" if plan["ep"] > 1 else "") + f", {plan['microbatch']} microbatches, "
        f"{plan['virtual_stages']} virtual stages; {memory}",
        f"  step {out['step_time_s']:.3g} s: compute {b['compute_s']:.3g} s, bubble {b['bubble_s']:.3g} s, "
        f"exposed communication {b['exposed_communication_s']:.3g} s (tensor {b['exposed_tensor_s']:.3g}, "
        f"context {b['exposed_context_s']:.3g}, expert {b['exposed_expert_s']:.3g}, "
        f"pipeline {b['exposed_pipeline_s']:.3g}, data {b['exposed_data_s']:.3g}, WAN {b['exposed_wan_s']:.3g})",
    ])
