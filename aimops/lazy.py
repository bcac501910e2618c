"""Package attributes loaded on first use, so importing a package stays cheap.

Example:
    >>> __getattr__ = lazy_attributes("demo", {"dumps": "json"})
    >>> __getattr__("dumps").__name__
    'dumps'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[attribute]`` (a module) when first asked.

    The value is then kept in the package's namespace, so the hook runs once per name.
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace = sys.modules.get(package)
        if namespace is not None:
            setattr(namespace, name, value)
        return value

    return __getattr__
