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
  file; stdout is the rewritten stream, findings go to stderr.

Options come from the function or plugin config: a `NativeSidecars` object (`nativecar.io/v1alpha1`)
with `spec` keys, or a ConfigMap with `data` keys, both named like the command-line flags:
`kubeVersion`, `sidecars` (list or comma-separated), `featureGates`, `profile`, `mode`, `set`
(list or comma-separated KEY=VALUE), `force`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

from nativecar import checker, engine
from nativecar.changes import Change, line_of
from nativecar.documents import InputError, Source, decode, encode, parse
from nativecar.model import build, plain
from nativecar.rewrites import Context, Injection
from nativecar.settings import Settings, UsageError, parse_feature_gates, parse_kube_version
from nativecar.workloads import label, pods

RESOURCE_LIST = ("config.kubernetes.io/v1", "ResourceList")
SEVERITY = {"error": "error", "warning": "warning", "info": "info"}


def main(argv: list[str] | None = None, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """Run as a function or a plugin; returns the exit code (0, 1: error findings, 2: bad input)."""
    argv = sys.argv[1:] if argv is None else argv
    stdin = stdin or sys.stdin.buffer
    stdout = stdout or sys.stdout.buffer
    try:
        source = decode(stdin.read(), "<stdin>")
        documents = parse(source)
        root = documents[0].root if len(documents) == 1 else None
        is_list = root is not None and _is_resource_list(build(root))
        if is_list:
            data = plain(build(root))
            config = data.get("functionConfig") or {}
        else:
            config = _plugin_config(argv)
        settings, injection = options(config)
        context = _context(settings, injection)
        outcome = engine.process(source, context)
        findings = checker.check(Source(source.path, outcome.text, newline=source.newline), context)
        if is_list:
            text = _with_results(outcome.text, source, findings, outcome.changes)
        else:
            text = outcome.text
            for finding in findings:
                where = f"{finding.line}:{finding.column}"
                print(
                    f"{where}: {finding.severity} {finding.rule} {finding.workload}: {finding.message}", file=sys.stderr
                )
    except (InputError, UsageError) as error:
        print(f"nativecar krm: {error}", file=sys.stderr)
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
    return plain(build(documents[0].root)) if documents else {}


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
        settings = replace(settings, kube_version=parse_kube_version(str(values["kubeVersion"])))
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
    annotations = metadata.get("annotations") if isinstance(metadata.get("annotations"), dict) else {}
    path = annotations.get("config.kubernetes.io/path") or annotations.get("internal.config.kubernetes.io/path")
    if path:
        result["file"] = {"path": path}
        index = annotations.get("config.kubernetes.io/index")
        if index is not None and str(index).isdigit():
            result["file"]["index"] = int(index)
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


def run() -> None:
    """The `nativecar-krm` console script (for kustomize's exec plugins and `exec:` functions)."""
    raise SystemExit(main())
