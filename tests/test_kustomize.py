"""kustomize trees: bases and overlays converted in one run, checked with the real `kubectl kustomize`.

The tree in `examples/kustomize` (the README shows it) is a base (Deployment `web` + a legacy Cloud SQL proxy) and two
overlays: `prod` sets the proxy's `resources` with a strategic-merge patch, `staging` adds an
argument to it with a JSON 6902 patch that addresses it by index (and changes `web` by index).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from nativecar import kustomize
from tests.test_validate import problems

EXECUTABLE = shutil.which("nativecar", path=str(Path(sys.executable).parent)) or shutil.which("nativecar")
KUBECTL = shutil.which("kubectl")
TREE = Path(__file__).parent.parent / "examples" / "kustomize"
CORPUS = Path(__file__).parent.parent.parent / "shared" / "corpus"
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: nothing to build the trees with")
POSITION = re.compile(r"^[^:\n]+:\d+:\d+: ")


def nativecar(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([EXECUTABLE, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def kubectl_kustomize(directory: Path) -> str:
    assert KUBECTL is not None
    done = subprocess.run([KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def pod_spec(text: str) -> dict:
    (deployment,) = [item for item in yaml.safe_load_all(text) if item and item.get("kind") == "Deployment"]
    return deployment["spec"]["template"]["spec"]


def by_name(items: list[dict]) -> dict[str, dict]:
    return {item["name"]: item for item in items}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(TREE, tmp_path / "repo")
    return tmp_path / "repo"


@needs_kubectl
@pytest.mark.parametrize("overlay", ["prod", "staging"])
def test_base_and_overlays_build_valid_native_sidecars_that_keep_every_overlay_value(tree: Path, overlay: str) -> None:
    before = pod_spec(kubectl_kustomize(tree / "overlays" / overlay))
    proxy_before = by_name(before["containers"])["cloud-sql-proxy"]
    base_proxy = by_name(pod_spec((tree / "base" / "deployment.yaml").read_text())["containers"])["cloud-sql-proxy"]

    done = nativecar("migrate", "-i", "base", "overlays", cwd=tree)
    assert done.returncode == 0, done.stderr

    text = kubectl_kustomize(tree / "overlays" / overlay)
    for version in ("1.29.0", "1.33.0"):
        assert problems(text, version) == []
    after = pod_spec(text)
    assert "cloud-sql-proxy" not in by_name(after["containers"])
    proxy = by_name(after["initContainers"])["cloud-sql-proxy"]
    assert proxy["restartPolicy"] == "Always"
    assert proxy["image"] == "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3"
    # Every value the overlay set on the proxy (what differs from the base) still lands on it.
    overlay_values = {key: value for key, value in proxy_before.items() if base_proxy.get(key) != value}
    assert overlay_values  # the overlay does set something
    for key, value in overlay_values.items():
        if isinstance(value, list):
            assert all(item in proxy[key] for item in value), key
        else:
            assert proxy[key] == value, key
    # What the overlay set on the app still lands on the app.
    assert by_name(after["containers"])["web"] == by_name(before["containers"])["web"]


def test_patches_are_edited_in_place_and_a_second_run_changes_nothing(tree: Path) -> None:
    done = nativecar("migrate", "-i", "base", "overlays", cwd=tree)
    assert done.returncode == 0
    # Each edited patch file is named, and a patch is not counted as a workload.
    for patch in ("overlays/prod/proxy-resources.yaml", "overlays/staging/proxy-args.yaml"):
        assert any(line.startswith(f"{patch}: kustomize patch: ") for line in done.stderr.splitlines()), patch
    assert done.stderr.splitlines()[-1].startswith("1 workload converted, 2 kustomize patches edited;")
    smp = yaml.safe_load((tree / "overlays" / "prod" / "proxy-resources.yaml").read_text())
    assert "containers" not in smp["spec"]["template"]["spec"]
    entry = smp["spec"]["template"]["spec"]["initContainers"][0]
    assert entry["name"] == "cloud-sql-proxy"
    assert "restartPolicy" not in entry and "startupProbe" not in entry  # the base has them
    operations = yaml.safe_load((tree / "overlays" / "staging" / "proxy-args.yaml").read_text())
    assert operations[0]["path"] == "/spec/template/spec/initContainers/0/args/-"
    assert operations[1]["path"] == "/spec/template/spec/containers/0/image"
    texts = {path: path.read_bytes() for path in tree.rglob("*.yaml")}
    assert nativecar("migrate", "-i", "base", "overlays", cwd=tree).returncode == 0
    assert {path: path.read_bytes() for path in tree.rglob("*.yaml")} == texts


def test_without_the_overlays_in_the_run_the_patches_are_not_touched(tree: Path) -> None:
    patch = (tree / "overlays" / "prod" / "proxy-resources.yaml").read_bytes()
    assert nativecar("migrate", "-i", "base", cwd=tree).returncode == 0
    assert (tree / "overlays" / "prod" / "proxy-resources.yaml").read_bytes() == patch


def test_a_base_converted_without_its_overlays_is_reported_by_check_at_each_patch(tree: Path) -> None:
    assert nativecar("check", "base", "overlays", cwd=tree).returncode == 0  # legacy: warnings only
    assert nativecar("migrate", "-i", "base", cwd=tree).returncode == 0
    done = nativecar("check", "--format", "json", "base", "overlays", cwd=tree)
    assert done.returncode == 1, done.stderr
    found = {(item["file"], item["line"], item["rule"]) for item in json.loads(done.stdout)["findings"]}
    smp_line = _line_of(tree / "overlays" / "prod" / "proxy-resources.yaml", "- name: cloud-sql-proxy")
    json_line = _line_of(tree / "overlays" / "staging" / "proxy-args.yaml", "containers/1/args")
    assert found == {
        ("overlays/prod/proxy-resources.yaml", smp_line, "NC021"),
        ("overlays/staging/proxy-args.yaml", json_line, "NC021"),
    }
    if KUBECTL is not None:  # what check says is what kustomize meets
        broken = subprocess.run([KUBECTL, "kustomize", str(tree / "overlays" / "staging")], capture_output=True)
        assert broken.returncode != 0
        assert (
            "image"
            not in by_name(pod_spec(kubectl_kustomize(tree / "overlays" / "prod"))["containers"])["cloud-sql-proxy"]
        )


def test_migrate_with_the_tree_moves_a_stale_entry_and_refuses_a_stale_index_at_its_operation(tree: Path) -> None:
    assert nativecar("migrate", "-i", "base", cwd=tree).returncode == 0
    before = {path: path.read_bytes() for path in tree.rglob("*.yaml")}
    done = nativecar("migrate", "-i", "base", "overlays", cwd=tree)
    assert done.returncode == 2
    json_line = _line_of(tree / "overlays" / "staging" / "proxy-args.yaml", "containers/1/args")
    assert f"overlays/staging/proxy-args.yaml:{json_line}:3: " in done.stderr
    assert "cloud-sql-proxy are in initContainers" in done.stderr
    assert {path: path.read_bytes() for path in tree.rglob("*.yaml")} == before

    shutil.rmtree(tree / "overlays" / "staging")  # the index patch fixed by hand: here, gone
    done = nativecar("migrate", "-i", "base", "overlays", cwd=tree)
    assert done.returncode == 0, done.stderr
    smp = yaml.safe_load((tree / "overlays" / "prod" / "proxy-resources.yaml").read_text())
    assert [entry["name"] for entry in smp["spec"]["template"]["spec"]["initContainers"]] == ["cloud-sql-proxy"]
    assert nativecar("check", "base", "overlays", cwd=tree).returncode == 0
    if KUBECTL is not None:
        spec = pod_spec(kubectl_kustomize(tree / "overlays" / "prod"))
        assert [container["name"] for container in spec["containers"]] == ["web"]
        assert by_name(spec["initContainers"])["cloud-sql-proxy"]["resources"]["requests"]["cpu"] == "250m"


def _line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def test_to_stdout_the_patches_come_out_edited(tree: Path) -> None:
    done = nativecar("migrate", "base", "overlays", cwd=tree)
    assert done.returncode == 0, done.stderr
    assert "initContainers/0/args/-" in done.stdout
    assert "/containers/1/" not in done.stdout


def test_later_indices_shift_and_an_inline_patch_is_edited(tree: Path) -> None:
    base = tree / "base" / "deployment.yaml"
    text = base.read_text()
    base.write_text(text + "        - name: worker\n          image: busybox:1.36\n")
    (tree / "overlays" / "staging" / "kustomization.yaml").write_text(
        "resources:\n  - ../../base\npatches:\n  - target:\n      kind: Deployment\n      name: web\n"
        "    patch: |-\n      - op: replace\n        path: /spec/template/spec/containers/2/image\n"
        "        value: busybox:1.37\n      - op: add\n        path: /spec/template/spec/containers/1/args/-\n"
        "        value: --quiet\n"
    )
    done = nativecar("migrate", "-i", "base", "overlays", cwd=tree)
    assert done.returncode == 0, done.stderr
    written = yaml.safe_load((tree / "overlays" / "staging" / "kustomization.yaml").read_text())
    operations = yaml.safe_load(written["patches"][0]["patch"])
    assert [operation["path"] for operation in operations] == [
        "/spec/template/spec/containers/1/image",
        "/spec/template/spec/initContainers/0/args/-",
    ]
    if KUBECTL is not None:
        spec = pod_spec(kubectl_kustomize(tree / "overlays" / "staging"))
        assert by_name(spec["containers"])["worker"]["image"] == "busybox:1.37"
        assert "--quiet" in by_name(spec["initContainers"])["cloud-sql-proxy"]["args"]


def test_a_built_pod_the_api_would_reject_is_an_error_at_the_patch_and_nothing_is_written(tree: Path) -> None:
    # The overlay removes the app by index: the built pod had the proxy alone as a regular
    # container; converted, it would have no regular container at all.
    (tree / "overlays" / "staging" / "proxy-args.yaml").write_text(
        "- op: remove\n  path: /spec/template/spec/containers/0\n"
    )
    before = {path: path.read_bytes() for path in tree.rglob("*.yaml")}
    done = nativecar("migrate", "-i", "base", "overlays", cwd=tree)
    assert done.returncode == 2
    assert re.search(
        r"overlays/staging/kustomization\.yaml:\d+:\d+: deployment/web .*no regular container", done.stderr
    )
    assert {path: path.read_bytes() for path in tree.rglob("*.yaml")} == before


def test_json_patch_and_strategic_merge_follow_the_rfcs() -> None:
    document = {"a": [{"name": "x"}, {"name": "y"}], "b": {"c": 1}}
    assert kustomize.json_patch(document, [{"op": "move", "from": "/a/0", "path": "/a/-"}])["a"] == [
        {"name": "y"},
        {"name": "x"},
    ]
    with pytest.raises(kustomize.PatchFailedError):
        kustomize.json_patch(document, [{"op": "test", "path": "/b/c", "value": 2}])
    merged = kustomize.strategic_merge(
        {"containers": [{"name": "x", "image": "i"}, {"name": "y"}], "b": {"c": 1}},
        {"containers": [{"name": "x", "args": ["a"]}, {"name": "y", "$patch": "delete"}], "b": {"c": None}},
        "spec",
    )
    assert merged == {"containers": [{"name": "x", "image": "i", "args": ["a"]}], "b": {}}


def _built(directory: Path) -> dict[tuple, dict]:
    return {
        (item.get("kind"), item.get("metadata", {}).get("name"), item.get("metadata", {}).get("namespace")): item
        for item in yaml.safe_load_all(kubectl_kustomize(directory))
        if item
    }


def _without_sidecar_moves(item: dict) -> dict:
    """An object with its pod spec's containers told apart only by name and list, so that a
    container moved to initContainers (and the grace period raised for it) compares equal."""
    import copy

    from nativecar import workloads

    item = copy.deepcopy(item)
    for pod in workloads.pods(item):
        spec = pod.spec
        natives = [c for c in spec.get("initContainers", []) if c.get("restartPolicy") == "Always"]
        spec["initContainers"] = [c for c in spec.get("initContainers", []) if c not in natives]
        spec["containers"] = sorted([c["name"] for c in spec.get("containers", [])] + [c["name"] for c in natives])
        spec.pop("terminationGracePeriodSeconds", None)
    return item


@needs_kubectl
@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is not on this machine")
def test_the_whole_corpus_in_one_run(tmp_path: Path) -> None:
    copy = tmp_path / "corpus"
    shutil.copytree(CORPUS, copy)
    trees = []
    for path in kustomize.find([str(copy)]):
        done = subprocess.run([KUBECTL, "kustomize", str(path.parent)], capture_output=True, timeout=120)
        if done.returncode == 0:  # components build only inside a kustomization that uses them
            trees.append(path.parent)
    assert trees
    before = {directory: _built(directory) for directory in trees}
    started = time.monotonic()
    done = nativecar("migrate", "-i", "-q", ".", cwd=copy)
    elapsed = time.monotonic() - started
    assert "Traceback" not in done.stderr
    assert done.returncode in (0, 2), done.stderr
    errors = [line for line in done.stderr.splitlines() if line and not line.startswith(("warning", "note"))]
    assert all(POSITION.match(line) for line in errors[:-1] if "errors:" not in line), errors
    for directory in trees:
        after = _built(directory)
        assert after.keys() == before[directory].keys(), directory
        for key, item in after.items():
            assert _without_sidecar_moves(item) == _without_sidecar_moves(before[directory][key]), (directory, key)
    print(f"corpus: {len(trees)} kustomizations built, nativecar migrate -i took {elapsed:.1f}s")


def _overlay(tree: Path, name: str, patch: str) -> Path:
    overlay = tree / "overlays" / name
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text("resources:\n  - ../../base\npatches:\n  - path: patch.yaml\n")
    (overlay / "patch.yaml").write_text(patch)
    return overlay


def test_a_moved_entry_keeps_the_flags_the_conversion_added_to_the_args_it_replaces(tree: Path) -> None:
    """A strategic merge replaces `args` whole: an overlay that sets the proxy's arguments would
    drop the health-server flags its startup probe asks, so the entry gets them too."""
    overlay = _overlay(
        tree,
        "eu",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n"
        '      containers:\n        - name: cloud-sql-proxy\n          args: ["--port=5432", "p:europe-west1:db"]\n',
    )
    done = nativecar("migrate", "-i", "base", "overlays", cwd=tree)
    assert done.returncode == 0, done.stderr
    base = by_name(pod_spec((tree / "base" / "deployment.yaml").read_text())["initContainers"])["cloud-sql-proxy"]
    added = [flag for flag in base["args"] if flag.startswith("--h")]
    assert "--health-check" in added
    entry = yaml.safe_load((overlay / "patch.yaml").read_text())["spec"]["template"]["spec"]["initContainers"][0]
    assert entry["args"] == ["--port=5432", "p:europe-west1:db", *added]
    if KUBECTL is not None:
        text = kubectl_kustomize(overlay)
        assert problems(text, "1.29.0") == []
        proxy = by_name(pod_spec(text)["initContainers"])["cloud-sql-proxy"]
        assert "p:europe-west1:db" in proxy["args"] and "--health-check" in proxy["args"]


def test_a_moved_entry_does_not_put_back_a_hook_the_conversion_removed(tmp_path: Path) -> None:
    """Istio's legacy `pilot-agent wait` postStart goes when its proxy becomes native; an overlay
    restating it would put it back on the native proxy."""
    tree = tmp_path / "repo"
    (tree / "base").mkdir(parents=True)
    source = Path(__file__).parent / "fixtures" / "vendors" / "istio-pod-hold.yaml"
    shutil.copy(source, tree / "base" / "pod.yaml")
    (tree / "base" / "kustomization.yaml").write_text("resources:\n  - pod.yaml\n")
    (pod,) = [item for item in yaml.safe_load_all(source.read_text()) if item and item.get("kind") == "Pod"]
    name = pod["metadata"]["name"]
    overlay = _overlay(
        tree,
        "hold",
        f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n    - name: istio-proxy\n"
        "      lifecycle:\n        postStart:\n          exec:\n            command: [pilot-agent, wait]\n"
        "      resources:\n        limits: {cpu: '1'}\n",
    )
    done = nativecar("migrate", "-i", "base", "overlays", cwd=tree)
    assert done.returncode == 0, done.stderr
    entry = yaml.safe_load((overlay / "patch.yaml").read_text())["spec"]["initContainers"][0]
    assert "lifecycle" not in entry and entry["resources"] == {"limits": {"cpu": "1"}}
    if KUBECTL is not None:
        (built,) = [item for item in yaml.safe_load_all(kubectl_kustomize(overlay)) if item["kind"] == "Pod"]
        proxy = by_name(built["spec"]["initContainers"])["istio-proxy"]
        assert "postStart" not in proxy.get("lifecycle", {}) and proxy["resources"]["limits"]["cpu"] == "1"
