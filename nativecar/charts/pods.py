"""The pods of a masked template, read from its nodes: their containers, the containers lists
values fill, and the template actions' scopes, for the conversion to recognise sidecars by."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from nativecar import helm, workloads
from nativecar.changes import Change
from nativecar.charts.values import REFERENCE, Chart, lookup
from nativecar.profiles import Profile
from nativecar.rewrites import Context


class PodNodes(NamedTuple):
    """A pod template of the masked text: its spec node and its workload's label."""

    spec: MappingNode
    label: str

    def containers(self, where: str) -> list[MappingNode]:
        found = workloads.node_get(self.spec, where)
        if not isinstance(found, SequenceNode):
            return []
        return [item for item in found.value if isinstance(item, MappingNode)]

    def dash(self, where: str, lines: list[str]) -> int | None:
        """The column of the dashes of the list under `where` (None when it has no items)."""
        items = workloads.node_get(self.spec, where)
        if not isinstance(items, SequenceNode) or not items.value or items.flow_style:
            return None
        first = items.value[0]
        line = lines[first.start_mark.line]
        dash = line.rfind("-", 0, first.start_mark.column)
        return dash if dash >= 0 else None

    def region(self, where: str, lines: list[str]) -> tuple[int, int] | None:
        """The 0-based lines (start, end) after the `where:` key up to the next line of YAML as
        shallow as the key (its sibling, or what follows the spec)."""
        for key, _ in self.spec.value:
            if isinstance(key, ScalarNode) and key.value == where:
                column = key.start_mark.column
                start = key.start_mark.line + 1
                end = start
                while end < len(lines):
                    text = lines[end]
                    stripped = text.strip()
                    shallow = bool(stripped) and not stripped.startswith("#") and indent(text) <= column
                    if shallow and not (stripped.startswith("- ") and indent(text) == column):
                        break  # a sibling key, not an item of an indentless list
                    end += 1
                return start, end
        return None


def pods_of(roots: list[Node]) -> Iterator[PodNodes]:
    for root in roots:
        kind = scalar(root, "kind") or ""
        name = scalar(workloads.node_get(root, "metadata"), "name") if isinstance(root, MappingNode) else None
        for _, spec in workloads.pod_template_nodes(root):
            yield PodNodes(spec, f"{kind.lower()}/{name or '<unnamed>'}")


def indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def scalar(node: Node | None, key: str) -> str | None:
    found = workloads.node_get(node, key) if isinstance(node, MappingNode) else None
    return found.value if isinstance(found, ScalarNode) else None


def scopes_by_line(mask: helm.Mask) -> dict[int, list[str]]:
    """For each placeholder line of the masked template (0-based): the `with` and `range`
    actions around it, innermost last."""
    found: dict[int, list[str]] = {}
    stack: list[str | None] = []
    for number, placeholder, part, _ in mask.placeholder_lines(mask.masked):
        found[number] = [text for text in stack if text is not None]
        if placeholder.kind != "control" or part:
            continue
        for control in placeholder.controls:
            if control.role == "open":
                stack.append(control.text if control.keyword in helm.SCOPES else None)
            elif control.role == "end" and stack:
                stack.pop()
    return found


class ValuesList:
    """A `containers` or `initContainers` list that values fill in part: the values keys and
    `include`s that fill it, where the first of them is (1-based), and the sidecars the chart's
    values files put there (by values key and name: the profile and the files)."""

    def __init__(self, workload: str, where: str) -> None:
        self.workload = workload
        self.masked_label = ""
        self.where = where
        self.references: list[str] = []
        self.includes: list[str] = []
        self.line = 0
        self.column = 0
        self.sidecars: dict[tuple[str, str], tuple[Profile, list[str]]] = {}
        self.target = "the pod's initContainers"

    def add(self, action: str, scopes: list[str], line: int, column: int) -> None:
        """An action that fills the list; one on `.` (`toYaml .`) takes its values from the
        innermost `with` or `range` around it."""
        if not self.line:
            self.line, self.column = line + 1, column + 1
        found = [match.group(2) for match in REFERENCE.finditer(action)]
        if not found and scopes:
            found = [match.group(2) for match in REFERENCE.finditer(scopes[-1])]
        self.references.extend(reference for reference in found if reference not in self.references)
        for match in re.finditer(r'(?:include|template)\s+"([^"]+)"', action):
            if match.group(1) not in self.includes:
                self.includes.append(match.group(1))

    @property
    def named(self) -> str:
        names = [f"`.Values{reference}`" for reference in self.references]
        names += [f'`include "{name}"`' for name in self.includes]
        return ", ".join(names) or "a template action"

    def find_sidecars(self, chart: Chart, context: Context, init: str | None) -> None:
        """The sidecars (recognised, not native) the values files put in this list."""
        if init:
            self.target = f"`.Values{init}`"
        for reference in self.references:
            for file, values in chart.values:
                items = lookup(values, reference)
                for item in items if isinstance(items, list) else []:
                    if not isinstance(item, dict) or item.get("restartPolicy") == "Always":
                        continue
                    profile = context.recognise(item.get("name"), item.get("image"))
                    if profile is not None:
                        entry = self.sidecars.setdefault((reference, str(item.get("name"))), (profile, []))
                        entry[1].append(file)

    def findings(self) -> list[Change]:
        """One warning per sidecar that values put in `containers`: the values keys to edit."""
        return [
            Change(
                self.workload,
                f"{name} ({profile.name} sidecar) comes into containers from `.Values{reference}` in "
                f"{', '.join(files)}: move `.Values{reference}[{name}]` to {self.target} with "
                "`restartPolicy: Always` (`helm template` | nativecar migrate shows what else it needs)",
                "warning",
                self.line,
                self.column,
            )
            for (reference, name), (profile, files) in self.sidecars.items()
        ]

    def refusal(self) -> str:
        """Why a pod whose list this is cannot be converted in the template."""
        if self.sidecars:
            names = ", ".join(name for _, name in self.sidecars)
            return f"{self.where} takes {names} from {self.named}, which only the values can move (see below)"
        return (
            f"{self.where} is filled in part by {self.named}: where the sidecar goes among what that adds depends "
            "on the values, so the template cannot be converted exactly"
        )
