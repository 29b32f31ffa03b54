"""Putting a scenario's buildout on another topology (`sim compare`).

The scenario says how much (each site's power, construction dates, GPUs over time); the topology
says where and how it is connected. When the topology's sites are not the scenario's, every
scenario site is split across the topology's sites by their `share` (equal shares where none are
given): each part keeps the site's dates, PUE and lab, with facility MW, its plants' MW and its
initial GPUs scaled by the share. A run that named a site runs on all of that site's parts. Totals
are kept (initial GPU counts to within rounding), so topologies are compared on the same buildout.
A procurement campus whose topology site is not in the topology grows at the topology's site with the
largest share (the first of equals): a campus is one site that grows, so it is not split.
"""
from __future__ import annotations

from pathlib import Path

from sim.config.schema import Scenario
from sim.network.topology import Topology, load_topology


def topology_ref(ref: str) -> str:
    """A topology given on the command line: an existing file (made absolute) or a shipped name."""
    path = Path(ref)
    return str(path.resolve()) if path.is_file() else ref


def topology_shares(topology: Topology) -> dict[str, float]:
    """Each topology site's share of a scenario site's capacity, summing to 1."""
    given = {n: topology.graph.nodes[n].get("share") for n in topology.sites}
    if any(v is None for v in given.values()):
        return {n: 1.0 / len(given) for n in given}
    total = sum(given.values())
    return {n: v / total for n, v in given.items()}


def place_on_topology(s: Scenario, ref: str) -> Scenario:
    """The scenario on topology `ref`, its sites split by the topology's shares when they differ."""
    ref = topology_ref(ref)
    topology = load_topology(ref)
    shares = topology_shares(topology)
    s = _place_campuses(s, topology, max(shares, key=lambda n: (shares[n], -list(shares).index(n))))
    if all((site.topology_site or name) in topology.graph for name, site in s.sites.items()):
        return s.model_copy(update={"topology": ref})
    sites, plants = {}, []
    for name, site in s.sites.items():
        for node, share in shares.items():
            attrs = topology.graph.nodes[node]
            sites[f"{name}@{node}"] = site.model_copy(update={
                "facility_mw": site.facility_mw * share,
                "initial_gpus": {g: int(n * share) for g, n in site.initial_gpus.items()},
                "topology_site": node, "lat": attrs["lat"], "lon": attrs["lon"],
            })
    for plant in s.power_plants:
        for node, share in shares.items():
            plants.append(plant.model_copy(update={
                "name": f"{plant.name}@{node}", "site": f"{plant.site}@{node}", "capacity_mw": plant.capacity_mw * share,
            }))
    runs = [run.model_copy(update={"sites": [f"{site}@{node}" for site in run.sites for node in shares]})
            for run in s.runs]
    return s.model_copy(update={"sites": sites, "power_plants": plants, "runs": runs, "topology": ref})


def _place_campuses(s: Scenario, topology: Topology, node: str) -> Scenario:
    """Campuses whose topology site the topology lacks grow at `node` instead."""
    labs = {}
    for name, lab in s.labs.items():
        spec = lab.procurement
        if spec is None or all(c.topology_site in topology.graph for c in spec.campuses.values()):
            labs[name] = lab
            continue
        campuses = {c_name: c if c.topology_site in topology.graph else c.model_copy(update={"topology_site": node})
                    for c_name, c in spec.campuses.items()}
        labs[name] = lab.model_copy(update={"procurement": spec.model_copy(update={"campuses": campuses})})
    return s.model_copy(update={"labs": labs})
