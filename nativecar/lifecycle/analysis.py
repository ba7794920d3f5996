"""What the kubelet will do with a pod, worked out from its model (SIDECARS.md section 3, KEP-753).

Each function answers one question about a `PodModel` and returns plain frozen data:
- `start`: the start gates in order: a plain init container must exit; a sidecar must have
  *started* (its startupProbe passed, else its postStart returned, else its process exists);
  can each gate pass, given which containers listen on the probe's port at that moment?
- `conflicts`: two containers that run at the same time and bind the same port;
- `unreachable`: plain init containers that dial a port only a later container serves (a plain
  init container must exit before anything after it starts, so it can never reach it);
- `completion`: whether a pod that runs to completion (a Job's) ever completes: every regular
  container must exit; native sidecars never block it (the kubelet stops them);
- `termination`: who gets SIGTERM when and how much of `terminationGracePeriodSeconds`;
- `requests`: the effective requests and limits (`lifecycle.resources`).
What the manifest cannot tell (a shell script's effect, an exec probe) is `unknown`, never guessed.
"""

import functools
from collections.abc import Callable
from typing import Literal, NamedTuple, TypeVar

from nativecar.lifecycle.commands import Dial, PreStop
from nativecar.lifecycle.pod import Container, PodModel
from nativecar.lifecycle.resources import RESOURCES, effective

T = TypeVar("T")


def _memo(question: Callable[[PodModel], T]) -> Callable[[PodModel], T]:
    """Answer a question once per model (`PodModel.memo`): verify and the rules ask the same."""
    key = question.__name__

    @functools.wraps(question)
    def answer(model: PodModel) -> T:
        if key not in model.memo:
            model.memo[key] = question(model)
        return model.memo[key]

    return answer


GateKind = Literal["exits", "startupProbe", "postStart", "process"]
Status = Literal["passes", "never", "unknown", "other", "waits"]


class Gate(NamedTuple):
    """What lets the next container start after `container`, and whether it can happen.

    `status` is `other` when a different container answers the probe (`answered_by`), and
    `waits` when the sidecar itself connects to a container that starts only after it (its
    readiness may wait for it: Linkerd's proxy waits for its identity).
    """

    container: str
    kind: GateKind
    status: Status
    reason: str = ""
    answered_by: str | None = None


@_memo
def start(model: PodModel) -> list[Gate]:
    """The gates of the init containers, the sidecars and the regular containers with a
    postStart hook, in the order the kubelet meets them."""
    gates: list[Gate] = []
    running: list[Container] = []
    order = list(model.containers)
    for index, container in enumerate(order):
        later = order[index + 1 :]
        if container.role == "init":
            if container.keeps_running:
                gates.append(
                    Gate(
                        container.name, "exits", "never", f"{container.name} keeps running, so nothing after it starts"
                    )
                )
            else:
                gates.append(Gate(container.name, "exits", "passes", f"{container.name} runs to its end"))
            continue
        running.append(container)
        if container.role == "sidecar":
            gates.append(_sidecar_gate(container, running, later))
        elif container.post_start:
            found = _needs(container, container.post_start_dials, running, later, "its postStart hook")
            status, reason = found or ("passes", "once its postStart hook returns")
            gates.append(Gate(container.name, "postStart", status, reason))
    return gates


def _needs(
    container: Container, dials: tuple[Dial, ...], running: list[Container], later: list[Container], what: str
) -> tuple[Status, str] | None:
    """Whether a start gate that connects to `dials` can pass: `never` when one of them is served
    only by a container that starts after this one; None when it connects to nothing known."""
    known = False
    for dial in dials:
        if dial.port in container.served.ports() or any(
            dial.port in other.served.ports() for other in running if other is not container
        ):
            known = True
            continue
        servers = [other for other in later if dial.port in other.served.ports()]
        if servers:
            server = servers[0].name
            return "never", (
                f"{what} connects to {dial.text}, which only {server} serves, and {server} starts after "
                f"{container.name} has started"
            )
    return ("passes", f"once {what} succeeds") if known else None


def _sidecar_gate(container: Container, running: list[Container], later: list[Container]) -> Gate:
    gate = _signal_gate(container, running, later)
    if gate.status not in ("passes", "unknown") or gate.kind == "process":
        return gate
    own = container.served.ports()
    wanted = {port for other in later for port in other.served.binds()} - own
    if not container.mentions(wanted):
        return gate
    for dial in container.dials:
        if dial.port in own or any(dial.port in other.served.ports() for other in running):
            continue
        servers = [other for other in later if dial.port in other.served.binds()]
        if servers:
            server = servers[0].name
            return Gate(
                container.name,
                gate.kind,
                "waits",
                f"{container.name} connects to {dial.text}, which only {server} serves, and {server} starts only "
                f"after {container.name} has started: if {container.name} is not ready before it gets through, "
                "the pod never starts",
            )
    return gate


def _signal_gate(container: Container, running: list[Container], later: list[Container]) -> Gate:
    name = container.name
    probe = container.startup_probe
    if probe is None:
        if container.post_start:
            found = _needs(container, container.post_start_dials, running, later, "its postStart hook")
            status, reason = found or ("passes", "once its postStart hook returns")
            return Gate(name, "postStart", status, reason)
        return Gate(name, "process", "passes", "as soon as its process exists (no startup signal)")
    if probe.handler == "exec":
        found = _needs(container, probe.dials, running, later, "its startupProbe")
        if found is not None:
            return Gate(name, "startupProbe", *found)
        return Gate(name, "startupProbe", "unknown", "its startupProbe runs a command, which cannot be judged here")
    if probe.port is None:
        return Gate(
            name, "startupProbe", "never", f"its startupProbe names port {probe.port_text!r}, which it does not declare"
        )
    own = container.served.at(probe.port)
    if own is not None and own.source != "probe":
        if own.loopback:
            return Gate(
                name,
                "startupProbe",
                "never",
                f"it listens on :{probe.port} on localhost only; the kubelet probes the pod IP",
            )
        return Gate(name, "startupProbe", "passes", f"when {probe.describe()} answers ({own.purpose})")
    others = [other for other in running if other is not container and probe.port in other.served.binds()]
    if others:
        return Gate(
            name,
            "startupProbe",
            "other",
            f"{others[0].name} listens on :{probe.port}, so it answers {name}'s startupProbe",
            others[0].name,
        )
    after = [other for other in later if probe.port in other.served.binds()]
    if after:
        return Gate(
            name,
            "startupProbe",
            "never",
            f"only {after[0].name} listens on :{probe.port}, and it starts after {name} has started",
        )
    if own is not None:
        return Gate(name, "startupProbe", "passes", f"when {probe.describe()} answers ({own.purpose})")
    if container.served.complete:
        listening = ", ".join(f":{port}" for port in sorted(container.served.binds())) or "no port"
        return Gate(name, "startupProbe", "never", f"nothing listens on :{probe.port} ({name} listens on {listening})")
    return Gate(
        name, "startupProbe", "unknown", f"whether {name} listens on :{probe.port} cannot be read from the manifest"
    )


def starts(model: PodModel) -> Status:
    """`passes` when the regular containers start, `never` when a gate blocks them, else `unknown`."""
    statuses = {gate.status for gate in start(model)}
    if "never" in statuses:
        return "never"
    return "unknown" if "unknown" in statuses else "passes"


class Conflict(NamedTuple):
    """Containers that run at the same time and bind one port (names in list order)."""

    port: int
    containers: tuple[str, ...]
    protocol: str = "TCP"

    def describe(self) -> str:
        """`:9090`, or `:8125/UDP`."""
        return f":{self.port}" + (f"/{self.protocol}" if self.protocol != "TCP" else "")

    def same(self, other: "Conflict") -> bool:
        """The same clash, whatever order the containers now stand in."""
        return (self.port, self.protocol) == (other.port, other.protocol) and set(self.containers) == set(
            other.containers
        )


@_memo
def conflicts(model: PodModel) -> list[Conflict]:
    found: dict[tuple[int, tuple[str, ...]], Conflict] = {}
    sidecars: list[Container] = []
    groups: list[list[Container]] = []
    for container in model.role("init", "sidecar"):
        if container.role == "sidecar":
            sidecars.append(container)
        else:
            groups.append([*sidecars, container])
    groups.append([*sidecars, *model.role("app")])
    for group in groups:
        owners: dict[tuple[int, str], list[str]] = {}
        for container in group:
            for bound in container.served.bound():
                owners.setdefault(bound, []).append(container.name)
        for (port, protocol), names in owners.items():
            if len(names) > 1:
                found[(port, tuple(names))] = Conflict(port, tuple(names), protocol)
    return sorted(found.values(), key=lambda conflict: conflict.port)


class Unreached(NamedTuple):
    """A plain init container that dials a port served only by a container that starts after it."""

    container: str
    dial: Dial
    server: str


@_memo
def unreachable(model: PodModel) -> list[Unreached]:
    order = list(model.containers)
    found = []
    for index, container in enumerate(order):
        if container.role != "init":
            continue
        if not container.mentions({port for other in order if other is not container for port in other.served.ports()}):
            continue  # it names no port another container serves, so it dials none
        for dial in container.dials:
            servers = [other for other in order if other is not container and dial.port in other.served.ports()]
            if servers and not any(server.role == "sidecar" and order.index(server) < index for server in servers):
                found.append(Unreached(container.name, dial, servers[0].name))
    return found


class Stop(NamedTuple):
    """How a long-running regular container is stopped: by `by`, doing `how`; `conditional`
    when `by` does it only if what its script runs before succeeded (`work && curl ...`)."""

    container: str
    by: str
    how: str
    conditional: bool = False


class Completion(NamedTuple):
    """Whether the pod completes: `completes`, `never`, `unknown`, or `not-applicable` (it is
    restarted forever: restartPolicy Always). `blockers`: (container, why it keeps running)."""

    status: Literal["completes", "never", "unknown", "not-applicable"]
    blockers: tuple[tuple[str, str], ...] = ()
    stops: tuple[Stop, ...] = ()
    misses: tuple[str, ...] = ()


@_memo
def completion(model: PodModel) -> Completion:
    if not model.runs_to_completion:
        return Completion("not-applicable")
    apps = model.role("app")
    requests = [(app, dial) for app in apps for dial in app.dials if dial.stop_request]
    # A stop request to a sidecar whose listeners cannot be read (a shell-wrapped proxy) may work.
    unreadable = [c for c in apps if c.keeps_running and not c.served.complete]
    blockers: list[tuple[str, str]] = []
    stops: list[Stop] = []
    certain = False  # some blocker surely keeps the pod running
    for container in apps:
        if container.restart_policy == "Always":
            certain = True
            blockers.append(
                (container.name, "restartPolicy: Always on a regular container restarts it whenever it exits")
            )
        elif container.keeps_running:
            stop = _stopped(model, container)
            if stop is not None:
                stops.append(stop)
            else:
                certain = certain or container not in unreadable or not requests
                blockers.append((container.name, "it keeps running after the other containers exit"))
    misses = tuple(
        f"{app.name} calls {dial.text}, which no container of the pod answers"
        for app, dial in requests
        if not unreadable and not any(_answers(other, dial) for other in model.containers)
    )
    if not blockers:
        return Completion("completes", (), tuple(stops), misses)
    status: Literal["never", "unknown"] = "never" if certain else "unknown"
    return Completion(status, tuple(blockers), tuple(stops), misses)


def _answers(container: Container, dial: Dial) -> bool:
    endpoint = container.served.at(dial.port)
    return (
        endpoint is not None
        and endpoint.stop_path is not None
        and dial.path is not None
        and (dial.path.rstrip("/") == endpoint.stop_path.rstrip("/"))
    )


def _stopped(model: PodModel, target: Container) -> Stop | None:
    """The regular container that stops `target` when it is done, if any."""
    for other in model.role("app"):
        if other is target:
            continue
        for dial in other.dials:
            if dial.stop_request and _answers(target, dial):
                return Stop(target.name, other.name, f"calls {dial.text}", dial.conditional)
    marker = target.marker
    if marker:
        creator = next(
            (other.name for other in model.containers if other is not target and other.creates(marker)), None
        )
        if creator is not None:
            return Stop(target.name, creator, f"creates {marker}, which {target.name}'s script waits for")
    return None


class Termination(NamedTuple):
    """How the pod stops (on deletion, or once a Job's regular containers have exited).

    preStop hooks of every container start together; each regular container gets SIGTERM when
    its hook returns; after the last regular container has exited the sidecars get SIGTERM one
    at a time in reverse order (`sequence`). All of it inside one `grace` period; when that runs
    out every remaining container gets SIGTERM and, two seconds later, SIGKILL.
    `app_seconds`: how long the regular containers may take and still leave the sidecars their
    shutdown budgets (`sidecar_seconds`); None when the grace period is not a number.
    `early`: sidecars whose own preStop asks them to exit, so they stop while the app drains.
    """

    grace: int | None
    pre_stops: tuple[tuple[str, PreStop], ...]
    together: tuple[str, ...]
    sequence: tuple[str, ...]
    sidecar_seconds: int
    app_seconds: int | None
    early: tuple[tuple[str, str], ...]


@_memo
def termination(model: PodModel) -> Termination:
    sidecars = model.role("sidecar")
    budget = sum(container.shutdown_seconds for container in sidecars)
    return Termination(
        grace=model.grace,
        pre_stops=tuple(
            (container.name, container.pre_stop) for container in model.containers if container.pre_stop.kind != "none"
        ),
        together=tuple(container.name for container in model.role("app")),
        sequence=tuple(container.name for container in reversed(sidecars)),
        sidecar_seconds=budget,
        app_seconds=app_seconds(model),
        early=tuple(
            (container.name, container.pre_stop.text) for container in sidecars if container.pre_stop.kind == "stops"
        ),
    )


@_memo
def app_seconds(model: PodModel) -> int | None:
    """How long the regular containers may take to stop and still leave every native sidecar its
    shutdown budget: the grace period less those budgets (None when it is not a number)."""
    budget = sum(container.shutdown_seconds for container in model.role("sidecar"))
    return None if model.grace is None else max(0, model.grace - budget)


def requests(model: PodModel) -> dict[str, tuple[float | None, float | None]]:
    """Per resource: the pod's effective (request, limit) by KEP-753."""
    return {
        resource: (effective(model.containers, "requests", resource), effective(model.containers, "limits", resource))
        for resource in RESOURCES
    }
