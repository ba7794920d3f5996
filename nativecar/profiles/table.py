"""The vendor table: what nativecar does for each built-in profile, made from the profiles.

`nativecar profiles --table` prints it and the README shows it between two markers
(`tests/test_readme.py` fails when the two disagree), so the table cannot drift from the data
the rewrites use. One row per profile: what `migrate` does with a sidecar written in the
manifest and with a pod that asks the vendor's injector for one, where the native sidecar goes,
its startup signal and shutdown budget, and the first vendor and Kubernetes releases that run it
natively.
"""

from __future__ import annotations

from typing import Any

from nativecar.profiles import BUILTIN, Profile, builtin

COLUMNS = (
    "profile",
    "sidecar",
    "`migrate` does",
    "a pod that asks the injector",
    "native position",
    "startup signal",
    "budget",
    "native from",
)
START = "<!-- vendor table: `nativecar profiles --table`; tests/test_readme.py checks it -->"
END = "<!-- end of vendor table -->"


def markdown() -> str:
    """The table in Markdown, one row per built-in profile."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for name in BUILTIN:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row(builtin(name))) + " |")
    return "\n".join(lines) + "\n"


def row(profile: Profile) -> list[str]:
    return [
        f"`{profile.name}`",
        _sidecar(profile),
        _moves(profile),
        _asks(profile),
        _position(profile),
        _signal(profile),
        f"{profile.shutdown_seconds} s" + (" or its own setting" if profile.shutdown_from else ""),
        _since(profile),
    ]


def _sidecar(profile: Profile) -> str:
    names = ", ".join(f"`{name}`" for name in profile.match.names)
    if names:
        return names
    return "image " + ", ".join(f"`{image}`" for image in profile.match.images[:2])


def _moves(profile: Profile) -> str:
    if profile.move == "never":
        return "reports it, never moves it: " + profile.left_because
    if profile.move == "vendorVersion":
        return f"moves it when its image is {profile.min_vendor_version} or later, or named with `--sidecar`"
    if profile.min_kube_version and profile.min_kube_version != "1.29":
        return f"moves it for `--kube-version` {profile.min_kube_version} or later"
    return "moves it"


def _asks(profile: Profile) -> str:
    request = profile.request
    if request is None:
        return "none in the pod"
    asks = ", ".join(_mark(mark) for mark in request.asks)
    if request.native and request.native_default_since == request.native_since:
        keys = ", ".join(dict.fromkeys(f"`{spelling.key}`" for spelling in request.native))
        where = f" on Kubernetes {request.native_default_kubernetes}" if request.native_default_kubernetes else ""
        return f'{asks}: native by default from {request.native_since}{where}; {keys}: "false" opts out'
    if request.native:
        since: dict[tuple[str, str], list[str]] = {}
        for spelling in request.native:
            since.setdefault((spelling.where, spelling.key), []).append(spelling.since)
        switches = "; ".join(
            f"`{key}` ({', '.join(f'{release}+' for release in releases)})" for (_, key), releases in since.items()
        )
        done = f"sets {switches}"
    else:
        done = "reports it: the cluster decides"
    if request.native_default_since:
        done += f"; native by default from {request.native_default_since}"
        if request.native_default_kubernetes:
            done += f" on Kubernetes {request.native_default_kubernetes}"
    return f"{asks}: {done}"


def _mark(mark: Any) -> str:
    value = "any value" if mark.value == "*" else f'"{mark.value}"'
    return f"{mark.where[:-1]} `{mark.key}`: {value}"


def _position(profile: Profile) -> str:
    placement = profile.placement
    if placement == "first":
        return "before every init container"
    if placement == "afterHelpers":
        return "after " + " / ".join(f"`{name}`" for name in profile.runs_after) + ", before yours"
    if placement == "afterSidecars":
        return "right after " + ", ".join(f"`{name}`" for name in profile.after_sidecars) + ", else first"
    return "after every init container"


def _signal(profile: Profile) -> str:
    signal = profile.startup_signal
    if signal == "readiness":
        return "its readinessProbe, as a startupProbe"
    if signal == "postStart":
        return "its postStart hook"
    if signal == "none":
        return "none (a warning)"
    probe = profile.startup_probe
    if probe is None:
        return "derived from its readiness or liveness probe"
    return _handler(probe)


def _handler(probe: Any) -> str:
    http = probe.get("httpGet")
    if http:
        port = http.get("port")
        return f"`GET {http.get('path', '/')}` on " + (str(port) if port else "its health port")
    command = (probe.get("exec") or {}).get("command")
    if command:
        return "`" + " ".join(str(part) for part in command) + "`"
    tcp = probe.get("tcpSocket")
    return f"TCP {tcp.get('port')}" if tcp else "its own probe"


def _since(profile: Profile) -> str:
    request = profile.request
    vendor = (request.native_since if request is not None and request.native_since else "") or (
        profile.min_vendor_version or ""
    )
    kubernetes = profile.min_kube_version or "1.29"
    return (f"{vendor}; " if vendor else "") + f"Kubernetes {kubernetes}"
