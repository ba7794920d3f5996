"""nativecar under kustomize and kpt (issue 11): `nativecar-krm` as an exec plugin (a plain
stream on stdin, the plugin's config file in argv[1]) and as a KRM function (a ResourceList),
run through the installed entry point as kustomize runs it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import FIXTURES

KRM = Path(sys.executable).with_name("nativecar-krm")
JOB = (FIXTURES / "legacy" / "first-container.yaml").read_text(encoding="utf-8")


def krm(*args: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(KRM), *args], input=stdin, capture_output=True, text=True, timeout=60, check=False)


def resource_list(items: list[str], config: str) -> str:
    """A ResourceList of these documents, each a mapping under `items:`, and this functionConfig."""
    listed = "\n".join("- " + "\n  ".join(item.rstrip("\n").splitlines()) for item in items)
    return f"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n{listed}\nfunctionConfig:\n{config}"


NATIVE_SIDECARS = "  apiVersion: nativecar.io/v1alpha1\n  kind: NativeSidecars\n  metadata:\n    name: n\n  spec:\n"


def init_containers(document: dict) -> list[str]:
    return [container["name"] for container in document["spec"]["template"]["spec"].get("initContainers", [])]


def test_an_unquoted_kube_version_in_the_function_config_is_read_as_written(tmp_path: Path) -> None:
    """`kubeVersion: 1.30` is a YAML float; read as 1.3 it would be too old to convert anything."""
    for version, converted in (("1.30", ["cloud-sql-proxy"]), ("1.28", [])):
        listed = krm(stdin=resource_list([JOB], NATIVE_SIDECARS + f"    kubeVersion: {version}\n"))
        assert listed.returncode == (0 if converted else 1), listed.stderr  # 1: the Job never completes
        assert init_containers(yaml.safe_load(listed.stdout)["items"][0]) == converted, version
        config = tmp_path / "native-sidecars.yaml"
        config.write_text(NATIVE_SIDECARS.replace("\n  ", "\n").lstrip() + f"  kubeVersion: {version}\n")
        plugin = krm(str(config), stdin=JOB)
        assert plugin.returncode == (0 if converted else 1), plugin.stderr
        assert init_containers(yaml.safe_load(plugin.stdout)) == converted, version
