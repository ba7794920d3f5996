"""A pod's timeline as `nativecar explain` draws it: the kubelet simulation run on the model.

How long each step takes is not in a manifest, so the timeline uses nominal durations
(`NOMINAL`): an init container works 2 s, a sidecar is ready 2 s after it starts (unless its
start gate can never pass), an app works 10 s in a Job and until the pod is deleted otherwise,
and every container takes 2 s to stop. What the timeline shows is the order and the
dependencies, which the manifest does say: what waits for what, what stops what, what never ends.
A long-running pod is deleted once everything has started, so that its shutdown shows.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from nativecar.lifecycle import analysis
from nativecar.lifecycle.kubelet import Behaviour, Result, simulate
from nativecar.lifecycle.pod import PodModel

NOMINAL = {"init": 2.0, "ready": 2.0, "job": 10.0, "stop": 2.0, "settle": 6.0}
HORIZON_JOB = 40.0  # seconds drawn for a pod that should complete (long enough to see it does not)


class Row(NamedTuple):
    """One container's line of the chart: a character per time slot.

    ' ' not running, '▒' started but not ready (its start gate has not passed), '█' running,
    '░' stopping (preStop or SIGTERM), '>' still running when the chart ends.
    """

    name: str
    role: str
    cells: str


class Timeline(NamedTuple):
    """The simulated run, its chart rows, the seconds the chart spans, and when the pod was
    deleted (None for a pod that ends by itself)."""

    result: Result
    rows: list[Row]
    seconds: float
    deleted_at: float | None


def behaviours(model: PodModel) -> dict[str, Behaviour]:
    """Nominal behaviours for every container (see the module docstring)."""
    gates = {gate.container: gate for gate in analysis.start(model)}
    stops = {stop.container: stop.by for stop in analysis.completion(model).stops}
    found: dict[str, Behaviour] = {}
    for container in model.containers:
        stop = NOMINAL["stop"]
        pre_stop = NOMINAL["stop"] if container.pre_stop.kind in ("sleep", "stops", "drain") else None
        gate = gates.get(container.name)
        post_start = None
        if container.post_start:  # a hook that can never return holds everything after it
            post_start = math.inf if gate is not None and gate.status == "never" else NOMINAL["ready"]
        if container.role == "init":
            run = None if container.keeps_running else NOMINAL["init"]
            found[container.name] = Behaviour(run=run, sigterm=stop)
        elif container.role == "sidecar":
            gate = gates.get(container.name)
            found[container.name] = Behaviour(
                start_delay=NOMINAL["ready"],
                startup_passes=gate is None or gate.status not in ("never", "waits"),
                sigterm=stop,
                pre_stop=pre_stop,
                pre_stop_stops=container.pre_stop.kind == "stops",
                post_start=post_start,
            )
        elif container.keeps_running or container.restart_policy == "Always":
            found[container.name] = Behaviour(
                start_delay=NOMINAL["ready"],
                sigterm=stop,
                pre_stop=pre_stop,
                post_start=post_start,
                exits_with=stops.get(container.name),
            )
        else:
            run = NOMINAL["job"] if model.runs_to_completion else None
            found[container.name] = Behaviour(run=run, sigterm=stop, pre_stop=pre_stop, post_start=post_start)
    return found


def timeline(model: PodModel, width: int = 60, span: float | None = None) -> Timeline:
    """Simulate the pod with nominal behaviours and draw it `width` slots wide, over `span`
    seconds (default: until the pod has stopped, or the horizon)."""
    plan = behaviours(model)
    deleted_at = None
    if model.runs_to_completion:
        horizon = HORIZON_JOB
    else:
        started = simulate(model, plan, horizon=HORIZON_JOB)
        ready = [event.time for event in started.events if event.kind in ("Gate", "Started")]
        deleted_at = (max(ready) if ready else 0.0) + NOMINAL["settle"]
        horizon = deleted_at + (model.grace or 30) + 4.0
    result = simulate(model, plan, delete_at=deleted_at, horizon=horizon)
    end = span or (result.stopped_at + 2.0 if result.stopped_at is not None else horizon)
    return Timeline(result, _rows(model, result, end, width), end, deleted_at)


def _rows(model: PodModel, result: Result, end: float, width: int) -> list[Row]:
    step = end / width
    rows = []
    for container in model.containers:
        events = [event for event in result.events if event.container == container.name]
        cells = []
        for slot in range(width):
            cells.append(_state(events, slot * step + step / 2))
        text = "".join(cells)
        if result.stopped_at is None and text.endswith(("█", "▒")):
            text = text[:-1] + ">"
        rows.append(Row(container.name, container.role, text))
    return rows


def _state(events: list, time: float) -> str:
    """What a container was doing at `time`, from its events up to then."""
    state = " "
    for event in events:
        if event.time > time:
            break
        if event.kind == "Starting":
            state = "▒"
        elif event.kind == "Gate" and state == "▒":
            state = "█"
        elif event.kind in ("PreStop", "SIGTERM") and state != " ":
            state = "░"
        elif event.kind in ("Exiting", "Killed"):
            state = " "
    return state
