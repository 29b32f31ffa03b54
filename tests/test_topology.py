"""Topologies (sim/network/topology.py, topologies/*.yaml): loading, physics, graph helpers, bad input."""
from __future__ import annotations

import copy
import math
from pathlib import Path

import networkx as nx
import pytest
import yaml

from sim.config.errors import ScenarioError
from sim.network.spans import run_network
from sim.network.topology import (
    DEFAULT_ROUTE_FACTOR,
    FIBER_S_PER_KM,
    Fabric,
    Topology,
    bottleneck_bandwidth_bit_s,
    connected,
    fiber_latency_s,
    great_circle_km,
    load_topology,
    packaged_topology,
    path_latency_s,
    require_connected,
    ring_order,
    ring_over_sites,
    shipped_topologies,
    topology_from_dict,
)
from sim.physics.fabric import Fabric as PhysicsFabric, Network

SHIPPED = ["baseline_sites", "distributed_2030", "mesh_5_us", "ring_5_us", "single_campus",
           "star_5_us", "two_sites_1000km"]
EPOCH_MEDIAN_WAN_BIT_S = 8.19e14  # Epoch 2030 median inter-DC bandwidth (docs/sources.md)


# --- shipped topologies --------------------------------------------------------------------------

def test_the_shipped_topologies_are_all_there():
    assert set(SHIPPED) <= set(shipped_topologies())


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_topology_loads(name):
    topo = load_topology(name)
    assert isinstance(topo, Topology) and topo.name == name
    G = topo.graph
    assert set(G.nodes) == set(topo.spec.sites) and G.number_of_edges() == len(topo.spec.links)
    for site, attrs in G.nodes(data=True):
        assert isinstance(attrs["fabric"], Fabric) and topo.fabric_of(site) is attrs["fabric"]
    assert load_topology(packaged_topology(name)).spec == topo.spec  # by path too


@pytest.mark.parametrize("name", SHIPPED)
def test_no_shipped_link_is_faster_than_light_in_fiber(name):
    G = load_topology(name).graph
    for a, b, e in G.edges(data=True):
        na, nb = G.nodes[a], G.nodes[b]
        km = great_circle_km(na["lat"], na["lon"], nb["lat"], nb["lon"])
        assert e["latency_s"] >= km * 4.9e-6, (a, b)


def test_fabrics_of_the_same_name_are_the_same_in_every_file():
    seen: dict[str, tuple[str, Fabric]] = {}
    for name in SHIPPED:
        for fname, fabric in load_topology(name).fabrics.items():
            first = seen.setdefault(fname, (name, fabric))
            assert fabric == first[1], f"fabric {fname} differs between {first[0]} and {name}"
    h100, gb200 = seen["h100_era"][1], seen["gb200_era"][1]
    assert (h100.nvlink_domain_gpus, h100.nvlink_bandwidth_bytes_s, h100.scale_out_bandwidth_bit_s_per_gpu,
            h100.pod_gpus, h100.oversubscription_above_pod) == (8, 9e11, 4e11, 3072, 7)  # Llama 3 §3.3.1
    assert (gb200.nvlink_domain_gpus, gb200.nvlink_bandwidth_bytes_s, gb200.scale_out_bandwidth_bit_s_per_gpu) == (
        72, 1.8e12, 8e11)


def test_baseline_sites_names_exactly_the_baseline_scenarios_sites(baseline):
    topo = load_topology("baseline_sites")
    # the scenario's sites, and the campuses its procurement policies may build at (their own nodes)
    campuses = {c.topology_site: (c.lat, c.lon, lab) for lab, spec in baseline.labs.items() if spec.procurement
                for c in spec.procurement.campuses.values() if c.topology_site not in baseline.sites}
    assert set(topo.sites) == set(baseline.sites) | set(campuses)
    for name, site in baseline.sites.items():
        node = topo.graph.nodes[name]
        assert (node["lat"], node["lon"], node["lab"]) == (site.lat, site.lon, site.lab), name
    for name, (lat, lon, lab) in campuses.items():
        node = topo.graph.nodes[name]
        assert (node["lat"], node["lon"], node["lab"]) == (lat, lon, lab), name
    for lab in baseline.labs:  # every lab's sites are linked; no link between labs
        own = [s for s, site in baseline.sites.items() if site.lab == lab]
        assert connected(topo.graph, own), lab
    lab_of = {**{s: site.lab for s, site in baseline.sites.items()}, **{n: c[2] for n, c in campuses.items()}}
    for a, b in topo.graph.edges:
        assert lab_of[a] == lab_of[b]
    for run in baseline.runs:  # every planned run's sites can reach each other
        assert connected(topo.graph, run.sites), run.name


def test_distributed_2030_loop_resembles_epochs_median():
    latency, bandwidth = ring_over_sites(load_topology("distributed_2030").graph,
                                         ["abilene", "pryor", "richland_parish", "milam_county"])
    assert latency / FIBER_S_PER_KM == pytest.approx(2945, rel=0.02)  # Epoch 2030 median DC loop, km
    assert bandwidth == EPOCH_MEDIAN_WAN_BIT_S


# --- physics -------------------------------------------------------------------------------------

def test_haversine_new_york_to_london():
    assert great_circle_km(40.7128, -74.0060, 51.5074, -0.1278) == pytest.approx(5570, rel=0.01)


def test_haversine_edge_cases():
    assert great_circle_km(10, 20, 10, 20) == 0.0
    assert great_circle_km(0, 0, 0, 180) == pytest.approx(math.pi * 6371)  # antipodes
    assert great_circle_km(0, 179.5, 0, -179.5) == pytest.approx(great_circle_km(0, 0, 0, 1))  # across 180


def test_fiber_latency_from_distance_and_route_factor():
    assert fiber_latency_s(1000, 1.0) == pytest.approx(4.9e-3)  # ~9.8 ms RTT per 1,000 km (Corning SMF-28)
    assert fiber_latency_s(1000, 1.5) == pytest.approx(7.35e-3)
    assert fiber_latency_s(1000) == pytest.approx(1000 * DEFAULT_ROUTE_FACTOR * 4.9e-6)


def _doc(**links_extra) -> dict:
    """A valid two-site topology ~1,000 km apart; link keys from `links_extra`."""
    return {
        "name": "t",
        "fabrics": {"f": {"nvlink_domain_gpus": 8, "nvlink_bandwidth_bytes_s": 9e11,
                          "scale_out_bandwidth_bit_s_per_gpu": 4e11, "tiers": 3, "pod_gpus": 3072,
                          "oversubscription_above_pod": 7, "hop_latency_s": 1e-6}},
        "sites": {"a": {"lat": 41.59, "lon": -93.62, "fabric": "f"},
                  "b": {"lat": 32.78, "lon": -96.80, "fabric": "f"}},
        "links": [{"a": "a", "b": "b", "bandwidth_bit_s": 8e14, **links_extra}],
    }


def test_link_latency_how_it_is_given():
    km = great_circle_km(41.59, -93.62, 32.78, -96.80)

    def edge(topo):
        return topo.graph.edges["a", "b"]

    assert edge(topology_from_dict(_doc()))["latency_s"] == pytest.approx(km * 1.5 * 4.9e-6)
    assert edge(topology_from_dict(_doc(route_factor=2.0)))["latency_s"] == pytest.approx(km * 2.0 * 4.9e-6)
    assert edge(topology_from_dict(_doc(distance_km=1500)))["latency_s"] == pytest.approx(1500 * 4.9e-6)
    assert edge(topology_from_dict(_doc(latency_s=0.02)))["latency_s"] == 0.02
    assert edge(topology_from_dict(_doc()))["distance_km"] == pytest.approx(km)


# --- graph helpers on a hand-built graph ---------------------------------------------------------

@pytest.fixture
def small():
    """A-B-C-D: the fast route A-B-C is narrow at B-C; the direct A-C link is slow but wide."""
    G = nx.Graph(name="small", source="small.yaml")
    G.add_edge("A", "B", latency_s=1.0, bandwidth_bit_s=10.0)
    G.add_edge("B", "C", latency_s=1.0, bandwidth_bit_s=2.0)
    G.add_edge("A", "C", latency_s=5.0, bandwidth_bit_s=5.0)
    G.add_edge("C", "D", latency_s=1.0, bandwidth_bit_s=100.0)
    G.add_node("E")  # isolated
    return G


def test_path_latency_takes_the_fastest_path(small):
    assert path_latency_s(small, "A", "C") == 2.0
    assert path_latency_s(small, "A", "D") == 3.0
    assert path_latency_s(small, "D", "A") == 3.0
    assert path_latency_s(small, "A", "A") == 0.0


def test_bottleneck_bandwidth_takes_the_widest_path(small):
    assert bottleneck_bandwidth_bit_s(small, "A", "C") == 5.0  # direct A-C beats A-B-C (min 2)
    assert bottleneck_bandwidth_bit_s(small, "A", "D") == 5.0
    assert bottleneck_bandwidth_bit_s(small, "B", "C") == 5.0  # B-A-C: min(10, 5)
    assert bottleneck_bandwidth_bit_s(small, "C", "D") == 100.0
    assert bottleneck_bandwidth_bit_s(small, "A", "A") == math.inf


def test_ring_on_the_small_graph(small):
    latency, bandwidth = ring_over_sites(small, ["A", "B", "C"])
    assert latency == 4.0  # A->B 1, B->C 1, C->A 2 (via B)
    assert bandwidth == 2.0  # B->C and C->B each carry one hop
    assert ring_over_sites(small, ["A"]) == (0.0, math.inf)
    assert ring_over_sites(small, ["A", "D", "A"]) == (6.0, 2.0)  # duplicates ignored


def test_connected(small):
    assert connected(small, ["A", "B", "C", "D"])
    assert not connected(small, ["A", "E"])
    assert not connected(small, ["A", "nowhere"])
    assert connected(small, [])


# --- rings over the shipped five-site topologies ------------------------------------------------

FIVE = ["cheyenne", "des_moines", "new_albany", "memphis", "abilene"]


def test_ring_over_the_five_site_ring():
    G = load_topology("ring_5_us").graph
    latency, bandwidth = ring_over_sites(G, FIVE)
    assert latency == pytest.approx(sum(e["latency_s"] for _, _, e in G.edges(data=True)))
    assert latency == pytest.approx(4713 * 1.5 * 4.9e-6, rel=0.002)  # 4,713 km great-circle loop
    assert bandwidth == EPOCH_MEDIAN_WAN_BIT_S
    order = ring_order(G, FIVE)
    assert sorted(order) == sorted(FIVE) and order[0] == FIVE[0]
    for i, site in enumerate(order):  # each hop is one link of the ring
        assert G.has_edge(site, order[(i + 1) % len(order)])


def test_ring_order_does_not_depend_on_the_order_given():
    G = load_topology("mesh_5_us").graph
    loops = {round(ring_over_sites(G, FIVE[k:] + FIVE[:k])[0], 12) for k in range(5)}
    loops |= {round(ring_over_sites(G, list(reversed(FIVE)))[0], 12)}
    assert len(loops) == 1


def test_ring_mesh_star_compared():
    ring = ring_over_sites(load_topology("ring_5_us").graph, FIVE)
    mesh = ring_over_sites(load_topology("mesh_5_us").graph, FIVE)
    star_topo = load_topology("star_5_us")
    star = ring_over_sites(star_topo.graph, FIVE)
    assert mesh[0] == pytest.approx(ring[0])  # the mesh finds the ring's loop
    spokes = sum(e["latency_s"] for _, _, e in star_topo.graph.edges(data=True))
    assert star[0] == pytest.approx(2 * spokes)  # every spoke crossed twice
    assert star[1] == EPOCH_MEDIAN_WAN_BIT_S  # ... but once each way: no sharing


def test_a_narrow_spoke_is_the_rings_bottleneck():
    doc = load_topology("star_5_us").spec.model_dump(exclude_unset=True)
    doc["links"][2]["bandwidth_bit_s"] = 1e12
    assert ring_over_sites(topology_from_dict(doc).graph, FIVE)[1] == 1e12


# --- a run's span over sites (sim.network.spans) -------------------------------------------------

def test_run_network_over_one_site_and_over_a_ring():
    topo = load_topology("ring_5_us")
    one = run_network(topo, FIVE[:1])
    assert one == Network(topo.fabric_of(FIVE[0]), 1, 0.0, math.inf)
    assert Fabric is PhysicsFabric and isinstance(one.fabric, Fabric)  # physics' plain-number Fabric
    five = run_network(topo, FIVE)
    loop_s, bottleneck = ring_over_sites(topo.graph, FIVE)
    assert five.sites == 5 and five.wan_hop_latency_s == pytest.approx(loop_s / 5)
    assert five.wan_bandwidth_bit_s == bottleneck == EPOCH_MEDIAN_WAN_BIT_S


def test_run_network_takes_the_weakest_fabric():
    doc = load_topology("two_sites_1000km").spec.model_dump(exclude_unset=True)
    small = dict(doc["fabrics"]["gb200_era"], nvlink_domain_gpus=8)
    doc["fabrics"]["hgx"] = small
    doc["sites"]["dallas"]["fabric"] = "hgx"
    topo = topology_from_dict(doc)
    assert run_network(topo, ["des_moines", "dallas"]).fabric.name == "hgx"


# --- bad input: ScenarioError(file, key.path, problem) ------------------------------------------

def _with(doc: dict, path: str, value) -> dict:
    doc = copy.deepcopy(doc)
    node = doc
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if value is _DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


_DELETE = object()
BASE = _doc()
PLAIN_LINK = {"a": "a", "b": "b", "bandwidth_bit_s": 1e14}

BAD_DOCS = [
    ("unknown-top-key", _with(BASE, "sitez", {}), "sitez", "unknown key"),
    ("unknown-site-key", _with(BASE, "sites.a.altitude", 3), "sites.a.altitude", "unknown key"),
    ("unknown-fabric-key", _with(BASE, "fabrics.f.nvlink_gpus", 8), "fabrics.f.nvlink_gpus", "unknown key"),
    ("missing-key", _with(BASE, "sites.a.fabric", _DELETE), "sites.a.fabric", "required key is missing"),
    ("missing-name", _with(BASE, "name", _DELETE), "name", "required key is missing"),
    ("wrong-type-bandwidth", _with(BASE, "links.0.bandwidth_bit_s", "fast"), "links.0.bandwidth_bit_s",
     "should be a valid number (got 'fast')"),
    ("wrong-type-lat-text", _with(BASE, "sites.a.lat", "41.5"), "sites.a.lat", "should be a valid number"),
    ("wrong-type-tiers-float", _with(BASE, "fabrics.f.tiers", 2.5), "fabrics.f.tiers", "valid integer"),
    ("wrong-type-site", _with(BASE, "sites.a", "Iowa"), "sites.a", "should be a mapping"),
    ("wrong-type-links", _with(BASE, "links", {"a": "b"}), "links", "should be a list"),
    ("zero-bandwidth", _with(BASE, "links.0.bandwidth_bit_s", 0), "links.0.bandwidth_bit_s", "greater than 0"),
    ("negative-bandwidth", _with(BASE, "links.0.bandwidth_bit_s", -1e14), "links.0.bandwidth_bit_s",
     "greater than 0"),
    ("lat-out-of-range", _with(BASE, "sites.a.lat", 95), "sites.a.lat", "less than or equal to 90"),
    ("lon-out-of-range", _with(BASE, "sites.b.lon", -200), "sites.b.lon", "greater than or equal to -180"),
    ("lat-nan", _with(BASE, "sites.a.lat", float("nan")), "sites.a.lat", "finite number"),
    ("faster-than-light", _with(BASE, "links.0", {**PLAIN_LINK, "latency_s": 1e-3}), "links.0.latency_s",
     "faster than light in fiber"),
    ("shorter-than-great-circle", _with(BASE, "links.0", {**PLAIN_LINK, "distance_km": 500}),
     "links.0.distance_km", "shorter than the 1,019 km great-circle distance"),
    ("route-factor-below-1", _with(BASE, "links.0.route_factor", 0.8), "links.0.route_factor",
     "greater than or equal to 1"),
    ("two-latency-sources", _with(_with(BASE, "links.0.latency_s", 0.02), "links.0.route_factor", 1.5),
     "links.0.route_factor", "give at most one of latency_s, route_factor"),
    ("unknown-link-site", _with(BASE, "links.0.b", "c"), "links.0.b", "unknown site 'c'"),
    ("unknown-link-site-a", _with(BASE, "links.0.a", "z"), "links.0.a", "unknown site 'z'"),
    ("self-link", _with(BASE, "links.0.b", "a"), "links.0.b", "two different sites"),
    ("duplicate-link", _with(BASE, "links", BASE["links"] + [{"a": "b", "b": "a", "bandwidth_bit_s": 1e14}]),
     "links.1", "a second link between b and a (first: links.0)"),
    ("unknown-fabric", _with(BASE, "sites.b.fabric", "gb300"), "sites.b.fabric", "unknown fabric 'gb300'"),
    ("no-sites", _with(BASE, "sites", {}), "sites", "must not be empty"),
    ("shares-over-one", _with(_with(BASE, "sites.a.share", 0.6), "sites.b.share", 0.6), "sites.b.share",
     "add up to 1.2"),
    ("share-zero", _with(BASE, "sites.a.share", 0), "sites.a.share", "greater than 0"),
    ("pod-smaller-than-domain", _with(BASE, "fabrics.f.pod_gpus", 4), "fabrics.f.pod_gpus",
     "at least one NVLink domain"),
    ("oversubscription-below-1", _with(BASE, "fabrics.f.oversubscription_above_pod", 0.5),
     "fabrics.f.oversubscription_above_pod", "greater than or equal to 1"),
]


def _write(tmp_path: Path, doc_or_text, name: str = "topo.yaml") -> Path:
    path = tmp_path / name
    text = doc_or_text if isinstance(doc_or_text, str) else yaml.safe_dump(doc_or_text, sort_keys=False)
    path.write_text(text)
    return path


def _assert_error(info, file, key_path, problem):
    err = info.value
    assert (str(err.file), err.key_path) == (str(file), key_path), str(err)
    assert problem in err.problem, str(err)
    assert "\n" not in str(err)
    for internal in ("constrained-", "function-after", "[key]", "instance of"):
        assert internal not in str(err), str(err)


@pytest.mark.parametrize(("doc", "key_path", "problem"), [c[1:] for c in BAD_DOCS], ids=[c[0] for c in BAD_DOCS])
def test_bad_topology_file_is_refused(doc, key_path, problem, tmp_path):
    path = _write(tmp_path, doc)
    with pytest.raises(ScenarioError) as info:
        load_topology(path)
    _assert_error(info, path, key_path, problem)


def test_the_faster_than_light_check_names_the_distance(tmp_path):
    doc = _with(BASE, "links.0.latency_s", 4.9e-3)  # 1,000 km of fiber, 1,019 km apart
    path = _write(tmp_path, doc)
    with pytest.raises(ScenarioError) as info:
        load_topology(path)
    _assert_error(info, path, "links.0.latency_s", "1,019 km great-circle distance from a to b")
    assert topology_from_dict(_with(BASE, "links.0.latency_s", 1019.5 * 4.9e-6)).graph.has_edge("a", "b")


@pytest.mark.parametrize(
    ("text", "key_path", "problem"),
    [
        pytest.param("name: t\nsites: {a: {lat: 1, lon: 2, fabric: f}\n", "line 3", "malformed YAML", id="malformed"),
        pytest.param("name: t\nsites:\n  a:\n    lat: 1\n    lat: 2\n", "sites.a.lat", "duplicate key 'lat'",
                     id="duplicate-key"),
        pytest.param("- just\n- a list\n", "(top)", "a topology must be a mapping", id="not-a-mapping"),
    ],
)
def test_bad_yaml_is_refused(text, key_path, problem, tmp_path):
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_topology(path)
    _assert_error(info, path, key_path, problem)


def test_numbers_written_2e15_are_numbers(tmp_path):
    text = yaml.safe_dump(BASE, sort_keys=False).replace("800000000000000.0", "8e14")
    assert "8e14" in text
    assert load_topology(_write(tmp_path, text)).graph.edges["a", "b"]["bandwidth_bit_s"] == 8e14


def test_missing_file_is_refused(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as info:
        load_topology(missing)
    _assert_error(info, missing, "(file)", "no such file")
    with pytest.raises(ScenarioError) as info:
        load_topology("no_such_topology")
    _assert_error(info, "no_such_topology", "(file)", "no such file or shipped topology")


def test_disconnected_sites_are_refused_when_asked_about():
    topo = load_topology("baseline_sites")
    G = topo.graph
    assert not connected(G, ["azure_2023", "colossus"])
    with pytest.raises(ScenarioError) as info:
        ring_over_sites(G, ["azure_2023", "abilene_ph1", "colossus"])
    _assert_error(info, topo.source, "sites.colossus", "not connected to azure_2023")
    with pytest.raises(ScenarioError) as info:
        path_latency_s(G, "hyperion", "colossus2")
    _assert_error(info, topo.source, "sites.colossus2", "not connected to hyperion")
    with pytest.raises(ScenarioError) as info:
        bottleneck_bandwidth_bit_s(G, "hyperion", "colossus2")
    _assert_error(info, topo.source, "sites.colossus2", "not connected to hyperion")
    with pytest.raises(ScenarioError) as info:
        require_connected(G, ["meta_2023", "colossus"], source="scen.yaml", key_path="runs.3.sites")
    _assert_error(info, "scen.yaml", "runs.3.sites", "meta_2023 and colossus are not connected")
    require_connected(G, ["meta_2023", "prometheus", "hyperion"], source="scen.yaml", key_path="runs.3.sites")


def test_unknown_site_is_refused_when_asked_about():
    topo = load_topology("ring_5_us")
    with pytest.raises(ScenarioError) as info:
        path_latency_s(topo.graph, "abilene", "atlantis")
    _assert_error(info, topo.source, "sites", "unknown site 'atlantis'")
    with pytest.raises(ScenarioError) as info:
        require_connected(topo.graph, ["abilene", "atlantis"], source="s.yaml", key_path="runs.0.sites")
    _assert_error(info, "s.yaml", "runs.0.sites", "'atlantis' is not in topology 'ring_5_us'")
