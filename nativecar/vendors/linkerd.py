"""Linkerd: the native-sidecar annotation, its releases, and the proxy's await switch.

Facts from linkerd/linkerd2's proxy template and injection goldens (SIDECARS.md section 5):
the annotation that asks for native mode is spelled per release, as the profile's `request`
says (`config.alpha.linkerd.io/...` 2.15-2.18, `config.beta.linkerd.io/...` 2.19,
`config.linkerd.io/proxy-enable-native-sidecar` from 2.20). A converted pod that already carries
one spelling keeps it; otherwise the spelling for the proxy's release is used (read from
`--vendor-version`, `linkerd.io/proxy-version` or the proxy image's tag, `vendors.releases`),
and the profile's assumed release's when that is unknown. Edge releases (`edge-24.11.8`) are
read as the stable release their line became (`EDGE_LINES`). The native proxy gets its startup
probe only when `config.linkerd.io/proxy-await` is not `disabled`, as the upstream template does.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from nativecar.lifecycle.network import Served, is_loopback, listen_address
from nativecar.profiles import Profile
from nativecar.vendors import endpoint, profile_probe
from nativecar.workloads import Pod

AWAIT = "config.linkerd.io/proxy-await"
VARIABLES = ("linkerd.nativeAnnotation", "linkerd.trustRootSHA256")

# Edge releases as the stable release they lead to, newest first: an edge from the one named on
# behaves as that release does for native sidecars. Stable 2.15 to 2.20 are edge-24.2.4,
# edge-24.8.2, edge-24.11.8, edge-25.4.4, edge-25.10.7 and edge-26.6.3 (linkerd/website
# linkerd.io/data/versions.yaml); a line starts after the previous stable's edge, or where what
# decides the native switch arrived: the alpha annotation in edge-23.11.4 (1b37e198), the beta
# one in edge-25.10.2 (d3788f6a), the plain one and the native default in edge-26.5.2 (009a25fa).
EDGE_LINES: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...] = (
    ((26, 5, 2), (2, 20, 0)),
    ((25, 10, 2), (2, 19, 0)),
    ((24, 11, 9), (2, 18, 0)),
    ((24, 8, 3), (2, 17, 0)),
    ((24, 2, 5), (2, 16, 0)),
    ((23, 11, 4), (2, 15, 0)),
    ((0, 0, 0), (2, 14, 0)),
)
_EDGE = re.compile(r"^edge-(\d+)\.(\d+)\.(\d+)$")


def release(text: str) -> tuple[int, int, int] | None:
    """The stable release an edge release (`edge-24.11.8`) became; None for other forms."""
    match = _EDGE.match(text.strip().lower())
    if match is None:
        return None
    edge = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
    return next((stable for first, stable in EDGE_LINES if edge >= first), None)


def native_key(pod: Pod, profile: Profile, container: dict | None, version: str | None = None) -> str:
    """The native-sidecar annotation for this pod: the spelling it carries, else the one its
    release reads (`version`, else what the manifest says), else the assumed release's."""
    from nativecar.vendors import releases

    request = profile.request
    assert request is not None and request.native
    present = releases.present(pod, request)
    if present is not None:
        return present.key
    found = releases.release(profile, version) if version else None
    if found is None:
        found = releases.known(pod, profile, {}, container).release
    if found is None:
        found = releases.parse(request.assumed)
    spelling = releases.spelling(request, found) if found is not None else None
    return (spelling or request.native[-1]).key


def convert(pod: Pod, container: dict, profile: Profile) -> list[str]:
    """Set the native-sidecar annotation in the spelling the proxy's release reads. A release
    known to read none (before 2.15: the image tag, or `linkerd.io/proxy-version`) gets none, and
    the report says so: its injector would inject a legacy proxy again on re-injection; an
    unknown release gets the assumed release's spelling, and the report says that too."""
    from nativecar.vendors import releases

    request = profile.request
    assert request is not None
    if releases.present(pod, request) is None:
        found = releases.known(pod, profile, {}, container)
        if found.release is not None and releases.spelling(request, found.release) is None:
            return [
                f"no native-sidecar annotation: linkerd {releases.show(found.release)} ({found.source}) reads "
                f"none ({request.native_since} and later do); re-injected by that release, the proxy is legacy again"
            ]
        if found.release is None:
            key = native_key(pod, profile, container)
            pod.set_annotation(key, "true")
            return [
                f"{key} set for the assumed linkerd {request.assumed}: the release is unknown "
                "(name it with --vendor-version linkerd=RELEASE)"
            ]
    key = native_key(pod, profile, container)
    return [f"{key} set"] if pod.set_annotation(key, "true") else []


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
    version = values.get("version")
    computed = {"linkerd.nativeAnnotation": native_key(pod, profile, None, str(version) if version else None)}
    anchors = values.get("trustAnchors")
    if anchors:
        computed["linkerd.trustRootSHA256"] = hashlib.sha256(str(anchors).encode()).hexdigest()
    return computed
