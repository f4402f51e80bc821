"""Run ``campaign-etl`` and SIGKILL it at one chosen step: ``python crash_run.py <step> <cli args...>``.

The kill is the process killing itself with SIGKILL at the named point, so the test knows exactly which state a
real crash (power loss, OOM killer, ``kill -9``) would have left. Steps:

=============  ===========================================================================================
``request:N``  at the N-th HTTP request (mid-extract: some windows pulled, the package not complete)
``normalize``  dlt has extracted a package and starts normalizing it
``commit``     dlt has moved a normalized package from ``load/new`` to ``load/normalized`` but not yet
               deleted the extracted copy (the state that made every later run fail with ENOTEMPTY)
``halfmove``   dlt moves a normalized package file by file (its fallback when a rename fails) and dies after one
``load``       the package is normalized, its load has not begun
``complete``   the load jobs ran, dlt has not yet marked the package loaded
``ledger``     the package is loaded, the window ledger not yet written
``transform``  in the middle of the SQL transforms (after a few models)
``publish``    the published copy is written next to the warehouse but not yet renamed over it
``seed``       half-way through copying the published warehouse into a missing work file
``slowsql``    no kill: the transforms start with one SQL statement that runs for minutes (signal tests)
=============  ===========================================================================================
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_before(owner: Any, name: str, *, after_calls: int = 1) -> None:
    original = getattr(owner, name)
    calls = {"n": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] >= after_calls:
            _die()
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def _kill_after(owner: Any, name: str) -> None:
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        _die()

    setattr(owner, name, wrapper)


def _half_copy_then_die(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
    with open(src, "rb") as reader, open(dst, "wb") as writer:
        writer.write(reader.read(os.path.getsize(src) // 2))
        writer.flush()
        os.fsync(writer.fileno())
    _die()


def arm(step: str) -> None:
    """Install the kill for ``step``."""
    name, _, arg = step.partition(":")
    if name == "request":
        from sources.common.http import HttpClient

        _kill_before(HttpClient, "request", after_calls=int(arg or 1))
    elif name == "normalize":
        from dlt.normalize.normalize import Normalize

        _kill_before(Normalize, "spool_files")
    elif name == "commit":
        from dlt.common.storages.load_storage import LoadStorage

        _kill_after(LoadStorage, "commit_new_load_package")
    elif name == "halfmove":
        from dlt.common.storages.load_storage import LoadStorage

        def half_move(self: Any, load_id: str) -> None:
            source = Path(self.storage.make_full_path(self.get_new_package_path(load_id)))
            target = Path(self.storage.make_full_path(self.get_normalized_package_path(load_id)))
            moved = sorted(p for p in source.rglob("*") if p.is_file())[:2]
            for path in moved:
                (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
                path.rename(target / path.relative_to(source))
            _die()

        LoadStorage.commit_new_load_package = half_move  # type: ignore[method-assign]
    elif name == "load":
        from dlt.pipeline.pipeline import Pipeline

        _kill_before(Pipeline, "load")
    elif name == "complete":
        from dlt.load.load import Load

        _kill_before(Load, "complete_package")
    elif name == "ledger":
        from pipelines import ledger

        _kill_before(ledger, "record")
    elif name == "transform":
        from transforms import runner

        _kill_before(runner, "apply_model", after_calls=int(arg or 4))
    elif name == "publish":
        import os as os_module

        from pipelines import warehouse

        original_replace: Callable[..., Any] = os_module.replace

        class _Os:
            def __getattr__(self, attr: str) -> Any:
                return getattr(os_module, attr)

            @staticmethod
            def replace(src: Any, dst: Any) -> None:
                if str(dst).endswith(".duckdb"):
                    _die()
                original_replace(src, dst)

        warehouse.os = _Os()  # type: ignore[attr-defined]
    elif name == "seed":
        from pipelines import warehouse

        warehouse.shutil.copyfile = _half_copy_then_die  # type: ignore[attr-defined]
    elif name == "slowsql":
        from transforms import runner

        original_apply = runner.apply_model

        def slow_apply(con: Any, *args: Any, **kwargs: Any) -> Any:
            print("slow statement started", file=sys.stderr, flush=True)
            con.execute("select count(*) from range(1000000000000) as a(i) where i % 7 = 3").fetchall()
            return original_apply(con, *args, **kwargs)

        runner.apply_model = slow_apply
    else:
        raise SystemExit(f"unknown crash step {step!r}")


if __name__ == "__main__":
    arm(sys.argv[1])
    from pipelines.cli import main

    raise SystemExit(main(sys.argv[2:]))
