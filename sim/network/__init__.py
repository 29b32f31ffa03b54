"""network: where the buildout is and how it is connected.

Topology files (topologies/*.yaml) load into validated networkx graphs whose nodes are sites and
whose edges are WAN fiber links, with the graph helpers on them: path latency, bottleneck bandwidth,
the ring a run's all-reduce takes over its sites (topology.py); the span of a run over a topology's
sites as the numbers the physics reads, a `sim.physics.fabric.Network` (spans.py); and placing a
scenario's buildout on another topology by splitting its sites (placement.py). It may import
sim.config (the schema, YAML reading and ScenarioError) and sim.physics (pure numbers), and never
sim.world, sim.outputs, sim.studies or the CLI.
"""
