"""Small pieces the benchmark scripts share (imported from the scripts' own folder)."""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
