"""The span of a run over a topology's sites: the network a run sees, as numbers for sim.physics."""
from __future__ import annotations

from sim.network.topology import Topology
from sim.physics.fabric import Network


def run_network(topology: Topology, nodes: list[str]) -> Network:
    """The fabric (smallest NVLink domain, least bandwidth) and WAN ring over a run's sites.

    The weakest fabric sets the intra-site stages of every step; across two or more sites, the ring
    all-reduce's WAN ring (`Topology.ring_over_sites`): its mean hop latency and bottleneck bandwidth.
    """
    fabrics = [topology.fabric_of(n) for n in nodes]
    fabric = min(fabrics, key=lambda f: (f.nvlink_domain_gpus, f.scale_out_bandwidth_bit_s_per_gpu))
    if len(nodes) < 2:
        return Network(fabric, 1, 0.0, float("inf"))
    loop_s, bottleneck = topology.ring_over_sites(nodes)
    return Network(fabric, len(nodes), loop_s / len(nodes), bottleneck)
