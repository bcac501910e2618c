"""Task run ids in call order: Prefect's UUID 7 made strictly increasing within a process.

The capture numbers the calls of a task (``.../<task>/<n>``) in the order they were made, from
the task run ids, which Prefect makes in the calling thread (``.map``, ``.submit``, a direct
call). Prefect 3.9's ``uuid7`` holds the millisecond and random bits only, so two ids made in
the same millisecond (a ``.map`` over a few items) sort at random. :func:`install` puts
:func:`monotonic_uuid7` where ``prefect.tasks``, ``prefect.task_runners`` and
``prefect.task_engine`` look ``uuid7`` up: the same ids, except that one made in the same
millisecond as the one before is that one plus 1 (RFC 9562's "monotonic random" method), so
they stay unique, version 7 and time-ordered, and now also in call order.

Example:
    >>> first, second = monotonic_uuid7(), monotonic_uuid7()
    >>> first.version == second.version == 7 and first.int < second.int
    True
"""

from __future__ import annotations

import threading
import uuid

#: The modules that make task run ids, each through its own ``uuid7`` name.
MAKERS = ("prefect.tasks", "prefect.task_runners", "prefect.task_engine")
_RANDOM_B = (1 << 62) - 1  # the low 62 bits: rand_b, below the variant bits
_last = 0
_lock = threading.Lock()


def monotonic_uuid7() -> uuid.UUID:
    """A UUID 7 greater than every one this function made before in the process."""
    global _last
    from prefect._internal.uuid7 import uuid7

    made = uuid7()
    with _lock:
        value = made.int
        if value <= _last and (_last & _RANDOM_B) != _RANDOM_B:  # no carry into the variant
            value = _last + 1
        _last = max(_last, value)
    return uuid.UUID(int=value)


def install() -> None:
    """Make Prefect's task run ids with :func:`monotonic_uuid7` (once is enough)."""
    import importlib

    for name in MAKERS:
        module = importlib.import_module(name)
        if getattr(module, "uuid7", None) is not None:
            module.uuid7 = monotonic_uuid7  # type: ignore[attr-defined]
