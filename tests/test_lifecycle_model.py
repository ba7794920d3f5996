"""The lifecycle model's readers and questions, one fact at a time: what a container runs,
dials and listens on, what gates the next container, what stops the pod, what it requests."""

from __future__ import annotations

import math

import pytest
import yaml

from nativecar import workloads
from nativecar.documents import decode, documents
from nativecar.lifecycle import analysis, commands
from nativecar.lifecycle.pod import PodModel, read
from nativecar.lifecycle.verify import verify
from nativecar.model import build
from nativecar.rewrites import Context

PROXY = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3"


def model(spec: dict, kind: str = "Job", context: Context | None = None) -> PodModel:
    """The model of a pod template with `spec`, in a workload of `kind`."""
    api = {"Job": "batch/v1", "Deployment": "apps/v1", "Pod": "v1"}[kind]
    body = {"template": {"spec": spec}} if kind != "Pod" else None
    document = {"apiVersion": api, "kind": kind, "metadata": {"name": "w"}}
    document.update({"spec": body} if body else {"spec": spec})
    source = decode(yaml.safe_dump(document).encode(), "t.yaml")
    (root,) = [item.root for item in documents(source)]
    (pod,) = workloads.pods(build(root))
    return read(pod, context or Context())


# -- commands -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "script"),
    [
        (["sh", "-c", "run"], "run"),
        (["/bin/bash", "-ec", "run"], "run"),
        (["busybox", "sh", "-c", "run"], "run"),
        (["/cloud-sql-proxy", "-c", "x"], None),
        (["tini", "--", "sh", "-c", "run"], None),
    ],
)
def test_a_shell_script_is_recognised_only_where_the_shell_runs_it(argv: list[str], script: str | None) -> None:
    assert commands.shell_script(argv) == script


def test_dials_are_read_from_urls_host_port_options_env_pairs_and_stop_commands() -> None:
    container = {
        "command": ["sh", "-c", "psql -h 127.0.0.1 -p 5433 -c 'select 1' && pilot-agent request POST quitquitquit"],
        "env": [{"name": "DB_HOST", "value": "127.0.0.1"}, {"name": "DB_PORT", "value": "5432"}],
    }
    found = {(dial.port, dial.path, dial.conditional) for dial in commands.dials(container)}
    assert found == {(5433, None, False), (15000, "/quitquitquit", True), (5432, None, False)}
    argv = {"command": ["/app"], "args": ["--url=http://localhost:8080/ready", "--dsn", "host=localhost. port=6432"]}
    assert {(dial.port, dial.path) for dial in commands.dials(argv)} == {(8080, "/ready"), (6432, None)}
    waits = {"command": ["sh", "-c", "until nc -z localhost 5432; do sleep 1; done"]}
    assert [dial.port for dial in commands.dials(waits)] == [5432]
    # words after `sh -c SCRIPT` are the script's $0, $1 ...: nothing runs them
    assert commands.dials({"command": ["sh", "-c", "run"], "args": ["http://localhost:8080/x"]}) == []


@pytest.mark.parametrize(
    ("command", "stops"),
    [
        (["linkerd-await", "--shutdown", "--", "./job"], True),
        (["linkerd-await", "--timeout=2m", "-S", "--", "./job"], True),
        (["linkerd-await", "--", "./job", "--shutdown"], False),  # after `--` it is the job's own flag
        (["linkerd-await", "--", "./job"], False),
    ],
)
def test_linkerd_await_shutdown_is_recognised_in_any_order_before_the_double_dash(
    command: list[str], stops: bool
) -> None:
    dials = commands.dials({"command": command})
    assert any(dial.port == 4191 and dial.stop_request for dial in dials) == stops


@pytest.mark.parametrize(
    ("handler", "kind", "seconds"),
    [
        ({"sleep": {"seconds": 10}}, "sleep", 10),
        ({"exec": {"command": ["/bin/sh", "-c", "sleep 15"]}}, "sleep", 15),
        ({"httpGet": {"path": "/quitquitquit", "port": 9091}}, "stops", 0),
        ({"exec": {"command": ["curl", "-XPOST", "http://127.0.0.1:15020/quitquitquit"]}}, "stops", 0),
        ({"exec": {"command": ["killall", "-USR2", "kuma-dp"]}}, "drain", 0),
        ({"exec": {"command": ["kill", "1"]}}, "stops", 0),
        ({"exec": {"command": ["pilot-agent", "request", "--debug-port=15020", "POST", "drain"]}}, "drain", 0),
        ({"exec": {"command": ["/app/flush-cache"]}}, "other", 0),
    ],
)
def test_a_pre_stop_hook_is_read_for_what_it_does(handler: dict, kind: str, seconds: int) -> None:
    hook = commands.pre_stop({"lifecycle": {"preStop": handler}})
    assert (hook.kind, hook.seconds) == (kind, seconds)


def test_a_marker_file_loop_and_the_app_that_leaves_the_marker() -> None:
    proxy = {"command": ["sh", "-c", "/proxy & P=$!; while [ ! -f /tmp/done ]; do sleep 1; done; kill $P"]}
    app = {"command": ["sh", "-c", "trap 'touch /tmp/done' EXIT; ./work"]}
    assert commands.marker_watch(proxy) == "/tmp/done"
    assert commands.creates_file(app, "/tmp/done") and not commands.creates_file(app, "/tmp/other")
    assert commands.marker_watch({"command": ["sh", "-c", "while true; do sleep 1; done"]}) is None


# -- what a container listens on, and start gates --------------------------------------------------


def test_a_cloud_sql_proxy_listens_where_its_flags_say() -> None:
    args = ["--port=6000", "--health-check", "--quitquitquit", "p:r:a", "p:r:b?port=7000"]
    pod = model({"containers": [{"name": "app", "image": "a"}, {"name": "db", "image": PROXY, "args": args}]})
    served = pod.named("db").served
    assert {(e.port, e.purpose.split(" ")[0], e.loopback) for e in served.endpoints} == {
        (9090, "health", True),
        (9091, "admin", True),
        (6000, "listener", True),
        (7000, "listener", True),
    }
    assert served.complete and served.at(9091).stop_path == "/quitquitquit"
    wrapped = model(
        {"containers": [{"name": "app", "image": "a"}, {"name": "db", "image": PROXY, "command": ["sh", "-c", "x"]}]}
    )
    assert wrapped.named("db").served.endpoints == () and not wrapped.named("db").served.complete


def _sidecar(name: str, args: list[str], probe_port: int | str) -> dict:
    return {
        "name": name,
        "image": PROXY,
        "restartPolicy": "Always",
        "args": args,
        "startupProbe": {"httpGet": {"path": "/startup", "port": probe_port}},
    }


def test_start_gates_pass_only_when_the_sidecar_itself_answers() -> None:
    on = ["--health-check", "--http-address=0.0.0.0", "--port=5432", "p:r:a"]
    pod = model(
        {
            "initContainers": [
                _sidecar("good", on, 9090),
                _sidecar("shadowed", ["--port=5433", "p:r:b"], 9090),
                _sidecar("dark", ["--port=5434", "p:r:c"], 9801),
                _sidecar("local", ["--health-check", "--port=5435", "p:r:d"], 9090),
                {"name": "odd", "image": "x", "restartPolicy": "Always", "startupProbe": {"exec": {"command": ["t"]}}},
            ],
            "containers": [{"name": "app", "image": "a"}],
        }
    )
    gates = {gate.container: gate.status for gate in analysis.start(pod)}
    # `local` serves its health on 127.0.0.1 (the default --http-address), which no probe reaches
    assert gates == {"good": "passes", "shadowed": "other", "dark": "never", "local": "never", "odd": "unknown"}
    assert [(c.port, c.containers) for c in analysis.conflicts(pod)] == [(9090, ("good", "local"))]


def test_a_plain_init_container_that_dials_a_later_container_cannot_reach_it() -> None:
    spec = {
        "initContainers": [{"name": "migrate", "image": "m", "args": ["postgres://u@127.0.0.1:5432/db"]}],
        "containers": [{"name": "app", "image": "a"}, {"name": "db", "image": PROXY, "args": ["--port=5432", "p:r:a"]}],
    }
    [unreached] = analysis.unreachable(model(spec))
    assert (unreached.container, unreached.dial.port, unreached.server) == ("migrate", 5432, "db")


# -- completion, termination, resources -----------------------------------------------------------


def test_a_job_completes_only_when_every_regular_container_exits() -> None:
    legacy = {"containers": [{"name": "job", "image": "j"}, {"name": "db", "image": PROXY, "args": ["p:r:a"]}]}
    assert analysis.completion(model(legacy)).status == "never"
    stopped = {
        "containers": [
            {"name": "job", "image": "j", "command": ["sh", "-c", "./run; curl -X POST localhost:9091/quitquitquit"]},
            {"name": "db", "image": PROXY, "args": ["--quitquitquit", "p:r:a"]},
        ]
    }
    done = analysis.completion(model(stopped))
    assert done.status == "completes" and [(s.container, s.by) for s in done.stops] == [("db", "job")]
    no_admin = {"name": "db", "image": PROXY, "args": ["--port=5432", "p:r:a"]}  # no --quitquitquit
    no_endpoint = {"containers": [stopped["containers"][0], no_admin]}
    missed = analysis.completion(model(no_endpoint))
    assert missed.status == "never" and "no container of the pod answers" in missed.misses[0]
    native = {
        "initContainers": [dict(legacy["containers"][1], restartPolicy="Always")],
        "containers": [legacy["containers"][0]],
    }
    assert analysis.completion(model(native)).status == "completes"
    assert analysis.completion(model(legacy, kind="Deployment")).status == "not-applicable"


def test_termination_gives_the_app_the_grace_period_less_the_sidecars_budgets() -> None:
    spec = {
        "terminationGracePeriodSeconds": 45,
        "initContainers": [
            {"name": "a", "image": PROXY, "restartPolicy": "Always", "args": ["--max-sigterm-delay=20s", "p:r:a"]},
            {"name": "b", "image": "docker.io/istio/proxyv2:1.24.0", "restartPolicy": "Always"},
        ],
        "containers": [{"name": "app", "image": "x"}],
    }
    stop = analysis.termination(model(spec, context=Context()))
    assert stop.sequence == ("b", "a") and stop.sidecar_seconds == 20 + 5 and stop.app_seconds == 20


def test_effective_requests_follow_kep_753() -> None:
    """The KEP's own example: a sidecar next to a heavier plain init container that follows it."""
    cpu = lambda amount: {"resources": {"requests": {"cpu": amount}}}  # noqa: E731
    spec = {
        "initContainers": [
            {"name": "init-1", "image": "i", **cpu("1")},
            {"name": "sidecar", "image": "s", "restartPolicy": "Always", **cpu("500m")},
            {"name": "init-2", "image": "i", **cpu("2")},
        ],
        "containers": [{"name": "app", "image": "a", **cpu("1")}],
    }
    request, limit = analysis.requests(model(spec))["cpu"]
    assert request == pytest.approx(2.5)  # max(1, 0.5 + 2, 0.5 + 1)
    assert math.isinf(limit)


def test_verify_refuses_a_result_that_takes_shutdown_time_from_the_app() -> None:
    legacy = {"containers": [{"name": "app", "image": "a"}, {"name": "db", "image": PROXY, "args": ["p:r:a"]}]}
    short = {
        "initContainers": [dict(legacy["containers"][1], restartPolicy="Always")],
        "containers": [legacy["containers"][0]],
    }
    verdict = verify(model(legacy, kind="Deployment"), model(short, kind="Deployment"))
    assert not verdict.safe and "25 s to shut down instead of 30 s" in verdict.problems[0]
    enough = dict(short, terminationGracePeriodSeconds=35)
    assert verify(model(legacy, kind="Deployment"), model(enough, kind="Deployment")).safe
