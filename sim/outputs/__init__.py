"""outputs: what a simulation leaves behind, built only from what the probes recorded.

Tidy tables (runs, timeseries with units from the metrics registry, frontier) and the summary
(tables.py), writing files whole or not at all under a folder lock (files.py), figures (plots.py,
study_plots.py), reading a folder back with every file checked (reading.py) and the self-contained
HTML report (report.py). Nothing here recomputes physics or disruption rules: it may import
sim.config (calendar dates, errors), sim.data (the sources of the shipped tables), sim.metrics and
sim.version, and never sim.physics, sim.world (type hints aside), sim.studies or the CLI.
"""
