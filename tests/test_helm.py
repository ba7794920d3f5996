"""nativecar under the real Helm 3.17 and Helm 4.1, with the commands README.md's "Helm" section gives.

The chart (tests/fixtures/clients/helm/shop) has a Deployment and a pre-install migration Job (a
hook), both with the Cloud SQL Auth Proxy as a legacy sidecar. What a user checks: which of them
come out with the proxy as a native sidecar. Helm 3 never sends hooks to a post-renderer
(helm/helm#7891), so there the Job stays as the chart wrote it; Helm 4's plugin converts both.

Every Helm runs in a home of its own under tmp_path (no cluster: `helm template` and Helm 4's
`install --dry-run=client` need none). Test ids name the Helm version; tests/clients.py finds it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml

from tests import clients
from tests.conftest import FIXTURES, ROOT

BIN = Path(sys.executable).parent
CHART = FIXTURES / "clients" / "helm" / "shop"
PLUGIN = ROOT / "integrations" / "helm-plugin"
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README.split("### Helm\n", 1)[1].split("\n### ", 1)[0]
COMMANDS = [
    line.split("  #")[0].strip()
    for block in re.findall(r"```sh\n(.*?)```", SECTION, re.DOTALL)
    for line in block.splitlines()
    if line.strip()
]
HOW = "run .ci/clients to install Helm 3 and Helm 4 into .clients/"
HELM_3 = clients.helm(3)
HELM_4 = clients.helm(4)


def readme_command(*words: str) -> list[str]:
    """The README's one command line (of the Helm section) holding all of `words`, split as sh would."""
    found = [line for line in COMMANDS if all(word in line for word in words)]
    assert len(found) == 1, (words, COMMANDS)
    return shlex.split(found[0])


def chart_command(helm: Path, verb: str, command: list[str], *more: str) -> list[str]:
    """A README `helm install shop ./chart FLAGS` line run as `helm VERB shop CHART MORE FLAGS`."""
    assert command[:4] == ["helm", "install", "shop", "./chart"], command
    return [str(helm), verb, "shop", str(CHART), *more, *command[4:]]


def environment(home: Path, **extra: str) -> dict[str, str]:
    """A user's environment with `home` as HOME: Helm's folders default under it, no cluster."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HELM_", "XDG_"))}
    env.update(HOME=str(home), KUBECONFIG=str(home / "no-kubeconfig"), PATH=f"{BIN}{os.pathsep}{env['PATH']}")
    env.update(extra)
    return env


def run(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def ok(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> str:
    result = run(command, env, cwd)
    assert result.returncode == 0, (command, result.stdout, result.stderr)
    return result.stdout


def manifests(stream: str) -> dict[str, dict]:
    """`Kind/name` -> object of a rendered stream."""
    return {f"{d['kind']}/{d['metadata']['name']}": d for d in yaml.safe_load_all(stream) if d}


def pod(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def assert_native(workload: dict, app: str) -> None:
    """The proxy runs as a native sidecar beside `app`, and the pod still has its app alone."""
    spec = pod(workload)
    assert [c["name"] for c in spec["containers"]] == [app]
    (proxy,) = spec["initContainers"]
    assert proxy["name"] == "cloud-sql-proxy" and proxy["restartPolicy"] == "Always"


def assert_legacy(workload: dict, plain: dict) -> None:
    """The workload is as the chart renders it without a post-renderer: the proxy a regular container."""
    assert workload == plain
    assert "initContainers" not in pod(workload)
    assert "cloud-sql-proxy" in [c["name"] for c in pod(workload)["containers"]]


def is_hook(workload: dict) -> bool:
    return "helm.sh/hook" in (workload["metadata"].get("annotations") or {})


def version(client: clients.Client) -> str:
    return client.title


# -- Helm 3: nativecar itself as the post-renderer ----------------------------------------------


@pytest.mark.parametrize("helm", [HELM_3], ids=version)
def test_helm_3_post_renderer_converts_workloads_and_leaves_hooks_legacy(helm: clients.Client, tmp_path: Path) -> None:
    binary = clients.require(helm, HOW)
    env = environment(tmp_path)
    plain = manifests(ok([str(binary), "template", "shop", str(CHART)], env))
    command = readme_command("--post-renderer nativecar", "--post-renderer-args migrate")
    stream = ok(chart_command(binary, "template", command), env)
    rendered = manifests(stream)
    assert rendered.keys() == plain.keys()
    assert stream.count("# Source: ") == len(plain)
    assert_native(rendered["Deployment/shop-web"], "web")
    hooks = [name for name, workload in plain.items() if is_hook(workload)]
    assert hooks == ["Job/shop-migrate"]
    assert_legacy(rendered["Job/shop-migrate"], plain["Job/shop-migrate"])  # helm/helm#7891: never sent
    assert rendered["Service/shop-web"] == plain["Service/shop-web"]


@pytest.mark.parametrize("helm", [HELM_3, HELM_4], ids=version)
def test_a_chart_that_renders_nothing_installs_through_the_post_renderer(helm: clients.Client, tmp_path: Path) -> None:
    """Helm runs the post-renderer on an empty stream when every resource is switched off (and,
    on Helm 3, when a chart renders hooks only): nativecar passes it through."""
    binary = clients.require(helm, HOW)
    chart = tmp_path / "quiet"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: quiet\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("enabled: false\n")
    (chart / "templates" / "cm.yaml").write_text(
        "{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n{{- end }}\n"
    )
    env = environment(tmp_path)
    arguments = ["--post-renderer", "nativecar", "--post-renderer-args", "migrate"]
    if helm is HELM_4:  # the plugin, as the README installs it
        install_plugin(binary, "folder", env, tmp_path)
        arguments = ["--post-renderer", "nativecar"]
    done = run([str(binary), "template", "q", str(chart), *arguments], env)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("helm", [HELM_3], ids=version)
def test_helm_3_takes_one_argument_per_post_renderer_args(helm: clients.Client, tmp_path: Path) -> None:
    binary = clients.require(helm, HOW)
    env = environment(tmp_path)
    command = readme_command("--post-renderer-args inject", "istio")
    rendered = manifests(ok(chart_command(binary, "template", command), env))
    web = rendered["Deployment/shop-web"]["spec"]["template"]["metadata"]
    assert web["annotations"]["sidecar.istio.io/nativeSidecar"] == "true"
    assert_native(rendered["Deployment/shop-web"], "web")
    plain = manifests(ok([str(binary), "template", "shop", str(CHART)], env))
    assert_legacy(rendered["Job/shop-migrate"], plain["Job/shop-migrate"])  # a hook: not even injected
    # The form plugin.yaml used to suggest is one argument, which nativecar refuses: nothing rendered.
    joined = [str(binary), "template", "shop", str(CHART), "--post-renderer", "nativecar"]
    failed = run([*joined, "--post-renderer-args", "inject,-p,istio"], env)
    assert failed.returncode != 0 and failed.stdout == ""
    assert "No such command 'inject,-p,istio'" in failed.stderr


# -- Helm 4: the post-renderer plugin -------------------------------------------------------------


def install_plugin(binary: Path, source: str, env: dict[str, str], tmp_path: Path) -> None:
    """Install the plugin as README.md says, from the packaged archive or from its folder."""
    if source == "archive":
        readme = readme_command("helm plugin install", ".tgz")
        built = ok([str(PLUGIN / "package.sh"), str(tmp_path / "dist")], env).strip()
        package = readme_command("package.sh")
        assert package == ["integrations/helm-plugin/package.sh"]
        assert Path(built).name == Path(readme[3]).name  # the README names the archive package.sh writes
        ok([str(binary), *readme[1:3], built, *readme[4:]], env)
    else:
        readme = readme_command("helm plugin install", "integrations/helm-plugin")
        ok([str(binary), *readme[1:]], env)
    listed = ok([str(binary), "plugin", "list"], env)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert re.search(rf"^nativecar\s+{re.escape(project['version'])}\s+postrenderer/v1", listed, re.MULTILINE)


def install_output(text: str) -> tuple[dict[str, dict], dict[str, dict]]:
    """The HOOKS and MANIFEST sections of `helm install --dry-run` output."""
    hooks = text.split("\nHOOKS:\n", 1)[1].split("\nMANIFEST:\n", 1)[0]
    manifest = text.split("\nMANIFEST:\n", 1)[1].split("\nNOTES:\n", 1)[0]
    return manifests(hooks), manifests(manifest)


@pytest.mark.parametrize("source", ["archive", "folder"])
@pytest.mark.parametrize("helm", [HELM_4], ids=version)
def test_helm_4_plugin_converts_hooks_and_workloads(helm: clients.Client, source: str, tmp_path: Path) -> None:
    binary = clients.require(helm, HOW)
    env = environment(tmp_path)
    install_plugin(binary, source, env, tmp_path)
    plain = manifests(ok([str(binary), "template", "shop", str(CHART)], env))
    (command,) = [shlex.split(line) for line in COMMANDS if line.endswith("--post-renderer nativecar")]

    rendered = manifests(ok(chart_command(binary, "template", command), env))
    assert rendered.keys() == plain.keys()
    assert is_hook(rendered["Job/shop-migrate"])
    assert_native(rendered["Job/shop-migrate"], "migrate")
    assert_native(rendered["Deployment/shop-web"], "web")
    assert rendered["Service/shop-web"] == plain["Service/shop-web"]

    hooks, manifest = install_output(ok(chart_command(binary, "install", command, "--dry-run=client"), env))
    assert list(hooks) == ["Job/shop-migrate"]
    assert_native(hooks["Job/shop-migrate"], "migrate")
    assert sorted(manifest) == ["Deployment/shop-web", "Service/shop-web"]
    assert_native(manifest["Deployment/shop-web"], "web")


@pytest.mark.parametrize("helm", [HELM_4], ids=version)
def test_helm_4_plugin_arguments(helm: clients.Client, tmp_path: Path) -> None:
    """One argument per --post-renderer-args; options alone run `migrate` with them."""
    binary = clients.require(helm, HOW)
    env = environment(tmp_path)
    install_plugin(binary, "folder", env, tmp_path)
    injected = manifests(ok(chart_command(binary, "template", readme_command("--post-renderer-args inject")), env))
    for name in ("Deployment/shop-web", "Job/shop-migrate"):
        assert injected[name]["spec"]["template"]["metadata"]["annotations"]["sidecar.istio.io/nativeSidecar"] == "true"
        assert_native(injected[name], "web" if name.startswith("Deployment") else "migrate")

    options = readme_command("--post-renderer-args=--kube-version=1.30")
    assert_native(manifests(ok(chart_command(binary, "template", options), env))["Job/shop-migrate"], "migrate")
    # The option reached nativecar: on 1.28 native sidecars need a feature gate, so nothing moves.
    older = [word.replace("1.30", "1.28") for word in options]
    plain = manifests(ok([str(binary), "template", "shop", str(CHART)], env))
    kept = manifests(ok(chart_command(binary, "template", older), env))
    for name in ("Deployment/shop-web", "Job/shop-migrate"):
        assert_legacy(kept[name], plain[name])

    joined = [str(binary), "template", "shop", str(CHART), "--post-renderer", "nativecar"]
    failed = run([*joined, "--post-renderer-args", "inject,-p,istio"], env)
    assert failed.returncode != 0 and failed.stdout == ""
    assert 'plugin "nativecar" exited with error' in failed.stderr


@pytest.mark.parametrize("helm", [HELM_4], ids=version)
def test_the_plugin_archive_is_the_one_helm_packages(helm: clients.Client, tmp_path: Path) -> None:
    """package.sh makes what `helm plugin package --sign=false` makes (same names, modes and
    contents), byte for byte the same on every run."""
    binary = clients.require(helm, HOW)
    env = environment(tmp_path)
    first = Path(ok([str(PLUGIN / "package.sh"), str(tmp_path / "one")], env).strip())
    second = Path(ok([str(PLUGIN / "package.sh"), str(tmp_path / "two")], env).strip())
    assert first.read_bytes() == second.read_bytes()
    stage = tmp_path / "stage" / "nativecar"
    stage.mkdir(parents=True)
    for name in ("plugin.yaml", "postrender.sh"):
        (stage / name).write_bytes((PLUGIN / name).read_bytes())
        (stage / name).chmod((PLUGIN / name).stat().st_mode)
    ok([str(binary), "plugin", "package", "--sign=false", str(stage), "-d", str(tmp_path / "helm")], env)
    (helms,) = (tmp_path / "helm").glob("*.tgz")
    assert helms.name == first.name

    def members(path: Path) -> list[tuple[str, int, bytes | None]]:
        with tarfile.open(path) as archive:
            return [
                (m.name, m.mode, archive.extractfile(m).read() if m.isfile() else None)  # type: ignore[union-attr]
                for m in sorted(archive.getmembers(), key=lambda m: m.name)
            ]

    assert members(first) == members(helms)


@pytest.mark.parametrize("pair", [(HELM_3, HELM_4)], ids=lambda pair: " and ".join(map(version, pair)))
def test_helm_3_cannot_load_a_helm_4_plugin_and_a_data_home_of_its_own_fixes_it(
    pair: tuple[clients.Client, clients.Client], tmp_path: Path
) -> None:
    helm_3, helm_4 = (clients.require(helm, HOW) for helm in pair)
    home = tmp_path / "home"
    env = environment(home)
    install_plugin(helm_4, "folder", env, tmp_path)
    broken = run([str(helm_3), "plugin", "list"], env)
    assert broken.returncode != 0 and 'unknown field "apiVersion"' in broken.stderr
    ok([str(helm_4), "plugin", "uninstall", "nativecar"], env)
    # HELM_PLUGINS alone is not enough: `helm plugin install` still writes to the shared folder.
    env_plugins = {**env, "HELM_PLUGINS": str(home / "helm4-plugins")}
    install = run([str(helm_4), "plugin", "install", str(PLUGIN)], env_plugins)
    assert install.returncode == 0, install.stderr
    assert "nativecar" not in ok([str(helm_4), "plugin", "list"], env_plugins)
    assert run([str(helm_3), "plugin", "list"], env).returncode != 0
    ok([str(helm_4), "plugin", "uninstall", "nativecar"], env)

    (export,) = [shlex.split(line) for line in COMMANDS if line.startswith("export ")]
    name, _, value = export[1].partition("=")
    assert name == "HELM_DATA_HOME"
    env_4 = {**env, name: value.replace("~", str(home), 1)}
    install_plugin(helm_4, "folder", env_4, tmp_path)
    assert "nativecar" not in ok([str(helm_3), "plugin", "list"], env)
    rendered = manifests(ok([str(helm_4), "template", "shop", str(CHART), "--post-renderer", "nativecar"], env_4))
    assert_native(rendered["Job/shop-migrate"], "migrate")
    helm_3_command = readme_command("--post-renderer-args migrate")
    assert_native(manifests(ok(chart_command(helm_3, "template", helm_3_command), env))["Deployment/shop-web"], "web")


# -- without a client --------------------------------------------------------------------------


def test_plugin_manifest_and_version() -> None:
    """plugin.yaml is a Helm 4 post-renderer at the project's version; its comment teaches one
    argument per --post-renderer-args, and its script is executable."""
    text = (PLUGIN / "plugin.yaml").read_text(encoding="utf-8")
    plugin = yaml.safe_load(text)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert (plugin["apiVersion"], plugin["type"], plugin["runtime"], plugin["name"]) == (
        "v1",
        "postrenderer/v1",
        "subprocess",
        "nativecar",
    )
    assert plugin["version"] == project["version"]
    assert plugin["runtimeConfig"]["platformCommand"][0]["command"] == "${HELM_PLUGIN_DIR}/postrender.sh"
    # Its example of several arguments is the README's, which the tests above run through Helm.
    example = re.search(r"\((--post-renderer-args inject [^)]*)\)", text)
    assert example is not None
    assert shlex.split(example.group(1)) == readme_command("--post-renderer-args inject")[6:]
    for script in ("postrender.sh", "package.sh"):
        assert os.access(PLUGIN / script, os.X_OK)
