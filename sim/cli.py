"""The `sim` command: run a scenario and write its tables.

    sim run [SCENARIO] [--out DIR] [--seed N] [--set path.to.key=value ...]
    sim compare [SCENARIO] --topology A --topology B ... [--out DIR] [--seed N] [--set ...]
    sim compare --job FILE --topology A --topology B ...   one job on each topology
    sim job FILE [--out DIR] [--seed N] [--set ...]        one job on one cluster: job.json
    sim sweep [SCENARIO] -n N [--workers K] [--dask local|ADDRESS] [--grid key=v1,v2 ...] --out DIR [--resume]
    sim sensitivity [SCENARIO] [--out DIR] [--workers K]
    sim report DIR          (or --report on run, compare, sweep, sensitivity): DIR/report.html
    sim validate [--out DIR]
    sim backtest [--out DIR]   the 2022 backtest scenario scored against later published figures
    sim metrics [--markdown]   every metric the simulator records: kind, name, unit, description
    sim --version

A bad scenario is refused before anything runs with one line, `error: FILE: key.path: problem`,
and exit status 2; nothing is written.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sim.version import package_version

# Only light modules at the top: `sim --help`, `sim --version` and `sim metrics` import no numpy,
# pandas, SimPy, pydantic or matplotlib (tests/test_cli.py). Each cmd_* imports what it needs.
if TYPE_CHECKING:  # pragma: no cover
    from sim.outputs.tables import Result


MAX_SEED = 2**63 - 1  # numpy SeedSequence takes any non-negative int; this keeps seeds printable and portable
MAX_REPLICATIONS = 1_000_000  # per grid cell: past this the replication list alone would be the problem
MAX_WORKERS = 256  # far past this machine's cores; a typo like 10000 is refused instead of forking


def whole_number(low: int, high: int):
    """An argparse type: a whole number in [low, high], refused in plain words otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:,} and {high:,}, got {text}")
        return value
    return parse


def _scenario_args(p: argparse.ArgumentParser, seed_help: str = "random seed (default 0)") -> argparse.ArgumentParser:
    """The arguments every scenario command takes: the scenario file, --seed and --set."""
    p.add_argument("scenario", nargs="?", help="scenario YAML file (default: the shipped baseline)")
    p.add_argument("--seed", type=whole_number(0, MAX_SEED), default=0, help=seed_help)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario key, e.g. --set frontier.duration_days=120 (repeatable)")
    p.add_argument("--report", action="store_true", help="also write report.html (figures and tables) into the output folder")
    return p


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        """A wrong argument: one line, `error: --option: what is wrong`, exit status 2 (argparse
        prints usage and a second line by default)."""
        message = " ".join(message.split()).replace("'", "")
        if message.startswith("argument "):
            option, _, problem = message[len("argument "):].partition(": ")
            message = f"{option.split('/')[-1]}: {problem}"
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)

    @property
    def version(self) -> str:
        """What `sim --version` prints: argparse's "version" action reads this when given no version=,
        so the package metadata is looked up only when asked for."""
        return f"sim {package_version()}"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sim", description="Simulate AI training-cluster buildout.")
    parser.add_argument("--version", action="version", help="print the version (sim X.Y.Z) and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = _scenario_args(sub.add_parser("run", help="run a scenario and write runs.csv, timeseries.csv, frontier.csv, summary.json"))
    run_p.add_argument("--out", default=None, help="output folder (default: results/SCENARIO_NAME)")
    cmp_p = _scenario_args(sub.add_parser("compare", help="run one scenario on several topologies and write compare.csv"))
    cmp_p.add_argument("--topology", dest="topologies", action="append", required=True, metavar="TOPOLOGY",
                       help="a shipped topology name or a topology file (repeat for each)")
    cmp_p.add_argument("--out", default=None, help="output folder (default: results/compare)")
    cmp_p.add_argument("--workers", type=whole_number(1, MAX_WORKERS), default=1,
                       help="worker processes, one topology each (default 1)")
    cmp_p.add_argument("--job", default=None, metavar="FILE", help="compare one job (a job file) instead of a scenario")
    job_p = sub.add_parser("job", help="one training job on one cluster, no scenario: write job.json")
    job_p.add_argument("job", help="job file (YAML; see examples/jobs/)")
    job_p.add_argument("--seed", type=whole_number(0, MAX_SEED), default=0, help="random seed of failures (default 0)")
    job_p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a job key, e.g. --set gpus=8192 (repeatable)")
    job_p.add_argument("--out", default=None, help="output folder (default: results/JOB_NAME)")
    sweep_p = _scenario_args(sub.add_parser("sweep", help="Monte Carlo replications: bands.csv, thresholds.csv, replications.csv"),
                             seed_help="root seed (default 0)")
    sweep_p.add_argument("-n", type=whole_number(1, MAX_REPLICATIONS), default=100,
                         help="replications (per grid cell; default 100)")
    sweep_p.add_argument("--workers", type=whole_number(1, MAX_WORKERS), default=1, help="worker processes (default 1)")
    sweep_p.add_argument("--dask", default=None, metavar="local|ADDRESS",
                         help="run on Dask: a LocalCluster ('local') or a scheduler address")
    sweep_p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                         help="run the cartesian product of these values (repeatable)")
    sweep_p.add_argument("--out", required=True, help="output folder")
    sweep_p.add_argument("--resume", action="store_true", help="finish an interrupted sweep in --out")
    sweep_p.add_argument("--quiet", action="store_true", help="no progress bar (there is none off a terminal anyway)")
    sens_p = _scenario_args(sub.add_parser("sensitivity", help="tornado: each uncertain input at p10 and p90, ranked by effect"))
    sens_p.add_argument("--out", default=None, help="output folder (default: results/sensitivity)")
    sens_p.add_argument("--workers", type=whole_number(1, MAX_WORKERS), default=1, help="worker processes (default 1)")
    val_p = sub.add_parser("validate", help="recompute the public validation cases; exit 1 if any fails")
    val_p.add_argument("--out", default=None, help="also write validation.csv to this folder")
    bt_p = sub.add_parser("backtest", help="run the 2022-2024 backtest scenario and score it against published figures; exit 1 if any fails")
    bt_p.add_argument("--out", default=None, help="also write backtest.csv to this folder")
    rep_p = sub.add_parser("report", help="write DIR/report.html: figures and tables of the outputs in DIR")
    rep_p.add_argument("dir", help="a folder written by sim run, compare, sweep or sensitivity")
    met_p = sub.add_parser("metrics", help="list every metric the simulator records: kind, name, unit, description")
    met_p.add_argument("--markdown", action="store_true", help="print the Markdown table (the README's)")
    return parser


def write_report_to(out: str | Path) -> int:
    """Write OUT/report.html and print its path (matplotlib is imported only here)."""
    from sim.outputs.report import write_report

    print(f"wrote {write_report(out)}")
    return 0


def write_study(out: Path, name: str, table, about: dict) -> None:
    """OUT/NAME.csv (the table) and OUT/NAME.json (what it shows), both whole or neither."""
    from sim.outputs.files import write_files

    write_files(out, {f"{name}.csv": table.to_csv(index=False, float_format="%.6g", lineterminator="\n"),
                      f"{name}.json": json.dumps(about, indent=2) + "\n"})
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"wrote {name}.csv, {name}.json to {out}")


def cmd_report(args: argparse.Namespace) -> int:
    return write_report_to(args.dir)


def cmd_metrics(args: argparse.Namespace) -> int:
    from sim.metrics import markdown_table, text_table

    print(markdown_table() if args.markdown else text_table())
    return 0


def run_validation():
    """The validation table (sim.studies.validate, imported on first call); a module-level name so
    tests can swap in other cases (tests/validation/test_validate_cli.py)."""
    from sim.studies.validate import run_validation as compute

    return compute()


def cmd_validate(args: argparse.Namespace) -> int:
    from sim.studies.validate import format_table

    return _score(args, run_validation, format_table, "validation.csv")


def _score(args: argparse.Namespace, compute, format_table, filename: str) -> int:
    """Print a score table (validate, backtest), write it to --out, exit 0 only if every row passes."""
    import contextlib

    from sim.outputs.files import output_lock, write_files

    # --out is refused (unwritable, or another sim command writing it) before anything is computed
    with output_lock(args.out) if args.out else contextlib.nullcontext():
        table = compute()
        print(format_table(table))
        if args.out:
            write_files(Path(args.out), {filename: table.to_csv(index=False, float_format="%.6g", lineterminator="\n")})
            print(f"wrote {filename} to {args.out}")
        return 0 if (table["status"] == "PASS").all() else 1


def run_backtest():
    """The backtest table (sim.studies.backtest, imported on first call); a module-level name so
    tests can swap in other cases (tests/validation/test_backtest.py)."""
    from sim.studies.backtest import run_backtest as compute

    return compute()


def cmd_backtest(args: argparse.Namespace) -> int:
    from sim.studies.backtest import format_table

    return _score(args, run_backtest, format_table, "backtest.csv")


def cmd_sweep(args: argparse.Namespace) -> int:
    from sim.studies.sweep import SweepSpec, parse_grid, run_sweep

    spec = SweepSpec(scenario=str(Path(args.scenario).resolve()) if args.scenario else None,
                     overrides=tuple(args.overrides), n=args.n, root_seed=args.seed, grid=parse_grid(args.grid))
    # run_sweep checks every cell's scenario, --dask and --out before it writes anything
    tables = run_sweep(spec, args.out, workers=args.workers, dask=args.dask, resume=args.resume,
                       progress=not args.quiet)
    print(tables["thresholds"].to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"wrote bands.csv, thresholds.csv, replications.csv to {args.out}")
    return write_report_to(args.out) if args.report else 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from sim.config.loading import load_template
    from sim.outputs.files import output_lock
    from sim.studies.tornado import tornado

    scenario = str(Path(args.scenario).resolve()) if args.scenario else None
    template = load_template(scenario, tuple(args.overrides))
    if not template.inputs:
        print(f"error: {scenario or 'baseline'}: (top): no uncertain inputs (no {{dist: ...}} values) to swing",
              file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("results") / "sensitivity"
    with output_lock(out):  # refuses an unwritable --out, or a folder another sim command is writing, before running
        table = tornado(scenario, tuple(args.overrides), seed=args.seed, workers=args.workers)
        write_study(out, "tornado", table, {"scenario": template.name, "seed": args.seed, "version": package_version(),
                                            "overrides": list(args.overrides), "output": "largest completed run, FLOP"})
        return write_report_to(out) if args.report else 0


def cmd_job(args: argparse.Namespace) -> int:
    from sim.config.job import load_job
    from sim.outputs.files import output_lock, write_files
    from sim.studies.job import format_job, run_job

    job = load_job(args.job, overrides=args.overrides)
    out = Path(args.out) if args.out else Path("results") / job.name
    with output_lock(out):
        result = run_job(job, args.job, seed=args.seed)
        write_files(out, {"job.json": json.dumps({**result, "version": package_version()}, indent=2) + "\n"})
        print(format_job(result))
        print(f"wrote job.json to {out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    if args.job is not None:
        return _compare_job(args)
    from sim.config.loading import load_scenario
    from sim.network.placement import place_on_topology
    from sim.outputs.files import output_lock
    from sim.studies.compare import compare

    scenario = load_scenario(args.scenario, overrides=args.overrides)
    placed = [place_on_topology(scenario, ref) for ref in args.topologies]  # all refused before any runs
    out = Path(args.out) if args.out else Path("results") / "compare"
    with output_lock(out):  # refuses an unwritable --out, or a folder another sim command is writing, before running
        table = compare(placed, seed=args.seed, workers=args.workers)
        write_study(out, "compare", table, {"scenario": scenario.name, "seed": args.seed, "version": package_version(),
                                            "topologies": list(args.topologies), "overrides": list(args.overrides)})
        return write_report_to(out) if args.report else 0


def _compare_job(args: argparse.Namespace) -> int:
    """`sim compare --job FILE --topology ...`: the job on each topology's sites."""
    from sim.config.job import load_job
    from sim.outputs.files import output_lock
    from sim.studies.job import compare_job

    if args.scenario is not None:
        print("error: --job: give a job file or a scenario, not both (see sim compare --help)", file=sys.stderr)
        return 2
    job = load_job(args.job, overrides=args.overrides)
    out = Path(args.out) if args.out else Path("results") / "compare"
    with output_lock(out):
        table = compare_job(job, args.job, list(args.topologies), seed=args.seed)
        write_study(out, "compare", table, {"job": job.name, "seed": args.seed, "version": package_version(),
                                            "topologies": list(args.topologies), "overrides": list(args.overrides)})
    return 0


def format_summary(result: Result) -> str:
    """A short per-year table for the terminal."""
    from sim.outputs.tables import yearly

    table = yearly(result.timeseries, result.runs, result.frontier)
    lines = [
        f"scenario {result.scenario_name}  seed {result.seed}",
        f"{'year':>4}  {'delivered H100e':>15}  {'power online GW':>15}  {'installed GPUs':>14}  {'largest to date':>16}",
    ]
    for row in table.itertuples():
        largest = f"{row.largest_run_to_date_flop:.2e}" if row.largest_run_to_date_flop > 0 else "-"
        lines.append(
            f"{row.year:>4}  {row.gpus_delivered_h100e:>15,.0f}  {row.power_online_gw:>15.2f}  "
            f"{row.installed_gpus:>14,}  {largest:>16}"
        )
    best = result.summary.get("largest_run_completed")
    if best:
        lines.append(f"largest completed run: {best['run']} ({best['lab']}), {best['flop']:.2e} FLOP, "
                     f"{best['gpus']:,} x {best['gpu_type']}, ends {best['end']}, bound by {best['binding_constraint']}")
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    from sim.api import run
    from sim.config.loading import load_scenario
    from sim.outputs.files import output_lock

    scenario = load_scenario(args.scenario, overrides=args.overrides)
    out = Path(args.out) if args.out else Path("results") / scenario.name
    with output_lock(out):  # refuses an unwritable --out, or a folder another sim command is writing, before running
        result = run(scenario, seed=args.seed)
        paths = result.write(out)
        print(format_summary(result))
        print(f"wrote {', '.join(p.name for p in paths)} to {out}")
        return write_report_to(out) if args.report else 0


def main(argv: list[str] | None = None) -> int:
    """Run one command. Every failure ends in one line on stderr: `error: WHERE: what is wrong`, exit
    status 2 for bad input (a scenario, an argument, a file), 1 for anything else; SIM_DEBUG=1 shows
    the traceback of an unexpected failure instead."""
    args = build_parser().parse_args(argv)
    commands = {"run": cmd_run, "compare": cmd_compare, "sweep": cmd_sweep, "sensitivity": cmd_sensitivity,
                "report": cmd_report, "validate": cmd_validate, "backtest": cmd_backtest,
                "metrics": cmd_metrics, "job": cmd_job}
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # imported here, not at the top: sim.config.errors imports pydantic, and `sim --help` should not
        from sim.config.errors import ScenarioError

        if isinstance(exc, ScenarioError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if os.environ.get("SIM_DEBUG"):
            raise
        from sim.studies.executor import StudyError

        if isinstance(exc, StudyError):  # a run of a study failed (not bad input): one line naming it
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"error: {describe_failure(exc)}", file=sys.stderr)
        return 2 if isinstance(exc, (OSError, MemoryError, RecursionError)) else 1


def describe_failure(exc: BaseException) -> str:
    """An unexpected failure in one line, in plain words."""
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else "(file)"
        return f"{where}: {exc.strerror or exc}"
    if isinstance(exc, (MemoryError, RecursionError)):
        return "(input): too large or too deeply nested to process"
    text = " ".join(str(exc).split()) or "no message"
    return f"internal error: {type(exc).__name__}: {text} (run with SIM_DEBUG=1 to see where)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
