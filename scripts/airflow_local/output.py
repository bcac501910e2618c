"""Where the controller's progress lines go: a :data:`Printer`, by default :func:`print_line`."""

from __future__ import annotations

from collections.abc import Callable

#: Takes one line of progress (``start`` and ``stop`` take one as ``out=``; tests pass a log's).
Printer = Callable[[str], None]


def print_line(message: str) -> None:
    """Print ``message`` on stdout at once (a log follower sees it immediately)."""
    print(message, flush=True)
