"""Istio: what istiod's injector records about `istio-proxy`, kept true after conversion.

Facts from istio/istio's injection template and golden files (SIDECARS.md section 5):
- `sidecar.istio.io/status` lists what the injector added, as compact JSON with the keys in
  the order initContainers, containers, volumes, imagePullSecrets, revision and `null` for an
  empty list; in native mode `istio-proxy` is listed under initContainers.
- `proxy.istio.io/overrides` holds the user's own `istio-proxy` fields; the injector records it
  under `initContainers` in native mode, and the user's `lifecycle` wins over the template's.
- In native mode the proxy has no `pilot-agent wait` postStart; its preStop starts the drain:
  `pilot-agent request --debug-port=<status port> POST drain`, the status port coming from the
  annotation `status.sidecar.istio.io/port` (default 15020). Port "0" turns the probes off.
"""

from __future__ import annotations

import json
from typing import Any

from nativecar.lifecycle.network import Served, port_number
from nativecar.profiles import Profile
from nativecar.vendors import endpoint, profile_probe
from nativecar.workloads import Pod

STATUS = "sidecar.istio.io/status"
OVERRIDES = "proxy.istio.io/overrides"
STATUS_PORT = "status.sidecar.istio.io/port"
DEFAULT_STATUS_PORT = "15020"
HELPERS = ("istio-init", "istio-validation")
VARIABLES = ("istio.canonicalName", "istio.canonicalRevision")


def convert(pod: Pod, container: dict, profile: Profile) -> list[str]:
    notes: list[str] = []
    name = str(container.get("name"))
    user_lifecycle = _overridden(pod, name, "lifecycle")
    if not user_lifecycle and not _has_pre_stop(container):
        port = str(pod.annotations.get(STATUS_PORT, DEFAULT_STATUS_PORT))
        lifecycle = container.get("lifecycle")
        if not isinstance(lifecycle, dict):
            lifecycle = container["lifecycle"] = {}
        lifecycle["preStop"] = {
            "exec": {"command": ["pilot-agent", "request", f"--debug-port={port}", "POST", "drain"]}
        }
        notes.append("drain preStop added")
    status = _rewrite_json(pod, STATUS, lambda data: _native_status(data, name))
    if status:
        notes.append(f"{STATUS} updated")
    if _rewrite_json(pod, OVERRIDES, lambda data: _native_overrides(data, name)):
        notes.append(f"{OVERRIDES} updated")
    return notes


def startup_probe(pod: Pod, container: dict, profile: Profile, taken: set[int]) -> tuple[dict[str, Any] | None, str]:
    if str(pod.annotations.get(STATUS_PORT, "")) == "0":
        return None, f'{STATUS_PORT} is "0", which turns the proxy\'s health probes off'
    return profile_probe(container, profile), ""


def serves(pod: Pod, container: dict, profile: Profile) -> Served:
    """The profile's ports, with pilot-agent's status port where the pod's annotation moves it
    (port "0" turns the status server off)."""
    status = str(pod.annotations.get(STATUS_PORT, DEFAULT_STATUS_PORT))
    key = (id(profile), status)
    found = _SERVED.get(key)
    if found is None:
        number = port_number(status)
        endpoints = [
            endpoint(port, number if port.name == "status" else None)
            for port in profile.serves
            if port.name != "status" or number is not None
        ]
        found = _SERVED[key] = Served(tuple(endpoints), complete=True)
    return found


_SERVED: dict[tuple[int, str], Served] = {}  # profiles live as long as the process


PROXY_CONFIG = "proxy.istio.io/config"


def shutdown_seconds(pod: Pod, container: dict, profile: Profile) -> int:
    """How long the proxy takes to stop after SIGTERM, in seconds: pilot-agent drains, waits
    `terminationDrainDuration`, then exits (istio.io/istio pkg/envoy `Agent.Run`, "SIGTERM. We
    will drain, wait termination drain duration, then exit"). It is read from the pod's
    `proxy.istio.io/config` annotation (ProxyConfig, as YAML or JSON), else the profile's 5 s,
    Istio's default."""
    from nativecar.vendors import duration_seconds

    config = _proxy_config(pod.annotations.get(PROXY_CONFIG))
    drain = config.get("terminationDrainDuration") if isinstance(config, dict) else None
    seconds = duration_seconds(str(drain)) if drain is not None else None
    return seconds if seconds is not None else profile.shutdown_seconds


def _proxy_config(text: Any) -> Any:
    """The ProxyConfig of the annotation: YAML (of which JSON is a part); None when unreadable."""
    if not isinstance(text, str):
        return None
    import yaml

    try:
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return None


def _has_pre_stop(container: dict) -> bool:
    lifecycle = container.get("lifecycle")
    return isinstance(lifecycle, dict) and "preStop" in lifecycle


def _overridden(pod: Pod, name: str, field: str) -> bool:
    """Whether the user's recorded customisations of this container include `field`."""
    for metadata in [pod.template.get("metadata"), *pod.outer_metadata]:
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        data = _load(annotations.get(OVERRIDES)) if isinstance(annotations, dict) else None
        for group in ("containers", "initContainers") if isinstance(data, dict) else ():
            for entry in data.get(group) or []:
                if isinstance(entry, dict) and entry.get("name") == name and field in entry:
                    return True
    return False


def _load(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _rewrite_json(pod: Pod, key: str, change: Any) -> bool:
    """Apply `change` to a JSON annotation, writing it back compactly in its own key order.

    Looked for on the pod template and on the templates around it: kube-inject writes a
    CronJob's annotations on its jobTemplate.
    """
    changed = False
    for metadata in [pod.template.get("metadata"), *pod.outer_metadata]:
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        data = _load(annotations.get(key)) if isinstance(annotations, dict) else None
        if isinstance(data, dict) and change(data):
            annotations[key] = json.dumps(data, separators=(",", ":"))
            changed = True
    return changed


def _native_status(status: dict, name: str) -> bool:
    containers = status.get("containers") or []
    if name not in containers:
        return False
    containers.remove(name)
    status["containers"] = containers or None
    init = status.get("initContainers") or []
    helpers = [index for index, entry in enumerate(init) if entry in HELPERS]
    init.insert(helpers[-1] + 1 if helpers else 0, name)
    status["initContainers"] = init
    return True


def _native_overrides(overrides: dict, name: str) -> bool:
    containers = overrides.get("containers") or []
    entries = [entry for entry in containers if isinstance(entry, dict) and entry.get("name") == name]
    if not entries:
        return False
    for entry in entries:
        containers.remove(entry)
    init = overrides.get("initContainers") or []
    init.extend(entries)
    if containers:
        overrides["containers"] = containers
    else:
        overrides.pop("containers", None)
    overrides["initContainers"] = init
    return True


def variables(pod: Pod, profile: Profile, values: dict[str, Any]) -> dict[str, Any]:
    """Istio's canonical service name and revision, from the pod's labels as istiod reads them."""
    metadata = pod.template.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) and isinstance(metadata.get("labels"), dict) else {}
    workload = pod.workload.get("metadata") if isinstance(pod.workload.get("metadata"), dict) else {}
    name = next(
        (labels[key] for key in ("service.istio.io/canonical-name", "app.kubernetes.io/name", "app") if key in labels),
        workload.get("name", ""),
    )
    revision = next(
        (
            labels[key]
            for key in ("service.istio.io/canonical-revision", "app.kubernetes.io/version", "version")
            if key in labels
        ),
        "latest",
    )
    return {"istio.canonicalName": str(name), "istio.canonicalRevision": str(revision)}


def injected(pod: Pod, profile: Profile, names: list[str], volumes: list[str], values: dict[str, Any]) -> list[str]:
    """The status annotation istiod writes after a native injection."""
    status = {
        "initContainers": names or None,
        "containers": None,
        "volumes": volumes or None,
        "imagePullSecrets": None,
        "revision": str(values.get("revision") or "default"),
    }
    pod.set_annotation(STATUS, json.dumps(status, separators=(",", ":")))
    return [f"{STATUS} written"]
