"""nativecar as a kustomize/kpt KRM function, and as a kustomize exec plugin.

Two ways in, one engine:

- **KRM function** (`kustomize build --enable-alpha-plugins --enable-exec`, kpt, `nativecar krm`):
  stdin is a `ResourceList` (`config.kubernetes.io/v1`). Its items are rewritten in place, as the
  items of any list are, so comments and the annotations kustomize and kpt put on them
  (`config.kubernetes.io/index`, `.../path`, `internal.config.kubernetes.io/*`) stay as they
  were. The findings of `check` on the result come back as `results` (message, severity,
  resourceRef, field path, file), and the exit code is 1 when one of them is an error, as the
  KRM function specification asks.
- **exec plugin** (`kubectl kustomize --enable-alpha-plugins`, whose embedded kustomize runs
  no exec KRM functions): stdin is the plain stream of resources, argv[1] the plugin's config
  file; stdout is the rewritten stream, findings go to stderr. The stream's line numbers are
  kustomize's, no file's, so a finding is placed by its object, field path and (from
  kustomize's origin annotations) source file: `base/pod.yaml: pod/web spec.containers[1].name`.

Options come from the function or plugin config: a `NativeSidecars` object (`nativecar.io/v1alpha1`)
with `spec` keys, or a ConfigMap with `data` keys, both named like the command-line flags:
`kubeVersion`, `sidecars` (list or comma-separated), `featureGates`, `profile`, `mode`, `set`
(list or comma-separated KEY=VALUE), `force`.
"""

from __future__ import annotations

import bisect
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nativecar import checker, engine
from nativecar.changes import Change, line_of
from nativecar.documents import InputError, Source, decode, encode, nesting_guard, parse
from nativecar.model import build
from nativecar.rewrites import Context, Injection
from nativecar.settings import Settings, UsageError, parse_feature_gates, parse_kube_version
from nativecar.workloads import label, node_get, pods

RESOURCE_LIST = ("config.kubernetes.io/v1", "ResourceList")
SEVERITY = {"error": "error", "warning": "warning", "info": "info"}


def main(argv: list[str] | None = None, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """Run as a function or a plugin; returns the exit code (0, 1: error findings, 2: bad input)."""
    argv = sys.argv[1:] if argv is None else argv
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    read: Source | None = None  # the text an InputError's line and column are in
    try:
        source = read = decode(stdin.read(), "<stdin>")
        documents = parse(source)
        is_list = len(documents) == 1 and _is_resource_list(_identity(documents[0].root))
        if is_list:
            with nesting_guard(source, documents[0]):
                config = build(documents[0].root).get("functionConfig") or {}
        else:
            config = _plugin_config(argv)
        settings, injection = options(config)
        context = _context(settings, injection)
        outcome = engine.process(source, context)
        output = read = Source(source.path, outcome.text, newline=source.newline)
        findings = checker.check(output, context)
        if is_list:
            text = _with_results(outcome.text, source, findings, outcome.changes)
        else:
            text = outcome.text
            for line in _plugin_findings(output, findings):
                print(line, file=sys.stderr)
    except (InputError, UsageError) as error:
        print(f"nativecar krm: {_placed(error, read)}", file=sys.stderr)
        return 2
    stdout.write(encode(source, text))
    stdout.flush()
    return 1 if any(finding.severity == "error" for finding in findings) else 0


def _is_resource_list(data: Any) -> bool:
    return isinstance(data, dict) and (data.get("apiVersion"), data.get("kind")) == RESOURCE_LIST


def _plugin_config(argv: list[str]) -> dict:
    """An exec plugin's config: the file kustomize names in argv[1] (InputError when it cannot be read)."""
    if not argv:
        return {}
    path = Path(argv[0])
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(str(path), 1, 1, f"cannot read plugin config: {error.strerror or error}") from None
    documents = parse(decode(data, str(path)))
    return build(documents[0].root) if documents else {}


def options(config: dict) -> tuple[Settings, Injection | None]:
    """Settings and an injection request from a function config (NativeSidecars or ConfigMap)."""
    if not isinstance(config, dict):
        return Settings(), None
    values = config.get("spec") if config.get("kind") != "ConfigMap" else config.get("data")
    values = values if isinstance(values, dict) else {}

    def listed(key: str) -> list[str]:
        value = values.get(key)
        if isinstance(value, list):
            return [str(item) for item in value]
        return [part.strip() for part in str(value).split(",") if part.strip()] if value else []

    settings = Settings()
    if values.get("kubeVersion"):
        settings = replace(settings, kube_version=parse_kube_version(_written(values, "kubeVersion")))
    if listed("sidecars"):
        settings = replace(settings, sidecars=tuple(listed("sidecars")))
    if listed("featureGates"):
        settings = replace(settings, feature_gates=parse_feature_gates(listed("featureGates")))
    injection = None
    if values.get("profile"):
        from nativecar.rewrites import inject

        force = str(values.get("force", "false")).lower() == "true"
        mode = str(values["mode"]) if values.get("mode") else None
        injection = inject.request(inject.load_profile(str(values["profile"])), mode, listed("set"), force)
    return settings, injection


def _written(values: dict, key: str) -> str:
    """A scalar of the config as written: `kubeVersion: 1.30` is 1.30, not the float 1.3."""
    node = getattr(values, "node", None)
    for key_node, value_node in node.value if node is not None else []:
        if getattr(key_node, "value", None) == key and isinstance(value_node, ScalarNode):
            return value_node.value
    return str(values[key])


def _context(settings: Settings, injection: Injection | None) -> Context:
    from nativecar.runner import context_for

    return context_for(settings, injection)


def _with_results(text: str, source: Source, findings: list[Change], changes: list[Change]) -> str:
    """The ResourceList text with its `results` (the findings) set; nothing else touched."""
    (document,) = parse(Source(source.path, text, newline=source.newline))
    model = build(document.root)
    results = [_result(finding, model) for finding in findings]
    reported = [change for change in changes if change.action in ("changed", "skipped")]
    if reported:
        # A change's line is in the list as it came in; where it points is looked up in the output.
        (before,) = parse(source)
        results += [_change_result(change, build(before.root), model) for change in reported]
    if not results and "results" not in model:
        return text
    model["results"] = results
    from nativecar.edits import CannotPatchError, Patcher, apply
    from nativecar.render import detect_style

    patcher = Patcher(text, document.root, detect_style(document.root, text, source.newline))
    try:
        patcher.diff(model, document.root)
        return apply(text, patcher.edits)
    except CannotPatchError:
        return text.rstrip("\n") + source.newline + "results: " + json.dumps(results) + source.newline


def _result(finding: Change, resource_list: dict) -> dict:
    """One KRM result: message, severity, and the resource it is about (by line)."""
    result: dict[str, Any] = {
        "message": f"{finding.rule} {finding.workload}: {finding.message}",
        "severity": SEVERITY[finding.severity],
        "tags": {"rule": finding.rule},
    }
    item = _item_at(resource_list, finding.line)
    if item is not None:
        path = _field_path(item, finding.line, finding.column)
        if path:
            result["field"] = {"path": path}
        result.update(_reference(item))
    return result


def _reference(item: dict) -> dict:
    """An item's `resourceRef`, and its `file` where kustomize or kpt annotated one."""
    metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
    reference = {"apiVersion": item.get("apiVersion"), "kind": item.get("kind"), "name": metadata.get("name")}
    if metadata.get("namespace"):
        reference["namespace"] = metadata["namespace"]
    result: dict[str, Any] = {"resourceRef": reference}
    path, index = source_file(item)
    if path:
        result["file"] = {"path": path} if index is None else {"path": path, "index": index}
    return result


def _change_result(change: Change, before: dict, after: dict) -> dict:
    """One change record as an info result, about the item it changed and, when it is about a
    container, that container where the output has it (`initContainers[0]` once moved)."""
    result: dict[str, Any] = {"message": f"{change.workload}: {change.message}", "severity": "info"}
    old_items, new_items = before.get("items"), after.get("items")
    if not isinstance(old_items, list) or not isinstance(new_items, list) or len(old_items) != len(new_items):
        return result
    named = [index for index, item in enumerate(new_items) if isinstance(item, dict) and label(item) == change.workload]
    if change.line:
        old = _item_at(before, change.line)
        index = next((index for index, item in enumerate(old_items) if item is old), None)
    else:  # a record about no one place (the grace period): the item, when its name is unique
        index = named[0] if len(named) == 1 else None
    if index is None or index not in named:
        return result
    path = _container_path(old_items[index], new_items[index], change.line)
    if path:
        result["field"] = {"path": path}
    result.update(_reference(new_items[index]))
    return result


def _container_path(old_item: dict, new_item: dict, line: int) -> str | None:
    """The output path of the container that starts at `line` of the input item, found by name
    in the same pod template: a change may have moved it from `containers` to `initContainers`."""
    for old_pod, new_pod in zip(pods(old_item), pods(new_item), strict=False):
        old = [c for f in ("initContainers", "containers") for c in old_pod.containers(f) if line_of(c) == line]
        if not old or not isinstance(old[0], dict):
            continue
        for field in ("initContainers", "containers"):
            for container in new_pod.containers(field):
                if isinstance(container, dict) and container.get("name") == old[0].get("name"):
                    return _path_to(new_item, container)
    return None


def _path_to(value: Any, target: Any, path: str = "") -> str | None:
    """The field path from `value` to the very object `target`."""
    if value is target:
        return path
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found = _path_to(child, target, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}".lstrip("."))
        if found is not None:
            return found
    return None


def source_file(item: dict) -> tuple[str | None, int | None]:
    """The file an object of a kustomize or kpt stream was read from, and its document index there.

    kpt, and kustomize when it runs functions, put `internal.config.kubernetes.io/path` (or the
    older `config.kubernetes.io/path`) and `config.kubernetes.io/index`; `kustomize build` gives
    `config.kubernetes.io/origin` (with `buildMetadata: [originAnnotations]`), whose `path` is
    relative to the kustomization built, `repo` and `ref` naming a remote base, and
    `configuredIn` the kustomization of a generated object. (None, None) when there is none.
    """
    metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
    path = annotations.get("config.kubernetes.io/path") or annotations.get("internal.config.kubernetes.io/path")
    if path:
        index = annotations.get("config.kubernetes.io/index", annotations.get("internal.config.kubernetes.io/index"))
        return str(path), int(index) if index is not None and str(index).isdigit() else None
    origin = annotations.get("config.kubernetes.io/origin")
    try:
        origin = yaml.load(origin, Loader=yaml.CSafeLoader) if isinstance(origin, str) else None
    except yaml.YAMLError:
        origin = None
    if not isinstance(origin, dict) or not (origin.get("path") or origin.get("configuredIn")):
        return None, None
    path = str(origin.get("path") or origin.get("configuredIn"))
    if origin.get("repo"):  # a remote base, in kustomize's own spelling of a remote file
        path = f"{origin['repo']}//{path}" + (f"?ref={origin['ref']}" if origin.get("ref") else "")
    return path, None


def _plugin_findings(output: Source, findings: list[Change]) -> Iterator[str]:
    """The exec plugin's stderr lines: `FILE: KIND/NAME FIELD: SEVERITY RULE: message`.

    The line numbers of the stream kustomize hands a plugin belong to no file, so a finding is
    placed by the object it is in (its source file when kustomize's annotations say it) and the
    field path inside it.
    """
    roots = [document.root for document in parse(output)] if any(finding.line for finding in findings) else []
    starts = [root.start_mark.line + 1 for root in roots]
    for finding in findings:
        number = bisect.bisect_right(starts, finding.line) - 1 if finding.line else -1
        what = f"{finding.severity} {finding.rule}"
        if number < 0:
            yield f"{what} {finding.workload}: {finding.message}"
            continue
        if finding.workload != label(_identity(roots[number])):  # a Service's finding about its pods
            what += f" {finding.workload}"
        yield f"{_describe(roots[number], finding.line, finding.column)}: {what}: {finding.message}"


def _placed(error: InputError | UsageError, read: Source | None) -> str:
    """An error message; one raised at a line of the stream kustomize or kpt sent (`read`, as
    it was when the error was raised) is placed by the object at that line instead
    (`_describe`), the stream's line numbers being no file's."""
    if not isinstance(error, InputError) or read is None or error.path != read.path:
        return str(error)
    try:
        documents = parse(read)
    except InputError:  # the stream itself is not YAML: its line is all there is
        return str(error)
    starts = [document.root.start_mark.line + 1 for document in documents]
    number = bisect.bisect_right(starts, error.line) - 1
    if number < 0:
        return str(error)
    root = documents[number].root
    if _is_resource_list(_identity(root)):
        items = node_get(root, "items")
        inside = [
            item
            for item in (items.value if isinstance(items, SequenceNode) else [])
            if isinstance(item, MappingNode) and item.start_mark.line < error.line
        ]
        if not inside:
            return str(error)
        root = inside[-1]
    return f"{_describe(root, error.line, error.column)}: {error.message}"


def _describe(root: Node, line: int, column: int) -> str:
    """`base/pod.yaml: pod/broken spec.containers[1].name`: where (line, column) of an object is,
    without the line number of a stream that is no file."""
    identity = _identity(root)
    path, _ = source_file(identity)
    field = _node_field(root, line, column)
    place = f"{label(identity)} {field}" if field else label(identity)
    return f"{path}: {place}" if path else place


def _identity(root: Node) -> dict:
    """What names an object: apiVersion, kind, metadata.name and the annotations, from its nodes
    alone (nothing deeper is built, so a document nested too deeply is named too)."""
    metadata = node_get(root, "metadata")
    annotations = node_get(metadata, "annotations")
    return {
        "apiVersion": _text(node_get(root, "apiVersion")),
        "kind": _text(node_get(root, "kind")),
        "metadata": {
            "name": _text(node_get(metadata, "name")),
            "annotations": {
                key.value: value.value
                for key, value in (annotations.value if isinstance(annotations, MappingNode) else [])
                if isinstance(key, ScalarNode) and isinstance(value, ScalarNode)
            },
        },
    }


def _text(node: Node | None) -> str | None:
    return node.value if isinstance(node, ScalarNode) else None


def _node_field(root: Node, line: int, column: int) -> str | None:
    """The field path (`spec.containers[1].name`) of the deepest node or key at (line, column)
    under `root`, walking only the nodes whose text holds it, without recursion."""
    position = (line, column)
    found: str | None = None
    stack: list[tuple[Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if (node.start_mark.line + 1, node.start_mark.column + 1) == position and (
            found is None or len(path) > len(found)
        ):
            found = path
        if isinstance(node, MappingNode):
            for key, value in node.value:
                child = f"{path}.{key.value}" if path else str(key.value)
                if (key.start_mark.line + 1, key.start_mark.column + 1) == position and (
                    found is None or len(child) > len(found)
                ):
                    found = child
                if _holds(value, position):
                    stack.append((value, child))
        elif isinstance(node, SequenceNode):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(node.value) if _holds(item, position))
    return found or None


def _holds(node: Node, position: tuple[int, int]) -> bool:
    start = (node.start_mark.line + 1, node.start_mark.column + 1)
    end = (node.end_mark.line + 1, node.end_mark.column + 1)
    return start <= position <= end


def _field_path(value: Any, line: int, column: int, path: str = "") -> str | None:
    """The field path (`spec.template.spec.containers[1].name`) of the deepest node at (line, column):
    a mapping starts where its first key does, and the key is the more precise answer."""
    node = getattr(value, "node", None)
    here = node is not None and (node.start_mark.line + 1, node.start_mark.column + 1) == (line, column)
    deeper = _child_path(value, line, column, path)
    if deeper is not None:
        return deeper
    return path if here else None


def _child_path(value: Any, line: int, column: int, path: str) -> str | None:
    node = getattr(value, "node", None)
    if isinstance(value, dict):
        pairs = node.value if node is not None else []
        for key_node, _ in pairs:
            key = getattr(key_node, "value", None)
            child_path = f"{path}.{key}" if path else str(key)
            if (key_node.start_mark.line + 1, key_node.start_mark.column + 1) == (line, column):
                return child_path
            if key in value:
                found = _field_path(value[key], line, column, child_path)
                if found is not None:
                    return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _field_path(item, line, column, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _item_at(resource_list: dict, line: int) -> dict | None:
    """The item of a ResourceList whose text holds `line`."""
    items = resource_list.get("items")
    found = None
    for item in items if isinstance(items, list) else []:
        node = getattr(item, "node", None)
        if node is not None and node.start_mark.line + 1 <= line:
            found = item
    return found


USAGE = """Usage: nativecar-krm [CONFIG]

  nativecar as a kustomize exec plugin (a stream of resources on stdin, the plugin's CONFIG
  file as its argument) or as a KRM function (a ResourceList on stdin, no argument). The same
  as `nativecar krm`; `nativecar krm --help` says more.

Options:
  --version   Print the version and exit.
  -h, --help  Show this message and exit.
"""


def run() -> None:
    """The `nativecar-krm` console script (for kustomize's exec plugins and `exec:` functions);
    `--version` and `--help` alone answer as `nativecar`'s do (kustomize only ever passes a file)."""
    if sys.argv[1:] == ["--version"]:
        from nativecar import __version__

        print(f"nativecar {__version__}")
        raise SystemExit(0)
    if sys.argv[1:] in (["-h"], ["--help"]):
        print(USAGE, end="")
        raise SystemExit(0)
    raise SystemExit(main())
