"""Prefect tasks, flows, blocks and run capture (needs ``aimops[prefect]``).

``tracked`` captures a flow's runs into the AIM store: place it above ``@flow``.

Example:
    >>> from aimops.flows import tracked
    >>> tracked.__name__
    'tracked'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aimops.lazy import lazy_attributes

if TYPE_CHECKING:
    from aimops.flows.capture.tracked import tracked

__all__ = ["tracked"]

__getattr__ = lazy_attributes(__name__, {"tracked": "aimops.flows.capture.tracked"})
