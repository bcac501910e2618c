"""Every example in the package's docstrings runs and shows what it says."""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil

import pytest

PACKAGES = (
    "aimops",
    "aimops.metadata",
    "aimops.monitors",
    "aimops.hooks",
    "aimops.operators",
    "aimops.flows",
)
#: Alembic runs these itself, with its own context.
NOT_RUN = ("aimops.metadata.migrations",)


def _modules() -> list[str]:
    names = set(PACKAGES)
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        names.update(info.name for info in pkgutil.walk_packages(path, f"{package}."))
    return sorted(name for name in names if not name.startswith(NOT_RUN))


@pytest.mark.parametrize("name", _modules())
def test_the_examples_run(name: str) -> None:
    before = dict(os.environ)
    try:  # examples may set variables (a connection, a URL): none leaks into other tests
        result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    finally:
        os.environ.clear()
        os.environ.update(before)
    assert result.failed == 0
