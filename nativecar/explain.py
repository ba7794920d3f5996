"""`nativecar explain`: what the kubelet will do with each pod, before and after the conversion.

For every workload: its start sequence (what starts when and what gates it), whether it
completes (Jobs) and why, how it stops and who gets how much of the grace period, and its
effective resource requests, as the lifecycle model works them out (`nativecar.lifecycle`),
for the pod as written and as `migrate` (or `inject -p`) would leave it. Three formats:
`text` (words and a chart, in colour on a terminal), `json`, and `svg` (the same text and
charts drawn by rich's SVG export of its console: no browser needed).
"""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

from nativecar.engine import Explanation
from nativecar.lifecycle import analysis
from nativecar.lifecycle.pod import PodModel
from nativecar.lifecycle.resources import RESOURCES, describe
from nativecar.lifecycle.timeline import Timeline, timeline
from nativecar.report import visible

WIDTH = 60  # time slots in a chart
Explained = list[tuple[str, list[Explanation]]]  # (file name, its workloads)


# -- words -----------------------------------------------------------------------------------


def start_words(model: PodModel) -> list[str]:
    """The start sequence, one line per step."""
    lines = []
    step = 0
    gates = {gate.container: gate for gate in analysis.start(model)}
    for container in model.role("init", "sidecar"):
        gate = gates[container.name]
        step += 1
        if container.role == "init":
            done = "never exits, so nothing after it starts" if gate.status == "never" else "runs to its end"
            lines.append(f"{step}. {container.name} (init container) {done}")
            continue
        waits = {
            "startupProbe": f"the next step waits until its startupProbe {container.startup_probe.describe()} passes"
            if container.startup_probe
            else "",
            "postStart": "the next step waits until its postStart hook returns",
            "process": "nothing waits for it to be ready: it has no startup probe",
        }[gate.kind]
        lines.append(f"{step}. {container.name} (sidecar) starts; {waits}{_verdict(gate)}")
    wave: list[str] = []
    for container in model.role("app"):
        wave.append(container.name)
        gate = gates.get(container.name)
        if gate is not None:  # a postStart hook: the next regular container waits for it
            step += 1
            lines.append(
                f"{step}. {_starts(wave, step > 1)}; the next one waits until {container.name}'s postStart hook "
                f"returns{_verdict(gate)}"
            )
            wave = []
    if wave:
        step += 1
        lines.append(f"{step}. {_starts(wave, step > 1)}")
        daemons = [name for name in wave if model.named(name).keeps_running]  # type: ignore[union-attr]
        others = [name for name in wave if name not in daemons]
        if daemons and others:
            lines.append(
                f"   nothing makes {_names(others)} wait for {_names(daemons)}: they may use it before it is ready"
            )
    for unreached in analysis.unreachable(model):
        lines.append(
            f"   {unreached.container} dials {unreached.dial.text}, which {unreached.server} serves only after "
            f"{unreached.container} has ended: it cannot connect"
        )
    for conflict in analysis.conflicts(model):
        lines.append(f"   {_names(conflict.containers)} both listen on {conflict.describe()}: only one of them can")
    return lines


def _starts(names: list[str], after: bool) -> str:
    verb = "starts" if len(names) == 1 else "start together"
    return f"{_names(names)} {verb}" + (", once the steps before are done" if after else "")


def _verdict(gate: analysis.Gate) -> str:
    """What stands in a gate's way, if anything."""
    return {
        "never": f"; that can never happen: {gate.reason}",
        "other": f"; but {gate.reason}",
        "waits": f"; that may never happen: {gate.reason}",
        "unknown": f" ({gate.reason})",
    }.get(gate.status, "")


def complete_words(model: PodModel) -> str:
    """Whether the pod completes, and why."""
    completion = analysis.completion(model)
    workers = [c.name for c in model.role("app") if not c.keeps_running and c.restart_policy != "Always"]
    apps = _names(workers)
    exit_ = "exits" if len(workers) == 1 else "exit"
    if completion.status == "not-applicable":
        return f"runs until it is deleted (restartPolicy {model.restart_policy})"
    if completion.status in ("never", "unknown"):
        blockers = []
        for name, why in completion.blockers:
            if why.startswith("it keeps running"):
                blockers.append(f"{name} keeps running after {apps} {exit_}" if apps else f"{name} keeps running")
            else:
                blockers.append(f"{name}: {why}")
        lead = "never completes" if completion.status == "never" else "may never complete"
        extra = "".join(f"; {miss}" for miss in completion.misses)
        return f"{lead}: {'; '.join(blockers)}{extra}"
    parts = [f"completes when {apps} {exit_}" if apps else "completes"]
    for stop in completion.stops:
        parts.append(f"{stop.by} stops {stop.container} itself ({stop.how})")
        if stop.conditional:
            parts.append(
                f"only when the commands before that call succeed: if they fail, {stop.container} keeps running "
                f"and the {model.kind} never completes"
            )
    sidecars = [c.name for c in model.role("sidecar")]
    if sidecars:
        parts.append(f"the kubelet then stops {_names(sidecars)}")
    return "; ".join(parts)


def stop_words(model: PodModel) -> list[str]:
    """How the pod stops and who gets how much of the grace period."""
    stop = analysis.termination(model)
    whole = f"the whole {stop.grace} s" if stop.grace is not None else "the grace period (not a number here)"
    lines = []
    if stop.pre_stops:
        hooks = ", ".join(f"{name} ({hook.text or hook.kind})" for name, hook in stop.pre_stops)
        lines.append(f"preStop hooks start at once: {hooks}")
    if not stop.together and not stop.sequence:
        return [*lines, "nothing to stop: the pod has no containers"]
    apps = _names(stop.together)
    gets = "gets" if len(stop.together) == 1 else "get"
    if not stop.sequence:
        each = "each with" if len(stop.together) > 1 else "with"
        lines.append(f"{apps} {gets} SIGTERM together, {each} {whole}")
        daemons = [c.name for c in model.role("app") if c.keeps_running]
        if daemons and len(stop.together) > len(daemons):
            lines.append(f"{_names(daemons)} may stop before the others have drained: nothing orders them")
        return lines
    if stop.together:
        lines.append(f"{apps} {gets} SIGTERM and may use {whole}")
    order = "one at a time, in reverse order, " if len(stop.sequence) > 1 else ""
    verb = "gets" if len(stop.sequence) == 1 else "get"
    need = f"{'it needs' if len(stop.sequence) == 1 else 'they need'} {stop.sidecar_seconds} s"
    budget = (
        f", so {apps} should be done within {stop.app_seconds} s"
        if stop.together and stop.app_seconds is not None
        else ""
    )
    lines.append(f"then {', '.join(stop.sequence)} {verb} SIGTERM {order}with what is left ({need}{budget})")
    for name, text in stop.early:
        lines.append(f"{name}'s preStop ({text}) stops it as termination starts, while the app still drains")
    return lines


def request_words(model: PodModel) -> str:
    values = analysis.requests(model)
    return ", ".join(
        f"{resource} {describe(request, resource)} (limit {describe(limit, resource)})"
        for resource, (request, limit) in values.items()
    )


def _names(names: Any) -> str:
    items = list(names)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def sections(model: PodModel) -> dict[str, Any]:
    """The words of one side (before or after), by section."""
    return {
        "start": start_words(model),
        "complete": complete_words(model),
        "stop": stop_words(model),
        "requests": request_words(model),
    }


# -- text and svg ------------------------------------------------------------------------------


def _chart(console: Any, drawn: Timeline, indent: str = "    ") -> None:
    from rich.text import Text

    width = max((len(visible(row.name)) for row in drawn.rows), default=4)
    for row in drawn.rows:
        line = Text(f"{indent}{visible(row.name):<{width}}  {row.role:<7} ")
        line.append("│", style="dim")
        for cell in row.cells:
            style = {"▒": "yellow", "█": "green" if row.role != "sidecar" else "cyan", "░": "red", ">": "bold"}.get(
                cell
            )
            line.append(cell, style=style)
        line.append("│", style="dim")
        console.print(line, highlight=False, soft_wrap=True)
    note = f"{indent}{'':<{width}}  {'':<7}  0 s{'':>{WIDTH - 12}}{drawn.seconds:>5.0f} s"
    if drawn.deleted_at is not None:
        note += f"   (deleted at {drawn.deleted_at:.0f} s)"
    console.print(note, style="dim", highlight=False)


def _field(console: Any, label: str, lines: list[str], style: str | None = None) -> None:
    """`    label    text`, wrapped to the console's width under the text's first column."""
    import textwrap

    lead = f"    {label:<9}"
    for index, line in enumerate(map(visible, lines)):
        indent = " " * (len(lead) + len(line) - len(line.lstrip()))
        wrapped = textwrap.wrap(
            line.lstrip(), width=max(40, console.width - len(indent)), break_on_hyphens=False, break_long_words=False
        )
        for number, part in enumerate(wrapped or [""]):
            head = (lead if index == 0 else " " * len(lead)) + " " * (len(line) - len(line.lstrip()))
            console.print((head if number == 0 else indent) + part, style=style, highlight=False)


def _side(console: Any, title: str, model: PodModel, span: float, was: PodModel | None = None) -> None:
    words = sections(model)
    console.print(f"  {title}", style="bold", highlight=False)
    _chart(console, timeline(model, WIDTH, span))
    _field(console, "start", words["start"])
    _field(console, "complete", [words["complete"]])
    _field(console, "stop", words["stop"])
    requests = words["requests"]
    if was is not None:
        before = request_words(was)
        requests = "unchanged" if before == requests else f"{requests} (was {before})"
    _field(console, "requests", [requests])


def render(explained: Explained, console: Any, verb: str) -> None:
    """Every workload of every file, printed on a rich `console`."""
    console.print(
        "chart: ▒ started, not ready yet   █ running (sidecars in cyan)   ░ stopping   > still running",
        style="dim",
        highlight=False,
    )
    console.print(
        "       the order is the pod's; the durations are nominal (a manifest does not say them)",
        style="dim",
        highlight=False,
    )
    for name, items in explained:
        for item in items:
            console.print()
            console.print(visible(f"{item.label} ({name}:{item.line})"), style="bold underline", highlight=False)
            span = max(timeline(model, WIDTH).seconds for model in (item.before, item.after) if model is not None)
            _side(console, "as it is", item.before, span)
            if item.after is not None:
                _side(console, f"after {verb}", item.after, span, item.before)
                _field(console, "changes", [change.message for change in item.changes if change.action == "changed"])
            else:
                reasons = [change.message for change in item.changes if change.action == "skipped"]
                console.print(f"  {verb} leaves it as it is", style="bold", highlight=False)
                if reasons:
                    _field(console, "why", reasons)


def text(explained: Explained, verb: str, colour: bool = False, width: int = 120) -> str:
    from rich.console import Console

    buffer = StringIO()
    console = Console(file=buffer, force_terminal=colour, no_color=not colour, width=width)
    render(explained, console, verb)
    return buffer.getvalue()


def svg(explained: Explained, verb: str, width: int = 120) -> str:
    """The text format drawn as an SVG picture (rich's console export)."""
    from rich.console import Console

    console = Console(file=StringIO(), record=True, width=width, force_terminal=True)
    render(explained, console, verb)
    return console.export_svg(title=f"nativecar explain: before and after {verb}")


# -- json ----------------------------------------------------------------------------------------


def _side_data(model: PodModel) -> dict[str, Any]:
    drawn = timeline(model, WIDTH)
    completion = analysis.completion(model)
    stop = analysis.termination(model)
    return {
        "start": [gate._asdict() for gate in analysis.start(model)],
        "completes": completion.status,
        "stop": {
            "grace": stop.grace,
            "appSeconds": stop.app_seconds,
            "sidecarSeconds": stop.sidecar_seconds,
            "sidecarOrder": list(stop.sequence),
            "earlyStops": [name for name, _ in stop.early],
        },
        "requests": {
            resource: {"request": _number(request), "limit": _number(limit)}
            for resource, (request, limit) in analysis.requests(model).items()
            if resource in RESOURCES
        },
        "words": sections(model),
        "timeline": [
            {"time": event.time, "container": event.container, "event": event.kind} for event in drawn.result.events
        ],
    }


def _number(value: float | None) -> float | str | None:
    if value is None:
        return None
    return "unbounded" if value == float("inf") else value


def as_json(explained: Explained) -> str:
    records = [
        {
            "file": name,
            "workload": item.label,
            "line": item.line,
            "before": _side_data(item.before),
            "after": _side_data(item.after) if item.after is not None else None,
            "changes": [change.message for change in item.changes if change.action in ("changed", "skipped")],
        }
        for name, items in explained
        for item in items
    ]
    return json.dumps({"workloads": records}, indent=2)
