"""Example job files for `sim job` (installed as sim.jobs, as the scenarios are sim.scenarios): each a published
training run with a citation per value; `sim validate` times them."""
