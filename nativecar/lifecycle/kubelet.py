"""A timed simulation of the kubelet running one pod: starts, restarts, completion, termination.

The facts it follows (kubernetes/kubernetes `pkg/kubelet/kuberuntime`: `kuberuntime_container.go`
computeInitContainerActions and killContainer, `kuberuntime_manager.go` computePodActions and
minimumGracePeriodInSeconds, `kuberuntime_termination_order.go`; `pkg/kubelet/kubelet_pods.go`
getPhase; pinned by the scenarios of `test/e2e_node/container_lifecycle_test.go`):
- init containers start in list order: a plain one must exit 0 before the next starts, a
  sidecar must have *started* (its startupProbe passed, its postStart returned); then the
  regular containers, in list order, each once the previous one's postStart has returned;
- a sidecar that exits is restarted whatever the pod's restartPolicy; a regular container as
  the restartPolicy says; a plain init container that fails fails the pod under `Never` and is
  restarted otherwise; restarts wait out the crash-loop back-off (10 s, doubling, 300 s at most);
- a startupProbe that fails `failureThreshold` times in a row, or a failing livenessProbe, kills
  the container (its preStop runs first) and it is restarted; the next container keeps waiting;
- once no regular container is running or due to restart, the kubelet stops the pod: sidecars
  are no longer restarted and are terminated;
- termination (deletion, or the pod finishing): every running container's preStop starts at
  once; a regular or plain init container gets SIGTERM when its hook returns; a sidecar waits
  for every regular container and for the next running sidecar after it, so sidecars get
  SIGTERM one at a time in reverse order; all of it bounded by one grace period counted from
  the start; a container left with less than 2 s gets 2 s; SIGKILL (exit 137) ends its window;
- phase: a plain init that failed under `Never` makes the pod Failed; a finished pod is
  Succeeded when every regular container exited 0, else Failed; sidecars' exit codes never count.
Times are seconds from the pod's creation. What a container does (how long it takes to start,
to work, to stop) is given as its `Behaviour`: the manifest does not say.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from nativecar.lifecycle.pod import DEFAULT_GRACE, Container, PodModel

BACKOFF_START = 10.0  # seconds, the kubelet's first crash-loop back-off
BACKOFF_MAX = 300.0
MINIMUM_GRACE = 2.0  # kuberuntime_manager.go minimumGracePeriodInSeconds
Phase = Literal["Pending", "Running", "Succeeded", "Failed"]


@dataclass(frozen=True)
class Behaviour:
    """What a container's process does, in seconds from its start.

    `start_delay`: until it is ready (its startup probe, if it has one, passes from then on);
    `run`: how long it works after that, then exits with `exit_code` (None: until stopped);
    `sigterm`: how long it takes to exit after SIGTERM (None: it ignores SIGTERM);
    `pre_stop`: how long its preStop hook runs (None: no hook; `math.inf`: it never returns);
    `pre_stop_stops`: the hook makes it exit when the hook returns (`/quitquitquit`);
    `post_start`: how long its postStart hook runs (None: no hook);
    `startup_passes`: False for a startup probe that never passes;
    `liveness_kill`: its liveness probe fails this long after start (None: never);
    `exits_with`: it exits when that container exits (a stop request, a marker file);
    `first_run`: how the first run behaves, when it differs from the later ones.
    """

    start_delay: float = 0.0
    run: float | None = None
    exit_code: int = 0
    sigterm: float | None = 0.0
    pre_stop: float | None = None
    pre_stop_stops: bool = False
    post_start: float | None = None
    startup_passes: bool = True
    liveness_kill: float | None = None
    exits_with: str | None = None
    first_run: Behaviour | None = None


EventKind = Literal["Starting", "Started", "Gate", "PreStop", "SIGTERM", "Exiting", "Killed"]


@dataclass(frozen=True)
class Event:
    """Something that happened to a container: `Starting` (the kubelet started its process),
    `Started` (the process is ready), `Gate` (the kubelet counts it as started and moves on),
    `PreStop`, `SIGTERM`, `Exiting` (it exited by itself or after SIGTERM), `Killed` (SIGKILL)."""

    time: float
    container: str
    kind: EventKind
    detail: str = ""


@dataclass
class Result:
    """The simulated run: its events in time order, the pod's phase when it ended (or at the
    horizon), each container's last (exit code, reason) and its restart count, and when the last
    container of a stopped pod exited (None while the pod still runs)."""

    events: list[Event]
    phase: Phase
    statuses: dict[str, tuple[int, str] | None]
    restarts: dict[str, int]
    stopped_at: float | None


@dataclass
class _State:
    spec: Container
    behaviour: Behaviour
    current: Behaviour = field(default_factory=Behaviour)
    running: bool = False
    runs: int = 0
    run_id: int = 0
    ever_started: bool = False
    post_start_done: bool = True
    exit_code: int | None = None
    natural_exit: float | None = None
    restart_pending: bool = False
    backoff: float = BACKOFF_START

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def role(self) -> str:
        return self.spec.role


class _Kubelet:
    def __init__(self, model: PodModel, behaviours: Mapping[str, Behaviour], grace: float) -> None:
        self.model = model
        self.grace = grace
        self.states = [_State(c, behaviours.get(c.name, Behaviour())) for c in model.containers]
        self.by_name = {state.name: state for state in self.states}
        self.queue: list[tuple[float, int, str, str, int]] = []
        self.sequence = 0
        self.events: list[Event] = []
        self.now = 0.0
        self.terminating = False
        self.failed_init = False
        self.initialized = False
        self.stopped_at: float | None = None

    # -- plumbing ---------------------------------------------------------------------------

    def at(self, time: float, action: str, state: _State | None = None) -> None:
        self.sequence += 1
        heapq.heappush(
            self.queue, (time, self.sequence, action, state.name if state else "", state.run_id if state else 0)
        )

    def log(self, state: _State, kind: EventKind, detail: str = "", time: float | None = None) -> None:
        self.events.append(Event(self.now if time is None else time, state.name, kind, detail))

    def run(self, delete_at: float | None, horizon: float) -> None:
        if delete_at is not None:
            self.at(delete_at, "delete")
        self.sync()
        while self.queue and self.queue[0][0] <= horizon:
            time, _, action, name, run_id = heapq.heappop(self.queue)
            self.now = time
            state = self.by_name.get(name)
            if state is not None and run_id != state.run_id:
                continue  # an event of an earlier run
            getattr(self, f"on_{action}")(state)

    # -- starting ---------------------------------------------------------------------------

    def start(self, state: _State) -> None:
        state.runs += 1
        state.run_id += 1
        state.running = True
        state.exit_code = None
        state.restart_pending = False
        first = state.behaviour.first_run if state.runs == 1 and state.behaviour.first_run else None
        behaviour = state.current = first or state.behaviour
        self.log(state, "Starting")
        self.at(self.now + behaviour.start_delay, "ready", state)
        state.natural_exit = None
        if behaviour.run is not None:
            state.natural_exit = self.now + behaviour.start_delay + behaviour.run
            self.at(state.natural_exit, "exit", state)
        state.post_start_done = behaviour.post_start is None
        post_end = self.now + (behaviour.post_start or 0.0)
        if behaviour.post_start is not None:
            self.at(post_end, "post_start", state)
        probe = state.spec.startup_probe
        if probe is None:
            self.at(post_end, "gate", state)
        else:
            checks = max(0, math.ceil((behaviour.start_delay - probe.initial_delay) / max(probe.period, 1)))
            if behaviour.startup_passes and checks < max(probe.failure_threshold, 1):
                passes = self.now + probe.initial_delay + checks * probe.period
                self.at(max(passes, post_end), "gate", state)
            else:
                give_up = self.now + probe.initial_delay + (max(probe.failure_threshold, 1) - 1) * probe.period
                self.at(give_up, "probe_failed", state)
        if behaviour.liveness_kill is not None:
            self.at(self.now + behaviour.start_delay + behaviour.liveness_kill, "probe_failed", state)

    def sync(self) -> None:
        """What the kubelet starts now (computePodActions), and whether the pod is done."""
        if self.terminating:
            return
        for state in self.states:
            if state.role == "app":
                break
            if state.runs == 0:
                self.start(state)
                return
            if state.role == "init":
                if state.running or state.exit_code != 0:
                    return
            elif not state.ever_started:
                return
        self.initialized = True
        apps = [state for state in self.states if state.role == "app"]
        for state in apps:
            if state.runs == 0:
                self.start(state)
                if not state.post_start_done:
                    return
            elif state.running and not state.post_start_done:
                return
        if apps and not any(state.running or state.restart_pending for state in apps):
            self.terminate(self.grace)

    # -- events ------------------------------------------------------------------------------

    def on_ready(self, state: _State) -> None:
        self.log(state, "Started")

    def on_gate(self, state: _State) -> None:
        state.ever_started = True
        self.log(state, "Gate")
        self.sync()

    def on_post_start(self, state: _State) -> None:
        state.post_start_done = True
        self.sync()

    def on_exit(self, state: _State) -> None:
        self.exited(state, state.current.exit_code, "Exiting")

    def on_probe_failed(self, state: _State) -> None:
        """Killed for a failed probe: its preStop, then SIGTERM with the pod's grace period."""
        behaviour = state.current
        state.run_id += 1  # nothing of this run happens any more
        state.natural_exit = None
        hook = min(behaviour.pre_stop, self.grace) if behaviour.pre_stop is not None else 0.0
        if behaviour.pre_stop is not None:
            self.log(state, "PreStop")
        window = max(self.grace - hook, MINIMUM_GRACE)
        self.log(state, "SIGTERM", time=self.now + hook)
        if behaviour.sigterm is not None and behaviour.sigterm <= window:
            self.at(self.now + hook + behaviour.sigterm, "killed_exit", state)
        else:
            self.at(self.now + hook + window, "killed_hard", state)

    def on_killed_exit(self, state: _State) -> None:
        self.exited(state, state.current.exit_code, "Exiting")

    def on_killed_hard(self, state: _State) -> None:
        self.exited(state, 137, "Killed")

    def on_restart(self, state: _State) -> None:
        if not self.terminating:
            self.start(state)
            self.sync()

    def on_delete(self, state: _State | None) -> None:
        if not self.terminating:
            self.terminate(self.grace)

    def on_stopped(self, state: _State) -> None:
        code, kind = self.final[state.name]
        self.exited(state, code, kind)

    def exited(self, state: _State, code: int, kind: Literal["Exiting", "Killed"]) -> None:
        state.running = False
        state.exit_code = code
        state.run_id += 1
        self.log(state, kind, f"exit code {code}")
        if self.terminating:
            if not any(other.running for other in self.states):
                self.stopped_at = self.now
            return
        for other in self.states:
            if other.running and other.current.exits_with == state.name:
                other.natural_exit = self.now
                self.at(self.now, "exit", other)
        policy = self.model.restart_policy
        if state.role == "sidecar" or (
            state.role == "app" and (policy == "Always" or (policy == "OnFailure" and code != 0))
        ):
            self.restart_later(state)
        elif state.role == "init" and code != 0:
            if policy == "Never":
                self.failed_init = True
                self.terminate(self.grace)
                return
            self.restart_later(state)
        self.sync()

    def restart_later(self, state: _State) -> None:
        state.restart_pending = True
        self.at(self.now + state.backoff, "restart", state)
        state.backoff = min(state.backoff * 2, BACKOFF_MAX)

    # -- termination -------------------------------------------------------------------------

    def terminate(self, grace: float) -> None:
        """killPodWithSyncResult: the exit of every running container, worked out at once."""
        self.terminating = True
        start, deadline = self.now, self.now + grace
        self.final: dict[str, tuple[int, Literal["Exiting", "Killed"]]] = {}
        exits: dict[str, float] = {}
        running = [state for state in self.states if state.running]
        for state in running:
            state.run_id += 1  # the run's own timers are superseded by what follows
            if state.current.pre_stop is not None:
                self.log(state, "PreStop")
        for state in [s for s in running if s.role != "sidecar"]:
            exits[state.name] = self.stop(state, start, deadline, start)
        sidecars = [s for s in running if s.role == "sidecar"]
        for index in range(len(sidecars) - 1, -1, -1):
            state = sidecars[index]
            waits = [exits[s.name] for s in running if s.role != "sidecar"]
            if index + 1 < len(sidecars):
                waits.append(exits[sidecars[index + 1].name])
            exits[state.name] = self.stop(state, start, deadline, max([start, *waits]))
        if not running:
            self.stopped_at = self.now

    def stop(self, state: _State, start: float, deadline: float, turn: float) -> float:
        """When `state` exits, SIGTERM'd at its turn (`turn`) after its preStop; schedules it."""
        behaviour = state.current
        hook_end = start + min(behaviour.pre_stop, deadline - start) if behaviour.pre_stop is not None else start
        natural = state.natural_exit if state.natural_exit is not None and state.natural_exit > start else None
        if behaviour.pre_stop_stops and hook_end < deadline:
            natural = hook_end if natural is None else min(natural, hook_end)
        signal = min(max(hook_end, turn), deadline)
        window = max(deadline - signal, MINIMUM_GRACE)
        if natural is not None and natural <= signal:
            exit_at, code, kind = natural, behaviour.exit_code, "Exiting"
        else:
            self.log(state, "SIGTERM", time=signal)
            if behaviour.sigterm is not None and behaviour.sigterm <= window:
                exit_at, code, kind = signal + behaviour.sigterm, behaviour.exit_code, "Exiting"
            else:
                exit_at, code, kind = signal + window, 137, "Killed"
            if natural is not None and natural < exit_at:
                exit_at, code, kind = natural, behaviour.exit_code, "Exiting"
        self.final[state.name] = (code, kind)  # type: ignore[assignment]
        self.at(exit_at, "stopped", state)
        return exit_at

    # -- the outcome -------------------------------------------------------------------------

    def phase(self) -> Phase:
        if self.failed_init:
            return "Failed"
        apps = [state for state in self.states if state.role == "app"]
        if self.stopped_at is not None:
            return "Succeeded" if apps and all(s.runs and s.exit_code == 0 for s in apps) else "Failed"
        return "Running" if self.initialized else "Pending"


def simulate(
    model: PodModel,
    behaviours: Mapping[str, Behaviour],
    delete_at: float | None = None,
    horizon: float = 900.0,
    grace: float | None = None,
) -> Result:
    """Run `model` with the containers' `behaviours` (by name) until it has stopped, or until
    `horizon` seconds; `delete_at` deletes the pod then, with `grace` (default: its own
    terminationGracePeriodSeconds)."""
    kubelet = _Kubelet(model, behaviours, grace if grace is not None else model.grace or DEFAULT_GRACE)
    kubelet.run(delete_at, horizon)
    events = sorted(kubelet.events, key=lambda event: event.time)
    statuses: dict[str, tuple[int, str] | None] = {
        s.name: None
        if s.running or s.exit_code is None
        else (s.exit_code, "Completed" if s.exit_code == 0 else "Error")
        for s in kubelet.states
    }
    restarts = {s.name: max(0, s.runs - 1) for s in kubelet.states}
    return Result(events, kubelet.phase(), statuses, restarts, kubelet.stopped_at)
