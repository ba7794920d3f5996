"""Vendor bookkeeping a profile's data cannot express, looked up by the profile's `vendor`.

Each vendor module may define any of three hooks; a missing hook means "nothing special":

- `convert(pod, container, profile) -> list[str]`: after `legacy` moved the container, update
  what the vendor keeps about it (Istio's status annotation, its drain preStop ...); returns
  notes for the report.
- `startup_probe(pod, container, profile, taken) -> (probe | None, note)`: the startup probe for
  this sidecar when the profile's plain `startupProbe` is not enough (Cloud SQL needs its health
  server switched on, on a port not in `taken`; Istio and Linkerd can have theirs turned off).
- `serves(pod, container, profile) -> Served`: what the sidecar listens on, when its flags,
  environment or annotations move the profile's `serves` ports (the lifecycle model's input).
- `shutdown_seconds(pod, container, profile) -> int`: the sidecar's shutdown budget when it
  depends on the container's own settings.
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
from types import ModuleType
from typing import Any

from nativecar.lifecycle.network import Endpoint, Served, served
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
    return profile_probe(container, profile), ""


def serves(pod: Pod, container: dict, profile: Profile) -> Served | None:
    """What the vendor says the sidecar listens on; None when the profile says nothing."""
    hook = getattr(_module(profile), "serves", None)
    if hook:
        return hook(pod, container, profile)
    if not profile.serves:
        return None
    return Served(tuple(endpoint(port) for port in profile.serves), complete=False)


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
    """The shutdown budget of a sidecar (None: one the cluster's injector will add)."""
    module = _module(profile)
    hook = getattr(module, "shutdown_seconds", None)
    return hook(pod, container, profile) if hook and container is not None else profile.shutdown_seconds


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


def profile_probe(container: dict, profile: Profile) -> dict[str, Any] | None:
    """The profile's startup probe; an httpGet probe takes the port of the container's own
    readiness or liveness probe on the same path, so a customised port stays right."""
    if profile.startup_probe is None:
        return None
    probe = copy_data(profile.startup_probe)
    http = probe.get("httpGet")
    if isinstance(http, dict):
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
