"""Charts at their source (issue 12): Helm templates converted with the manifests' rewrites.

What a chart's maintainer checks, and how:
- the masking layer (`nativecar.helm`): every template of the fixture charts and of the corpus
  chart is set aside as YAML and put back byte for byte; control flow, hidden branches and the
  actions inside lines are what they should be; what cannot be set aside exactly is refused;
- the conversion (`nativecar.charts`): the fixture charts are converted, or left untouched with a
  warning that names what to change by hand; templates that must not change (a grace period from
  values, init containers under a condition, a sidecar in a block with another container, ...)
  stay byte-identical with a reason; a second run changes nothing;
- the proof is Helm itself: for each chart and each values file, `helm template` of the chart
  converted in place equals `helm template` of the original chart post-rendered by
  `nativecar migrate` (`inject -p istio` for the corpus chart too), compared as parsed objects in
  which `key: null` counts as an absent key (the API server reads them the same; a sidecar's
  `initContainers:` key can render empty when its condition is false). With Helm 3 and Helm 4
  (`tests/clients.py`: skipped when neither is installed, failed on CI).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from nativecar import charts, helm
from nativecar.documents import Source, parse
from nativecar.rewrites import Context
from tests import clients
from tests.conftest import CORPUS, FIXTURES, ROOT

CHARTS = FIXTURES / "charts"
EXAMPLE = ROOT / "examples" / "chart"
CORPUS_CHART = CORPUS / "GoogleCloudPlatform+microservices-demo" / "helm-chart"
EXECUTABLE = Path(sys.executable).with_name("nativecar")
FIXTURE_CHARTS = sorted(path.parent for path in CHARTS.glob("*/Chart.yaml"))


def templates(chart: Path) -> list[Path]:
    """The templates Helm renders from `chart` as manifests: YAML files of `templates/` whose
    name does not start with `_` (partials); NOTES.txt is printed, not applied."""
    return sorted(
        path
        for path in (chart / "templates").rglob("*")
        if path.is_file() and path.suffix in (".yaml", ".yml") and not path.name.startswith("_")
    )


def all_templates() -> list[Path]:
    found = [path for chart in [*FIXTURE_CHARTS, EXAMPLE] for path in templates(chart)]
    return found + (templates(CORPUS_CHART) if CORPUS_CHART.is_dir() else [])


def convert(path: Path, text: str | None = None, **context: Any) -> Any:
    """`charts.convert` of a template (its text given, or read), with its chart's values."""
    chart = charts.load(charts.chart_of(path) or path.parent.parent)
    return charts.convert(Source(str(path), text if text is not None else path.read_text()), Context(**context), chart)


def warnings(outcome: Any) -> list[str]:
    return [change.message for change in outcome.changes if change.action == "warning"]


def nativecar(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(EXECUTABLE), *args], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=300, check=False
    )


# -- setting actions aside, and putting them back ------------------------------------------------


@pytest.mark.parametrize("path", all_templates(), ids=lambda path: f"{path.parent.parent.name}/{path.name}")
def test_every_template_is_set_aside_as_yaml_and_put_back_byte_for_byte(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    mask = helm.mask(text)
    assert helm.scan(mask.masked) == []  # no action left (a JSON "}}" in a value is no action)
    assert mask.masked.count("\n") == text.count("\n")  # line for line: positions stay true
    parse(Source(str(path), mask.masked))  # reads as YAML, no duplicate key
    assert mask.restore(mask.masked) == text


def test_actions_are_found_as_go_reads_them() -> None:
    text = (
        '{{- if .Values.a }}x{{ "}}" }}{{/* a }} comment */}}{{ `raw\n}}` }}'
        "{{ '}' }}{{ $v := 1 }}{{ .Values.b -}}\n{{ end }}"
    )
    found = helm.scan(text)
    keywords = [action.keyword for action in found]
    assert keywords == ["if", "output", "comment", "output", "output", "assign", "output", "end"]
    assert [text[action.start : action.end] for action in found][1:4] == [
        '{{ "}}" }}',
        "{{/* a }} comment */}}",
        "{{ `raw\n}}` }}",
    ]
    assert found[0].trim_left and found[0].argument == ".Values.a" and found[-2].trim_right
    with pytest.raises(helm.TemplateError, match="never ends"):
        helm.scan("a: {{ .Values.x\n")


def test_lines_of_actions_become_comments_and_actions_in_lines_become_words() -> None:
    text = (
        "metadata:\n"
        "  name: {{ .Release.Name }}-web\n"
        "  labels:\n"
        '    {{- include "labels" . | nindent 4 }}\n'
        "  annotations:\n"
        "    checksum: '{{ .Values.x | sha256sum }}'\n"
    )
    mask = helm.mask(text)
    lines = mask.masked.splitlines()
    assert lines[1].startswith("  name: ") and lines[1].endswith("-web") and "{{" not in lines[1]
    assert lines[3].strip().startswith("#")
    assert lines[5].startswith("    checksum: '") and lines[5].endswith("'")
    assert yaml.safe_load(mask.masked)["metadata"]["labels"] is None
    assert mask.unmask(lines[1]) == "  name: {{ .Release.Name }}-web"


def test_only_the_first_branch_of_a_block_reads_as_yaml_and_every_branch_renders() -> None:
    text = "spec:\n  {{- if .Values.a }}\n  replicas: 1\n  {{- else }}\n  replicas: {{ .Values.n }}\n  {{- end }}\n"
    mask = helm.mask(text)
    assert yaml.safe_load(mask.masked) == {"spec": {"replicas": 1}}  # no duplicate key
    (chain,) = helm.Blocks.read(mask, mask.masked).chains.values()
    assert chain.conditions == [".Values.a", None]
    second = yaml.safe_load(helm.instance(mask, mask.masked, {chain.id: 1}))["spec"]["replicas"]
    assert mask.unmask(second) == "{{ .Values.n }}"
    (token,) = [token.id for token in mask.tokens.values() if token.text == "{{ .Values.n }}"]
    assert yaml.safe_load(helm.instance(mask, mask.masked, {chain.id: 1}, {token: "3"})) == {"spec": {"replicas": 3}}


def test_a_block_around_one_list_item_travels_with_it_and_other_blocks_do_not() -> None:
    text = (
        "containers:\n"
        "- name: app\n"
        "{{- if .Values.proxy }}\n"
        "- name: proxy\n"
        "  image: p\n"
        "{{- end }}\n"
        "{{- if .Values.two }}\n"
        "- name: a\n"
        "- name: b\n"
        "{{- end }}\n"
    )
    mask = helm.mask(text)
    lines = mask.masked.splitlines()
    dash = 0
    # The wrapper's `if` sits at the item's dash and its `end` deeper: comments the item owns.
    assert helm._indent(lines[2]) == dash and helm._indent(lines[5]) > dash
    assert len(mask.wrappers) == 1
    # The two-item block's lines belong to no item (left of the dash would be; at column 0 they
    # cannot be, and they are not the wrapper's).
    assert all(line.lstrip().startswith("#") for line in (lines[6], lines[9]))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: {{ if .Values.x }}1\n{{ end }}\n", "control flow that opens inside a line"),
        ("a:\n  {{- if .Values.x -}}\n  b: 1\n  {{- end }}\n", "joins two lines"),
        ("a: {{- .Values.x }}\n", "joins YAML text"),
        ("a:\n  {{- if .Values.x }}{{ toYaml . }}\n  {{- end }}\n", "renders text and opens or closes"),
        ("a: 1\n{{- end }}\n", "outside any block"),
        ("{{- if .Values.x }}\na: 1\n", "without its {{ end }}"),
    ],
)
def test_templates_that_cannot_be_set_aside_exactly_are_refused(text: str, problem: str) -> None:
    with pytest.raises(helm.TemplateError, match=problem.replace("{", r"\{").replace("}", r"\}")):
        helm.mask(text)


def test_putting_back_refuses_a_lost_doubled_or_re_indented_action() -> None:
    text = "a:\n  b:\n    {{- toYaml .Values.b | nindent 4 }}\n  c: {{ .Values.c }}\n"
    mask = helm.mask(text)
    lines = mask.masked.split("\n")
    with pytest.raises(helm.TemplateError, match="dropped"):
        mask.restore("\n".join(lines[:2] + lines[3:]))
    with pytest.raises(helm.TemplateError, match="doubled"):
        mask.restore("\n".join(lines[:3] + lines[2:]))
    with pytest.raises(helm.TemplateError, match="another indentation"):
        mask.restore("\n".join([*lines[:2], "  " + lines[2], *lines[3:]]))
    with pytest.raises(helm.TemplateError, match=r"replaced the template value \{\{ \.Values\.c \}\}"):
        mask.restore(mask.masked.replace(lines[3], "  c: 5"))


# -- converting a chart's templates ----------------------------------------------------------


def test_the_hook_job_and_the_deployment_get_their_proxy_as_a_native_sidecar_under_its_condition() -> None:
    chart = CHARTS / "migration-job"
    job = chart / "templates" / "migration-job.yaml"
    outcome = convert(job)
    assert outcome.changed and not warnings(outcome)
    text = outcome.text
    # The wrapper moved with the sidecar, `initContainers:` inside it, and the grace period it
    # needs is under the same condition.
    condition = "      {{- if .Values.cloudsql.enabled }}\n"
    assert text.count(condition) == 2
    assert condition + "      initContainers:\n      - name: cloud-sql-proxy\n" in text
    assert condition + "      terminationGracePeriodSeconds: 35\n      {{- end }}\n" in text
    # Every action of the original is still there, once.
    for action in helm.scan(job.read_text()):
        assert job.read_text()[action.start : action.end] in text
    deployment = convert(chart / "templates" / "deployment.yaml")
    assert deployment.changed
    assert "      initContainers:\n      - name: sql-proxy\n" in deployment.text  # recognised by its values


def test_a_sidecar_only_in_values_leaves_the_template_untouched_and_names_the_keys() -> None:
    path = CHARTS / "values-sidecar" / "templates" / "deployment.yaml"
    outcome = convert(path)
    assert not outcome.changed and outcome.text == path.read_text()
    (finding,) = [change for change in outcome.changes if change.action == "warning"]
    assert "`.Values.sidecars[cloud-sql-proxy]`" in finding.message
    assert "`.Values.initContainers`" in finding.message and "restartPolicy: Always" in finding.message
    line = path.read_text().splitlines()[finding.line - 1]
    assert "toYaml" in line or "with .Values.sidecars" in line


@pytest.mark.parametrize("path", all_templates(), ids=lambda path: f"{path.parent.parent.name}/{path.name}")
def test_a_second_run_changes_nothing(path: Path) -> None:
    once = convert(path)
    twice = convert(path, once.text)
    assert not twice.changed and twice.text == once.text


def _job(containers: str, spec: str = "", *, init: str = "") -> str:
    return (
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-migrate\nspec:\n  template:\n"
        f"    spec:\n      restartPolicy: Never\n{spec}{init}      containers:\n"
        "      - name: migrate\n        image: migrate:1\n"
        f"{containers}"
    )


IF_DB = "      {{- if .Values.db }}\n"
PGBOUNCER = "      - name: pgbouncer\n        image: pgb\n"
ELSE_NOOP = "      {{- else }}\n      - name: noop\n        image: n\n"
END = "      {{- end }}\n"
REPORT = "      - name: report\n        image: report:1\n"
PROXY = (
    "      - name: cloud-sql-proxy\n"
    "        image: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1\n"
    "        args: [--port=5432, my-project:region:db]\n"
)


@pytest.mark.parametrize(
    ("name", "text", "values", "reason"),
    [
        (
            "grace period from values",
            _job(PROXY, "      terminationGracePeriodSeconds: {{ .Values.grace }}\n"),
            {"grace": 30},
            "{{ .Values.grace }}",
        ),
        (
            "init containers under a condition",
            _job(
                PROXY,
                init="      {{- if .Values.wait }}\n      initContainers:\n      - name: wait\n"
                "        image: busybox\n      {{- end }}\n",
            ),
            {"wait": True},
            "{{- if .Values.wait }}",
        ),
        (
            "a sidecar in a block with another container, more after it",
            _job(IF_DB + PROXY + PGBOUNCER + END + REPORT),
            {"db": True},
            "{{- if .Values.db }}",
        ),
        (
            "a sidecar in an if with an else, more after it",
            _job(IF_DB + PROXY + ELSE_NOOP + END + REPORT),
            {"db": True},
            "{{- if .Values.db }}",
        ),
        (
            "a shutdown delay from values",
            _job(PROXY.replace("args: [", 'args: ["--max-sigterm-delay={{ .Values.delay }}", ')),
            {"delay": "30s"},
            "values.yaml",
        ),
        (
            "containers filled in part by an include",
            _job(PROXY + '      {{- include "extra.containers" . | nindent 6 }}\n'),
            {},
            'include "extra.containers"',
        ),
        (
            "a template action that would be re-indented",
            _job(
                PROXY + "        resources:\n          {{- toYaml .Values.r | nindent 10 }}\n",
                init="      initContainers:\n        - name: wait\n          image: busybox\n",
            ),
            {"r": {}},
            "another indentation",
        ),
        (
            "a sidecar with some values files only",
            _job(PROXY.replace("gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1", '"{{ .Values.image }}"')),
            {"image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1"},
            "values-mirror.yaml",
        ),
    ],
)
def test_what_cannot_be_converted_exactly_is_left_byte_for_byte_with_the_reason(
    tmp_path: Path, name: str, text: str, values: dict, reason: str
) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: chart\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text(yaml.safe_dump(values))
    if "image" in values:
        (chart / "values-mirror.yaml").write_text("image: registry.example.com/mirror/proxy:2\n")
    path = chart / "templates" / "job.yaml"
    path.write_text(text)
    outcome = convert(path)
    assert not outcome.changed and outcome.text == text, name
    messages = warnings(outcome)
    assert any(message.startswith("left as it is: ") and reason in message for message in messages), messages


def test_the_same_templates_convert_when_nothing_stands_in_the_way(tmp_path: Path) -> None:
    """The control cases of the test above: each one, written so that it can be converted."""
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: chart\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("grace: 30\ndb: true\n")
    (chart / "values-off.yaml").write_text("db: false\n")
    path = chart / "templates" / "job.yaml"
    for text in (
        _job(PROXY, "      terminationGracePeriodSeconds: 30\n"),
        _job(IF_DB + PROXY + END),
        _job(PROXY + "        resources:\n          {{- toYaml .Values.r | nindent 10 }}\n"),
        # A block that ends the pod spec: what the sidecar's conversion adds goes inside it.
        _job(IF_DB + PROXY + PGBOUNCER + END),
        _job(IF_DB + PROXY + ELSE_NOOP + END),
    ):
        path.write_text(text)
        outcome = convert(path)
        assert outcome.changed and not warnings(outcome), text


# -- the command line ------------------------------------------------------------------------


def test_migrate_in_place_converts_a_chart_and_leaves_everything_else_byte_for_byte(tmp_path: Path) -> None:
    chart = tmp_path / "migration-job"
    shutil.copytree(CHARTS / "migration-job", chart)
    before = {path: path.read_bytes() for path in chart.rglob("*") if path.is_file()}
    done = nativecar("migrate", "-i", str(chart))
    assert done.returncode == 0, done.stderr
    changed = {path for path, data in before.items() if path.read_bytes() != data}
    assert changed == {chart / "templates" / "migration-job.yaml", chart / "templates" / "deployment.yaml"}
    assert "templates/migration-job.yaml: job/{{ include" in done.stderr
    again = nativecar("migrate", "--check", str(chart))
    assert again.returncode == 0, again.stderr


def test_a_template_named_or_its_directory_walked_is_converted_and_a_partial_is_not(tmp_path: Path) -> None:
    chart = tmp_path / "shop"
    shutil.copytree(EXAMPLE, chart)
    partial = chart / "templates" / "_job.yaml"  # Helm renders no file whose name starts with _
    partial.write_text((chart / "templates" / "migration-job.yaml").read_text())
    before = partial.read_bytes()
    named = nativecar("migrate", "--check", str(chart / "templates" / "migration-job.yaml"), str(partial))
    assert named.returncode == 1 and "would rewrite 1 file, 0 of 1 unchanged" in named.stderr
    walked = nativecar("migrate", "-i", str(chart / "templates"))
    assert walked.returncode == 0 and "1 file rewritten" in walked.stderr
    assert partial.read_bytes() == before


def test_to_the_stream_of_manifests_a_chart_is_passed_over_with_how_to_convert_it() -> None:
    done = nativecar("migrate", str(CHARTS / "migration-job"))
    assert done.returncode == 0 and "{{" not in done.stdout
    assert "skipped the Helm chart's templates/" in done.stderr and "at their source with -i" in done.stderr


def test_a_finding_is_reported_at_its_file_line_and_column() -> None:
    done = nativecar("migrate", "--check", str(CHARTS / "values-sidecar"))
    assert done.returncode == 0  # nothing it can change
    (line,) = [line for line in done.stderr.splitlines() if ": warning: " in line]
    where = line.split(": warning: ")[0]
    file, row, column = where.rsplit(":", 2)
    assert file.endswith("templates/deployment.yaml") and int(row) > 0 and int(column) > 0


# -- the proof: Helm itself ------------------------------------------------------------------


def _helm(major: int) -> Path:
    return clients.require(clients.helm(major), "bash .ci/clients installs it into .clients/")


def _render(binary: Path, chart: Path, values: str | None, home: Path) -> str:
    environment = {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    arguments = [str(binary), "template", "release", str(chart)]
    if values:
        arguments += ["-f", str(chart / values)]
    done = subprocess.run(arguments, capture_output=True, text=True, env=environment, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _by_template(stream: str) -> dict[str, list[Any]]:
    """The manifests of a `helm template` stream by the template they came from (the
    `# Source: CHART/templates/FILE` comment Helm writes above each); `key: null` counts as no
    key, as the API server reads it."""

    def pruned(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: pruned(item) for key, item in value.items() if item is not None}
        if isinstance(value, list):
            return [pruned(item) for item in value]
        return value

    found: dict[str, list[Any]] = {}
    for piece in re.split(r"(?m)^---[ \t]*$", stream):
        source = re.search(r"(?m)^# Source: [^/]+/(.+)$", piece)
        document = yaml.safe_load(piece)
        if source is not None and document is not None:
            found.setdefault(source.group(1), []).append(pruned(document))
    return found


CORPUS_VALUES = {  # more ways to render the corpus chart than its one values file: its switches on
    "values-everything.yaml": {
        "networkPolicies": {"create": True},
        "sidecars": {"create": True},
        "authorizationPolicies": {"create": True},
        "opentelemetryCollector": {"create": True},
        "googleCloudOperations": {"profiler": True, "tracing": True, "metrics": True},
        "seccompProfile": {"enable": True},
        "serviceAccounts": {"create": False},
        "cartDatabase": {"type": "spanner", "inClusterRedis": {"create": False}},
    },
    "values-insecure.yaml": {"securityContext": {"enable": False}, "frontend": {"externalService": False}},
}
PROOFS = [
    *((chart.name, chart, ("migrate",)) for chart in FIXTURE_CHARTS),
    ("example", EXAMPLE, ("migrate",)),
    ("corpus", CORPUS_CHART, ("migrate",)),
    ("corpus-inject", CORPUS_CHART, ("inject", "-p", "istio")),
]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, str]]:
    """Each chart of `PROOFS` copied twice (with the extra values files of the corpus chart),
    one copy converted in place; by name: (original, converted, the run's stderr)."""
    found: dict[str, tuple[Path, Path, str]] = {}
    for name, chart, command in PROOFS:
        if not chart.is_dir():
            continue
        root = tmp_path_factory.mktemp(name)
        original, copy = root / "original" / chart.name, root / "converted" / chart.name
        for target in (original, copy):
            shutil.copytree(chart, target)
            for path in [target, *target.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)  # the shared corpus is read-only
            if chart == CORPUS_CHART:
                for file, values in CORPUS_VALUES.items():
                    (target / file).write_text(yaml.safe_dump(values))
        done = nativecar(*command, "-i", str(copy))
        assert done.returncode == 0, done.stderr
        found[name] = (original, copy, done.stderr)
    return found


@pytest.mark.parametrize("major", [3, 4])
@pytest.mark.parametrize("name", [name for name, _, _ in PROOFS])
def test_helm_template_of_the_converted_chart_equals_helm_template_post_rendered(
    converted: dict[str, tuple[Path, Path, str]], tmp_path: Path, name: str, major: int
) -> None:
    """Per template and per values file: the converted chart renders what the original renders
    and `nativecar migrate` converts, or the template was left byte for byte as it was and the
    run said why at it."""
    binary = _helm(major)
    if name not in converted:
        pytest.skip("../shared/corpus is not present")
    original, copy, stderr = converted[name]
    command = next(command for chart_name, _, command in PROOFS if chart_name == name)
    values_files = [values for values, _ in charts.load(original).values]
    assert values_files[0] == "values.yaml" and len(values_files) > 1
    for values in values_files:
        expected = _by_template(nativecar(*command, "-q", stdin=_render(binary, original, values, tmp_path)).stdout)
        rendered = _by_template(_render(binary, copy, values, tmp_path))
        assert expected.keys() == rendered.keys()
        for template, manifests in rendered.items():
            if manifests == expected[template]:
                continue
            before, after = original / template, copy / template
            assert before.read_bytes() == after.read_bytes(), (values, template)
            said = [line for line in stderr.splitlines() if f"{template}:" in line and ": warning: " in line]
            assert said, (values, template)


def test_the_proof_converts_what_it_should(converted: dict[str, tuple[Path, Path, str]]) -> None:
    """Which templates each chart's conversion changes (so the proof above is not about
    unchanged charts only): the fixtures' sidecar templates, every pod template of the corpus
    chart under `inject` but one (its annotations are inside an `{{ if }}`)."""

    def changed(name: str) -> set[str]:
        original, copy, _ = converted[name]
        return {
            path.name
            for path in templates(original)
            if path.read_bytes() != (copy / path.relative_to(original)).read_bytes()
        }

    assert changed("migration-job") == {"deployment.yaml", "migration-job.yaml"}
    assert changed("istio-values") == {"deployment.yaml"}
    assert changed("values-sidecar") == set()
    assert "values-sidecar/templates/deployment.yaml:" in converted["values-sidecar"][2]
    assert changed("example") == {"migration-job.yaml"}
    if "corpus" in converted:
        assert changed("corpus") == set()
        injected = changed("corpus-inject")
        assert "cartservice.yaml" not in injected and len(injected) >= 10
        assert "templates/cartservice.yaml:" in converted["corpus-inject"][2]


SUBCHART_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: j
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: app
          image: busybox:1.36
        - name: "{{ .Values.sidecarName }}"
          image: "{{ .Values.sidecarImage }}"
          args: ["--port=5432", "p:r:i"]
"""


def _parent_with_subchart(root: Path, parent_values: str) -> Path:
    """A parent chart whose `charts/sub` names its second container from values."""
    sub = root / "parent" / "charts" / "sub"
    (sub / "templates").mkdir(parents=True)
    (root / "parent" / "Chart.yaml").write_text("apiVersion: v2\nname: parent\nversion: 0.1.0\n")
    (root / "parent" / "values.yaml").write_text(parent_values)
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: sub\nversion: 0.1.0\n")
    (sub / "values.yaml").write_text(
        "sidecarName: cloud-sql-proxy\nsidecarImage: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3\n"
    )
    (sub / "templates" / "job.yaml").write_text(SUBCHART_JOB)
    return root / "parent"


def test_a_subchart_is_converted_with_the_values_its_parent_gives_it(tmp_path: Path) -> None:
    """Helm renders a subchart with its parent's section for it merged over its own values: a
    container that the parent's values make a log shipper is no Cloud SQL proxy to convert."""
    overridden = _parent_with_subchart(
        tmp_path / "a", 'sub: {sidecarName: log-shipper, sidecarImage: "fluent/fluent-bit:3.0"}\n'
    )
    template = overridden / "charts" / "sub" / "templates" / "job.yaml"
    done = nativecar("migrate", "-i", str(overridden))
    assert done.returncode == 0, done.stderr
    assert template.read_text() == SUBCHART_JOB
    assert "as its subchart sub" in done.stderr
    # The parent leaving the section alone: the subchart converts, and Helm agrees.
    plain = _parent_with_subchart(tmp_path / "b", "other: 1\n")
    original = tmp_path / "original"
    shutil.copytree(plain, original)
    assert nativecar("migrate", "-i", str(plain)).returncode == 0
    assert "restartPolicy: Always" in (plain / "charts" / "sub" / "templates" / "job.yaml").read_text()
    binary = _helm(3)
    expected = nativecar("migrate", stdin=_render(binary, original, None, tmp_path)).stdout
    assert _by_template(_render(binary, plain, None, tmp_path)) == _by_template(expected)


HELPERS = """\
{{- define "shop.proxy" -}}
- name: cloud-sql-proxy
  image: gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3
  args: ["--port=5432", "p:r:i"]
{{- end }}
{{- define "shop.labels" -}}
app: shop
{{- end }}
"""
INCLUDING_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  labels:
    {{- include "shop.labels" . | nindent 4 }}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: app
          image: busybox:1.36
        {{- include "shop.proxy" . | nindent 8 }}
"""


def test_a_sidecar_a_named_template_writes_is_reported_where_it_is_included(tmp_path: Path) -> None:
    """A named template's text is inserted by Helm, not read as YAML by nativecar: a sidecar
    there cannot be converted at the source, so the include says so, and the file is untouched."""
    chart = tmp_path / "shop"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: shop\nversion: 0.1.0\n")
    (chart / "templates" / "_helpers.tpl").write_text(HELPERS)
    (chart / "templates" / "job.yaml").write_text(INCLUDING_JOB)
    done = nativecar("migrate", "-i", str(chart))
    assert done.returncode == 0, done.stderr
    assert (chart / "templates" / "job.yaml").read_text() == INCLUDING_JOB
    warnings = [line for line in done.stderr.splitlines() if ": warning: " in line]
    include_line = INCLUDING_JOB.splitlines().index('        {{- include "shop.proxy" . | nindent 8 }}') + 1
    assert len(warnings) == 1  # the labels' include writes no sidecar: nothing to say about it
    assert warnings[0].startswith(f"{chart / 'templates' / 'job.yaml'}:{include_line}:9: warning:")
    assert "cloud-sql-proxy" in warnings[0] and "templates/_helpers.tpl:1" in warnings[0]
