"""nativecar where platform teams meet it: pre-commit, CI formats, Helm, kustomize, kubectl.

Each test runs the real tool where it is installed (pre-commit, kubectl) and skips, saying why,
where it is not (the real Helm and kpt: tests/test_helm.py, tests/test_kpt.py). The configuration
used comes from README.md's own blocks wherever the README shows one, so the README cannot drift
from what works.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES, ROOT

BIN = Path(sys.executable).parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
JOB = (FIXTURES / "legacy" / "first-container.yaml").read_text(encoding="utf-8")


def readme_block(title: str, language: str) -> str:
    """The first ```language block after the README heading `title`."""
    section = README.split(f"### {title}\n", 1)[1]
    return re.search(rf"```{language}\n(.*?)```", section, re.DOTALL).group(1)


def environment() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


# -- pre-commit --------------------------------------------------------------------------------


def test_pre_commit_hook_manifest_matches_the_readme() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [hook["id"] for hook in hooks] == ["nativecar-migrate", "nativecar-check"]
    for hook in hooks:
        assert hook["language"] == "python" and hook["types"] == ["yaml"]
        assert hook["entry"].split()[0] == "nativecar"
    config = yaml.safe_load(readme_block("pre-commit", "yaml"))
    local = config["repos"][0]["hooks"]
    assert [hook["id"] for hook in local] == [hook["id"] for hook in hooks]
    assert [hook["entry"] for hook in local] == [hook["entry"] for hook in hooks]
    assert [hook.get("require_serial") for hook in local] == [hook.get("require_serial") for hook in hooks]


@pytest.mark.skipif(
    shutil.which("pre-commit", path=str(BIN)) is None or shutil.which("git") is None, reason="needs pre-commit and git"
)
def test_pre_commit_try_repo_fixes_then_passes(tmp_path: Path) -> None:  # about 45 s: three hook installs
    """The checker fails on a legacy Job and the fixer converts it; then both pass."""
    if not (ROOT / ".git").exists():
        pytest.skip("the checkout is not a git repository")
    work = tmp_path / "gitops"
    work.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    (work / "job.yaml").write_text(JOB)
    subprocess.run(["git", "add", "job.yaml"], cwd=work, check=True)

    def try_repo(*hook: str) -> subprocess.CompletedProcess:
        command = [str(BIN / "pre-commit"), "try-repo", str(ROOT), *hook, "--files", "job.yaml"]
        return subprocess.run(command, cwd=work, capture_output=True, text=True, env=environment(), timeout=600)

    checked = try_repo("nativecar-check")
    assert checked.returncode == 1 and "NC001" in checked.stdout, checked.stdout + checked.stderr
    fixed = try_repo("nativecar-migrate")
    assert fixed.returncode == 1 and "files were modified by this hook" in fixed.stdout, fixed.stdout + fixed.stderr
    assert "initContainers:" in (work / "job.yaml").read_text()
    both = try_repo()
    assert both.returncode == 0, both.stdout + both.stderr
    assert both.stdout.count("Passed") == 2


@pytest.mark.skipif(
    shutil.which("pre-commit", path=str(BIN)) is None or shutil.which("git") is None, reason="needs pre-commit and git"
)
def test_pre_commit_local_hooks_from_the_readme(tmp_path: Path) -> None:
    work = tmp_path / "repo"
    work.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    (work / ".pre-commit-config.yaml").write_text(readme_block("pre-commit", "yaml"))
    (work / "job.yaml").write_text(JOB)
    subprocess.run(["git", "add", "."], cwd=work, check=True)
    command = [str(BIN / "pre-commit"), "run", "--files", "job.yaml"]
    first = subprocess.run(command, cwd=work, capture_output=True, text=True, env=environment(), timeout=300)
    assert first.returncode == 1 and "files were modified by this hook" in first.stdout, first.stdout
    second = subprocess.run(command, cwd=work, capture_output=True, text=True, env=environment(), timeout=300)
    assert second.returncode == 0 and second.stdout.count("Passed") == 2, second.stdout


# -- CI formats --------------------------------------------------------------------------------


def test_sarif_validates_against_the_sarif_2_1_0_schema(tmp_path: Path) -> None:
    import jsonschema

    schema = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    command = readme_block("GitHub Actions", "yaml")
    assert "nativecar check --format sarif" in command and "upload-sarif" in command
    result = subprocess.run(
        [str(BIN / "nativecar"), "check", "--format", "sarif", str(FIXTURES / "rules")],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 1  # the must-fire fixtures hold errors
    log = json.loads(result.stdout)
    jsonschema.Draft4Validator(schema).validate(log)
    run = log["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rule_ids == sorted(rule_ids) and len(rule_ids) == len(set(rule_ids))
    for result_entry in run["results"]:
        location = result_entry["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"].startswith("tests/fixtures/rules/")
        assert location["region"]["startLine"] >= 1
        assert result_entry["ruleId"] == rule_ids[result_entry["ruleIndex"]]
    assert {entry["level"] for entry in run["results"]} == {"error", "warning", "note"}


def test_github_format_makes_workflow_annotations() -> None:
    result = subprocess.run(
        [str(BIN / "nativecar"), "check", "--format", "github", str(FIXTURES / "rules" / "NC001-fire.yaml")],
        capture_output=True,
        cwd=ROOT,
        text=True,
    )
    assert result.returncode == 1
    assert result.stdout.startswith("::error file=tests/fixtures/rules/NC001-fire.yaml,line=12,col=9,title=NC001 ")


# -- Helm --------------------------------------------------------------------------------------

# What Helm 3 hands a post-renderer: the release's manifests with their `# Source:` comments, and
# never its hooks (helm/helm#7891; tests/test_helm.py shows it with the real Helm 3).
HELM_3_STREAM = """---
# Source: shop/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: shop
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop-web
  annotations:
    team: "payments"
spec:
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      containers:
        - name: web
          image: "ghcr.io/example/shop:1.4.0"
        - name: cloud-sql-proxy
          image: "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3"
          args: ["--port=5432", "example:europe-west1:shop"]
"""
HELM_4_STREAM = """apiVersion: v1
kind: ServiceAccount
metadata:
  name: shop
  annotations:
    postrenderer.helm.sh/postrender-filename: shop/templates/serviceaccount.yaml
---
apiVersion: batch/v1
kind: Job
metadata:
  name: shop-migrate
  annotations:
    postrenderer.helm.sh/postrender-filename: shop/templates/migrate-job.yaml
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: ghcr.io/example/shop-migrate:1.4.0
      - name: istio-proxy
        image: docker.io/istio/proxyv2:1.26.2
"""


def post_render(stream: str, *args: str) -> subprocess.CompletedProcess:
    script = ROOT / "integrations" / "helm-plugin" / "postrender.sh"
    return subprocess.run([str(script), *args], input=stream, capture_output=True, text=True, env=environment())


def test_helm_3_stream_keeps_its_source_comments_and_order() -> None:
    result = post_render(HELM_3_STREAM)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.count("# Source: ") == 2
    documents = list(yaml.safe_load_all(result.stdout))
    assert [d["kind"] for d in documents] == ["ServiceAccount", "Deployment"]
    assert documents[1]["spec"]["template"]["spec"]["initContainers"][0]["restartPolicy"] == "Always"
    assert documents[1]["metadata"]["annotations"] == {"team": "payments"}


def test_helm_post_renderer_options_alone_run_migrate() -> None:
    """`--post-renderer-args=--kube-version=...` alone: migrate with that option (the plugin's
    script puts the command first); on 1.28 native sidecars need a feature gate, so nothing moves."""
    native = post_render(HELM_3_STREAM, "--kube-version=1.30")
    assert native.returncode == 0, native.stderr
    assert list(yaml.safe_load_all(native.stdout)) == list(yaml.safe_load_all(post_render(HELM_3_STREAM).stdout))
    assert "initContainers:" in native.stdout
    kept = post_render(HELM_3_STREAM, "--kube-version=1.28")
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout == HELM_3_STREAM


def test_helm_4_stream_keeps_the_postrender_filename_annotations() -> None:
    result = post_render(HELM_4_STREAM, "inject", "-p", "istio")
    assert result.returncode == 0
    documents = list(yaml.safe_load_all(result.stdout))
    assert [d["metadata"]["annotations"]["postrenderer.helm.sh/postrender-filename"] for d in documents] == [
        "shop/templates/serviceaccount.yaml",
        "shop/templates/migrate-job.yaml",
    ]
    assert documents[1]["spec"]["template"]["spec"]["initContainers"][0]["name"] == "istio-proxy"


def test_helm_post_renderer_failure_is_non_zero_with_nothing_on_stdout() -> None:
    result = post_render(HELM_3_STREAM + "  duplicate: [\n")
    assert result.returncode == 2 and result.stdout == ""
    assert re.match(r"<stdin>:\d+:\d+: ", result.stderr)
    # A chart that renders nothing: Helm still post-renders, and Helm 4 refuses an empty answer.
    empty = post_render("")
    assert empty.returncode == 0 and empty.stdout == "---\n"


# -- kustomize ---------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
def test_kubectl_kustomize_runs_nativecar_as_a_transformer(tmp_path: Path) -> None:
    """README's setup: the exec plugin under ~/.config/kustomize/plugin and the transformer object."""
    home = tmp_path / "home"
    setup = (
        readme_block("kustomize and kpt", "sh")
        .replace("~", str(home))
        .replace("$(command -v nativecar-krm)", str(BIN / "nativecar-krm"))
    )
    app = tmp_path / "app"
    app.mkdir()
    (app / "job.yaml").write_text(JOB)
    (app / "kustomization.yaml").write_text("resources:\n- job.yaml\ntransformers:\n- native-sidecars.yaml\n")
    (app / "native-sidecars.yaml").write_text(readme_block("kustomize and kpt", "yaml"))
    env = {**environment(), "HOME": str(home), "XDG_CONFIG_HOME": ""}
    commands = [line for line in setup.splitlines() if line and not line.startswith("kubectl")]
    for command in commands:
        subprocess.run(command, shell=True, check=True, env=env)
    result = subprocess.run(
        ["kubectl", "kustomize", "--enable-alpha-plugins", str(app)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    job = yaml.safe_load(result.stdout)
    assert [c["name"] for c in job["spec"]["template"]["spec"]["initContainers"]] == ["cloud-sql-proxy"]
    assert job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 35


RESOURCE_LIST = """apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- apiVersion: batch/v1
  kind: Job
  metadata:
    name: db-migrate
    annotations:
      config.kubernetes.io/index: '0'
      config.kubernetes.io/path: 'jobs/db-migrate.yaml'
      internal.config.kubernetes.io/path: 'jobs/db-migrate.yaml'
  spec:
    template:
      spec:
        restartPolicy: Never
        containers:
        - name: migrate   # runs the migration
          image: migrate:1
          command: [sh, -c, "migrate up; curl -X POST localhost:9091/quitquitquit"]
        - name: cloud-sql-proxy
          image: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3
          args: [--quitquitquit, p:r:db]
- apiVersion: v1
  kind: Pod
  metadata:
    name: broken
    annotations:
      config.kubernetes.io/index: '1'
      config.kubernetes.io/path: 'pods/broken.yaml'
  spec:
    containers:
    - name: app
      image: app:1
    - name: app
      image: app:2
functionConfig:
  apiVersion: nativecar.io/v1alpha1
  kind: NativeSidecars
  metadata:
    name: native-sidecars
  spec:
    kubeVersion: "1.30"
"""


def test_krm_function_returns_items_and_results() -> None:
    for command in ([str(BIN / "nativecar"), "krm"], [str(BIN / "nativecar-krm")]):
        result = subprocess.run(command, input=RESOURCE_LIST, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1  # the broken Pod's duplicate name is an error
        output = yaml.safe_load(result.stdout)
        assert (output["apiVersion"], output["kind"]) == ("config.kubernetes.io/v1", "ResourceList")
        job = output["items"][0]
        assert job["metadata"]["annotations"] == yaml.safe_load(RESOURCE_LIST)["items"][0]["metadata"]["annotations"]
        assert job["spec"]["template"]["spec"]["initContainers"][0]["restartPolicy"] == "Always"
        assert "# runs the migration" in result.stdout
        findings = [entry for entry in output["results"] if "tags" in entry]
        assert {(entry["severity"], entry["resourceRef"]["name"], entry["field"]["path"]) for entry in findings} == {
            ("warning", "db-migrate", "spec.template.spec.containers[0].command"),
            ("error", "broken", "spec.containers[1].name"),
        }
        assert {entry["file"]["path"] for entry in findings} == {"jobs/db-migrate.yaml", "pods/broken.yaml"}
        # A change names its object too and, when it is about a container, where that is now.
        changes = [entry for entry in output["results"] if "tags" not in entry]
        assert changes and {entry["severity"] for entry in changes} == {"info"}
        assert {(entry["resourceRef"]["kind"], entry["file"]["path"]) for entry in changes} == {
            ("Job", "jobs/db-migrate.yaml")
        }
        moved = [entry for entry in changes if entry["message"].endswith("cloud-sql-proxy -> native sidecar")]
        assert [entry["field"]["path"] for entry in moved] == ["spec.template.spec.initContainers[0]"]
        assert job["spec"]["template"]["spec"]["initContainers"][0]["name"] == "cloud-sql-proxy"


# -- kubectl -----------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
def test_kubectl_finds_the_plugin(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(JOB)
    assert "kubectl nativecar migrate" in readme_block("kubectl", "sh")
    result = subprocess.run(
        ["kubectl", "nativecar", "migrate", "-q", str(job)],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "initContainers:" in result.stdout
