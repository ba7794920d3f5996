"""Cloud SQL Auth Proxy: what it listens on, and its health server switched on for a startup probe.

Facts from GoogleCloudPlatform/cloud-sql-proxy (SIDECARS.md section 5; v2 `cmd/root.go`):
- v2 serves `/startup`, `/liveness`, `/readiness` only with `--health-check`, on `--http-port`
  (default 9090) at `--http-address` (default localhost, which the kubelet cannot reach, hence
  0.0.0.0). With `--quitquitquit` (or `--debug`) an admin server on `--admin-port` (default
  9091, localhost) exits on POST `/quitquitquit`. Each instance listens on `--port` (then the
  next ports, one per instance) or its own `?port=`; without either the port depends on the
  database engine (5432, 3306, 1433), which a manifest does not say. Every flag can also be set
  as `CSQL_PROXY_<FLAG>` in the environment.
- v1 (`gce-proxy`) has `-use_http_health_check` on `-health_check_port` (default 8090, all
  addresses) and listens where `-instances=NAME=tcp:[ADDRESS:]PORT` says.
- The v2 image's entrypoint is the proxy; the v1 image runs `/cloud_sql_proxy` as its command.
- Shutdown takes up to `--min-sigterm-delay` + `--max-sigterm-delay` (v1: `-term_timeout`).

Flags are added only when the container's process is the proxy itself: after `sh -c SCRIPT` they
would become `$0, $1 ...` of the script and a wrapper binary would take them as its own. They go
at the end of the list that holds the proxy's flags (the proxy accepts flags after the instance
names). A health port nativecar chooses is the first one from 9801 up (v1: from 8090 up) that no
other container of the pod uses, so two proxies never share one.
"""

from __future__ import annotations

import re
from typing import Any

from nativecar.lifecycle.commands import invocation, runs_program
from nativecar.lifecycle.network import Endpoint, Served, endpoints_free, is_loopback, port_number
from nativecar.profiles import Profile, image_repository
from nativecar.vendors import copy_data
from nativecar.workloads import Pod

V2_PORT = 9801  # the port SIDECARS.md's native example uses, for a health server nativecar turns on
V2_DEFAULT_PORT = "9090"
V2_ADMIN_PORT = "9091"
V1_PORT = 8090
PROGRAMS = ("cloud-sql-proxy", "cloud_sql_proxy")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_V1_INSTANCE = re.compile(r"=tcp:(?:(?P<address>[^,:]+):)?(?P<port>\d+)")


def own_argv(container: dict) -> bool:
    """Whether the container runs the proxy itself with its flags in the argv (not `sh -c`, not a
    wrapper, and `command` and `args` lists as the API wants them): the only case in which flags
    can be read, and added, with certainty."""
    if any(key in container and not isinstance(container[key], list) for key in ("command", "args")):
        return False
    if _is_v1(container) and invocation(container).entrypoint:
        argv = invocation(container).argv
        return bool(argv) and argv[0].rsplit("/", 1)[-1] in PROGRAMS  # `args` replace the image's command
    return runs_program(container, PROGRAMS, entrypoint_is_program=not _is_v1(container))


def serves(pod: Pod, container: dict, profile: Profile) -> Served:
    """The proxy's listeners, health server and admin server, read from its flags; complete when
    every listener's port is written down."""
    if not own_argv(container):
        return Served((), complete=False)
    flags = Flags(container)
    if _is_v1(container):
        return _serves_v1(flags)
    endpoints: list[Endpoint] = []
    complete = True
    if flags.enabled("health-check"):
        port = port_number(flags.value("http-port") or V2_DEFAULT_PORT)
        address = flags.value("http-address") or "localhost"
        if port is not None:
            endpoints.append(Endpoint(port, "", "health server", loopback=is_loopback(address), source="vendor"))
    if flags.enabled("quitquitquit") or flags.enabled("debug"):
        port = port_number(flags.value("admin-port") or V2_ADMIN_PORT)
        if port is not None:
            endpoints.append(Endpoint(port, "", "admin server", "/quitquitquit", loopback=True, source="vendor"))
    if not flags.enabled("unix-socket"):
        base = port_number(flags.value("port"))
        for index, instance in enumerate(flags.positional()):
            query = dict(re.findall(r"[?&]([a-z-]+)=([^&]+)", instance))
            if "unix-socket" in query or "unix-socket-path" in query:
                continue
            port = port_number(query.get("port")) or (base + index if base is not None else None)
            if port is None:
                complete = False
                continue
            address = query.get("address") or flags.value("address") or "127.0.0.1"
            name = instance.split("?", 1)[0]
            endpoints.append(Endpoint(port, "", f"listener for {name}", loopback=is_loopback(address), source="vendor"))
    return Served(tuple(endpoints), complete=complete)


def _serves_v1(flags: Flags) -> Served:
    endpoints: list[Endpoint] = []
    if flags.enabled("use_http_health_check"):
        port = port_number(flags.value("health_check_port") or V1_PORT)
        if port is not None:
            endpoints.append(Endpoint(port, "", "health server", source="vendor"))
    for match in _V1_INSTANCE.finditer(flags.value("instances") or ""):
        address = match.group("address") or "127.0.0.1"
        endpoints.append(
            Endpoint(int(match.group("port")), "", "listener", loopback=is_loopback(address), source="vendor")
        )
    return Served(tuple(endpoints), complete=True)


def startup_probe(pod: Pod, container: dict, profile: Profile, taken: set[int]) -> tuple[dict[str, Any] | None, str]:
    """`/startup` on the proxy's health server, switching the server on when it is off.

    `taken`: the ports the pod's other containers use, which a chosen health port must avoid.
    """
    if not own_argv(container):
        how = (
            "its command or args is not a list"
            if any(key in container and not isinstance(container[key], list) for key in ("command", "args"))
            else "it is started by a shell script or a wrapper"
        )
        return None, (
            f"{how}, so nativecar cannot switch its health server on; "
            "start the proxy with --health-check --http-address=0.0.0.0 and add a startupProbe on /startup"
        )
    flags = Flags(container)
    if _is_v1(container):
        if not flags.enabled("use_http_health_check"):
            flags.add("-use_http_health_check")
        port = port_number(flags.value("health_check_port"))
        if port is None:
            port = endpoints_free(taken, V1_PORT)
            if port != V1_PORT:
                flags.add(f"-health_check_port={port}")
    else:
        already_on = flags.enabled("health-check")
        if not already_on:
            flags.add("--health-check")
        address = flags.value("http-address")
        if address is None:
            flags.add("--http-address=0.0.0.0")
        elif is_loopback(address):
            return None, f"its health server listens on {address}, which the kubelet cannot reach"
        port = port_number(flags.value("http-port"))
        if port is None and already_on:
            port = int(V2_DEFAULT_PORT)  # keep the port its probes and scrapers already use
        elif port is None:
            port = endpoints_free(taken, V2_PORT)
            flags.add(f"--http-port={port}")
    probe = copy_data(profile.startup_probe or {"httpGet": {"path": "/startup"}})
    probe.setdefault("httpGet", {})["port"] = port
    note = f"health server switched on with {' '.join(flags.added)}" if flags.added else ""
    return probe, note


def shutdown_seconds(pod: Pod, container: dict, profile: Profile) -> int:
    flags = Flags(container)
    names = ("term_timeout",) if _is_v1(container) else ("min-sigterm-delay", "max-sigterm-delay")
    total = sum(duration_seconds(flags.value(name)) for name in names)
    return max(profile.shutdown_seconds, total)


def _is_v1(container: dict) -> bool:
    return image_repository(str(container.get("image", ""))).endswith("/gce-proxy")


def duration_seconds(text: str | None) -> int:
    """A Go duration (`30s`, `1m30s`, `500ms`) in whole seconds, rounded up; 0 when unset."""
    if not text:
        return 0
    if text.isdigit():
        return int(text)
    total = sum(float(number) * _UNITS[unit] for number, unit in _DURATION.findall(text))
    return int(-(-total // 1))


class Flags:
    """The proxy's flags as given in `args`/`command` (`--x=v`, `--x v`, `-x=v`) or `CSQL_PROXY_X`."""

    def __init__(self, container: dict) -> None:
        self.container = container
        args = container.get("args")
        command = container.get("command")
        if isinstance(args, list):
            self.items: list = args
        elif isinstance(command, list) and any(str(item).startswith("-") for item in command):
            self.items = command
        else:
            self.items = []  # becomes the container's `args` when a flag is added
        self.added: list[str] = []

    def _find(self, name: str) -> tuple[bool, str | None]:
        for index, item in enumerate(self.items):
            text = str(item).strip()
            for prefix in ("--", "-"):
                head = prefix + name
                if text == head:
                    following = self.items[index + 1] if index + 1 < len(self.items) else None
                    value = str(following) if following is not None and not str(following).startswith("-") else None
                    return True, value
                if text.startswith(head + "=") or text.startswith(head + " "):
                    return True, text[len(head) + 1 :].strip()
        env = self.container.get("env")
        key = "CSQL_PROXY_" + name.upper().replace("-", "_")
        for entry in env if isinstance(env, list) else []:
            if isinstance(entry, dict) and entry.get("name") == key and "value" in entry:
                return True, str(entry["value"])
        return False, None

    def enabled(self, name: str) -> bool:
        found, value = self._find(name)
        return found and (value is None or value.lower() not in ("false", "0"))

    def value(self, name: str) -> str | None:
        return self._find(name)[1]

    def positional(self) -> list[str]:
        """The instance connection names: words that are neither flags nor a flag's value."""
        words = [str(item).strip() for item in self.items]
        names = []
        skip = False
        for index, word in enumerate(words):
            if skip:
                skip = False
                continue
            if word.startswith("-"):
                following = words[index + 1] if index + 1 < len(words) else ""
                skip = "=" not in word and bool(following) and not following.startswith("-") and ":" not in following
                continue
            if index == 0 and word.rsplit("/", 1)[-1] in PROGRAMS:
                continue
            names.append(word)
        return names

    def add(self, flag: str) -> None:
        if not self.items and not isinstance(self.container.get("args"), list):
            self.container["args"] = self.items
        self.items.append(flag)
        self.added.append(flag)
