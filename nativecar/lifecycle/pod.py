"""The lifecycle model's input: one pod template read into what the kubelet acts on.

`read(pod, context)` turns a pod template (a `workloads.Pod` handle) into a frozen `PodModel`:
its containers in the order the kubelet starts them (`initContainers` in list order, then
`containers`), each with its role (`init`: a plain init container, `sidecar`: an init container
with `restartPolicy: Always` (KEP-753), `app`: a regular container), its start gate, what it
listens on and dials, its preStop hook, its shutdown budget and its resources. Nothing of the
manifest is kept, so a model taken before the rewrites stays as it was while they edit the pod.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from nativecar.changes import line_of
from nativecar.lifecycle import commands
from nativecar.lifecycle.commands import Dial, PreStop
from nativecar.lifecycle.network import Served, port_number, probe_port, served
from nativecar.lifecycle.resources import RESOURCES, amounts

if TYPE_CHECKING:
    from nativecar.rewrites import Context
    from nativecar.workloads import Pod

Role = Literal["init", "sidecar", "app"]
_WORDS = ("command", "args", "env", "lifecycle")
DEFAULT_GRACE = 30  # seconds, the API's default terminationGracePeriodSeconds
# The probe defaults of the Pod API (core/v1 Probe): period 10 s, failure threshold 3.
PROBE_DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "failureThreshold": 3}


class Probe(NamedTuple):
    """A probe or handler: `port` resolved to a number (None for `exec` or an undeclared name).

    `seconds`: the longest a startup probe may take to pass before the kubelet gives up and
    restarts the container (initialDelaySeconds + periodSeconds x failureThreshold).
    """

    handler: str
    port: int | None
    port_text: str
    path: str | None
    seconds: int
    initial_delay: int = 0
    period: int = 10
    failure_threshold: int = 3
    dials: tuple[Dial, ...] = ()  # what an exec probe connects to

    def describe(self) -> str:
        """`GET :9801/startup`, `TCP :5432`, `exec`."""
        if self.handler == "exec":
            return "exec"
        verb = {"httpGet": "GET", "tcpSocket": "TCP", "grpc": "gRPC"}[self.handler]
        return f"{verb} :{self.port_text}{self.path or ''}"


@dataclass(frozen=True, eq=False)  # compared by identity: a model's containers are its own
class Container:
    """One container as the kubelet sees it (see the module docstring for `role`).

    `keeps_running`: a long-running program that does not exit by itself (a recognised sidecar
    or one named with `--sidecar`). `shutdown_seconds`: how long it needs after SIGTERM (its
    profile's budget). `dials`, `pre_stop`, `marker`, `requests` and `limits` are read on first
    use, since most questions never need them: from `words` (its command, args and lifecycle,
    copied when the model was taken, and its env) and `resources` (no rewrite edits a
    container's env or resources).
    """

    name: str
    role: Role
    image: str = ""
    profile: str | None = None
    keeps_running: bool = False
    restart_policy: str | None = None
    startup_probe: Probe | None = None
    post_start: bool = False
    served: Served = field(default_factory=Served)
    words: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    shutdown_seconds: int = 0
    resources: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    line: int = 0

    @cached_property
    def dials(self) -> tuple[Dial, ...]:
        """The loopback addresses it connects to (`commands.dials`)."""
        return tuple(commands.dials(dict(self.words)))

    @cached_property
    def text(self) -> str:
        """Its command, args and env values as one string, to look for port numbers in."""
        env = self.words.get("env")
        values = (
            [str(entry.get("value", "")) for entry in env if isinstance(entry, dict)] if isinstance(env, list) else []
        )
        words = [
            str(word)
            for key in ("command", "args")
            if isinstance(self.words.get(key), list)
            for word in self.words[key]
        ]
        return " ".join([*words, *values])

    def mentions(self, ports: set[int]) -> bool:
        """Whether any of `ports` is written in its command, args or env, or a URL is, whose
        scheme may stand for a port (a quick test before `dials` is read: a container cannot
        dial a port it never names)."""
        text = self.text
        return bool(ports) and ("://" in text or any(str(port) in text for port in ports))

    @cached_property
    def post_start_dials(self) -> tuple[Dial, ...]:
        """What its postStart hook connects to (a hook that waits for a port)."""
        lifecycle = self.words.get("lifecycle")
        hook = lifecycle.get("postStart") if isinstance(lifecycle, dict) else None
        return tuple(commands.handler_dials(hook))

    @cached_property
    def pre_stop(self) -> PreStop:
        """What its preStop hook does (`commands.pre_stop`)."""
        return commands.pre_stop(dict(self.words))

    @cached_property
    def marker(self) -> str | None:
        """The file its shell wrapper waits for before it kills its program (`commands.marker_watch`)."""
        return commands.marker_watch(dict(self.words))

    def creates(self, path: str) -> bool:
        """Whether its command creates the file `path` (`commands.creates_file`)."""
        return commands.creates_file(dict(self.words), path)

    @cached_property
    def requests(self) -> Mapping[str, float | None]:
        """Its resource requests (cpu in cores, memory in bytes; 0 when absent, None unreadable)."""
        return {resource: amounts(self.resources, "requests", resource) for resource in RESOURCES}

    @cached_property
    def limits(self) -> Mapping[str, float | None]:
        """Its resource limits (infinity when absent, None unreadable)."""
        return {resource: amounts(self.resources, "limits", resource) for resource in RESOURCES}


@dataclass(frozen=True)
class PodModel:
    """A pod template as the kubelet would run it; `grace` is None when it is not a number."""

    label: str
    kind: str
    restart_policy: str
    grace: int | None
    containers: tuple[Container, ...]
    line: int = 0
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # `analysis` answers

    def role(self, *roles: Role) -> list[Container]:
        return [container for container in self.containers if container.role in roles]

    def named(self, name: str) -> Container | None:
        return next((container for container in self.containers if container.name == name), None)

    @property
    def runs_to_completion(self) -> bool:
        """Whether the pod is meant to finish: restartPolicy Never or OnFailure, as every Job's
        pod template must have (the API rejects a Job's `Always`)."""
        return self.restart_policy in ("Never", "OnFailure") or self.kind in ("Job", "CronJob")


def read(pod: "Pod", context: "Context") -> "PodModel":
    """The model of `pod` as it is now (see the module docstring)."""
    spec = pod.spec
    entries: list[tuple[dict, Role, str]] = []
    for where in ("initContainers", "containers"):
        for raw in pod.containers(where):
            if not isinstance(raw, dict):
                continue
            role: Role = "app" if where == "containers" else "init"
            if role == "init" and raw.get("restartPolicy") == "Always":
                role = "sidecar"
            entries.append((raw, role, pod.container_name(raw)))
    containers = [_container(pod, context, raw, role, name) for raw, role, name in entries]
    grace = spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE)
    policy = spec.get("restartPolicy", "Always")  # the API's default
    return PodModel(
        label=pod.label,
        kind=pod.kind,
        restart_policy=str(policy),
        grace=grace if isinstance(grace, int) and not isinstance(grace, bool) else None,
        containers=tuple(containers),
        line=line_of(pod.template),
    )


def app_seconds(pod: "Pod", context: "Context") -> int | None:
    """How long the regular containers of `pod` may take to stop and still leave its native
    sidecars their shutdown budgets (`analysis.termination`), read without a whole model."""
    from nativecar import vendors
    from nativecar.profiles import generic

    grace = pod.spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE)
    if not isinstance(grace, int) or isinstance(grace, bool):
        return None
    budget = 0
    for raw in pod.containers("initContainers"):
        if isinstance(raw, dict) and raw.get("restartPolicy") == "Always":
            profile = context.recognise(raw.get("name"), str(raw.get("image") or ""))
            budget += vendors.shutdown_seconds(pod, raw, profile or generic(str(raw.get("name"))))
    return max(0, grace - budget)


def _container(pod: "Pod", context: "Context", raw: dict, role: Role, name: str) -> "Container":
    """One container; `name` is its own, or `containers[1]` when it has none (the API would
    reject it, but the model must still tell it from the others)."""
    from nativecar import vendors
    from nativecar.profiles import generic

    image = str(raw.get("image") or "")
    profile = context.recognise(raw.get("name"), image)
    vendor = vendors.serves(pod, raw, profile) if profile is not None else None
    ports = served(raw, vendor)
    keeps_running = profile is not None
    budget = 0
    if role == "sidecar" or keeps_running:
        budget = vendors.shutdown_seconds(pod, raw, profile or generic(name))
    return Container(
        name=name,
        role=role,
        image=image,
        profile=profile.name if profile is not None else None,
        keeps_running=keeps_running,
        restart_policy=str(raw["restartPolicy"]) if raw.get("restartPolicy") is not None else None,
        startup_probe=_probe(raw.get("startupProbe"), ports),
        post_start=commands.has_post_start(raw),
        served=ports,
        words={
            key: list(raw[key]) if key != "env" and isinstance(raw[key], list) else raw[key]
            for key in _WORDS
            if key in raw
        },
        shutdown_seconds=budget,
        resources={"resources": raw["resources"]} if "resources" in raw else {},
        line=line_of(raw),
    )


def _snapshot(value: Any, key: str) -> Any:
    """`command`, `args` and `lifecycle` as they are now (rewrites append flags to the lists and
    set or drop hooks in `lifecycle`); `env` as it is."""
    if key in ("command", "args") and isinstance(value, list):
        return list(value)
    return dict(value) if key == "lifecycle" and isinstance(value, dict) else value


def _probe(value: Any, ports: Served) -> Probe | None:
    if not isinstance(value, dict):
        return None
    timing = {key: value.get(key, default) for key, default in PROBE_DEFAULTS.items()}
    if not all(isinstance(number, int) and not isinstance(number, bool) for number in timing.values()):
        timing = PROBE_DEFAULTS
    initial, period, threshold = timing["initialDelaySeconds"], timing["periodSeconds"], timing["failureThreshold"]
    seconds = initial + period * threshold
    found = probe_port(value)
    if found is None:
        dials = tuple(commands.handler_dials(value))
        return Probe("exec", None, "", None, seconds, initial, period, threshold, dials)
    handler, port, path = found
    number = port_number(port)
    if number is None and isinstance(port, str):
        number = ports.named(port)
    return Probe(handler, number, str(port), path, seconds, initial, period, threshold)
