"""Cloud SQL Auth Proxy: switch its health server on so it can have a startup probe.

Facts from GoogleCloudPlatform/cloud-sql-proxy (SIDECARS.md section 5): the v2 proxy serves
`/startup` only with `--health-check`, on `--http-port` (default 9090) at `--http-address`
(default localhost, which the kubelet cannot reach, hence 0.0.0.0). Every v2 flag can also be
set as `CSQL_PROXY_<FLAG>` in the environment. The v1 proxy (`gce-proxy`) has
`-use_http_health_check` on `-health_check_port` (default 8090), listening on all addresses.
Shutdown takes up to `--min-sigterm-delay` + `--max-sigterm-delay` (v1: `-term_timeout`).
Flags this module adds go at the end of the list that holds the proxy's flags; the proxy's
flag parser accepts flags after the instance names.
"""

from __future__ import annotations

import re
from typing import Any

from nativecar.profiles import Profile, image_repository
from nativecar.vendors import copy_data
from nativecar.workloads import Pod

V2_PORT = "9801"  # the port SIDECARS.md's native example uses, for a health server nativecar turns on
V2_DEFAULT_PORT = "9090"
V1_PORT = "8090"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def startup_probe(pod: Pod, container: dict, profile: Profile) -> tuple[dict[str, Any] | None, str]:
    flags = Flags(container)
    if _is_v1(container):
        if not flags.enabled("use_http_health_check"):
            flags.add("-use_http_health_check")
        port = flags.value("health_check_port") or V1_PORT
    else:
        already_on = flags.enabled("health-check")
        if not already_on:
            flags.add("--health-check")
        address = flags.value("http-address")
        if address is None:
            flags.add("--http-address=0.0.0.0")
        elif address != "0.0.0.0":
            return None, f"its health server listens on {address}, which the kubelet cannot reach"
        port = flags.value("http-port")
        if port is None and already_on:
            port = V2_DEFAULT_PORT  # keep the port its probes and scrapers already use
        elif port is None:
            flags.add(f"--http-port={V2_PORT}")
            port = V2_PORT
    probe = copy_data(profile.startup_probe or {"httpGet": {"path": "/startup"}})
    probe.setdefault("httpGet", {})["port"] = int(port) if str(port).isdigit() else port
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

    def add(self, flag: str) -> None:
        if not self.items and not isinstance(self.container.get("args"), list):
            self.container["args"] = self.items
        self.items.append(flag)
        self.added.append(flag)
