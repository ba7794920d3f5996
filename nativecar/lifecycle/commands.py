"""What a container runs, read from its `command`, `args`, `env` and lifecycle hooks.

Kubernetes facts (Pod API, "Define a command and arguments for a container"): `command`
replaces the image's ENTRYPOINT and `args` its CMD; `args` alone keep the ENTRYPOINT. A POSIX
shell run as `sh -c SCRIPT WORD...` hands the words after the script to it as `$0, $1, ...`,
so a flag written after a script never reaches the program the script starts.

What is read here, and nothing is guessed beyond it:
- `invocation`: the argv, whether it is a shell script (and the script), whether the image's
  entrypoint runs;
- `runs_program`: whether the process is a given program itself, with its flags in the argv;
- `dials`: the loopback addresses a container connects to (URLs, `host:port`, `--host/--port`
  pairs, `*_HOST`/`*_PORT` environment pairs), and the well-known stop requests that name no
  address (`pilot-agent request POST quitquitquit`, `linkerd-await --shutdown`);
- `marker_watch` / `creates_file`: the shell wrapper that kills its proxy once the app leaves a
  marker file, and the app that leaves it;
- `pre_stop`: what a preStop hook does: sleeps, asks its own container to stop, drains, other.
"""

import re
from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"})
LOOPBACK = ("localhost", "localhost.", "127.0.0.1", "[::1]", "::1", "0.0.0.0")
STOP_PATHS = frozenset({"/quitquitquit", "/shutdown", "/quit"})
SCHEME_PORTS = {"http": 80, "https": 443, "postgres": 5432, "postgresql": 5432, "mysql": 3306, "redis": 6379}
# `pilot-agent request` talks to Envoy's admin port unless --debug-port says otherwise (istio/istio
# pilot/cmd/pilot-agent/request.go); linkerd-await POSTs /shutdown to the proxy's admin port 4191
# (linkerd/linkerd-await README: --port, default 4191).
PILOT_AGENT_DEBUG_PORT = 15000
LINKERD_ADMIN_PORT = 4191
_ADDRESS = (  # compiled by `re` on first use, off the start-up path
    r"(?:(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?:[^@/\s'\"]*@)?)?"
    r"(?P<host>localhost\.?|127\.0\.0\.1|\[::1\]|0\.0\.0\.0)"
    r"(?::(?P<port>\d{1,5}))?(?P<path>/[^\s'\";&|)]*)?"
)
_HINTS = (*LOOPBACK, "pilot-agent", "linkerd-await")
_SIGNAL_STOPS = frozenset({"TERM", "15", "INT", "2", "KILL", "9", "QUIT", "3"})


class Invocation(NamedTuple):
    """How a container's process is started.

    `argv` is `command + args` as written (without the image's entrypoint when `command` is
    absent: `entrypoint` is then True). `script` is the text of a shell's `-c` script, else None.
    """

    argv: tuple[str, ...]
    entrypoint: bool
    script: str | None


class Dial(NamedTuple):
    """A loopback address a container connects to: `port`, the URL `path` if any, and where.

    `conditional`: the shell runs it only if the command before it succeeded (`a && b`).
    """

    port: int
    path: str | None
    where: str  # "command", "args", "env NAME", "lifecycle"
    text: str  # what was read, for messages: "localhost:9091/quitquitquit"
    conditional: bool = False

    @property
    def stop_request(self) -> bool:
        """Whether this is a request that asks the server to exit (`/quitquitquit`, `/shutdown`)."""
        return self.path is not None and self.path.rstrip("/") in STOP_PATHS


PreStopKind = Literal["none", "sleep", "stops", "drain", "other"]


class PreStop(NamedTuple):
    """What a container's preStop hook does; `seconds` is how long it sleeps (0 when unknown)."""

    kind: PreStopKind
    seconds: int = 0
    text: str = ""


def _words(value: Any) -> list[str]:
    return [str(part) for part in value] if isinstance(value, list) else []


def invocation(container: dict) -> Invocation:
    """The container's argv and, for `sh -c SCRIPT`, the script."""
    command = _words(container.get("command"))
    args = _words(container.get("args"))
    argv = (*command, *args) if command else tuple(args)
    return Invocation(argv=argv, entrypoint=not command, script=shell_script(argv))


def shell_script(argv: tuple[str, ...] | list[str]) -> str | None:
    """The script of `sh -c SCRIPT` (also `bash -ec`, `/bin/sh -c`, `busybox sh -c`), else None."""
    words = list(argv)
    if words and _base(words[0]) == "busybox":
        words = words[1:]
    if not words or _base(words[0]) not in SHELLS:
        return None
    for index, word in enumerate(words[1:], start=1):
        if not word.startswith("-"):
            return None
        if "c" in word.lstrip("-") and not word.startswith("--"):
            return words[index + 1] if index + 1 < len(words) else None
    return None


def _base(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def runs_program(container: dict, programs: tuple[str, ...], entrypoint_is_program: bool) -> bool:
    """Whether the container's process is one of `programs` (base names), flags in its argv.

    True when `command` starts with the program, or when there is no `command` and the image's
    entrypoint is the program (`entrypoint_is_program`, a vendor fact). A shell script or a
    wrapper (`tini`, `dumb-init`, `/bin/run.sh`) is not the program: its flags are its own.
    """
    run = invocation(container)
    if run.script is not None:
        return False
    if run.entrypoint:
        return entrypoint_is_program
    return bool(run.argv) and _base(run.argv[0]) in programs


# -- shell scripts ------------------------------------------------------------------------------


class Step(NamedTuple):
    """One simple command of a script, and the operator before it (`;`, `&&`, `||`, `|`, `&`,
    or "" for the first one and for those of a nested script)."""

    words: list[str]
    after: str


def script_steps(script: str) -> list[Step]:
    """The simple commands of a shell script, split at `;`, `&&`, `||`, `|`, `&` and newlines;
    quoted arguments that are scripts themselves (`trap '...' EXIT`, a nested `sh -c`) are read
    too. A script shlex cannot split yields what it could read."""
    import shlex  # only scripts need it: off the start-up path

    lexer = shlex.shlex(script.replace("\\\n", " ").replace("\n", " ; "), posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    steps: list[Step] = []
    current: list[str] = []
    operator = ""
    try:
        for token in lexer:
            if token and set(token) <= set(";&|()"):
                if current:
                    steps.append(Step(current, operator))
                current = []
                operator = token if token in ("&&", "||", "|", "&") else ";"
                continue
            current.append(token)
    except ValueError:  # an unterminated quote: keep what was read
        pass
    if current:
        steps.append(Step(current, operator))
    nested = [inner for step in steps for word in step.words[1:] if " " in word for inner in script_steps(word)]
    return steps + nested


def script_commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script, as word lists (see `script_steps`)."""
    return [step.words for step in script_steps(script)]


def commands_of(container: dict) -> list[list[str]]:
    """Every simple command a container's process runs that can be read: the argv itself, or
    the commands of its shell script."""
    run = invocation(container)
    if run.script is not None:
        return script_commands(run.script)
    return [list(run.argv)] if run.argv else []


# -- addresses dialled --------------------------------------------------------------------------


def dials(container: dict) -> list[Dial]:
    """The loopback addresses (`localhost`, `127.0.0.1`, `[::1]`) a container connects to."""
    env = container.get("env")
    entries = [entry for entry in env if isinstance(entry, dict)] if isinstance(env, list) else []
    text = " ".join(
        [*_words(container.get("command")), *_words(container.get("args")), *(str(e.get("value")) for e in entries)]
    )
    if not any(hint in text for hint in _HINTS):
        return []  # every address and stop request read below names one of these
    found: list[Dial] = []
    run = invocation(container)
    if run.script is not None:
        where = "args" if run.script in _words(container.get("args")) else "command"
        for step in script_steps(run.script):
            found.extend(_step_dials(step.words, where, step.after == "&&"))
    else:
        for key in ("command", "args"):
            for word in _words(container.get(key)):
                found.extend(_addresses(word, key, False))
        found.extend(_command_dials(list(run.argv), "command" if "command" in container else "args", False))
    values = {str(entry.get("name")): str(entry.get("value")) for entry in entries if "value" in entry}
    for name, value in values.items():
        found.extend(_addresses(value, f"env {name}", False))
    found.extend(_env_pairs(values))
    return _unique(found)


def handler_dials(handler: Any) -> list[Dial]:
    """What an `exec` probe or lifecycle handler connects to (`wget 127.0.0.1:8080/healthz`)."""
    run = handler.get("exec") if isinstance(handler, dict) else None
    command = _words(run.get("command")) if isinstance(run, dict) else []
    return dials({"command": command}) if command else []


def _step_dials(words: list[str], where: str, conditional: bool) -> Iterator[Dial]:
    for word in words:
        yield from _addresses(word, where, conditional)
    yield from _command_dials(words, where, conditional)


def _addresses(text: str, where: str, conditional: bool) -> Iterator[Dial]:
    for match in re.finditer(_ADDRESS, text):
        port = match.group("port")
        scheme = (match.group("scheme") or "").lower()
        number = int(port) if port else SCHEME_PORTS.get(scheme)
        if number is None or not 0 < number < 65536:
            continue
        yield Dial(number, match.group("path"), where, match.group(0), conditional)
    # a libpq-style connection string in one word: "host=localhost port=5432 dbname=x"
    host = re.search(r"\bhost=([^\s]+)", text)
    port = re.search(r"\bport=(\d{1,5})\b", text)
    if host and port and host.group(1).strip("'\"") in LOOPBACK and 0 < int(port.group(1)) < 65536:
        yield Dial(int(port.group(1)), None, where, f"{host.group(1)} port {port.group(1)}", conditional)


def _command_dials(words: list[str], where: str, conditional: bool) -> Iterator[Dial]:
    """Stop requests that name no address, `--host 127.0.0.1 --port N` pairs, and a loopback
    host followed by a port (`nc -z localhost 5432`)."""
    if not words:
        return
    program = _base(words[0])
    if program == "pilot-agent" and "request" in words:
        tail = words[words.index("request") + 1 :]
        port = _option(words, ("--debug-port",)) or str(PILOT_AGENT_DEBUG_PORT)
        if len(tail) >= 2 and tail[-2 if tail[-1] != "" else -3].upper() in ("POST", "GET") and port.isdigit():
            path = "/" + tail[-1].lstrip("/")
            yield Dial(int(port), path, where, " ".join(words), conditional)
    if program == "linkerd-await":
        options = words[1 : words.index("--")] if "--" in words else words[1:]
        if any(word in ("--shutdown", "-S") for word in options):
            port = _option(options, ("--port", "-p")) or str(LINKERD_ADMIN_PORT)
            if port.isdigit():
                yield Dial(int(port), "/shutdown", where, "linkerd-await --shutdown", conditional)
    host = _option(words, ("--host", "-h", "--hostname"))
    port = _option(words, ("--port", "-p", "-P"))
    if host in LOOPBACK and port is not None and port.isdigit():
        yield Dial(int(port), None, where, f"{host}:{port}", conditional)
    for index, word in enumerate(words[:-1]):
        following = words[index + 1]
        if word in LOOPBACK and following.isdigit() and 0 < int(following) < 65536:
            yield Dial(int(following), None, where, f"{word} {following}", conditional)


def _option(words: list[str], names: tuple[str, ...]) -> str | None:
    """The value of an option given as `--name=value`, `--name value` or `-nVALUE`-free `-n value`."""
    for index, word in enumerate(words):
        for name in names:
            if word == name and index + 1 < len(words):
                return words[index + 1]
            if word.startswith(name + "="):
                return word[len(name) + 1 :]
    return None


def _env_pairs(values: dict[str, str]) -> Iterator[Dial]:
    """`DB_HOST=127.0.0.1` with `DB_PORT=5432` (any common prefix, also `HOSTNAME`/`ADDR`)."""
    for name, value in values.items():
        match = re.fullmatch(r"(.*?)(HOST|HOSTNAME|ADDR|ADDRESS|SERVER)", name)
        if match is None or value.strip() not in LOOPBACK:
            continue
        port = values.get(f"{match.group(1)}PORT", "").strip()
        if port.isdigit() and 0 < int(port) < 65536:
            yield Dial(int(port), None, f"env {name}", f"{value.strip()}:{port}")


def _unique(found: list[Dial]) -> list[Dial]:
    seen: set[tuple[int, str | None]] = set()
    result = []
    for dial in found:
        if (dial.port, dial.path) not in seen:
            seen.add((dial.port, dial.path))
            result.append(dial)
    return result


# -- marker files ---------------------------------------------------------------------------------


def marker_watch(container: dict) -> str | None:
    """The file whose appearance makes this container's shell wrapper stop its program.

    The pattern of the pre-1.29 "kill the proxy when the app is done" Jobs: the program runs in
    the background (`&`), a `while`/`until` loop tests a file (`[ -f FILE ]`, `test -e FILE`),
    and then the script kills the program or exits.
    """
    run = invocation(container)
    if run.script is None:
        return None
    commands = script_commands(run.script)
    words = [word for command in commands for word in command]
    if not any(word in ("while", "until") for word in words):
        return None
    kills = any(word in ("kill", "pkill", "killall") for word in words)
    if not kills and not any(command and command[0] == "exit" for command in commands):
        return None
    for command in commands:
        for index, word in enumerate(command):
            if word in ("-f", "-e") and index + 1 < len(command) and (command[0] in ("[", "test", "while", "until")):
                candidate = command[index + 1]
                if candidate.startswith("/") or candidate.startswith("$"):
                    return candidate
    return None


def creates_file(container: dict, path: str) -> bool:
    """Whether the container's command creates `path` (`touch PATH`, `> PATH`, `>> PATH`), also
    from a `trap` handler."""
    for words in commands_of(container):
        if words and words[0] == "touch" and path in words[1:]:
            return True
        for index, word in enumerate(words[:-1]):
            if word in (">", ">>") and words[index + 1] == path:
                return True
    return False


# -- preStop ----------------------------------------------------------------------------------------


def _hook(container: dict, event: str) -> dict:
    lifecycle = container.get("lifecycle")
    handler = lifecycle.get(event) if isinstance(lifecycle, dict) else None
    return handler if isinstance(handler, dict) else {}


def pre_stop(container: dict) -> PreStop:
    """What the container's preStop hook does.

    `sleep`: a `sleep` action, `sleep N`, or a shell running only `sleep N`; `stops`: it asks the
    container's own program to exit (an httpGet or curl to `/quitquitquit` or `/shutdown`, a
    `kill` with a terminating signal); `drain`: a drain request (`pilot-agent request POST drain`,
    a `kill -USR2`); `other`: anything else; `none`: no hook.
    """
    handler = _hook(container, "preStop")
    if not handler:
        return PreStop("none")
    if isinstance(handler.get("sleep"), dict):
        seconds = handler["sleep"].get("seconds")
        return PreStop("sleep", seconds if isinstance(seconds, int) and not isinstance(seconds, bool) else 0, "sleep")
    http = handler.get("httpGet")
    if isinstance(http, dict):
        path = str(http.get("path") or "/")
        kind: PreStopKind = "stops" if path.rstrip("/") in STOP_PATHS else "other"
        return PreStop(kind, 0, f"httpGet {path}")
    run = handler.get("exec")
    command = _words(run.get("command")) if isinstance(run, dict) else []
    if not command:
        return PreStop("other")
    script = shell_script(command)
    commands = script_commands(script) if script is not None else [command]
    text = script if script is not None else " ".join(command)
    programs = [_base(words[0]) for words in commands if words]
    if programs and all(program == "sleep" for program in programs):
        seconds = sum(int(words[1]) for words in commands if len(words) > 1 and words[1].isdigit())
        return PreStop("sleep", seconds, text)
    for words in commands:
        program = _base(words[0]) if words else ""
        if program in ("kill", "pkill", "killall"):
            return PreStop("stops" if _signal(words) in _SIGNAL_STOPS else "drain", 0, text)
        if program == "pilot-agent" and "drain" in words:
            return PreStop("drain", 0, text)
    container_dials = [dial for words in commands for dial in _command_dials(words, "lifecycle", False)]
    container_dials += [dial for word in command for dial in _addresses(word, "lifecycle", False)]
    if any(dial.stop_request for dial in container_dials):
        return PreStop("stops", 0, text)
    return PreStop("other", 0, text)


def _signal(words: list[str]) -> str:
    """The signal a `kill`/`pkill`/`killall` command sends (`-USR2`, `-s TERM`, `-9`; TERM if none)."""
    options = words[1:]
    if "-s" in options:
        index = options.index("-s")
        return options[index + 1].upper().removeprefix("SIG") if index + 1 < len(options) else "TERM"
    for word in options:
        if word.startswith("-") and len(word) > 1 and word != "--":
            return word[1:].upper().removeprefix("SIG")
    return "TERM"


def has_post_start(container: dict) -> bool:
    """Whether the container has a postStart hook (which gates the next container's start)."""
    return bool(_hook(container, "postStart"))
