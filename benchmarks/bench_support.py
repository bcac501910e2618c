"""Small pieces the benchmark scripts share (imported from the scripts' own folder).

- the run: :func:`working_directory`, :func:`log`, :func:`names_from` (``--modes a,b``);
- Airflow: :func:`write_dag_to_db`;
- timing: :class:`Timing` and :func:`timed`; :func:`p95` and :func:`summary_ms` of samples;
- reporting: :func:`fmt`, :func:`render_table`, :func:`environment`, :func:`git_state`,
  :func:`config_of` and :func:`write_figures` (the ``--json`` file).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def working_directory(given: Path | None, prefix: str) -> Iterator[Path]:
    """``given`` (kept afterwards), or a temporary directory removed at the end."""
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def log(message: str) -> None:
    """A progress line on stderr, with the time."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Timing:
    """Seconds of the warm-up call and of each timed call, and the last call's result."""

    cold: float
    seconds: list[float] = field(default_factory=list)
    result: Any = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    def to_dict(self) -> dict[str, Any]:
        return {"cold_s": self.cold, "seconds": self.seconds, "median_s": self.median}


def timed(call: Callable[[], Any], repeat: int, warm_up: Callable[[], Any] | None = None) -> Timing:
    """Warm up (``call`` itself unless ``warm_up`` is given; its time is kept as ``cold``),
    then call ``repeat`` times, timed."""
    gc.collect()
    start = time.perf_counter()
    (warm_up or call)()
    timing = Timing(cold=time.perf_counter() - start)
    for _ in range(repeat):
        timing.result = None  # free the last result before the next call allocates its own
        gc.collect()
        start = time.perf_counter()
        timing.result = call()
        timing.seconds.append(time.perf_counter() - start)
    return timing


def p95(values: Sequence[float]) -> float:
    """The 95th percentile: the smallest sample at or above 95% of the samples."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def summary_ms(values_ms: Sequence[float]) -> dict[str, Any]:
    """Count, median, p95, mean, min, max and first of samples in milliseconds."""
    if not values_ms:
        return {"n": 0}
    return {
        "n": len(values_ms),
        "median_ms": statistics.median(values_ms),
        "p95_ms": p95(values_ms),
        "mean_ms": statistics.fmean(values_ms),
        "min_ms": min(values_ms),
        "max_ms": max(values_ms),
        "first_ms": values_ms[0],
    }


def names_from(
    parser: argparse.ArgumentParser, text: str, allowed: Collection[str], what: str
) -> list[str]:
    """The comma-separated names of ``text`` (e.g. ``--modes``), each one of ``allowed``."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = set(names) - set(allowed)
    if unknown:
        parser.error(f"unknown {what}: {', '.join(sorted(unknown))}")
    return names


# -- reporting ----------------------------------------------------------------------------


def fmt(value: Any, digits: int = 2) -> str:
    """A figure for a table: ``-`` when missing, thousands separated, ``digits`` decimals."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def render_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], left: Collection[int] = (0,)
) -> str:
    """A text table: the columns ``left`` (indexes; negative from the end) left-aligned, the
    others right-aligned, under a rule."""
    count = len(header)
    left = {index % count for index in left}
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(count)]

    def render(row: Sequence[str]) -> str:
        cells = [
            cell.ljust(widths[i]) if i in left else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        return " | ".join(cells).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([render(header), rule, *(render(row) for row in rows)])


#: The header of a table of :class:`Timing` rows compared with a reference (aimops) and a goal.
TIMING_HEADER = ("measurement", "median s", "best s", "cold s", "vs aimops", "goal", "met?")
#: Its left-aligned columns: the name, the goal and the verdict.
TIMING_LEFT = (0, 5, 6)


def timing_row(
    name: str, timing: dict[str, Any], reference_s: float, goal: str = "", met: bool | None = None
) -> list[str]:
    """A :data:`TIMING_HEADER` row of :meth:`Timing.to_dict` figures against ``reference_s``."""
    return [
        name,
        fmt(timing["median_s"], 3),
        fmt(min(timing["seconds"]), 3),
        fmt(timing["cold_s"], 3),
        f"{timing['median_s'] / reference_s:.2f}x",
        goal,
        "" if met is None else ("yes" if met else "NO"),
    ]


def git_state() -> dict[str, Any]:
    """The commit measured and which files differed from it (others edit the core meanwhile)."""

    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "changed": git("status", "--short").splitlines()}


def environment(**versions: Any) -> dict[str, Any]:
    """The machine, the given library versions, and the load average at the start."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        **versions,
        "load_average_at_start": os.getloadavg(),
    }


def config_of(args: argparse.Namespace) -> dict[str, Any]:
    """The command line's options as JSON can hold them (paths as text)."""
    return {
        key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()
    }


def write_dag_to_db(dag: Any) -> None:
    """Serialize ``dag`` into Airflow's DB (``dag.test()`` only runs serialized DAGs), as
    ``tests/operators/conftest.py`` does."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
        session.commit()
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session
        )


def write_json(path: Path, data: dict[str, Any]) -> None:
    """``data`` as indented JSON in ``path`` (its folder made if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def write_figures(results: dict[str, Any], path: Path | None) -> None:
    """Write the figures to ``path`` (``--json``), when one is given, and say where."""
    if path is not None:
        write_json(path, results)
        print(f"figures in {path}")


def profile_lines(
    prof_path: Path, count: int, *, heading: str, caller: str, top: int = 10, digits: int = 1
) -> list[str]:
    """The ``top`` entries of a cProfile dump by cumulative and by own time, per ``count``
    (task events, task runs), leaving out the functions of the benchmark file ``caller``."""
    import pstats

    stats: dict[Any, Any] = pstats.Stats(str(prof_path)).stats  # type: ignore[attr-defined]
    mine = str(Path(caller).resolve())
    entries = [(key, value) for key, value in stats.items() if key[0] != mine]
    lines = [heading]
    for title, column in (("cumulative", 3), ("own time", 2)):
        ranked = sorted(entries, key=lambda item: item[1][column], reverse=True)[:top]
        lines.append(f"top {top} by {title}:")
        lines.append(f"{'cum ms':>8} {'own ms':>8} {'calls':>7}  function")
        for (file, line, function), (_, calls, own, cumulative, _) in ranked:
            where = f"{_short(file)}:{line}({function})" if line else function
            lines.append(
                f"{cumulative * 1000 / count:8.3f} {own * 1000 / count:8.3f} "
                f"{calls / count:7.{digits}f}  {where}"
            )
    return lines


def _short(file: str) -> str:
    """A source path from its package on (``sqlalchemy/engine/base.py``)."""
    path = Path(file)
    repo = Path(__file__).resolve().parent.parent
    if path.is_relative_to(repo) and ".venv" not in path.parts:
        return str(path.relative_to(repo))
    parts = path.parts
    if "site-packages" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("site-packages") :])
    return path.name


def run_child(
    script: str, spec: dict[str, Any], workdir: Path, env: dict[str, str], label: str
) -> dict[str, Any]:
    """Run ``script --child spec.json`` in a fresh process (its output to ``child.log``); the
    JSON it wrote to ``spec["output"]``, with ``process_s`` and ``workdir`` added. Fails with
    the log's last lines when the child did."""
    (workdir / "spec.json").write_text(json.dumps(spec))
    command = [sys.executable, str(Path(script).resolve()), "--child", str(workdir / "spec.json")]
    started = time.perf_counter()
    with (workdir / "child.log").open("w") as output:
        done = subprocess.run(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or not Path(spec["output"]).is_file():
        tail = (workdir / "child.log").read_text(errors="replace").splitlines()[-40:]
        raise RuntimeError(
            f"{label}: the subprocess failed ({done.returncode}):\n" + "\n".join(tail)
        )
    result: dict[str, Any] = json.loads(Path(spec["output"]).read_text())
    result["process_s"] = elapsed
    result["workdir"] = str(workdir)
    return result
