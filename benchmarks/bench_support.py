"""Small pieces the benchmark scripts share (imported from the scripts' own folder)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def working_directory(given: Path | None, prefix: str) -> Iterator[Path]:
    """``given`` (kept afterwards), or a temporary directory removed at the end."""
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)
