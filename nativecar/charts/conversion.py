"""One template converted at its source, step by step (the package docstring lists the steps),
or left as it is with a warning saying why."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from nativecar import engine, helm
from nativecar.changes import Change
from nativecar.charts.pods import PodNodes, ValuesList, indent, pods_of, scalar, scopes_by_line
from nativecar.charts.values import INCLUDE, MAX_INSTANCES, Chart, condition_truth, named_sidecars, words
from nativecar.documents import InputError, Source, parse
from nativecar.profiles import Profile
from nativecar.rewrites import Context


def _included_sidecars(source: Source, chart: Chart, context: Context) -> list[Change]:
    """A warning at each `include`/`template` of a named template that writes a sidecar: it is
    not converted at its source (nativecar converts the YAML of a template, not the text a named
    template inserts), and a Job with it never completes."""
    if not chart.named:
        return []
    by_name = {named.name: named for named in chart.named}
    found = []
    for action in helm.scan(source.text):
        match = INCLUDE.match(action.argument.strip()) if action.keyword == "output" else None
        named = by_name.get(match.group(1)) if match else None
        sidecars = named_sidecars(named, context) if named else []
        if named is None or not sidecars:
            continue
        line = source.text.count("\n", 0, action.start) + 1
        column = action.start - (source.text.rfind("\n", 0, action.start) + 1) + 1
        where = f"{Path(named.file).relative_to(chart.root) if named.file.startswith(chart.root) else named.file}"
        found.append(
            Change(
                "template",
                f"{', '.join(sidecars)} comes from the named template {named.name!r} ({where}:{named.line}), which "
                "nativecar does not convert at its source: make it a native sidecar there by hand (under "
                "initContainers, with restartPolicy: Always), or convert `helm template` output instead",
                "warning",
                line,
                column,
            )
        )
    return found


class _RefusalError(Exception):
    """The template cannot be converted exactly: why, where (1-based line and column), and the
    workload it concerns."""

    def __init__(self, message: str, line: int = 0, column: int = 0, workload: str = "template") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column or (1 if line else 0)  # FILE:LINE:COL always, as every message is
        self.workload = workload


def convert(
    source: Source, context: Context, chart: Chart | None = None, positions: engine.Positions | None = "output"
) -> engine.Outcome:
    """One template of a chart converted at its source, or left as it is with a warning saying
    why (never raises for a template nativecar cannot read: that is a warning too)."""
    chart = chart or Chart(str(Path(source.path).parent.parent))
    try:
        mask = helm.mask(source.text)
    except helm.TemplateError as error:
        return _left(
            source, [Change("template", f"left as it is: {error.message}", "warning", error.line, error.column)]
        )
    included = _included_sidecars(source, chart, context)
    conversion = _Conversion(source, mask, context, chart, positions)
    try:
        outcome = conversion.run()
    except _RefusalError as refusal:
        message = f"left as it is: {refusal.message}"
        would = conversion.would()
        if would:
            message += f" (it would: {would})"
        found = [Change(refusal.workload, message, "warning", refusal.line, refusal.column)]
        return _left(source, [*included, *conversion.notes, *found])
    return replace(outcome, changes=[*included, *outcome.changes]) if included else outcome


def _left(source: Source, changes: list[Change]) -> engine.Outcome:
    return engine.Outcome(changes=changes, changed=False, source=source, text=source.text)


class _Conversion:
    """One template's conversion, step by step (see the module's docstring)."""

    def __init__(
        self, source: Source, mask: helm.Mask, context: Context, chart: Chart, positions: engine.Positions | None
    ) -> None:
        self.source = source
        self.mask = mask
        self.context = context
        self.chart = chart
        self.positions = positions
        self.notes: list[Change] = []
        self.outcome: engine.Outcome | None = None
        self.values_words = [(name, words(mask, values)) for name, values in chart.values]
        injection = context.injection
        self.command = f"nativecar inject -p {injection.profile.name}" if injection is not None else "nativecar migrate"

    def masked_source(self, text: str) -> Source:
        """A masked text as a source the engine reads, under the template's name."""
        return Source(self.source.path, text, newline=self.source.newline)

    def run(self) -> engine.Outcome:
        """The converted template, or the template as it is when there is nothing to convert;
        raises `_RefusalError` when it cannot be converted exactly (the steps of the module's
        docstring, each one a reason to refuse)."""
        mask = self.mask
        try:
            roots = [document.root for document in parse(self.masked_source(mask.masked))]
        except InputError as error:
            raise _RefusalError(
                f"with its template actions set aside it does not read as YAML ({error.message})",
                error.line,
                mask.column(mask.masked, error.line, error.column),
            ) from None
        pods = list(pods_of(roots))
        self.context = self.recognising(pods)
        lists = [found for pod in pods for found in self.values_lists(pod)]
        self.notes.extend(finding for found in lists for finding in found.findings())
        try:
            outcome = engine.process(self.masked_source(mask.masked), self.context, self.positions)
        except InputError as error:
            raise _RefusalError(error.message, error.line, mask.column(mask.masked, error.line, error.column)) from None
        self.outcome = outcome
        if not outcome.changed:
            return _left(self.source, [*self.notes, *self.records(outcome.changes, mask.masked)])
        if outcome.reemitted:
            raise _RefusalError("its text could not be patched exactly")
        changed = {change.workload for change in outcome.changes if change.action == "changed"}
        for found in lists:
            if found.masked_label in changed:
                raise _RefusalError(found.refusal(), found.line, found.column, found.workload)
        lost = mask.lost_tokens(outcome.text)
        if lost:
            token = lost[0]
            raise _RefusalError(
                f"a rewrite would replace {token.text}, a value the chart sets: change it by hand "
                f"(`helm template` | {self.command} shows to what)",
                token.line + 1,
                token.column + 1,
            )
        text = hoist(mask, outcome.text)
        try:
            helm.Blocks.read(mask, text)
        except helm.TemplateError as error:
            raise _RefusalError(f"its control flow would not nest as it did ({error.message})", error.line) from None
        failure = self.verify(text)
        if failure is not None:
            conditional = self.conditional(text)
            if conditional is None or self.verify(conditional) is not None:
                raise _RefusalError(failure.message, failure.line, failure.column, failure.workload)
            text = conditional
            self.notes.extend(self.conditioned(outcome.changes))
        try:
            restored = mask.restore(text)
        except helm.TemplateError as error:
            raise _RefusalError(error.message, error.line, error.column) from None
        changes = [*self.records(outcome.changes, text), *self.notes]
        return engine.Outcome(
            changes=changes, reemitted=[], changed=restored != self.source.text, source=self.source, text=restored
        )

    def would(self) -> str:
        """What the engine would have changed, as its records say, for a refusal's message."""
        if self.outcome is None:
            return ""
        done = [self.mask.unmask(change.message) for change in self.outcome.changes if change.action == "changed"]
        return "; ".join(dict.fromkeys(done))

    def conditioned(self, changes: list[Change]) -> list[Change]:
        """Records that say which workload's changes were put under its sidecar's condition."""
        notes: list[Change] = []
        blocks = helm.Blocks.read(self.mask, self.mask.masked)
        for chain in (blocks.chains[chain] for chain in sorted(self.mask.wrappers) if chain in blocks.chains):
            first, last = chain.controls[0].line + 1, chain.controls[-1].line + 1
            inside = {
                change.workload for change in changes if change.action == "changed" and first < change.line < last
            }
            notes.extend(
                Change(
                    self.mask.unmask(workload),
                    f"what converting it changes outside `{chain.controls[0].text.strip()}` is under that "
                    "condition too",
                    "changed",
                    first,
                )
                for workload in sorted(inside)
            )
        return notes

    def records(self, changes: list[Change], masked: str) -> list[Change]:
        """The engine's records with each placeholder word back as its action, and columns
        counted in the template's text."""
        mask = self.mask
        text = masked if self.positions == "output" else mask.masked
        return [
            change._replace(
                workload=mask.unmask(change.workload),
                message=mask.unmask(change.message),
                column=mask.column(text, change.line, change.column),
            )
            for change in changes
        ]

    # -- values ----------------------------------------------------------------------------

    def recognising(self, pods: list[PodNodes]) -> Context:
        """The context, knowing as sidecars the containers whose name or image comes from values
        and is a sidecar's with every values file; a container that is one with some values
        files and not with others cannot be converted in the template."""
        prefix = self.mask.prefix
        seeds: dict[tuple[Any, Any], Profile | None] = {}
        for pod in pods:
            for container in pod.containers("containers"):
                name, image = scalar(container, "name"), scalar(container, "image")
                if not any(prefix in (text or "") for text in (name, image)):
                    continue
                if self.context.recognise(name, image) is not None:
                    continue
                found = {
                    file: self.context.recognise(self.fill(name, filled), self.fill(image, filled))
                    for file, filled in self.values_words
                }
                profiles = {profile.name if profile else None for profile in found.values()}
                if profiles == {None}:
                    continue
                line, column = container.start_mark.line + 1, container.start_mark.column + 1
                if len(profiles) > 1:
                    some = ", ".join(file for file, profile in found.items() if profile is not None)
                    others = ", ".join(file for file, profile in found.items() if profile is None)
                    raise _RefusalError(
                        f"container {self.mask.unmask(name or '?')} is a sidecar with {some} and not with {others}",
                        line,
                        column,
                        self.mask.unmask(pod.label),
                    )
                seeds[(name, image)] = next(iter(found.values()))
        if not seeds:
            return self.context
        return replace(self.context, recognised={**self.context.recognised, **seeds})

    def fill(self, text: str | None, filled: dict[int, str]) -> str | None:
        if text is None:
            return None
        return self.mask.token_pattern.sub(lambda match: filled.get(int(match.group(1)), match.group(0)), text)

    def values_lists(self, pod: PodNodes) -> list[ValuesList]:
        """The `containers` and `initContainers` lists of a pod that values fill in part (an
        action that renders text among their items, or a `range`), with what the values files put
        in `containers` that is a sidecar."""
        mask = self.mask
        lines = mask.masked.split("\n")
        placeholders = {
            line: placeholder for line, placeholder, part, _ in mask.placeholder_lines(mask.masked) if not part
        }
        scopes = scopes_by_line(mask)
        found: dict[str, ValuesList] = {}
        for where in ("containers", "initContainers"):
            region = pod.region(where, lines)
            if region is None:
                continue
            dash = pod.dash(where, lines)
            filled = ValuesList(mask.unmask(pod.label), where)
            filled.masked_label = pod.label
            for number in range(*region):
                placeholder = placeholders.get(number)
                if placeholder is None or (dash is not None and indent(placeholder.original) > dash):
                    continue  # not a placeholder, or inside an item: part of one container, not of the list
                actions = [self.source.text[action.start : action.end] for action in placeholder.actions]
                if placeholder.kind == "control":
                    actions = [
                        control.text
                        for control in placeholder.controls
                        if control.role == "open" and control.keyword == "range"
                    ]
                elif placeholder.kind != "content":
                    continue
                for action in actions:
                    filled.add(action, scopes.get(number, []), number, indent(placeholder.original))
            if filled.line:
                found[where] = filled
        containers = found.get("containers")
        if containers is not None:
            init = found.get("initContainers")
            containers.find_sidecars(self.chart, self.context, init.references[0] if init and init.references else None)
        return list(found.values())

    # -- verification ----------------------------------------------------------------------

    def checks(self, blocks: helm.Blocks) -> list[_Check]:
        """The renderings to compare: every block in each of its branches (its enclosing blocks
        taking the branches that lead to it), all conditions true, all false, and each values
        file with the branches its values choose."""
        atoms = _Atoms(blocks)
        found: list[_Check] = [_Check("as the template reads with every condition true", atoms.selection({}), None)]
        for chain in blocks.chains.values():
            if chain.keyword == "define" or chain.controls[0].line < 0:
                continue
            for branch in range(1, len(chain.conditions) + (chain.conditions[-1] is not None)):
                truth = atoms.leading_to(blocks, chain, branch)
                head = chain.controls[0]
                column = indent(self.source.text.split("\n")[head.line]) + 1
                found.append(_Check(_description(chain, branch), atoms.selection(truth), None, head.line + 1, column))
        for (name, values), (_, filled) in zip(self.chart.values, self.values_words, strict=True):
            truth = atoms.evaluated(blocks, values)
            found.append(_Check(f"with {name}", atoms.selection(truth), filled))
        found.append(_Check("with every condition false", atoms.selection(atoms.all(False)), None))
        unique: dict[Any, _Check] = {}
        for check in found:
            key = (tuple(sorted(check.selection.items(), key=lambda item: item[0])), id(check.words))
            unique.setdefault(key, check)
        return list(unique.values())

    def verify(self, text: str) -> _Failure | None:
        """The first rendering in which the converted masked `text` does not say what the
        original, rendered the same way and converted, says; None when there is none.

        The blocks are those of both texts (the conversion may add some, under the condition of
        a moved sidecar's wrapper: `conditional`); the original's enclosing blocks count."""
        mask = self.mask
        before_blocks = helm.Blocks.read(mask, mask.masked)
        after_blocks = helm.Blocks.read(mask, text)
        blocks = helm.Blocks({**after_blocks.chains, **before_blocks.chains})
        checks = self.checks(blocks)
        if len(checks) > MAX_INSTANCES:
            return _Failure(f"it has too many conditions to check ({len(checks)} renderings)")
        for check in checks:
            before = helm.instance(mask, mask.masked, check.selection, check.words)
            after = helm.instance(mask, text, check.selection, check.words)
            try:
                expected = engine.process(self.masked_source(before), self.context, None).text
                wanted = _objects(expected)
            except (InputError, yaml.YAMLError):
                continue  # not a rendering Helm would make into manifests either
            try:
                got = _objects(after)
            except yaml.YAMLError:
                return _Failure(f"{check.description}, the converted template would not read as YAML")
            difference = _difference(wanted, got)
            if difference is None:
                continue
            path, want, have = difference
            message = (
                f"{check.description}, it would render {mask.unmask(_path_text(path))} as {mask.unmask(have)} "
                f"where `helm template` | {self.command} gives {mask.unmask(want)}"
            )
            if check.words:
                opaque = _at(_objects(helm.instance(mask, text, check.selection)), path)
                if isinstance(opaque, str) and mask.prefix in opaque:
                    message += f"; it is set by {mask.unmask(opaque)}: change that by hand"
            if check.line:
                return _Failure(message, check.line, check.column)
            changes = self.outcome.changes if self.outcome is not None else []
            first = next((change for change in changes if change.action == "changed" and change.line), None)
            return _Failure(message, first.line if first else 0, 0)
        return None

    # -- conditions ------------------------------------------------------------------------

    def conditional(self, text: str) -> str | None:
        """The converted masked `text` with what the conversion changed outside a moved wrapped
        sidecar put under the wrapper's condition: `{{- if COND }}` the converted lines
        `{{- else }}` the original ones `{{- end }}`. None when there is no single such condition
        or the lines cannot be told apart."""
        from difflib import SequenceMatcher

        mask = self.mask
        blocks = helm.Blocks.read(mask, mask.masked)
        wrappers = [blocks.chains[chain] for chain in mask.wrappers if chain in blocks.chains]
        conditions = {chain.conditions[0] for chain in wrappers if chain.keyword == "if"}
        if len(conditions) != 1:
            return None
        if any(chain.controls[0].scoped for chain in wrappers) and not str(next(iter(conditions))).startswith("$"):
            return None  # its condition means something else outside the `with` or `range` around it
        condition = conditions.pop()
        assert condition is not None
        ids = {chain.id for chain in wrappers if chain.conditions[0] == condition}
        without = _without_blocks(mask, mask.masked, ids)
        try:
            off = engine.process(self.masked_source(without), self.context, None).text
        except InputError:
            return None
        on_lines = text.split("\n")
        off_lines = off.split("\n")
        merged: list[str] = []
        matcher = SequenceMatcher(None, off_lines, on_lines, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                merged.extend(on_lines[j1:j2])
                continue
            out = off_lines[i1:i2]
            for wrapped, piece in _pieces(mask, on_lines[j1:j2], ids):
                if wrapped:
                    merged.extend(piece)
                elif any(line.strip() for line in piece) or out:
                    merged.extend(self.under(condition, piece, out))
                    out = []
                else:
                    merged.extend(piece)
            if out:
                merged.extend(self.under(condition, [], out))
        return "\n".join(merged)

    def under(self, condition: str, on: list[str], off: list[str]) -> list[str]:
        """`on` under `{{- if condition }}`, with `off` under its `{{- else }}`, as masked lines."""
        lines = [line for line in (*on, *off) if line.strip()]
        indent = min((len(line) - len(line.lstrip(" ")) for line in lines), default=0)
        ending = "\r" if any(line.endswith("\r") for line in lines) else ""
        opening = self.new_control("open", "if", condition, f"{{{{- if {condition} }}}}", indent, ending)
        out = [opening, *on]
        if off:
            out.append(self.new_control("else", "else", None, "{{- else }}", indent, ending))
            out.extend(off)
        out.append(self.new_control("end", "end", None, "{{- end }}", indent, ending))
        return out

    def new_control(
        self, role: helm.Role, keyword: str, condition: str | None, text: str, indent: int, end: str
    ) -> str:
        mask = self.mask
        placeholder = helm.Placeholder(
            len(mask.lines),
            "control",
            " " * indent + text + end,
            -1,
            1,
            indent,
            [helm.Control(role, keyword, condition, text, -1)],
        )
        mask.lines[placeholder.id] = placeholder
        return " " * indent + f"#{mask.prefix}L{placeholder.id}x" + end


def _pieces(mask: helm.Mask, lines: list[str], ids: set[int]) -> list[tuple[bool, list[str]]]:
    """`lines` cut into runs: whole blocks `ids` (a moved sidecar with its wrapper), which are
    conditional already, and the rest."""
    pattern = mask.line_pattern
    pieces: list[tuple[bool, list[str]]] = []
    depth = 0
    for line in lines:
        match = pattern.fullmatch(line.rstrip("\r")) if "#" in line else None
        placeholder = mask.lines[int(match.group(3))] if match and not match.group(4) else None
        controls = placeholder.controls if placeholder is not None and placeholder.kind == "control" else []
        opens = depth == 0 and any(control.role == "open" and control.chain in ids for control in controls)
        if depth == 0 and not opens:
            if not pieces or pieces[-1][0]:
                pieces.append((False, []))
            pieces[-1][1].append(line)
            continue
        if opens:
            pieces.append((True, []))
        pieces[-1][1].append(line)
        for control in controls:
            if control.chain in ids:
                depth += {"open": 1, "end": -1}.get(control.role, 0)
    return pieces


def hoist(mask: helm.Mask, text: str) -> str:
    """A masked text in which an `initContainers:` key the conversion wrote for a moved sidecar
    that is all it holds, with the sidecar's wrapper right below it, has the wrapper's opening
    line above it instead: the key then renders only when the sidecar does."""
    lines = text.split("\n")
    pattern = mask.line_pattern
    before = {line.strip() for line in mask.masked.split("\n")}

    def wrapper_open(index: int) -> helm.Placeholder | None:
        line = lines[index] if index < len(lines) else ""
        match = pattern.fullmatch(line.rstrip("\r")) if "#" in line else None
        if match is None or match.group(4):
            return None
        placeholder = mask.lines[int(match.group(3))]
        if placeholder.kind != "control" or len(placeholder.controls) != 1:
            return None
        control = placeholder.controls[0]
        return placeholder if control.role == "open" and control.chain in mask.wrappers else None

    for index, line in enumerate(lines):
        if line.strip() != "initContainers:" or "initContainers:" in before:
            continue
        opening = wrapper_open(index + 1)
        if opening is None:
            continue
        chain = opening.controls[0].chain
        key_indent = len(line) - len(line.lstrip(" "))
        close = next(
            (
                later
                for later in range(index + 2, len(lines))
                if (found := pattern.fullmatch(lines[later].rstrip("\r")))
                and any(
                    control.chain == chain and control.role == "end"
                    for control in mask.lines[int(found.group(3))].controls
                )
            ),
            None,
        )
        if close is None:
            continue
        following = next((later for later in lines[close + 1 :] if later.strip()), "")
        if following.lstrip(" ").startswith("#") or len(following) - len(following.lstrip(" ")) > key_indent:
            continue  # more items follow under the key
        lines[index], lines[index + 1] = lines[index + 1], line
        break
    return "\n".join(lines)


def _without_blocks(mask: helm.Mask, text: str, ids: set[int]) -> str:
    """A masked text without the blocks `ids` (their control lines and their lines)."""
    out: list[str] = []
    depth = 0
    pattern = mask.line_pattern
    for line in text.split("\n"):
        match = pattern.fullmatch(line.rstrip("\r")) if "#" in line else None
        placeholder = mask.lines[int(match.group(3))] if match else None
        if placeholder is not None and placeholder.kind == "control":
            for control in placeholder.controls:
                if control.chain in ids and control.role == "open":
                    depth += 1
                elif control.chain in ids and control.role == "end":
                    depth -= 1
                    break
            else:
                if depth == 0:
                    out.append(line)
            continue
        if depth == 0:
            out.append(line)
    return "\n".join(out)


class _Check(NamedTuple):
    """One rendering to compare: what it is, for a message; the branch of each block; the
    values the inline actions render (None: they stay placeholder words); the 1-based line and
    column of the block it is about (0 for none)."""

    description: str
    selection: helm.Selection
    words: dict[int, str] | None
    line: int = 0
    column: int = 0


class _Failure(NamedTuple):
    message: str
    line: int = 0
    column: int = 0
    workload: str = "template"


def _description(chain: helm.Chain, branch: int) -> str:
    head = chain.controls[0]
    where = f"`{head.text.strip()}` (line {head.line + 1})"
    if branch >= len(chain.conditions):
        return f"when {where} renders none of its branches"
    if branch == 1 and len(chain.conditions) == 2 and chain.conditions[1] is None:
        return f"when {where} is false"
    control = chain.controls[branch]
    return f"in the `{control.text.strip()}` branch (line {control.line + 1}) of {where}"


class _Atoms:
    """The conditions of a masked template's blocks as atoms that can be true or false: one
    condition written the same way in two blocks is one atom (Helm evaluates it the same),
    `not X` is X negated, and a condition on `.` inside a `with` or `range` is its own."""

    def __init__(self, blocks: helm.Blocks) -> None:
        self.blocks = blocks
        self.keys: dict[tuple[int, int], tuple[Any, bool]] = {}
        for chain in blocks.chains.values():
            for branch, condition in enumerate(chain.conditions):
                if condition is None:
                    continue
                control = chain.controls[branch if branch < len(chain.controls) else 0]
                self.keys[(chain.id, branch)] = _atom(condition, control.scoped, chain.id, branch)

    def all(self, value: bool) -> dict[Any, bool]:
        return {key: value for key, _ in self.keys.values()}

    def set(self, truth: dict[Any, bool], chain: int, branch: int, value: bool) -> None:
        found = self.keys.get((chain, branch))
        if found is not None:
            key, negated = found
            truth[key] = value != negated

    def holds(self, truth: dict[Any, bool], chain: int, branch: int) -> bool:
        found = self.keys.get((chain, branch))
        if found is None:
            return True
        key, negated = found
        return truth.get(key, True) != negated

    def leading_to(self, blocks: helm.Blocks, chain: helm.Chain, branch: int) -> dict[Any, bool]:
        """Conditions that make `chain` take `branch` (its enclosing blocks the ones around it)."""
        truth: dict[Any, bool] = {}
        path: list[tuple[helm.Chain, int]] = []
        parent = chain.parent
        while parent is not None:
            outer = blocks.chains[parent[0]]
            path.append((outer, parent[1]))
            parent = outer.parent
        for outer, outer_branch in [*reversed(path), (chain, branch)]:
            for earlier in range(outer_branch):
                self.set(truth, outer.id, earlier, False)
            if outer_branch < len(outer.conditions):
                self.set(truth, outer.id, outer_branch, True)
        return truth

    def evaluated(self, blocks: helm.Blocks, values: Any) -> dict[Any, bool]:
        """The conditions as `values` decide them (those nativecar cannot evaluate: true)."""
        truth: dict[Any, bool] = {}
        for chain in blocks.chains.values():
            for branch, condition in enumerate(chain.conditions):
                if condition is None or (chain.id, branch) not in self.keys:
                    continue
                control = chain.controls[branch if branch < len(chain.controls) else 0]
                value = condition_truth(condition, values, control.scoped)
                if value is not None:
                    self.set(truth, chain.id, branch, value)
        return truth

    def selection(self, truth: dict[Any, bool]) -> helm.Selection:
        chosen: helm.Selection = {}
        for chain in self.blocks.chains.values():
            if chain.keyword == "define":
                chosen[chain.id] = None
                continue
            chosen[chain.id] = next(
                (
                    branch
                    for branch, condition in enumerate(chain.conditions)
                    if condition is None or self.holds(truth, chain.id, branch)
                ),
                None,
            )
        return chosen


def _atom(condition: str, scoped: bool, chain: int, branch: int) -> tuple[Any, bool]:
    text = " ".join(condition.split())
    text = re.sub(r"^\$\w*(\s*,\s*\$\w*)?\s*:?=\s*", "", text)
    negated = False
    match = re.fullmatch(r"not\s+(\S+|\(.*\))", text)
    if match:
        text, negated = match.group(1).strip("()").strip(), True
    if scoped and not text.startswith("$"):
        return ("scoped", chain, branch, text), negated
    return text, negated


def _objects(text: str) -> list[Any]:
    """The objects of a stream, `key: null` taken for an absent key (as the API server does),
    empty documents left out."""
    return [_pruned(item) for item in yaml.load_all(text, Loader=yaml.CSafeLoader) if item is not None]


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _pruned(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def _difference(want: Any, have: Any, path: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], str, str] | None:
    """The first place two values differ: (its path, wanted, had), the values short."""
    if isinstance(want, dict) and isinstance(have, dict):
        for key in [*want, *(key for key in have if key not in want)]:
            found = _difference(want.get(key), have.get(key), (*path, key))
            if found is not None:
                return found
        return None
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        for index, (one, other) in enumerate(zip(want, have, strict=True)):
            found = _difference(one, other, (*path, index))
            if found is not None:
                return found
        return None
    if want == have and type(want) is type(have):
        return None
    return path, _short(want), _short(have)


def _path_text(path: tuple[Any, ...]) -> str:
    """`document 2: spec.template.spec.containers[0].image` for (1, "spec", ..., 0, "image")."""
    if not path:
        return "the documents"
    text = f"document {path[0] + 1}"
    rest = ""
    for key in path[1:]:
        rest += f"[{key}]" if isinstance(key, int) else f".{key}"
    return f"{text}: {rest.lstrip('.')}" if rest else text


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and isinstance(key, int) and key < len(value):
            value = value[key]
        else:
            return None
    return value


def _short(value: Any) -> str:
    text = "absent" if value is None else yaml.safe_dump(value, default_flow_style=True, width=1 << 16).strip()
    text = text.removesuffix("...").strip()
    return text if len(text) <= 80 else text[:77] + "..."
