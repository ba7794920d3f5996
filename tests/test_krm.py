"""nativecar under kustomize and kpt (issue 11): `nativecar-krm` as an exec plugin (a plain
stream on stdin, the plugin's config file in argv[1]) and as a KRM function (a ResourceList),
run through the installed entry point as kustomize runs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
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


# -- where a finding is, in a stream that is no file ---------------------------------------------------

BROKEN = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  annotations:
{annotations}spec:
  containers:
  - name: app
    image: app:1
  - name: app
    image: app:2
"""
ORIGIN = "    config.kubernetes.io/origin: |\n      path: base/pod.yaml\n"
POSITION = re.compile(r"(?<![\w.])\d+:\d+(?::|\b)")  # 63:5 - a line and column


def broken(name: str, annotations: str = "    team: a\n") -> str:
    return BROKEN.format(name=name, annotations=annotations)


def config_file(tmp_path: Path) -> Path:
    config = tmp_path / "native-sidecars.yaml"
    config.write_text(NATIVE_SIDECARS.replace("\n  ", "\n").lstrip() + '  kubeVersion: "1.30"\n')
    return config


def test_exec_plugin_findings_name_the_object_and_the_file_not_the_stream_line(tmp_path: Path) -> None:
    stream = "---\n".join([JOB, broken("from-base", ORIGIN), broken("loose")])
    result = krm(str(config_file(tmp_path)), stdin=stream)
    assert result.returncode == 1  # the duplicate container names are errors
    lines = [line for line in result.stderr.splitlines() if "NC006" in line]
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("base/pod.yaml: pod/from-base spec.containers[1].name: ")
    assert lines[1].startswith("pod/loose spec.containers[1].name: ")
    assert not [line for line in result.stderr.splitlines() if POSITION.search(line)], result.stderr
    assert init_containers(next(yaml.safe_load_all(result.stdout))) == ["cloud-sql-proxy"]


def test_a_function_result_names_the_origin_file(tmp_path: Path) -> None:
    remote = ORIGIN.replace("base/pod.yaml", "pod.yaml\n      repo: https://example.com/base\n      ref: v1")
    listed = resource_list([broken("from-base", ORIGIN), broken("remote", remote)], NATIVE_SIDECARS)
    result = krm(stdin=listed)
    assert result.returncode == 1
    files = {
        entry["resourceRef"]["name"]: entry["file"]
        for entry in yaml.safe_load(result.stdout)["results"]
        if "resourceRef" in entry
    }
    assert files == {
        "from-base": {"path": "base/pod.yaml"},
        "remote": {"path": "https://example.com/base//pod.yaml?ref=v1"},
    }


def test_bad_input_in_the_stream_is_placed_by_its_object(tmp_path: Path) -> None:
    """A document nested too deeply: one line naming it, exit 2, no traceback and no stream line."""
    deep = broken("deep").replace("spec:\n", "spec:\n  x: " + "[" * 900 + "]" * 900 + "\n", 1)
    result = krm(str(config_file(tmp_path)), stdin=JOB + "---\n" + deep)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("nativecar krm: pod/deep spec.x[0]") and "nested" in line
    assert not POSITION.search(line)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
@pytest.mark.parametrize("origins", [True, False])
def test_kubectl_kustomize_reports_the_source_file_of_a_finding(tmp_path: Path, origins: bool) -> None:
    """The README's setup; a base with a broken Pod under an overlay: the message names
    base/pod.yaml (with origin annotations) and the Pod, never the line of kustomize's stream."""
    home = tmp_path / "home"
    plugins = home / ".config/kustomize/plugin/nativecar.io/v1alpha1/nativesidecars"
    plugins.mkdir(parents=True)
    (plugins / "NativeSidecars").symlink_to(KRM)
    app = tmp_path / "app"
    (app / "base").mkdir(parents=True)
    (app / "job.yaml").write_text(JOB)
    (app / "base" / "pod.yaml").write_text(broken("broken"))
    (app / "native-sidecars.yaml").write_text(config_file(tmp_path).read_text())
    metadata = "buildMetadata: [originAnnotations]\n" if origins else ""
    (app / "kustomization.yaml").write_text(
        f"resources:\n- job.yaml\n- base/pod.yaml\ntransformers:\n- native-sidecars.yaml\n{metadata}"
    )
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": "",
        "PATH": f"{KRM.parent}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        ["kubectl", "kustomize", "--enable-alpha-plugins", str(app)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode != 0
    (line,) = [line.strip() for line in result.stderr.splitlines() if "NC006" in line]
    expected = "base/pod.yaml: pod/broken " if origins else "pod/broken "
    assert line.startswith(expected + "spec.containers[1].name: error NC006"), result.stderr
    assert not POSITION.search(line)
