"""The span of a run over a topology's sites: the network a run sees, as numbers for sim.physics."""
from __future__ import annotations

from sim.network.topology import Topology
from sim.physics.fabric import Network


def run_network(topology: Topology, nodes: list[str], weights: list[float] | None = None) -> Network:
    """The fabric (smallest NVLink domain, least bandwidth) and WAN ring over a run's sites.

    The weakest fabric sets the intra-site stages of every step; across two or more sites, the ring
    all-reduce's WAN ring (`Topology.ring_over_sites`): its mean hop latency and bottleneck bandwidth.
    `weights` (one per node, e.g. the peak FLOP/s each holds) split the run's GPUs over the sites in
    proportion; without them, evenly.
    """
    fabrics = [topology.fabric_of(n) for n in nodes]
    fabric = min(fabrics, key=lambda f: (f.nvlink_domain_gpus, f.scale_out_bandwidth_bit_s_per_gpu))
    if len(nodes) < 2:
        return Network(fabric, 1, 0.0, float("inf"))
    loop_s, bottleneck = topology.ring_over_sites(nodes)
    shares = None
    if weights is not None and len(weights) == len(nodes) and sum(weights) > 0:
        shares = tuple(float(w) / sum(weights) for w in weights)
    return Network(fabric, len(nodes), loop_s / len(nodes), bottleneck, shares)
