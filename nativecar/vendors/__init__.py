"""Vendor bookkeeping a profile's data cannot express, looked up by the profile's `vendor`.

Each vendor module may define any of three hooks; a missing hook means "nothing special":

- `convert(pod, container, profile) -> list[str]`: after `legacy` moved the container, update
  what the vendor keeps about it (Istio's status annotation, its drain preStop ...); returns
  notes for the report.
- `startup_probe(pod, container, profile, taken) -> (probe | None, note)`: the startup probe for
  this sidecar when the profile's plain `startupProbe` is not enough (Cloud SQL needs its health
  server switched on, on a port not in `taken`; Istio and Linkerd can have theirs turned off).
- `serves(pod, container, profile) -> Served`: what the sidecar listens on, when its flags,
  environment or annotations move the profile's `serves` ports beyond what the data says (the
  lifecycle model's input). Without a hook, a `serves` port follows its `annotation`.
- `shutdown_seconds(pod, container, profile) -> int`: the sidecar's shutdown budget when it
  depends on the container's own settings beyond the profile's `shutdownFrom`.

Profiles without a `vendor` (Kuma, Consul, OpenTelemetry, Dapr, Azure Workload Identity, gcsfuse,
the Cloud SQL Proxy Operator) are data only: these functions read their fields.
- `variables(pod, profile, values) -> dict`: placeholders the vendor computes for `inject`
  (named `VARIABLES` in the module, so profiles can be checked before they are used).
- `injected(pod, profile, names, volumes, values) -> list[str]`: bookkeeping after `inject`
  rendered the profile's containers (`names`, helpers first) and volumes.
- `release(text) -> (major, minor, patch) | None`: a release string in a form only this vendor uses
  (Linkerd's edge releases), for `vendors.releases`.
"""

from __future__ import annotations

import functools
import importlib
import re
from types import ModuleType
from typing import Any

from nativecar.lifecycle.network import Endpoint, Served, port_number, served
from nativecar.profiles import Profile, ServedPort
from nativecar.workloads import Pod

_MODULES = {"istio": "istio", "linkerd": "linkerd", "cloud-sql-proxy": "cloudsql"}


@functools.cache
def _vendor_module(vendor: str) -> ModuleType:
    return importlib.import_module(f"nativecar.vendors.{_MODULES[vendor]}")


def _module(profile: Profile) -> ModuleType | None:
    return None if profile.vendor is None else _vendor_module(profile.vendor)


def convert(pod: Pod, container: dict, profile: Profile) -> list[str]:
    module = _module(profile)
    hook = getattr(module, "convert", None)
    return hook(pod, container, profile) if hook else []


def startup_probe(pod: Pod, container: dict, profile: Profile, taken: set[int]) -> tuple[dict[str, Any] | None, str]:
    """The sidecar's startup probe and a note; `taken`: ports the pod's other containers use."""
    module = _module(profile)
    hook = getattr(module, "startup_probe", None)
    if hook:
        return hook(pod, container, profile, taken)
    return profile_probe(container, profile, pod), ""


def serves(pod: Pod, container: dict, profile: Profile) -> Served | None:
    """What the vendor says the sidecar listens on; None when the profile says nothing. A port
    with an `annotation` is where the pod's annotation puts it (Kuma's envoy-admin-port)."""
    hook = getattr(_module(profile), "serves", None)
    if hook:
        return hook(pod, container, profile)
    if not profile.serves:
        return None
    return Served(tuple(endpoint(port, moved_port(pod, port)) for port in profile.serves), complete=False)


def moved_port(pod: Pod | None, port: ServedPort) -> int | None:
    """The number a pod annotation gives a profile's port (None: no annotation, or not a port)."""
    if pod is None or port.annotation is None:
        return None
    value = pod.annotations.get(port.annotation)
    return port_number(value) if value is not None else None


def listening(pod: Pod, container: dict, profile: Profile | None) -> set[int]:
    """The TCP ports a container listens on, as the lifecycle model reads them: declared, its
    vendor's (when a profile recognises it), and those of its own probes."""
    return served(container, serves(pod, container, profile) if profile is not None else None).ports()


def endpoint(port: ServedPort, number: int | None = None) -> Endpoint:
    """A profile's `serves` entry as the lifecycle model's `Endpoint` (at `number` if it moved)."""
    return Endpoint(
        number if number is not None else port.port,
        port.name,
        port.purpose,
        port.stop_path,
        port.loopback,
        source="vendor",
    )


def shutdown_seconds(pod: Pod, container: dict | None, profile: Profile) -> int:
    """The shutdown budget of a sidecar, in seconds (None: one the cluster's injector will add):
    the vendor hook's, else the first of the profile's `shutdownFrom` the container or pod sets
    (Kuma's `KUMA_DATAPLANE_DRAIN_TIME`), else the profile's `shutdownSeconds`."""
    module = _module(profile)
    hook = getattr(module, "shutdown_seconds", None)
    if container is None:
        return profile.shutdown_seconds
    if hook:
        return hook(pod, container, profile)
    for source in profile.shutdown_from:
        seconds = duration_seconds(_budget_text(pod, container, source))
        if seconds is not None:
            return seconds
    return profile.shutdown_seconds


def _budget_text(pod: Pod, container: dict, source: Any) -> str | None:
    """The text a `BudgetSource` points at on this container or pod, or None."""
    if source.env:
        env = container.get("env")
        for entry in env if isinstance(env, list) else []:
            if isinstance(entry, dict) and entry.get("name") == source.env and "value" in entry:
                return str(entry["value"])
        return None
    if source.annotation:
        value = pod.annotations.get(source.annotation)
        return None if value is None else str(value)
    if source.flag:
        words = [
            str(word) for key in ("command", "args") if isinstance(container.get(key), list) for word in container[key]
        ]
        for index, word in enumerate(words):
            for head in (f"-{source.flag}", f"--{source.flag}"):
                if word == head and index + 1 < len(words):
                    return words[index + 1]
                if word.startswith(head + "="):
                    return word[len(head) + 1 :]
    return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def duration_seconds(text: str | None) -> int | None:
    """A Go duration (`30s`, `1m30s`, `500ms`) or a number of seconds (`30`), in whole seconds
    rounded up; None when unset or not a duration (`-1`, `soon`)."""
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or _DURATION.sub("", text):
        return None
    total = sum(float(number) * _UNITS[unit] for number, unit in _DURATION.findall(text))
    return int(-(-total // 1))


def variables(pod: Pod, profile: Profile, values: dict[str, Any]) -> dict[str, Any]:
    hook = getattr(_module(profile), "variables", None)
    return hook(pod, profile, values) if hook else {}


def variable_names(profile: Profile) -> tuple[str, ...]:
    return tuple(getattr(_module(profile), "VARIABLES", ()))


def injected(pod: Pod, profile: Profile, names: list[str], volumes: list[str], values: dict[str, Any]) -> list[str]:
    hook = getattr(_module(profile), "injected", None)
    return hook(pod, profile, names, volumes, values) if hook else []


def release(profile: Profile, text: str) -> tuple[int, int, int] | None:
    """The release a vendor-specific release string names (None: not one of the vendor's forms)."""
    hook = getattr(_module(profile), "release", None)
    return hook(text) if hook else None


def profile_probe(container: dict, profile: Profile, pod: Pod | None = None) -> dict[str, Any] | None:
    """The profile's startup probe; an httpGet probe on a `serves` port that a pod annotation
    moves follows the annotation (Kuma's `kuma.io/envoy-admin-port`), and one on the same path
    as the container's own readiness or liveness probe takes that probe's port, so a customised
    port stays right."""
    if profile.startup_probe is None:
        return None
    probe = copy_data(profile.startup_probe)
    http = probe.get("httpGet")
    if isinstance(http, dict):
        for port in profile.serves:
            moved = moved_port(pod, port)
            if moved is not None and http.get("port") == port.port:
                http["port"] = moved
        for existing in ("readinessProbe", "livenessProbe"):
            handler = container.get(existing, {}).get("httpGet") if isinstance(container.get(existing), dict) else None
            if isinstance(handler, dict) and handler.get("path") == http.get("path") and "port" in handler:
                http["port"] = handler["port"]
                break
    return probe


def copy_data(value: Any) -> Any:
    """A deep copy of plain data (profiles hand out copies, never their own objects)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {key: copy_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [copy_data(item) for item in value]
    return value
