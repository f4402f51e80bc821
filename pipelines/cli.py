"""``campaign-etl``: run, backfill, transform, status, report, check, demo.

Exit codes: 0 all done; 1 the run failed (nothing half-published); 2 bad command line or configuration, found
before any request; 3 loaded, but some entities were skipped and are listed in analytics.extraction_errors.
Errors are one sentence on stderr, never a traceback (``--verbose`` adds one for unexpected errors).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from core import interrupt
from core.errors import CampaignEtlError, ConfigError, first_line
from core.providers import PROVIDER_NAMES
from core.redact import RedactingFilter, redact
from sources.common.windows import check_date_range

if TYPE_CHECKING:  # the loader's modules (dlt, DuckDB, pyarrow, pandas) load once the command line is read
    from pipelines.progress import Progress
    from pipelines.runner import RunResult

PROG = "campaign-etl"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one sentence, exit 2
        print(f"{PROG}: error: {message} (see '{PROG} --help')", file=sys.stderr)
        raise SystemExit(2)


def _date(text: str) -> dt.date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise argparse.ArgumentTypeError(f"'{text}' is not a date in the form YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a valid date") from None
    try:
        return check_date_range(day, "the date")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None


_EPILOG = f"""providers: {", ".join(PROVIDER_NAMES)} (enabled when their credentials are configured)

exit codes:
  0    all done
  1    the run failed (nothing half-published): refused credentials, retries exhausted, full disk
  2    bad command line or configuration, found before any request
  3    loaded, but some entities were skipped (analytics.extraction_errors)
  130  stopped by SIGINT; 143 stopped by SIGTERM (the next run resumes)

examples:
  {PROG} demo
  {PROG} run --warehouse /srv/warehouse/campaign_metrics.duckdb
  {PROG} check
  {PROG} backfill --start 2026-01-01 --end 2026-03-31 --provider greenarrow --dry-run
  {PROG} backfill --start 2026-01-01 --end 2026-03-31 --provider greenarrow
  {PROG} status --json
  {PROG} report --output /srv/www/campaign_report.html
"""


class _Version(argparse.Action):
    """``--version``: the installed package's version, read only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        import importlib.metadata

        try:
            version = importlib.metadata.version("campaign-etl")
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
            version = "unknown"
        print(f"{PROG} {version}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Load campaign metrics from marketing providers into DuckDB.",
                     epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests and retries")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    project_help = ("the folder whose .dlt/ holds config.toml and secrets.toml (default: the working directory, "
                    "or DLT_PROJECT_DIR)")
    parser.add_argument("--project-dir", metavar="DIR", help=project_help)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def warehouse_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--warehouse", metavar="PATH",
                       help="DuckDB file (default: destination.duckdb.credentials, else campaign_metrics.duckdb "
                            "in the working directory)")
        global_flags(p)

    def global_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--project-dir", metavar="DIR", default=argparse.SUPPRESS, help=project_help)
        # the global flags are accepted after the subcommand too
        p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="log requests and retries")
        p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress lines")

    def log_format_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--log-format", choices=("text", "json"), default="text",
                       help="the run summary on stdout: a table (text) or JSON lines, one per provider and one "
                            "for the run (json)")

    run = sub.add_parser("run", help="nightly incremental load, then transforms")
    run.add_argument("--provider", action="append", metavar="P", help="only this provider (repeatable)")
    run.add_argument("--recheck", action="store_true",
                     help="pull every window of the lookback, settled ones included (see SETTLE_DAYS)")
    run.add_argument("--dry-run", action="store_true",
                     help="print the windows each provider would pull, the estimated requests and time; "
                          "send no request, load nothing")
    warehouse_arg(run)
    log_format_arg(run)
    backfill = sub.add_parser("backfill", help="load exactly a date range, then transforms")
    backfill.add_argument("--start", required=True, type=_date, metavar="YYYY-MM-DD",
                          help="first day of the range (UTC; widened to the providers' window grid, which is said)")
    backfill.add_argument("--end", required=True, type=_date, metavar="YYYY-MM-DD", help="last day, inclusive")
    backfill.add_argument("--provider", action="append", metavar="P", help="only this provider (repeatable)")
    backfill.add_argument("--dry-run", action="store_true",
                          help="print the windows each provider would pull, the estimated requests and time; "
                               "send no request, load nothing")
    warehouse_arg(backfill)
    log_format_arg(backfill)
    transform = sub.add_parser("transform", help="rebuild analytics from raw alone")
    warehouse_arg(transform)
    status = sub.add_parser("status", help="per provider: last run, outcome, cursor, rows, freshness, errors")
    status.add_argument("--json", action="store_true",
                        help="one JSON object per provider and line (for monitors and alerting rules)")
    status.add_argument("--wide", action="store_true", help="every column, whatever the terminal's width")
    warehouse_arg(status)
    html = sub.add_parser("report", help="write the warehouse as one self-contained HTML page (runs, quality, "
                                         "errors, weekly charts, top campaigns, accumulation, freshness)")
    html.add_argument("--output", metavar="PATH",
                      help="the HTML file to write (default: campaign_report.html beside the warehouse)")
    warehouse_arg(html)
    check = sub.add_parser("check", help="check every enabled provider's configuration and credentials with one "
                                         "cheap request each; load nothing")
    check.add_argument("--provider", action="append", metavar="P", help="only this provider (repeatable)")
    global_flags(check)
    demo = sub.add_parser("demo", help="start the built-in simulators and load them (no credentials needed)")
    warehouse_arg(demo)
    return parser


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("campaign_etl")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False
    for noisy in ("dlt", "httpx", "httpcore"):
        # dlt logs a failed step with its whole traceback; the CLI says it in one sentence unless -v
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.CRITICAL)


def main(argv: Sequence[str] | None = None) -> int:
    # No usage telemetry leaves a loader that holds customer credentials, unless someone opts in explicitly.
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    # SIGINT / SIGTERM are ours for the whole command (core.interrupt); dlt must not swap handlers
    os.environ["RUNTIME__INTERCEPT_SIGNALS"] = "false"
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return int(exc.code or 0)
    _setup_logging(args.verbose)
    # dlt configures its own logger from this key when a pipeline starts: without -v it would print a failed
    # step's whole traceback next to our one sentence
    os.environ["RUNTIME__LOG_LEVEL"] = "INFO" if args.verbose else "CRITICAL"
    quiet = args.quiet or os.environ.get("CAMPAIGN_ETL_QUIET") == "1"
    # a terminal gets the live display; a log (no TTY) and -v (request lines) get one line per step
    live = not quiet and not args.verbose and sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    from pipelines.progress import LiveProgress, Progress

    progress = LiveProgress() if live else Progress(quiet=quiet)
    try:
        with interrupt.handling_signals(), progress:
            return _dispatch(args, progress)
    except CampaignEtlError as exc:
        print(f"{PROG}: {redact(exc)}", file=sys.stderr)
        return exc.exit_code
    except interrupt.Interrupted as stop:
        print(f"{PROG}: {stop}; nothing was published, and the next run resumes where this one stopped.",
              file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing was published from the unfinished step.", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one sentence, no traceback unless asked
        if args.verbose:
            logging.getLogger("campaign_etl").exception("unexpected error")
        print(f"{PROG}: unexpected error: {type(exc).__name__}: {redact(first_line(exc))} "
              f"(run with --verbose for details)",
              file=sys.stderr)
        return 1


def _summary(result: RunResult, log_format: str) -> str:
    from pipelines import report

    return report.run_summary_json(result) if log_format == "json" else report.run_summary(result)


def _check_range(args: argparse.Namespace) -> None:
    if args.start > args.end:
        raise ConfigError(f"--start {args.start} is after --end {args.end}.")
    if args.start > dt.datetime.now(dt.UTC).date():
        raise ConfigError(f"--start {args.start} is in the future.")


def _dry_run(args: argparse.Namespace, warehouse: Path) -> int:
    from pipelines import estimate
    from pipelines.runner import plan_only

    if args.command == "backfill":
        _check_range(args)
        planned = plan_only(warehouse=warehouse, mode="backfill", providers=args.provider, start=args.start,
                            end=args.end)
    else:
        planned = plan_only(warehouse=warehouse, mode="nightly", providers=args.provider, recheck=args.recheck)
    print(estimate.dry_run_text(planned, "backfill" if args.command == "backfill" else "nightly"))
    return 0


def _dispatch(args: argparse.Namespace, progress: Progress) -> int:
    from pipelines.config import check_destinations, check_files, check_keys, use_project_dir, warehouse_path

    use_project_dir(args.project_dir)
    check_files()
    check_destinations()
    if args.command in ("run", "backfill", "transform", "demo", "check"):
        from sources import registry

        check_keys(registry.available().values())
    if args.command == "check":
        from pipelines.check import run_check

        return run_check(args.provider, progress)
    warehouse = warehouse_path(args.warehouse, for_writing=args.command not in ("status", "report"))
    if args.command in ("run", "backfill") and args.dry_run:
        return _dry_run(args, warehouse)
    if args.command in ("run", "backfill", "transform"):
        from pipelines.runner import load, transform_only
    if args.command == "run":
        result = load(warehouse=warehouse, mode="nightly", providers=args.provider, progress=progress,
                      recheck=args.recheck)
        print(_summary(result, args.log_format))
        return result.exit_code
    if args.command == "backfill":
        _check_range(args)
        result = load(warehouse=warehouse, mode="backfill", providers=args.provider, start=args.start,
                      end=args.end, progress=progress)
        print(_summary(result, args.log_format))
        return result.exit_code
    if args.command == "transform":
        transform_only(warehouse=warehouse, progress=progress)
        return 0
    if args.command == "status":
        from pipelines import report

        print(report.status_json(warehouse) if args.json else report.status(warehouse, wide=args.wide))
        return 0
    if args.command == "report":
        from pipelines.html_report import write_report

        print(write_report(warehouse, Path(args.output) if args.output else None))
        return 0
    if args.command == "demo":
        from pipelines.demo import run_demo

        return run_demo(warehouse=warehouse, progress=progress)
    raise ConfigError(f"unknown command '{args.command}'.")  # pragma: no cover - argparse rejects it first


def entry() -> NoReturn:  # pragma: no cover - the console script; tests call main()
    """The ``campaign-etl`` console script: ``main``, then the process ends at once.

    Everything the command wrote is closed and durable when ``main`` returns (stores, work file, warehouse,
    report); what is left is the interpreter's teardown of dlt, DuckDB, pyarrow and pandas, which takes longer
    than a nightly with nothing new spends on its own work, and runs no code of ours.
    """
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more can be said anyway
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()

