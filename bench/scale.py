"""GreenArrow at real volume: the loader against a plain dlt ``rest_api`` script, per dataset size and latency.

For each size (campaigns, over 10 mailing lists with 20 links each) the scaled GreenArrow simulator is served on
loopback, and for each added latency (seconds before every answer) two child processes load the whole dataset
range into fresh DuckDB files:

- the loader: ``campaign-etl backfill`` (installed next to this Python) with the default concurrency;
- the peer: ``bench/peer_rest_api.py``, a serial dlt ``rest_api`` configuration of the same endpoints.

Printed per run: requests (the simulator's log; the loader's ``analytics.load_runs`` too), wall time, peak RSS,
seconds per step, and whether the loader's fact equals the simulator's truth (ok / MISMATCH); then the ratios
loader/peer, at a latency > 0 the concurrency bound (requests x latency / max_concurrency) and the loader's wall
over it, and the loader's seconds per 1k campaigns (whole, and added between the smallest and the largest
size). Figures of one run, never assertions.

    .venv/bin/python bench/scale.py [SIZE ...] [--latency SECONDS ...] [--lists 10] [--links 20] [--days 120]

Defaults: sizes 1000 5000 20000, latencies 0 0.05 0.2. Ctrl-C stops the children; everything is written under
one temporary folder, removed at the end.
"""

from __future__ import annotations

# Only the standard library at module level: this file is also the launcher (``--launcher``), a small process
# started before the dataset is built that spawns the measured children. A child's ``ru_maxrss`` is at least
# the peak RSS of the process it was spawned from (Linux keeps the larger of the two across exec, vfork and
# posix_spawn included), so children spawned by the benchmark itself, which holds the dataset and its truth,
# would report the benchmark's memory instead of their own.
import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulators.base import SimServer
    from simulators.greenarrow import GreenArrowSim

HERE = Path(__file__).resolve().parent
LOADER = Path(sys.executable).with_name("campaign-etl")
PEER = HERE / "peer_rest_api.py"
DEFAULT_SIZES = (1000, 5000, 20000)
DEFAULT_LATENCIES = (0.0, 0.05, 0.2)
# the environment of a scheduler's child: this one's without provider or warehouse config (tests/helpers.py)
CLEAN_ENV_PREFIXES = ("SOURCES__", "START_DATE", "DESTINATION__", "CAMPAIGN_ETL_", "LOOKBACK_DAYS", "WINDOW_DAYS")
# how long a child may take to stop after Ctrl-C (the loader needs about a second) before it is killed
STOP_GRACE_SECONDS = 10.0
LOADER_STEPS = ("extract", "normalize", "load", "transform")


# -- the launcher (a separate small process) -------------------------------------------------------------------


class _Stop(Exception):
    """A signal asked the launcher to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


def _end_child(child: subprocess.Popen[bytes], signum: int) -> None:
    """Stop ``child`` after the launcher was asked to stop by ``signum``.

    On SIGINT the child got the same Ctrl-C from the terminal (one process group) and is given time to stop
    cleanly; a second signal would make the loader stop at once. On SIGTERM (sent by the benchmark) the child
    gets it too. Either way it is killed if it is still running after the grace period.
    """
    if signum != signal.SIGINT:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def launcher() -> int:
    """Run jobs read from stdin (one JSON object a line), answering each with one JSON line of figures.

    A job is ``{"argv", "cwd", "env", "stdout", "stderr"}`` (the last two: file paths). The answer holds the
    child's exit code, wall seconds from spawn to exit, and ``ru_maxrss`` / CPU times from ``os.wait4``, plus
    the launcher's own peak RSS (the floor under every child's figure).

    Returns:
        The exit code: 0 when stdin ends, 128 + the signal when stopped.
    """
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    child: subprocess.Popen[bytes] | None = None
    try:
        for line in sys.stdin:
            job = json.loads(line)
            with open(job["stdout"], "wb") as out, open(job["stderr"], "wb") as err:
                started = time.perf_counter()
                child = subprocess.Popen(job["argv"], cwd=job["cwd"], env=job["env"], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err)
                _, status, usage = os.wait4(child.pid, 0)
                wall = time.perf_counter() - started
                # reaped by wait4: tell Popen, so it never waits for the pid again
                child.returncode = os.waitstatus_to_exitcode(status)
                code, child = child.returncode, None
            floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(json.dumps({"exit_code": code, "wall": wall, "maxrss_kb": usage.ru_maxrss,
                              "user": usage.ru_utime, "system": usage.ru_stime, "floor_kb": floor}), flush=True)
    except _Stop as stop:
        # no second signal may cut the wait for the child short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if child is not None:
            _end_child(child, stop.signum)
        return 128 + stop.signum
    # stdin ended: nothing is running, so a late signal may end this process the ordinary way
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return 0


class Launcher:
    """The benchmark's side of the launcher: start it, run jobs through it, stop it."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--launcher"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.floor_kb = 0   # the launcher's own peak RSS: no child's figure can be below it

    def run(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
        """Run ``argv`` as a child of the launcher; its output goes to ``cwd/stdout.txt`` and ``stderr.txt``.

        Returns:
            The launcher's answer (see ``launcher``) plus ``stderr``, the path of the child's stderr.
        """
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        job = {"argv": argv, "cwd": str(cwd), "env": env, "stdout": str(cwd / "stdout.txt"),
               "stderr": str(cwd / "stderr.txt")}
        stdin.write(json.dumps(job) + "\n")
        stdin.flush()
        answer = stdout.readline()
        if not answer:
            raise RuntimeError(f"the launcher ended (exit {self._proc.wait()})")
        figures = json.loads(answer)
        self.floor_kb = max(self.floor_kb, int(figures["floor_kb"]))
        return {**figures, "stderr": job["stderr"]}

    def close(self, *, grace: float) -> None:
        """End the launcher: it finishes when its stdin closes; after ``grace`` seconds it is sent SIGTERM
        (it then stops its child), and killed if that does not end it."""
        with contextlib.suppress(OSError):
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        for action in (None, self._proc.terminate, self._proc.kill):
            if action is not None:
                with contextlib.suppress(ProcessLookupError):
                    action()
            try:
                self._proc.wait(timeout=grace if action is None else STOP_GRACE_SECONDS + 5)
                return
            except subprocess.TimeoutExpired:
                continue


# -- measuring ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Figures:
    """One child's figures."""

    exit_code: int
    requests: int                     # counted by the simulator
    wall: float                       # seconds from spawn to exit
    cpu: float                        # user + system seconds of the child (os.wait4)
    rss_mb: float                     # the child's peak RSS
    steps: dict[str, float]           # seconds per step
    check: str                        # ok / MISMATCH ...
    reported_requests: int | None = None   # the loader's own count (analytics.load_runs)


@dataclasses.dataclass
class Run:
    """One size at one latency."""

    size: int
    latency: float
    loader: Figures
    peer: Figures


def child_env(extra: dict[str, str], data_dir: Path) -> dict[str, str]:
    """This environment without provider config, plus ``extra``; dlt keeps its files under ``data_dir`` and sends
    no telemetry, so a run leaves nothing outside the temporary folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN_ENV_PREFIXES)}
    return {**env, "DLT_DATA_DIR": str(data_dir), "RUNTIME__DLTHUB_TELEMETRY": "false", **extra}


def dataset_range(sim: GreenArrowSim, days: int) -> tuple[dt.date, dt.date]:
    """The backfill range that holds every campaign of the dataset (they started within ``days`` before now)."""
    return (sim.now - dt.timedelta(days=days + 1)).date(), sim.now.date()


def cpu_seconds(answer: dict[str, Any]) -> float:
    """The child's CPU time (user + system) from the launcher's answer."""
    return float(answer["user"]) + float(answer["system"])


def failed(answer: dict[str, Any], who: str) -> str:
    """A note for a child that did not exit 0: its code and the last lines of its stderr."""
    tail = Path(answer["stderr"]).read_text(errors="replace").strip().splitlines()[-5:]
    return f"{who} exited {answer['exit_code']}: " + " | ".join(tail)


def load_run_row(warehouse: Path) -> dict[str, Any]:
    """The loader's newest ``analytics.load_runs`` row for GreenArrow, by column name (empty when absent)."""
    import duckdb

    if not warehouse.exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cur = con.execute("select * from analytics.load_runs where provider = 'greenarrow' "
                          "order by started_at desc limit 1")
        row = cur.fetchone()
        names = [d[0] for d in cur.description or []]
    return dict(zip(names, row, strict=True)) if row else {}


def check_fact(warehouse: Path, truth: dict[tuple[str, ...], float]) -> str:
    """``ok`` when the loader's GreenArrow fact equals ``truth`` key for key and value for value, else a
    one-line MISMATCH naming what differs. Rows are streamed, so the fact is never held whole next to the truth."""
    import duckdb

    if not warehouse.exists():
        return "MISMATCH: no warehouse"
    keys = "account_id, campaign_id, breakdown_type, breakdown_value, metric"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        found = con.execute(f"select count(*), count(distinct ({keys})) from analytics.fact_campaign_metrics "
                            "where provider = 'greenarrow'").fetchone()
        rows, distinct = found if found else (0, 0)
        cur = con.execute(f"select {keys}, value from analytics.fact_campaign_metrics where provider = 'greenarrow'")
        wrong = extra = 0
        while batch := cur.fetchmany(100_000):
            for *key, value in batch:
                expected = truth.get(tuple(key))
                if expected is None:
                    extra += 1
                elif expected != value:
                    wrong += 1
    duplicates = rows - distinct
    if not wrong and not extra and not duplicates and rows == len(truth):
        return "ok"
    return (f"MISMATCH: fact {rows:,} rows, truth {len(truth):,}; {wrong:,} values differ, {extra:,} keys not in "
            f"truth, {duplicates:,} duplicate keys")


def measure_loader(launcher: Launcher, sim: GreenArrowSim, url: str, folder: Path, days: int,
                   truth: dict[tuple[str, ...], float]) -> Figures:
    """``campaign-etl backfill`` of the whole dataset range into a fresh warehouse under ``folder``."""
    folder.mkdir(parents=True)
    warehouse = folder / "campaign_metrics.duckdb"
    start, end = dataset_range(sim, days)
    argv = [str(LOADER), "-q", "backfill", "--start", start.isoformat(), "--end", end.isoformat(),
            "--provider", "greenarrow", "--warehouse", str(warehouse)]
    before = sim.request_count()
    answer = launcher.run(argv, cwd=folder, env=child_env(sim.loader_env(url), folder / "dlt-data"))
    requests = sim.request_count() - before
    row = load_run_row(warehouse)
    steps = {s: float(row[f"{s}_seconds"]) for s in LOADER_STEPS if row.get(f"{s}_seconds") is not None}
    check = check_fact(warehouse, truth)
    if answer["exit_code"] != 0:
        check = f"{check}; {failed(answer, 'loader')}"
    reported = row.get("requests")
    return Figures(answer["exit_code"], requests, answer["wall"], cpu_seconds(answer), answer["maxrss_kb"] / 1024,
                   steps, check, None if reported is None else int(reported))


def measure_peer(launcher: Launcher, sim: GreenArrowSim, url: str, folder: Path, days: int) -> Figures:
    """The plain dlt ``rest_api`` script over the same range, into its own DuckDB file under ``folder``.

    Its check compares the rows dlt normalized with the dataset: one details row per started campaign and one
    link_stats row per link, so the peer did the same work."""
    folder.mkdir(parents=True)
    start, end = dataset_range(sim, days)
    report = folder / "figures.json"
    argv = [sys.executable, str(PEER), "--base-url", url, "--api-key", sim.credentials,
            "--start", start.isoformat(), "--end", end.isoformat(), "--warehouse", str(folder / "peer.duckdb"),
            "--pipelines-dir", str(folder / "pipelines"), "--report", str(report)]
    before = sim.request_count()
    answer = launcher.run(argv, cwd=folder, env=child_env({}, folder / "dlt-data"))
    requests = sim.request_count() - before
    figures: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {"steps": {}, "rows": {}}
    started = [c for c in sim.campaigns.values() if c.started_at is not None and not c.deleted]
    want = {"campaign_details": len(started), "link_stats": sum(len(c.links) for c in started)}
    got = {table: int(figures["rows"].get(table, 0)) for table in want}
    check = "rows ok" if got == want else f"rows MISMATCH: {got} (want {want})"
    if answer["exit_code"] != 0:
        check = f"{check}; {failed(answer, 'peer')}"
    steps = {s: float(v) for s, v in figures["steps"].items() if s in ("extract", "normalize", "load")}
    return Figures(answer["exit_code"], requests, answer["wall"], cpu_seconds(answer), answer["maxrss_kb"] / 1024,
                   steps, check)


# -- printing -----------------------------------------------------------------------------------------------------


def concurrency() -> int:
    """GreenArrow's default requests in flight, as the loader uses it."""
    from sources.greenarrow.settings import DEFAULT_POLICY

    return DEFAULT_POLICY.max_concurrency


def bound(run: Run, in_flight: int) -> float:
    """The loader's concurrency bound: no schedule of its requests, ``in_flight`` at a time, each waiting
    ``latency``, ends sooner."""
    return run.loader.requests * run.latency / in_flight


def ratio(a: float, b: float) -> str:
    """``a / b`` as ``1.23x``, or ``-`` when ``b`` is 0 (a run that failed before any request)."""
    return f"{a / b:.2f}x" if b > 0 else "-"


def print_run(run: Run, sim: GreenArrowSim, in_flight: int) -> None:
    """The table of one size at one latency, its ratios and bound."""
    started = sum(1 for c in sim.campaigns.values() if c.started_at is not None)
    links = {len(c.links) for c in sim.campaigns.values()}
    print(f"\n== {run.size:,} campaigns ({len(sim.lists)} lists, {started:,} started, "
          f"{'/'.join(map(str, sorted(links)))} links each), latency {run.latency:g} s", flush=True)
    head = (f"  {'':8}{'requests':>10}{'load_runs':>11}{'wall s':>9}{'cpu s':>8}{'peak RSS MB':>13}"
            + "".join(f"{s:>11}" for s in LOADER_STEPS) + "  check")
    print(head)
    for name, f in (("loader", run.loader), ("peer", run.peer)):
        reported = "-" if f.reported_requests is None else f"{f.reported_requests:,}"
        steps = "".join(f"{f.steps[s]:>11.2f}" if s in f.steps else f"{'-':>11}" for s in LOADER_STEPS)
        print(f"  {name:8}{f.requests:>10,}{reported:>11}{f.wall:>9.2f}{f.cpu:>8.2f}{f.rss_mb:>13.1f}{steps}"
              f"  {f.check}")
    print(f"  loader/peer: wall {ratio(run.loader.wall, run.peer.wall)}, "
          f"peak RSS {ratio(run.loader.rss_mb, run.peer.rss_mb)}")
    if run.latency > 0:
        b = bound(run, in_flight)
        print(f"  concurrency bound: {run.loader.requests:,} requests x {run.latency:g} s / {in_flight} in flight "
              f"= {b:.2f} s; loader wall / bound = {ratio(run.loader.wall, b)}")
    print(f"  loader: {run.loader.wall / (run.size / 1000):.2f} s per 1k campaigns", flush=True)


def print_summary(runs: list[Run], in_flight: int, floor_mb: float) -> None:
    """One line per size and latency, every figure side by side."""
    print(f"\n== summary (wall s, peak RSS MB; bound = requests x latency / {in_flight}; "
          f"RSS floor of the launcher {floor_mb:.1f} MB)")
    print(f"  {'campaigns':>9}{'latency':>8}{'loader':>9}{'peer':>9}{'ratio':>7}{'loader MB':>11}{'peer MB':>9}"
          f"{'ratio':>7}{'bound':>9}{'/bound':>8}{'s/1k':>8}  check")
    for r in runs:
        b = bound(r, in_flight)
        print(f"  {r.size:>9,}{r.latency:>8g}{r.loader.wall:>9.2f}{r.peer.wall:>9.2f}"
              f"{ratio(r.loader.wall, r.peer.wall):>7}{r.loader.rss_mb:>11.1f}{r.peer.rss_mb:>9.1f}"
              f"{ratio(r.loader.rss_mb, r.peer.rss_mb):>7}{(f'{b:.2f}' if b > 0 else '-'):>9}"
              f"{ratio(r.loader.wall, b):>8}{r.loader.wall / (r.size / 1000):>8.2f}  {r.loader.check.split(';')[0]}")
    for line in marginal_lines(runs):
        print(line)


def marginal_lines(runs: list[Run]) -> list[str]:
    """Per latency, the loader's (and the peer's) seconds per 1k campaigns added: the wall time between the
    smallest and the largest size over the campaigns between them, so the fixed cost of a run (start-up, dlt's
    set-up, the transform's fixed part) is left out. Nothing when a latency was measured at one size only."""
    lines = []
    for latency in dict.fromkeys(r.latency for r in runs):
        sized = sorted((r for r in runs if r.latency == latency), key=lambda r: r.size)
        if len(sized) < 2 or sized[-1].size == sized[0].size:
            continue
        lo, hi = sized[0], sized[-1]
        per_k = (hi.size - lo.size) / 1000
        lines.append(f"  latency {latency:g}: {lo.size:,} -> {hi.size:,} campaigns adds "
                     f"{(hi.loader.wall - lo.loader.wall) / per_k:.2f} s per 1k campaigns to the loader's wall "
                     f"(the peer: {(hi.peer.wall - lo.peer.wall) / per_k:.2f} s)")
    return lines


# -- main ---------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def serving(sim: GreenArrowSim) -> Iterator[SimServer]:
    """Serve ``sim`` on loopback for the duration of the block."""
    from simulators.base import SimServer

    server = SimServer(sim).start()
    try:
        yield server
    finally:
        server.stop()


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (a scheduler's timeout) unwinds like an error: the launcher and its child are stopped, the folder
    # removed
    raise SystemExit(128 + signum)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=list(DEFAULT_SIZES), metavar="SIZE",
                        help="campaigns in the dataset (default: %(default)s)")
    parser.add_argument("--latency", nargs="+", type=float, default=list(DEFAULT_LATENCIES), metavar="SECONDS",
                        help="seconds added before every answer (default: %(default)s)")
    parser.add_argument("--lists", type=int, default=10, help="mailing lists (default: %(default)s)")
    parser.add_argument("--links", type=int, default=20, help="links per campaign (default: %(default)s)")
    parser.add_argument("--days", type=int, default=120, help="campaigns started over this many days "
                                                              "(default: %(default)s)")
    args = parser.parse_args(argv)
    if any(size < args.lists for size in args.sizes) or args.lists < 1:
        parser.error("every SIZE must be at least --lists, and --lists at least 1")
    if any(latency < 0 for latency in args.latency) or args.links < 0 or args.days < 1:
        parser.error("latencies and --links must be >= 0, --days >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every run was measured (mismatches are printed, not failures)."""
    args = parse_args(argv)
    # Ctrl-C even when started with SIGINT ignored (a shell's background job): the launcher and the loader
    # install their own handlers, so this process must stop with them rather than wait on a launcher gone
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    interrupted = False
    # how long the launcher may take to end by itself: idle, it ends as soon as its stdin closes
    grace = 5.0
    with tempfile.TemporaryDirectory(prefix="campaign-etl-scale-", ignore_cleanup_errors=True) as tmp:
        # first, while this process is still small (see the note at the imports)
        launcher_proc = Launcher()
        try:
            measure_all(args, launcher_proc, Path(tmp))
        except KeyboardInterrupt:
            # The launcher and its child got the same SIGINT: give them time to stop cleanly, and let no
            # second Ctrl-C cut that wait short (the folder is removed only once they have ended).
            interrupted, grace = True, STOP_GRACE_SECONDS + 5
        except SystemExit:
            # SIGTERM reached this process only: the launcher is sent it at once and passes it to its child
            grace = 0.0
            raise
        finally:
            # the wait is bounded (grace, then SIGTERM, then SIGKILL) and must not be cut short by a signal
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            launcher_proc.close(grace=grace)
    if interrupted:
        print("\ninterrupted: the children were stopped and the temporary folder removed", file=sys.stderr)
        return 130
    return 0


def measure_all(args: argparse.Namespace, launcher_proc: Launcher, tmp: Path) -> None:
    """Every size at every latency: build and serve the dataset, measure the loader and the peer, print."""
    from simulators.greenarrow import GreenArrowSim

    in_flight = concurrency()
    runs: list[Run] = []
    for size in args.sizes:
        started = time.perf_counter()
        sim = GreenArrowSim(lists=args.lists, campaigns_per_list=math.ceil(size / args.lists), days=args.days,
                            links_per_campaign=args.links)
        built = time.perf_counter() - started
        started = time.perf_counter()
        truth = sim.truth_fact_rows()
        print(f"\ndataset of {len(sim.campaigns):,} campaigns built in {built:.2f}s, its {len(truth):,} fact rows "
              f"of truth in {time.perf_counter() - started:.2f}s", flush=True)
        with serving(sim) as server:
            for latency in args.latency:
                sim.latency = latency
                folder = tmp / f"{size}-{latency:g}"
                loader = measure_loader(launcher_proc, sim, server.url, folder / "loader", args.days, truth)
                peer = measure_peer(launcher_proc, sim, server.url, folder / "peer", args.days)
                # two warehouses of a 20k dataset are large: the temporary folder holds one run at a time
                shutil.rmtree(folder, ignore_errors=True)
                run = Run(size, latency, loader, peer)
                runs.append(run)
                print_run(run, sim, in_flight)
        # the next size's dataset is built in this process: let this one's go first
        del sim, truth
    print_summary(runs, in_flight, launcher_proc.floor_kb / 1024)


if __name__ == "__main__":
    if sys.argv[1:] == ["--launcher"]:
        raise SystemExit(launcher())
    raise SystemExit(main())
