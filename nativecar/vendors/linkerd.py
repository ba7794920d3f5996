"""Linkerd: the native-sidecar annotation, and the proxy's await switch.

Facts from linkerd/linkerd2's proxy template and injection goldens (SIDECARS.md section 5):
the annotation that asks for native mode was `config.alpha.linkerd.io/...` (2.15-2.18),
`config.beta.linkerd.io/...` (2.19) and is `config.linkerd.io/proxy-enable-native-sidecar` now.
A pod that already carries one spelling keeps it; otherwise the spelling of the proxy's stable
release (`linkerd.io/proxy-version: stable-2.17.1`) is used, and the current one when that is
unknown. The
native proxy gets its startup probe only when `config.linkerd.io/proxy-await` is not
`disabled`, as the upstream template does.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from nativecar.lifecycle.network import Served, is_loopback, listen_address
from nativecar.profiles import Profile
from nativecar.vendors import endpoint, profile_probe
from nativecar.workloads import Pod

NATIVE = "proxy-enable-native-sidecar"
PREFIXES = ("config.linkerd.io", "config.beta.linkerd.io", "config.alpha.linkerd.io")
AWAIT = "config.linkerd.io/proxy-await"


VERSION = "linkerd.io/proxy-version"
VARIABLES = ("linkerd.nativeAnnotation", "linkerd.trustRootSHA256")
_STABLE = re.compile(r"^stable-(\d+)\.(\d+)")


def convert(pod: Pod, container: dict, profile: Profile) -> list[str]:
    present = [f"{prefix}/{NATIVE}" for prefix in PREFIXES if f"{prefix}/{NATIVE}" in pod.annotations]
    key = present[0] if present else f"{annotation_prefix(pod.annotations.get(VERSION))}/{NATIVE}"
    return [f"{key} set"] if pod.set_annotation(key, "true") else []


def annotation_prefix(version: object) -> str:
    """The prefix a Linkerd release reads the native-sidecar annotation under."""
    match = _STABLE.match(str(version or ""))
    release = (int(match.group(1)), int(match.group(2))) if match else None
    if release is not None and (2, 15) <= release <= (2, 18):
        return "config.alpha.linkerd.io"
    if release == (2, 19):
        return "config.beta.linkerd.io"
    return "config.linkerd.io"


def startup_probe(pod: Pod, container: dict, profile: Profile, taken: set[int]) -> tuple[dict[str, Any] | None, str]:
    if str(pod.annotations.get(AWAIT, "")).lower() == "disabled":
        return None, f"{AWAIT} is disabled, so the app is meant not to wait for the proxy"
    return profile_probe(container, profile), ""


LISTEN = {
    "outbound": "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR",
    "linkerd-proxy": "LINKERD2_PROXY_INBOUND_LISTEN_ADDR",
    "linkerd-admin": "LINKERD2_PROXY_ADMIN_LISTEN_ADDR",
}
SHUTDOWN_ENDPOINT = "LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED"


def serves(pod: Pod, container: dict, profile: Profile) -> Served:
    """The profile's ports, moved where the proxy's listen-address env vars say, and the admin
    server's `/shutdown` only while `LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED` is not "false"."""
    env = container.get("env")
    values = {
        str(entry.get("name")): str(entry.get("value"))
        for entry in (env if isinstance(env, list) else [])
        if isinstance(entry, dict) and "value" in entry
    }
    endpoints = []
    for port in profile.serves:
        address = listen_address(values.get(LISTEN.get(port.name, "")))
        moved = endpoint(port, address[1] if address else None)
        if address is not None:
            moved = moved._replace(loopback=is_loopback(address[0]))
        if moved.stop_path and values.get(SHUTDOWN_ENDPOINT, "true").lower() == "false":
            moved = moved._replace(stop_path=None)
        endpoints.append(moved)
    return Served(tuple(endpoints), complete=True)


def variables(pod: Pod, profile: Profile, values: dict[str, Any]) -> dict[str, Any]:
    """The native-sidecar annotation for the release being injected, and the trust root's hash."""
    present = [f"{prefix}/{NATIVE}" for prefix in PREFIXES if f"{prefix}/{NATIVE}" in pod.annotations]
    version = values.get("version") or pod.annotations.get(VERSION)
    computed = {"linkerd.nativeAnnotation": present[0] if present else f"{annotation_prefix(version)}/{NATIVE}"}
    anchors = values.get("trustAnchors")
    if anchors:
        computed["linkerd.trustRootSHA256"] = hashlib.sha256(str(anchors).encode()).hexdigest()
    return computed
