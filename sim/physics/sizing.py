"""What a training run on a given set of GPUs and network can do: model size under the data and
latency walls, step time and MFU from the parallel plan, and the run's limiting factor.

Pure functions over numbers and a Topology; the run process (sim/training.py) calls `plan_run`
once when a run starts. Sources: Epoch 2030 report App. E (compute-optimal sizing, latency wall,
data wall); the step-time model in sim/step_time.py; collectives in sim/collectives.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sim.config.schema import TrainingPhysics
from sim.physics.step_time import StepTime, best_plan, chinchilla_params, critical_batch_tokens, layers
from sim.network.topology import Fabric, Topology
from sim.physics.walls import bandwidth_wall_flop, data_wall_tokens, latency_wall_params

SECONDS_PER_DAY = 86_400.0
EPOCH_BATCH_TOKENS = 6e7  # Epoch 2030 median achievable batch (1.6e7 / 6e7 / 3.6e8 tokens)


@dataclass(frozen=True)
class Network:
    """The network a run spans: the weakest fabric among its sites and the WAN ring across them."""

    fabric: Fabric
    sites: int
    wan_hop_latency_s: float  # mean one-way latency of a ring hop
    wan_bandwidth_bit_s: float  # bottleneck of the ring


def run_network(topology: Topology, nodes: list[str]) -> Network:
    """The fabric (smallest NVLink domain, least bandwidth) and WAN ring over a run's sites."""
    fabrics = [topology.fabric_of(n) for n in nodes]
    fabric = min(fabrics, key=lambda f: (f.nvlink_domain_gpus, f.scale_out_bandwidth_bit_s_per_gpu))
    if len(nodes) < 2:
        return Network(fabric, 1, 0.0, float("inf"))
    loop_s, bottleneck = topology.ring_over_sites(nodes)
    return Network(fabric, len(nodes), loop_s / len(nodes), bottleneck)


@dataclass(frozen=True)
class RunPlan:
    """The model a run trains and how fast it steps."""

    params: float
    batch_tokens: float
    step: StepTime
    limited_by: str  # "compute" (chips/power set the size), "data" or "latency"


def step_on(network: Network, params: float, batch_tokens: float, gpus: int, peak_flop_s: float,
            physics: TrainingPhysics) -> StepTime:
    """Step time of a model on `gpus` GPUs spread evenly over the network's sites."""
    f = network.fabric
    per_site = max(gpus // network.sites, 1)
    return best_plan(
        params, batch_tokens, gpus, peak_flop_s,
        kernel_efficiency=physics.kernel_efficiency,
        nvlink_domain=f.nvlink_domain_gpus,
        nvlink_bytes_s=f.nvlink_bandwidth_bytes_s / 2,  # NVIDIA quotes both directions together
        fabric_bytes_s_per_gpu=f.scale_out_bandwidth_bit_s_per_gpu / 8,  # oversubscription above pods not charged yet
        hop_latency_s=f.hop_latency_s,
        pods=max(1, -(-per_site // f.pod_gpus)),
        sites=network.sites,
        wan_latency_s=network.wan_hop_latency_s,
        wan_bytes_s=network.wan_bandwidth_bit_s / 8,
        sequence_tokens=physics.sequence_tokens,
    )


def plan_run(gpus: int, peak_flop_s: float, duration_days: float, network: Network, physics: TrainingPhysics,
             params: float | None = None) -> RunPlan:
    """Size the model for the run and find its step time.

    The given size, or compute-optimal (C = 6ND, D = 20N) for the compute the GPUs deliver at kernel
    efficiency; capped by the data wall (D <= token stock x epochs x quality) and the latency wall
    (the tokens a minimum-time step sequence can process in the duration, Epoch App. E).
    """
    duration_s = duration_days * SECONDS_PER_DAY
    compute = gpus * peak_flop_s * physics.kernel_efficiency * duration_s
    sizes = {"compute": params if params is not None else chinchilla_params(compute)}
    tokens = data_wall_tokens(physics.data.stock_tokens, physics.data.epochs, physics.data.quality)
    sizes["data"] = tokens / 20.0
    batch = physics.batch_tokens or critical_batch_tokens(sizes["compute"])
    first = step_on(network, sizes["compute"], batch, gpus, peak_flop_s, physics)
    t_layer_s = first.latency_floor_s / max(layers(sizes["compute"]), 1.0)
    if t_layer_s > 0:
        sizes["latency"] = latency_wall_params(duration_s, t_layer_s, physics.batch_tokens)
    limited_by = min(sizes, key=lambda k: (sizes[k], k != "compute"))
    params = sizes[limited_by]
    if limited_by == "compute":
        return RunPlan(params, batch, first, limited_by)
    batch = physics.batch_tokens or critical_batch_tokens(params)
    return RunPlan(params, batch, step_on(network, params, batch, gpus, peak_flop_s, physics), limited_by)


def frontier_walls(network: Network, peak_flop_s: float, duration_days: float, physics: TrainingPhysics) -> dict[str, float]:
    """The largest compute-optimal run the data, latency and inter-site bandwidth walls allow.

    Data wall: 6 N D with D = the effective token stock, N = D / 20. Latency wall: the model whose
    minimum-time steps (the per-layer latency floor of a plan on this network) just fit the duration
    (Epoch App. E: T >= t_L L D / B).
    """
    tokens = data_wall_tokens(physics.data.stock_tokens, physics.data.epochs, physics.data.quality)
    probe_params = 1e12  # any size: the per-layer latency depends on the network, not on N
    step = step_on(network, probe_params, physics.batch_tokens or critical_batch_tokens(probe_params),
                   max(network.fabric.pod_gpus, 1), peak_flop_s, physics)
    t_layer_s = step.latency_floor_s / max(layers(probe_params), 1.0)
    duration_s = duration_days * SECONDS_PER_DAY
    latency_params = latency_wall_params(duration_s, t_layer_s, physics.batch_tokens)
    walls = {"data": 6.0 * (tokens / 20.0) * tokens, "latency": 6.0 * latency_params * 20.0 * latency_params}
    # inter-site bandwidth (Epoch case 6): gradient syncs over the WAN ring, at Epoch's 60M-token batch
    walls["network"] = math.inf if network.sites < 2 else bandwidth_wall_flop(
        duration_s, network.wan_bandwidth_bit_s, network.wan_hop_latency_s * network.sites,
        physics.batch_tokens or EPOCH_BATCH_TOKENS, sites=network.sites)
    return walls
