"""The network a run sees, as plain numbers: a site's intra-site fabric, and the span of a run's
sites (their weakest fabric and the WAN ring across them).

sim.network builds these from a topology file (sim.network.topology loads each site's Fabric;
sim.network.spans.run_network makes a run's Network); the step-time and wall functions read them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fabric:
    """A site's network inside the building: NVLink domains, then a switched scale-out fabric."""

    name: str
    nvlink_domain_gpus: int  # GPUs in one NVLink domain (8 HGX, 72 NVL72)
    nvlink_bandwidth_bytes_s: float  # NVLink per GPU, bytes/s, NVIDIA's headline: both directions together
    scale_out_bandwidth_bit_s_per_gpu: float  # NIC bandwidth per GPU, bit/s each way (400G, 800G)
    tiers: int  # switch tiers end to end across the site
    pod_gpus: int  # GPUs in a pod at full bisection bandwidth
    oversubscription_above_pod: float  # 7 for 1:7
    hop_latency_s: float  # per switch hop


@dataclass(frozen=True)
class Network:
    """The network a run spans: the weakest fabric among its sites and the WAN ring across them."""

    fabric: Fabric
    sites: int
    wan_hop_latency_s: float  # mean one-way latency of a ring hop
    wan_bandwidth_bit_s: float  # bottleneck of the ring
    # the share of a run's GPUs at each of its sites, in the order the run names them (None: an even split)
    site_shares: tuple[float, ...] | None = None

    def site_gpus(self, gpus: int) -> tuple[int, ...]:
        """A run's `gpus` split over the sites by `site_shares` (largest remainders; at least one each)."""
        shares = self.site_shares or (1.0,) * self.sites
        total = sum(shares)
        exact = [gpus * w / total for w in shares]
        counts = [max(1, int(x)) for x in exact]
        left = gpus - sum(counts)
        for i in sorted(range(len(exact)), key=lambda i: (-(exact[i] - int(exact[i])), i))[:max(0, left)]:
            counts[i] += 1
        return tuple(counts)
