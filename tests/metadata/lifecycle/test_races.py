"""Two transitions racing on one model version: exactly one wins, the others are told so.

Separate Python processes (nothing shared but the database) move the same version at
once. In the forced race every process reads the version's state before any of them writes
(a barrier inside the transition, after its guards), so all of them believe the transition is
allowed: on PostgreSQL the aspect's unique key lets one write in, on SQLite the writers take
turns and each finds the version moved on; every other racer gets
:class:`~aimops.errors.LifecycleConflictError` naming the winner. In the free race (no barrier
inside) a latecomer may instead read the new state and be refused; either way exactly one
transition is recorded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from aimops.metadata import AimStore
from aimops.metadata.lifecycle import lifecycle_history, request_review

pytestmark = pytest.mark.integration

WORKERS = 4
#: The racer: a separate Python process, so nothing is shared but the database. It waits for
#: the common start time; in the forced race its guards then wait for the common write time,
#: so every racer has read the state before any of them writes.
RACER = """
import json, sys, time
from aimops.errors import LifecycleConflictError, TransitionRefusedError
from aimops.metadata import AimStore
from aimops.metadata.lifecycle import transitions

url, version, worker, action, start, write = sys.argv[1:7]
if float(write) > 0:
    guards = transitions._guards
    def synchronised(*args, **kwargs):
        decided = guards(*args, **kwargs)
        time.sleep(max(0.0, float(write) - time.time()))
        return decided
    transitions._guards = synchronised
with AimStore.open(url, actor="reviewer-" + worker) as store:
    time.sleep(max(0.0, float(start) - time.time()))
    reason = "not good enough" if action == "reject" else None
    try:
        outcome = transitions.transition(
            store, version, action, actor="reviewer-" + worker, reason=reason, mlflow=False
        )
        print(json.dumps(["won", outcome.actor]))
    except (LifecycleConflictError, TransitionRefusedError) as exc:
        print(json.dumps([type(exc).__name__, str(exc)]))
"""
#: Seconds for every racer to start Python and open the store before the common start.
STARTUP = 8.0


def _race(url: str, version: str, actions: list[str], *, forced: bool) -> list[list[str]]:
    start = time.time() + STARTUP
    write = start + 2.0 if forced else 0.0
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, url, version, str(n), action, str(start), str(write)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, action in enumerate(actions)
    ]
    found = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
        found.append(json.loads(out.strip().splitlines()[-1]))
    return found


def _in_review(store: AimStore, evidence: Any) -> str:
    version = evidence.reviewable(1)
    request_review(store, version, actor="ana", mlflow=False)
    return str(version)


def test_exactly_one_of_several_approvals_wins_and_the_rest_conflict(
    store: AimStore, evidence: Any
) -> None:
    version = _in_review(store, evidence)
    found = _race(str(store.engine.url.render_as_string(hide_password=False)), version,
                  ["approve"] * WORKERS, forced=True)  # fmt: skip
    winners = [item for item in found if item[0] == "won"]
    losers = [item for item in found if item[0] != "won"]
    assert len(winners) == 1
    assert {item[0] for item in losers} == {"LifecycleConflictError"}
    winner = winners[0][1]
    for _, message in losers:
        assert "another transition got there first" in message
        assert f"approve by {winner} made it publishable" in message
        assert "nothing was changed" in message
    trail = lifecycle_history(store, version)
    assert [(t["transition"], t["actor"]) for t in trail] == [
        ("request_review", "ana"),
        ("approve", winner),
    ]


def test_an_approval_racing_a_rejection_records_exactly_one_of_them(
    store: AimStore, evidence: Any
) -> None:
    version = _in_review(store, evidence)
    url = store.engine.url.render_as_string(hide_password=False)
    found = _race(url, version, ["approve", "reject", "approve", "reject"], forced=False)
    assert len([item for item in found if item[0] == "won"]) == 1
    for kind, message in found:
        if kind != "won":
            assert "churn/1" in message and ("got there first" in message or "which is" in message)
    trail = lifecycle_history(store, version)
    assert len(trail) == 2 and trail[1]["transition"] in ("approve", "reject")
