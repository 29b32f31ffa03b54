"""Benchmark: a 20-site, 10M-GPU topology (500k GPUs per site, every pair of sites linked) evaluated
the way a training run's step time needs it: build and validate the graph, the ring over all sites,
path latency and bottleneck bandwidth for every pair, and (if sim.physics.step_time is there) the best
parallelism plan for a 2e29-FLOP run across all 20 sites.

    python benchmarks/bench_topology.py [--repeat N]

Prints milliseconds (median of N); asserts nothing. Sites are nodes, never GPUs: the GPU count only
enters the step-time arithmetic, so 10M GPUs cost what 10k do.
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import time

from sim.network.spans import run_network
from sim.physics.sizing import plan_run
from sim.network.topology import (
    bottleneck_bandwidth_bit_s,
    path_latency_s,
    ring_over_sites,
    topology_from_dict,
)

N_SITES = 20
GPUS_PER_SITE = 500_000
GB200 = {  # as topologies/*.yaml gb200_era
    "nvlink_domain_gpus": 72, "nvlink_bandwidth_bytes_s": 1.8e12, "scale_out_bandwidth_bit_s_per_gpu": 8e11,
    "tiers": 3, "pod_gpus": 8192, "oversubscription_above_pod": 7, "hop_latency_s": 1e-6,
}


def twenty_site_doc() -> dict:
    """20 sites on a 4 x 5 grid over the contiguous US, a link between every pair (190 links)."""
    sites = {}
    for i in range(N_SITES):
        lat = 31.0 + 4.0 * (i // 5)        # 31..43 N
        lon = -118.0 + 10.0 * (i % 5)      # 118..78 W
        sites[f"s{i:02d}"] = {"lat": lat, "lon": lon, "fabric": "gb200", "share": 1.0 / N_SITES}
    links = [{"a": a, "b": b, "bandwidth_bit_s": 8.19e14} for a, b in itertools.combinations(sites, 2)]
    return {"name": "bench_20_sites", "fabrics": {"gb200": GB200}, "sites": sites, "links": links}


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="repetitions per measurement (median reported)")
    args = parser.parse_args()

    doc = twenty_site_doc()
    build_ms, topo = timed(lambda: topology_from_dict(doc, source="bench"), args.repeat)
    G, sites = topo.graph, list(topo.sites)
    ring_ms, (ring_latency_s, ring_bw) = timed(lambda: ring_over_sites(G, sites), args.repeat)
    pairs = list(itertools.combinations(sites, 2))
    lat_ms, _ = timed(lambda: [path_latency_s(G, a, b) for a, b in pairs], args.repeat)
    bw_ms, _ = timed(lambda: [bottleneck_bandwidth_bit_s(G, a, b) for a, b in pairs], args.repeat)

    print(f"topology: {len(sites)} sites, {G.number_of_edges()} links, {len(sites) * GPUS_PER_SITE:,} GPUs "
          f"({GPUS_PER_SITE:,} per site)")
    print(f"load + validate + graph:      {build_ms:8.2f} ms")
    print(f"ring over all {len(sites)} sites:       {ring_ms:8.2f} ms  "
          f"(loop {ring_latency_s * 1e3:.1f} ms, bottleneck {ring_bw:.3g} bit/s)")
    print(f"path latency, {len(pairs)} pairs:     {lat_ms:8.2f} ms")
    print(f"bottleneck bw, {len(pairs)} pairs:    {bw_ms:8.2f} ms")

    # the model's own path for a run: the network over its sites, then model size and step time
    import sim
    physics = sim.load_scenario().training  # the baseline's run physics
    gpus = len(sites) * GPUS_PER_SITE
    network_ms, network = timed(lambda: run_network(topo, sites), args.repeat)
    plan_ms, plan = timed(lambda: plan_run(gpus, 5.0e15, 180, network, physics), args.repeat)  # GB200 FP8 dense
    st = plan.step
    print(f"run network (fabric + WAN ring):  {network_ms:8.2f} ms")
    print(f"run plan (size, walls, step time): {plan_ms:8.2f} ms  ({gpus:,} GPUs, 180 days: N {plan.params:.2e}, "
          f"limited by {plan.limited_by}, step {st.step_time_s:.2f} s, MFU {st.mfu:.1%}, "
          f"tp={st.tp} pp={st.pp} dp={st.dp})")
    print(f"total for one 20-site, 10M-GPU evaluation: {build_ms + network_ms + plan_ms:8.2f} ms")


if __name__ == "__main__":
    main()
