"""Independent checks of nativecar's output, written without its code: what a reviewer checks.

- `pods`: every pod spec of a stream, read with PyYAML's own SafeLoader.
- `api_problems`: the API-server rules of SIDECARS.md section 2 that a pod spec breaks.
- `stray_lines`: the diff lines between two texts that no semantic change accounts for. A line
  may change only if it belongs to a container that moved (between `containers` and
  `initContainers`, or within them), or to a key or list item that was added, removed or given
  a new value. Everything else must be byte for byte the same.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

WORKLOAD_TEMPLATE = {
    "Pod": (),
    "PodTemplate": ("template",),
    "ReplicationController": ("spec", "template"),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "DeploymentConfig": ("spec", "template"),
}
CONTAINER_LISTS = ("containers", "initContainers")


def pods(text: str) -> Iterator[tuple[str, dict, dict]]:
    """(label, pod template metadata, pod spec) for every pod template in a stream."""
    for document in yaml.safe_load_all(text):
        yield from _pods(document)


def _pods(document: Any) -> Iterator[tuple[str, dict, dict]]:
    if not isinstance(document, dict):
        return
    kind = document.get("kind")
    if isinstance(kind, str) and kind.endswith("List"):
        for item in document.get("items") or []:
            yield from _pods(item)
        return
    if kind not in WORKLOAD_TEMPLATE:
        return
    template = document
    for key in WORKLOAD_TEMPLATE[kind]:
        template = (template or {}).get(key)
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        label = f"{kind.lower()}/{(document.get('metadata') or {}).get('name')}"
        yield label, template.get("metadata") or {}, template["spec"]


def sidecars(spec: dict) -> list[dict]:
    return [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]


def api_problems(spec: dict, kube_version: tuple[int, int] = (1, 29)) -> list[str]:
    """SIDECARS.md section 2, checked on one pod spec."""
    problems: list[str] = []
    containers = spec.get("containers") or []
    init = spec.get("initContainers") or []
    if not containers:
        problems.append("no regular container")
    names = [c.get("name") for c in [*containers, *init, *(spec.get("ephemeralContainers") or [])]]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        problems.append(f"duplicate container names {sorted(duplicates)}")
    for container in init:
        policy = container.get("restartPolicy")
        if policy is not None and policy != "Always" and kube_version < (1, 34):
            problems.append(f"{container.get('name')}: initContainers restartPolicy {policy!r} unsupported")
        if policy != "Always":
            for field in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if field in container:
                    problems.append(f"{container.get('name')}: {field} on a plain init container")
    for container in containers:
        if "restartPolicy" in container and kube_version < (1, 34):
            problems.append(f"{container.get('name')}: restartPolicy on a regular container")
    grace = spec.get("terminationGracePeriodSeconds", 30)
    for container in [*containers, *init]:
        name = container.get("name")
        for field in ("livenessProbe", "startupProbe"):
            probe = container.get(field)
            if isinstance(probe, dict) and probe.get("successThreshold", 1) != 1:
                problems.append(f"{name}: {field}.successThreshold must be 1")
        for field in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = container.get(field)
            if not isinstance(probe, dict):
                continue
            handlers = [key for key in ("httpGet", "tcpSocket", "exec", "grpc") if key in probe]
            if len(handlers) != 1:
                problems.append(f"{name}: {field} needs exactly one handler, has {handlers}")
            if "httpGet" in probe and "port" not in probe["httpGet"]:
                problems.append(f"{name}: {field}.httpGet needs a port")
        readiness = container.get("readinessProbe")
        if isinstance(readiness, dict) and "terminationGracePeriodSeconds" in readiness:
            problems.append(f"{name}: readinessProbe.terminationGracePeriodSeconds is rejected")
        for hook in (
            (container.get("lifecycle") or {}).get("preStop"),
            (container.get("lifecycle") or {}).get("postStart"),
        ):
            if isinstance(hook, dict) and "sleep" in hook and hook["sleep"].get("seconds", 0) > grace:
                problems.append(f"{name}: sleep action longer than the grace period")
    return problems


# -- minimal diff ------------------------------------------------------------------------------


def stray_lines(before: str, after: str) -> list[str]:
    """Lines (`-N text` / `+N text`, 1-based) that differ although no semantic change accounts for them.

    The lines each side may change are set aside; what remains must be identical.
    """
    allowed_before: set[int] = set()
    allowed_after: set[int] = set()
    old_documents = list(yaml.compose_all(before, Loader=yaml.SafeLoader))
    new_documents = list(yaml.compose_all(after, Loader=yaml.SafeLoader))
    old_lines = before.splitlines()
    new_lines = after.splitlines()
    for old, new in zip(old_documents, new_documents, strict=True):
        _compare(old, new, old_lines, new_lines, allowed_before, allowed_after)
    if -1 in allowed_before:
        return ["a moved container's unchanged lines were not copied as they were (modulo indentation)"]
    # Lines no change accounts for must read the same, in the same order, on both sides.
    kept_old = [(n, line) for n, line in enumerate(old_lines) if n not in allowed_before]
    kept_new = [(n, line) for n, line in enumerate(new_lines) if n not in allowed_after]
    stray: list[str] = []
    matcher = difflib.SequenceMatcher(
        None, [text for _, text in kept_old], [text for _, text in kept_new], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            stray.extend(f"-{n + 1} {line}" for n, line in kept_old[i1:i2])
            stray.extend(f"+{n + 1} {line}" for n, line in kept_new[j1:j2])
    return stray


def _value(node: Node) -> Any:
    """What a node says, constructed the way PyYAML's SafeLoader does."""
    if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:value":
        return node.value
    return yaml.constructor.SafeConstructor().construct_document(node)


def _last_line(node: Node, lines: list[str]) -> int:
    """0-based line of the last character of a node's own text."""
    if isinstance(node, ScalarNode):
        end = node.end_mark
        line = end.line if end.column > 0 else end.line - 1
        if node.style in ("|", ">"):
            while line > node.start_mark.line and not lines[line].strip():
                line -= 1
        return max(line, node.start_mark.line)
    if node.flow_style or not node.value:
        return node.end_mark.line
    last = node.value[-1]
    return _last_line(last[1] if isinstance(node, MappingNode) else last, lines)


def _span(start_line: int, node: Node, lines: list[str], with_comments: bool = False) -> set[int]:
    first = start_line
    if with_comments:
        column = len(lines[first]) - len(lines[first].lstrip())
        while first > 0 and lines[first - 1].strip().startswith("#"):
            above = lines[first - 1]
            if len(above) - len(above.lstrip()) != column:
                break
            first -= 1
    return set(range(first, _last_line(node, lines) + 1))


def _mapping(node: MappingNode) -> dict[Any, tuple[Node, Node]]:
    return {key.value: (key, value) for key, value in node.value}


def _compare(old: Node, new: Node, old_lines: list[str], new_lines: list[str], ok_old: set, ok_new: set) -> None:
    if isinstance(old, MappingNode) and isinstance(new, MappingNode):
        old_map, new_map = _mapping(old), _mapping(new)
        if set(CONTAINER_LISTS) & (set(old_map) | set(new_map)) and (
            "containers" in old_map or "containers" in new_map
        ):
            _compare_containers(old_map, new_map, old_lines, new_lines, ok_old, ok_new)
        for key, (key_node, value) in old_map.items():
            if key in CONTAINER_LISTS and "containers" in old_map:
                continue
            if key not in new_map:
                ok_old |= _span(key_node.start_mark.line, value, old_lines, True)
            else:
                _compare_value(key_node, value, new_map[key][0], new_map[key][1], old_lines, new_lines, ok_old, ok_new)
        for key, (key_node, value) in new_map.items():
            if key not in old_map and not (key in CONTAINER_LISTS and "containers" in new_map):
                ok_new |= _span(key_node.start_mark.line, value, new_lines, True)
        return
    if isinstance(old, SequenceNode) and isinstance(new, SequenceNode):
        for index in range(max(len(old.value), len(new.value))):
            if index >= len(new.value):
                ok_old |= _span(old.value[index].start_mark.line, old.value[index], old_lines, True)
            elif index >= len(old.value):
                ok_new |= _span(new.value[index].start_mark.line, new.value[index], new_lines, True)
            else:
                _compare_value(
                    old.value[index],
                    old.value[index],
                    new.value[index],
                    new.value[index],
                    old_lines,
                    new_lines,
                    ok_old,
                    ok_new,
                )
        return


def _compare_value(
    old_start: Node, old: Node, new_start: Node, new: Node, old_lines, new_lines, ok_old, ok_new
) -> None:
    same_kind = type(old) is type(new) and (isinstance(old, ScalarNode) or bool(old.flow_style) == bool(new.flow_style))
    if same_kind and not isinstance(old, ScalarNode) and not old.flow_style:
        _compare(old, new, old_lines, new_lines, ok_old, ok_new)
        return
    if not same_kind or _value(old) != _value(new):
        ok_old |= _span(old_start.start_mark.line, old, old_lines)
        ok_new |= _span(new_start.start_mark.line, new, new_lines)


def _shifted(line: str, shift: int) -> str:
    if not line.strip():
        return line
    return " " * shift + line if shift >= 0 else line[-shift:]


def _compare_containers(old_map, new_map, old_lines, new_lines, ok_old, ok_new) -> None:
    """Containers are matched by name across both lists; one that moved may change every line."""

    def located(mapping: dict) -> dict[str, tuple[str, int, Node]]:
        found = {}
        for field in CONTAINER_LISTS:
            if field in mapping and isinstance(mapping[field][1], SequenceNode):
                for index, item in enumerate(mapping[field][1].value):
                    name = _value(item).get("name") if isinstance(item, MappingNode) else None
                    found[name] = (field, index, item)
        return found

    old_found, new_found = located(old_map), located(new_map)
    for field in CONTAINER_LISTS:
        in_old, in_new = field in old_map, field in new_map
        if in_old and not in_new:
            ok_old.add(old_map[field][0].start_mark.line)
        if in_new and not in_old:
            ok_new.add(new_map[field][0].start_mark.line)
        # A flow-style list shares its lines between its items: they change with its membership.
        for mapping, ok, lines in ((old_map, ok_old, old_lines), (new_map, ok_new, new_lines)):
            if field in mapping and getattr(mapping[field][1], "flow_style", False):
                ok |= _span(mapping[field][0].start_mark.line, mapping[field][1], lines)
    for name, (field, _, item) in old_found.items():
        if name not in new_found:
            ok_old |= _span(item.start_mark.line, item, old_lines, True)
            continue
        new_field, _, new_item = new_found[name]
        old_order = [n for n, (f, _, _) in old_found.items() if f == field and n in new_found]
        new_order = [n for n, (f, _, _) in new_found.items() if f == new_field and n in old_found]
        moved = field != new_field or old_order.index(name) != new_order.index(name)
        if moved:
            old_span = _span(item.start_mark.line, item, old_lines, True)
            new_span = _span(new_item.start_mark.line, new_item, new_lines, True)
            inner_old: set[int] = set()
            inner_new: set[int] = set()
            _compare(item, new_item, old_lines, new_lines, inner_old, inner_new)
            shift = new_item.start_mark.column - item.start_mark.column
            kept_old = [old_lines[n] for n in sorted(old_span - inner_old)]
            kept_new = [new_lines[n] for n in sorted(new_span - inner_new)]
            if [_shifted(line, shift) for line in kept_old] != kept_new:
                ok_old.add(-1)  # marks a moved container whose untouched lines were rewritten
            ok_old |= old_span
            ok_new |= new_span
        else:
            _compare(item, new_item, old_lines, new_lines, ok_old, ok_new)
    for name, (_, _, item) in new_found.items():
        if name not in old_found:
            ok_new |= _span(item.start_mark.line, item, new_lines, True)
