"""The real clients the integration tests drive: Helm 3, Helm 4 and kpt.

`.ci/clients` installs Helm 3.17 and Helm 4.1 into `.clients/` of the checkout; a `helm` on the
PATH of the right major version is used when that folder has none, and kpt comes from the PATH.
A test that needs a missing client skips and says how to get it, except in CI (the CI variable
set), where a missing client fails the test: CI must never pass by running nothing.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import ROOT

CLIENTS = ROOT / ".clients"


class Client(NamedTuple):
    """A client binary and the version it reports (`v3.17.2`, `1.0.0-beta.56`)."""

    name: str
    path: Path | None
    version: str

    @property
    def title(self) -> str:
        """`helm v3.17.2` for test ids and the report header; `helm 3 (missing)` when absent."""
        return f"{self.name} {self.version}"


def _run_version(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


@functools.cache
def helm(major: int) -> Client:
    """Helm `major` from `.clients/helm-MAJOR/helm`, else a `helm` on the PATH of that major version."""
    candidates = [CLIENTS / f"helm-{major}" / "helm"]
    on_path = shutil.which("helm")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            version = _run_version([str(candidate), "version", "--short"]).split("+")[0]
            if version.startswith(f"v{major}."):
                return Client("helm", candidate, version)
    return Client("helm", None, f"{major} (missing)")


@functools.cache
def kpt() -> Client:
    """kpt from the PATH, with the version `kpt version` prints."""
    found = shutil.which("kpt")
    version = _run_version([found, "version"]) if found else ""
    return Client("kpt", Path(found), version) if found and version else Client("kpt", None, "(missing)")


def require(client: Client, how: str) -> Path:
    """The client's path; skips (fails in CI) when it is missing, saying `how` to get it."""
    if client.path is not None:
        return client.path
    message = f"{client.title}: {how}"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run every client test, but {message}")
    pytest.skip(message)


def header() -> str:
    """One line for pytest's report header: the client versions this run uses."""
    found = [helm(3), helm(4), kpt()]
    return "clients: " + ", ".join(client.title for client in found)
