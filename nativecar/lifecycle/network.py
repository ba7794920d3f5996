"""What each container of a pod listens on: declared ports, vendor facts, its own probes.

All containers of a pod share one network namespace (Kubernetes "Pods": containers of a pod
communicate over `localhost`), so two of them cannot listen on one port, and a probe is
answered by whichever container listens on its port. The kubelet sends probes to the pod's IP,
so a program that listens on `127.0.0.1` only cannot answer one.

A container's `Served` lists its `Endpoint`s and says whether the list is `complete`:
- declared `ports` (Kubernetes does not enforce them, so they are evidence, not the whole story);
- the vendor's facts (the profile's `serves`, adjusted by the vendor hook for the container's
  own flags and annotations: Istio's status port, Linkerd's listen addresses, the Cloud SQL
  proxy's `--port`, `--http-port`, `--admin-port`); a vendor says when its list is complete;
- the ports of the container's own readiness and liveness probes: the author says it answers
  there (a startup probe is not counted: it is what a gate check asks about).
"""

from collections.abc import Iterable
from typing import Any, NamedTuple

Source = str  # "declared" | "vendor" | "probe"


class Endpoint(NamedTuple):
    """One port a container listens on.

    `stop_path`: an HTTP request to this path makes the program exit (`/quitquitquit`).
    `loopback`: it listens on 127.0.0.1 only, which no probe reaches. `protocol`: TCP, UDP or
    SCTP (a TCP and a UDP listener may share a number; probes and connections are TCP).
    """

    port: int
    name: str = ""
    purpose: str = ""
    stop_path: str | None = None
    loopback: bool = False
    source: Source = "declared"
    protocol: str = "TCP"


class Served(NamedTuple):
    """Everything a container is known to listen on; `complete` when nothing else is possible."""

    endpoints: tuple[Endpoint, ...] = ()
    complete: bool = False

    def at(self, port: int) -> Endpoint | None:
        """The TCP endpoint on `port` (a vendor's or a declared one before a probe's evidence)."""
        found = [endpoint for endpoint in self.endpoints if endpoint.port == port and endpoint.protocol == "TCP"]
        found.sort(key=lambda endpoint: ("vendor", "declared", "probe").index(endpoint.source))
        return found[0] if found else None

    def binds(self) -> set[int]:
        """TCP ports it binds for certain (probe evidence excluded: a probe may aim at another
        container)."""
        return {e.port for e in self.endpoints if e.source != "probe" and e.protocol == "TCP"}

    def bound(self) -> set[tuple[int, str]]:
        """(port, protocol) of everything it binds for certain."""
        return {(e.port, e.protocol) for e in self.endpoints if e.source != "probe"}

    def ports(self) -> set[int]:
        """TCP ports it is known or said to answer on (what a probe or a connection reaches)."""
        return {endpoint.port for endpoint in self.endpoints if endpoint.protocol == "TCP"}

    def named(self, name: str) -> int | None:
        """The number of a declared port name (how the kubelet resolves a probe's named port)."""
        for endpoint in self.endpoints:
            if endpoint.name == name and endpoint.source == "declared":
                return endpoint.port
        return None


def port_number(value: Any) -> int | None:
    """A port given as a number or a numeric string; None for a name or nonsense."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 65536 else None
    text = str(value).strip()
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def declared(container: dict) -> list[Endpoint]:
    """The container's `ports` list."""
    ports = container.get("ports")
    endpoints = []
    for entry in ports if isinstance(ports, list) else []:
        if not isinstance(entry, dict):
            continue
        number = port_number(entry.get("containerPort"))
        if number is not None:
            protocol = str(entry.get("protocol") or "TCP").upper()
            name = str(entry.get("name") or "")
            endpoints.append(Endpoint(number, name, "declared port", source="declared", protocol=protocol))
    return endpoints


def probe_port(probe: Any) -> tuple[str, Any, str | None] | None:
    """(handler, port, path) of a probe or lifecycle handler with a network handler, else None."""
    if not isinstance(probe, dict):
        return None
    for handler in ("httpGet", "tcpSocket", "grpc"):
        action = probe.get(handler)
        if isinstance(action, dict):
            path = str(action.get("path") or "/") if handler == "httpGet" else None
            return handler, action.get("port"), path
    return None


def probe_evidence(container: dict, names: dict[str, int]) -> list[Endpoint]:
    """The ports of the container's own readiness and liveness probes."""
    endpoints = []
    for key in ("readinessProbe", "livenessProbe"):
        found = probe_port(container.get(key))
        if found is None:
            continue
        port = port_number(found[1])
        if port is None and isinstance(found[1], str):
            port = names.get(found[1])
        if port is not None:
            endpoints.append(Endpoint(port, purpose=f"its {key}", source="probe"))
    return endpoints


def served(container: dict, vendor: Served | None) -> Served:
    """Declared ports, then the vendor's endpoints, then probe evidence, as one `Served`."""
    own = declared(container)
    names = {endpoint.name: endpoint.port for endpoint in own if endpoint.name}
    endpoints = [*(vendor.endpoints if vendor else ()), *own, *probe_evidence(container, names)]
    return Served(endpoints=tuple(endpoints), complete=bool(vendor and vendor.complete))


def listen_address(text: str | None) -> tuple[str, int] | None:
    """`0.0.0.0:4191` / `[::]:4143` / `127.0.0.1:4140` -> (host, port)."""
    if not text or ":" not in text:
        return None
    host, _, port = text.rpartition(":")
    number = port_number(port)
    return (host.strip("[]"), number) if number is not None else None


def is_loopback(host: str) -> bool:
    """Whether a listen address is the loopback interface only (`::` and `0.0.0.0` are every
    address, which the kubelet's probes reach)."""
    return host.strip("[]") in ("localhost", "127.0.0.1", "::1")


def endpoints_free(taken: Iterable[int], start: int) -> int:
    """The first port at or above `start` that is not in `taken`."""
    used = set(taken)
    port = start
    while port in used:
        port += 1
    return port
