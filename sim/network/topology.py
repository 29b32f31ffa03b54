"""Topologies: sites with coordinates and an intra-site fabric, joined by WAN fiber links.

A topology file (topologies/*.yaml) names fabrics, sites and links. It loads
into a networkx Graph whose nodes are sites and whose edges are WAN links; there is never a node per
GPU, so a 10M-GPU world costs what a 10k-GPU one does. Latency of a link without one given is the
great-circle distance x a route factor at 4.9 us/km of fiber (docs/sources.md: Corning SMF-28); a link
faster than light in fiber over the great-circle distance is refused.

Every problem is one `ScenarioError(file, key.path, problem)`, raised before anything runs.

Link bandwidths are per direction (full duplex, as a fiber pair is).
"""
from __future__ import annotations

import functools
import heapq
import itertools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import networkx as nx
import pydantic
from pydantic import Field

from sim.config.errors import ScenarioError, from_pydantic
from sim.config.yaml_io import path_exists, read_yaml, short_path
from sim.config.schema import Fraction, Name, NonNeg, Positive, Strict
from sim.physics.fabric import Fabric  # a site's fabric as plain numbers (loaded from a FabricSpec)

FIBER_S_PER_KM = 4.9e-6  # light in fiber at 1550 nm: c / 1.468 = 204,000 km/s (Corning SMF-28 group index)
EARTH_RADIUS_KM = 6371.0  # mean Earth radius (IUGG)
# Fiber route length / great-circle distance. Shortest paths through the US long-haul conduits
# (InterTubes map) give 1.3 in the median; measured Internet latency suggests 2.1 (Bozkurt et al.,
# "Dissecting Latency in the Internet's Fiber Infrastructure", arXiv:1811.10737, 2018).
# assumption: 1.5, a dedicated interconnect along existing conduits, not always the shortest.
DEFAULT_ROUTE_FACTOR = 1.5
_REL_TOL = 1e-9  # rounding allowance in the faster-than-light checks

Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
PositiveInt = Annotated[int, Field(ge=1)]


# --- the file's schema ---------------------------------------------------------------------------

class FabricSpec(Strict):
    """A site's network inside the building: NVLink domains, then a switched scale-out fabric."""

    nvlink_domain_gpus: PositiveInt  # GPUs in one NVLink domain (8 HGX, 72 NVL72)
    nvlink_bandwidth_bytes_s: Positive  # NVLink per GPU, bytes/s, NVIDIA's headline: both directions
    #                                     together (H100 900 GB/s = 450 GB/s each way)
    scale_out_bandwidth_bit_s_per_gpu: Positive  # NIC bandwidth per GPU, bit/s each way (400G, 800G)
    tiers: PositiveInt  # switch tiers end to end across the site
    pod_gpus: PositiveInt  # GPUs in a pod at full bisection bandwidth
    oversubscription_above_pod: Annotated[float, Field(ge=1, allow_inf_nan=False)]  # 7 for 1:7
    hop_latency_s: NonNeg  # per switch hop


class SiteSpec(Strict):
    lat: Lat
    lon: Lon
    fabric: Name  # a key of `fabrics`
    share: Fraction | None = None  # share of its lab's capacity at this site
    lab: Name | None = None


class LinkSpec(Strict):
    """A WAN link. Its latency: `latency_s` if given; else `distance_km` of fiber route x 4.9 us/km;
    else the great-circle distance x `route_factor` x 4.9 us/km. Give at most one of the three."""

    a: Name
    b: Name
    bandwidth_bit_s: Positive  # per direction
    latency_s: NonNeg | None = None
    route_factor: Annotated[float, Field(ge=1, allow_inf_nan=False)] = DEFAULT_ROUTE_FACTOR
    distance_km: NonNeg | None = None  # length of the fiber route


class TopologySpec(Strict):
    name: Name
    description: str = ""
    fabrics: dict[Name, FabricSpec] = Field(min_length=1)
    sites: dict[Name, SiteSpec] = Field(min_length=1)
    links: list[LinkSpec] = Field(default_factory=list)


# --- the loaded topology -------------------------------------------------------------------------

@dataclass(frozen=True)
class Topology:
    """A validated topology: the spec as written, its fabrics, and the site graph.

    graph: networkx.Graph; graph.graph has `name` and `source` (the file).
      node = site name, attributes: lat, lon, fabric (Fabric), share (float | None), lab (str | None)
      edge attributes: bandwidth_bit_s, latency_s, distance_km (great circle), route_km (fiber
      length implied by latency_s), link (index in the file's `links` list)
    """

    name: str
    description: str
    source: str
    spec: TopologySpec
    fabrics: dict[str, Fabric]
    graph: nx.Graph

    @property
    def sites(self) -> tuple[str, ...]:
        return tuple(self.graph.nodes)

    def fabric_of(self, site: str) -> Fabric:
        _require_sites(self.graph, [site])
        return self.graph.nodes[site]["fabric"]

    def path_latency_s(self, a: str, b: str) -> float:
        return path_latency_s(self.graph, a, b)

    def bottleneck_bandwidth_bit_s(self, a: str, b: str) -> float:
        return bottleneck_bandwidth_bit_s(self.graph, a, b)

    def ring_over_sites(self, sites: Iterable[str]) -> tuple[float, float]:
        return ring_over_sites(self.graph, sites)

    def connected(self, sites: Iterable[str]) -> bool:
        return connected(self.graph, sites)


# --- physics -------------------------------------------------------------------------------------

def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (haversine, spherical Earth of radius 6,371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def fiber_latency_s(km: float, route_factor: float = DEFAULT_ROUTE_FACTOR) -> float:
    """One-way latency over `km` of great-circle distance: km x route factor x 4.9 us/km
    (light in fiber at 1550 nm, group index 1.468: docs/sources.md, Corning SMF-28)."""
    return km * route_factor * FIBER_S_PER_KM


# --- loading -------------------------------------------------------------------------------------

def packaged_topology(name: str) -> Path:
    """Path of a topology shipped inside the package (topologies/NAME.yaml)."""
    return Path(str(resources.files("sim.topologies") / f"{name}.yaml"))


def shipped_topologies() -> list[str]:
    """Names of the topologies shipped inside the package."""
    folder = resources.files("sim.topologies")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _resolve(path_or_name: str | Path) -> Path:
    """The file to read: a path (read_yaml refuses anything but a small regular file) or a shipped
    topology's name."""
    path = Path(path_or_name)
    if isinstance(path_or_name, Path) or path_exists(path):
        return path
    text = str(path_or_name)
    if "/" not in text and "\\" not in text and not text.endswith((".yaml", ".yml")) and "\0" not in text:
        shipped = packaged_topology(text)
        if path_exists(shipped):
            return shipped
        raise ScenarioError(short_path(text), "(file)", f"no such file or shipped topology "
                                                        f"(shipped: {', '.join(shipped_topologies())})")
    return path


def load_topology(path_or_name: str | Path) -> Topology:
    """Read and validate a topology file, or a shipped one by bare name (e.g. "single_campus").

    Raises ScenarioError(file, key.path, problem) on any problem.
    """
    path = _resolve(path_or_name)
    try:
        stamp = os.stat(path).st_mtime_ns
    except (OSError, ValueError):
        stamp = None  # read_yaml reports the missing file (or the symlink loop, or the NUL)
    return _load(str(path), stamp)


@functools.lru_cache(maxsize=32)
def _load(path: str, stamp: int | None) -> Topology:
    """A topology file, read once per process and version (sweeps validate every replication)."""
    path = Path(path)
    try:
        doc = read_yaml(path)
    except ScenarioError as exc:
        if exc.key_path == "(top)":
            raise ScenarioError(exc.file, "(top)", "a topology must be a mapping of keys to values") from None
        raise
    return topology_from_dict(doc, source=str(path))


def topology_from_dict(doc: Mapping[str, Any], source: str = "(topology)") -> Topology:
    """Validate a topology given as a dict (as a file would read) and build its graph."""
    try:
        spec = TopologySpec.model_validate(dict(doc))
    except pydantic.ValidationError as exc:
        raise from_pydantic(exc, lambda loc: source) from None
    return _build(spec, source)


def _build(spec: TopologySpec, source: str) -> Topology:
    def fail(key_path: str, problem: str) -> ScenarioError:
        return ScenarioError(source, key_path, problem)

    fabrics: dict[str, Fabric] = {}
    for name, f in spec.fabrics.items():
        if f.pod_gpus < f.nvlink_domain_gpus:
            raise fail(f"fabrics.{name}.pod_gpus",
                       f"a pod ({f.pod_gpus} GPUs) must hold at least one NVLink domain ({f.nvlink_domain_gpus} GPUs)")
        fabrics[name] = Fabric(name=name, **f.model_dump())

    graph = nx.Graph(name=spec.name, source=source)
    share_by_lab: dict[str | None, float] = {}
    for name, s in spec.sites.items():
        if s.fabric not in fabrics:
            raise fail(f"sites.{name}.fabric", f"unknown fabric {s.fabric!r} (fabrics: {', '.join(fabrics)})")
        if s.share is not None:
            share_by_lab[s.lab] = share_by_lab.get(s.lab, 0.0) + s.share
            if share_by_lab[s.lab] > 1 + _REL_TOL:
                whose = f"lab {s.lab!r}" if s.lab is not None else "sites without a lab"
                raise fail(f"sites.{name}.share", f"shares of {whose} add up to {share_by_lab[s.lab]:g}, more than 1")
        graph.add_node(name, lat=s.lat, lon=s.lon, fabric=fabrics[s.fabric], share=s.share, lab=s.lab)

    seen: dict[frozenset, int] = {}
    for i, link in enumerate(spec.links):
        for end in ("a", "b"):
            site = getattr(link, end)
            if site not in spec.sites:
                raise fail(f"links.{i}.{end}", f"unknown site {site!r} (sites: {', '.join(spec.sites)})")
        if link.a == link.b:
            raise fail(f"links.{i}.b", "a link must join two different sites")
        pair = frozenset((link.a, link.b))
        if pair in seen:
            raise fail(f"links.{i}", f"a second link between {link.a} and {link.b} (first: links.{seen[pair]})")
        seen[pair] = i
        given = [k for k in ("latency_s", "route_factor", "distance_km") if k in link.model_fields_set]
        if len(given) > 1:
            raise fail(f"links.{i}.{given[1]}", f"give at most one of {', '.join(given)}")
        sa, sb = spec.sites[link.a], spec.sites[link.b]
        km = great_circle_km(sa.lat, sa.lon, sb.lat, sb.lon)
        floor_s = fiber_latency_s(km, 1.0)
        if link.latency_s is not None:
            latency = link.latency_s
            if latency < floor_s * (1 - _REL_TOL):
                raise fail(f"links.{i}.latency_s",
                           f"{latency:g} s is faster than light in fiber over the {km:,.0f} km great-circle "
                           f"distance from {link.a} to {link.b} (at least {floor_s:.3g} s)")
        elif link.distance_km is not None:
            if link.distance_km < km * (1 - _REL_TOL):
                raise fail(f"links.{i}.distance_km",
                           f"{link.distance_km:g} km is shorter than the {km:,.0f} km great-circle distance "
                           f"from {link.a} to {link.b}: faster than light in fiber")
            latency = link.distance_km * FIBER_S_PER_KM
        else:
            latency = fiber_latency_s(km, link.route_factor)
        graph.add_edge(link.a, link.b, bandwidth_bit_s=link.bandwidth_bit_s, latency_s=latency,
                       distance_km=km, route_km=latency / FIBER_S_PER_KM, link=i)
    return Topology(name=spec.name, description=spec.description, source=source, spec=spec,
                    fabrics=fabrics, graph=graph)


# --- graph helpers (pure functions of the graph) -------------------------------------------------

def _source(G: nx.Graph) -> str:
    return str(G.graph.get("source", "(topology)"))


def _require_sites(G: nx.Graph, sites: Iterable[str]) -> list[str]:
    out = list(dict.fromkeys(sites))
    for s in out:
        if s not in G:
            raise ScenarioError(_source(G), "sites", f"unknown site {s!r} (sites: {', '.join(map(str, G.nodes))})")
    return out


def connected(G: nx.Graph, sites: Iterable[str]) -> bool:
    """Whether some chain of links joins every one of `sites` (unknown sites: False)."""
    sites = list(dict.fromkeys(sites))
    if not sites or any(s not in G for s in sites):
        return not sites
    component = nx.node_connected_component(G, sites[0])
    return all(s in component for s in sites)


def require_connected(G: nx.Graph, sites: Iterable[str], source: str | None = None,
                      key_path: str = "sites") -> None:
    """Raise ScenarioError(source, key_path, ...) unless every site is known and linked to the first."""
    sites = list(dict.fromkeys(sites))
    source = _source(G) if source is None else source
    for s in sites:
        if s not in G:
            raise ScenarioError(source, key_path, f"site {s!r} is not in topology {G.graph.get('name', '')!r}")
    if not sites:
        return
    component = nx.node_connected_component(G, sites[0])
    for s in sites[1:]:
        if s not in component:
            raise ScenarioError(source, key_path,
                                f"sites {sites[0]} and {s} are not connected by any chain of links "
                                f"in topology {G.graph.get('name', '')!r}")


def _disconnected(G: nx.Graph, a: str, b: str) -> ScenarioError:
    return ScenarioError(_source(G), f"sites.{b}", f"not connected to {a} by any chain of links")


def path_latency_s(G: nx.Graph, a: str, b: str) -> float:
    """One-way latency of the lowest-latency path from a to b (0 from a site to itself)."""
    _require_sites(G, [a, b])
    try:
        return float(nx.shortest_path_length(G, a, b, weight="latency_s"))
    except nx.NetworkXNoPath:
        raise _disconnected(G, a, b) from None


def bottleneck_bandwidth_bit_s(G: nx.Graph, a: str, b: str) -> float:
    """The widest path's bandwidth from a to b: max over paths of the path's narrowest link
    (inf from a site to itself: no WAN link in the way). One path, not the max flow."""
    _require_sites(G, [a, b])
    if a == b:
        return math.inf
    best = {a: math.inf}
    heap = [(-math.inf, 0, a)]
    done: set = set()
    counter = 0
    while heap:
        neg_width, _, u = heapq.heappop(heap)
        if u in done:
            continue
        if u == b:
            return -neg_width
        done.add(u)
        for v, attrs in G[u].items():
            width = min(-neg_width, attrs["bandwidth_bit_s"])
            if v not in done and width > best.get(v, -1.0):
                best[v] = width
                counter += 1
                heapq.heappush(heap, (-width, counter, v))
    raise _disconnected(G, a, b)


def _paths_among(G: nx.Graph, sites: Sequence[str]) -> tuple[dict, dict]:
    """Lowest-latency lengths and paths between every pair of `sites`."""
    lengths, paths = {}, {}
    targets = set(sites)
    for s in sites:
        dist, path = nx.single_source_dijkstra(G, s, weight="latency_s")
        for t in sites:
            if t not in dist:
                raise _disconnected(G, s, t)
        lengths[s] = {t: dist[t] for t in targets}
        paths[s] = {t: path[t] for t in targets}
    return lengths, paths


def ring_order(G: nx.Graph, sites: Iterable[str]) -> list[str]:
    """A short ring through `sites` by path latency: nearest-neighbour tours from every start,
    the best of them improved by 2-opt. Starts at the first site given; deterministic."""
    return _ring(G, sites)[0]


def _ring(G: nx.Graph, sites: Iterable[str]) -> tuple[list[str], dict, dict]:
    """The ring order, and the lowest-latency lengths and paths between its sites."""
    sites = _require_sites(G, sites)
    d, paths = _paths_among(G, sites)
    return (_best_tour(sites, d) if len(sites) > 3 else sites), d, paths


def _tour_length(tour: Sequence[str], d: dict) -> float:
    return sum(d[tour[i]][tour[(i + 1) % len(tour)]] for i in range(len(tour)))


def _best_tour(sites: list[str], d: dict) -> list[str]:
    best, best_len = None, math.inf
    for start in sites:
        tour, left = [start], [s for s in sites if s != start]
        while left:
            here = tour[-1]
            nxt = min(left, key=lambda s: d[here][s])  # ties: first in the given order
            tour.append(nxt)
            left.remove(nxt)
        length = _tour_length(tour, d)
        if length < best_len * (1 - _REL_TOL):
            best, best_len = tour, length
    n = len(best)
    improved = True
    while improved:  # 2-opt: reverse a segment while that shortens the ring
        improved = False
        for i in range(n - 1):
            for j in range(i + 2, n if i > 0 else n - 1):
                a, b, c, e = best[i], best[i + 1], best[j], best[(j + 1) % n]
                if d[a][c] + d[b][e] < (d[a][b] + d[c][e]) * (1 - _REL_TOL):
                    best[i + 1: j + 1] = reversed(best[i + 1: j + 1])
                    improved = True
    k = best.index(sites[0])
    return best[k:] + best[:k]


def ring_over_sites(G: nx.Graph, sites: Iterable[str]) -> tuple[float, float]:
    """A ring all-reduce's WAN ring through `sites`: (total latency, bottleneck bandwidth).

    The ring visits the sites in `ring_order`; each hop follows the lowest-latency path.
    total_latency_s: the sum of the hop latencies, once around the ring (Epoch's "DC loop").
    bottleneck_bandwidth_bit_s: min over links of bandwidth / (ring hops crossing that link in the
    same direction), as the ring's hops send at once. One site: (0, inf).
    """
    order, d, paths = _ring(G, sites)
    if len(order) < 2:
        return 0.0, math.inf
    load: dict[tuple[str, str], int] = {}
    total = 0.0
    for i, u in enumerate(order):
        v = order[(i + 1) % len(order)]
        total += d[u][v]
        path = paths[u][v]
        for x, y in itertools.pairwise(path):
            load[(x, y)] = load.get((x, y), 0) + 1
    bottleneck = min(G.edges[x, y]["bandwidth_bit_s"] / n for (x, y), n in load.items())
    return float(total), float(bottleneck)
