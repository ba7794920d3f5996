"""The kubelet simulation against Kubernetes' own node e2e scenarios for sidecars.

Each test is one scenario of kubernetes/kubernetes `test/e2e_node/container_lifecycle_test.go`
(commit 01ba738f; the `Sxx`/`Bx` ids of our notes), rebuilt here: the same containers, the same
timings (`Delay` is how long a container works, `TerminationSeconds` how long it takes to exit
after SIGTERM), the same pod restartPolicy and grace period, and the same assertions about order,
restarts, exit codes and phase, read from the simulated events the way the upstream helpers read
the containers' logs (`StartsBefore`, `ExitsBefore`, `RunTogether`, `DoesntStart`, ...).
"""

from __future__ import annotations

import math

from nativecar.lifecycle.kubelet import Behaviour, Result, simulate
from nativecar.lifecycle.pod import Container, PodModel, Probe

FOREVER = None


def probe(initial: int = 0, period: int = 10, threshold: int = 3) -> Probe:
    """An exec startup probe with the API's default timing unless given."""
    return Probe("exec", None, "", None, initial + period * threshold, initial, period, threshold)


def pod(*containers: Container, policy: str = "Never", grace: int = 30) -> PodModel:
    return PodModel("pod/e2e", "Pod", policy, grace, containers)


def init(name: str) -> Container:
    return Container(name, "init")


def sidecar(name: str, startup: Probe | None = None) -> Container:
    return Container(name, "sidecar", startup_probe=startup)


def regular(name: str) -> Container:
    return Container(name, "app")


# -- the upstream log helpers, on simulated events ------------------------------------------------


def _times(result: Result, name: str, kind: str) -> list[float]:
    return [event.time for event in result.events if event.container == name and event.kind == kind]


def starts(result: Result, name: str) -> bool:
    return bool(_times(result, name, "Started"))


def starts_before(result: Result, first: str, then: str) -> bool:
    """After `first` is first Started, `then` is Starting (with first == then: a restart)."""
    started = _times(result, first, "Started")
    starting = _times(result, then, "Starting")[1 if first == then else 0 :]
    return bool(started) and any(time >= started[0] for time in starting)


def exits_before(result: Result, first: str, then: str) -> bool:
    exited = _times(result, first, "Exiting")
    return bool(exited) and any(time > exited[0] for time in _times(result, then, "Exiting"))


def run_together(result: Result, first: str, then: str) -> bool:
    """Their lifetimes overlap: one is started while the other has not exited yet."""

    def overlap(a: str, b: str) -> bool:
        a_started = _times(result, a, "Started")
        a_ended = (_times(result, a, "Exiting") + _times(result, a, "Killed") + [math.inf])[0]
        return bool(a_started) and any(a_started[0] <= time < a_ended for time in _times(result, b, "Started"))

    return overlap(first, then) or overlap(then, first)


def restarted(result: Result, name: str) -> bool:
    return len(_times(result, name, "Starting")) >= 2


def exit_order(result: Result) -> list[str]:
    return [event.container for event in result.events if event.kind in ("Exiting", "Killed")]


# -- start order ----------------------------------------------------------------------------------


def test_s01_init_and_sidecars_start_in_list_order_and_the_pod_succeeds() -> None:
    model = pod(init("init-1"), sidecar("sc-1"), init("init-2"), sidecar("sc-2"), init("init-3"), regular("regular-1"))
    done = Behaviour(run=1)
    result = simulate(model, {"init-1": done, "init-2": done, "init-3": done, "regular-1": done})
    assert result.phase == "Succeeded"
    assert starts_before(result, "init-1", "sc-1") and exits_before(result, "init-1", "init-2")
    assert _times(result, "init-1", "Exiting")[0] <= _times(result, "sc-1", "Starting")[0]
    assert run_together(result, "sc-1", "init-2")
    assert _times(result, "init-2", "Exiting")[0] <= _times(result, "sc-2", "Starting")[0]
    assert starts_before(result, "sc-2", "init-3")
    assert run_together(result, "sc-1", "init-3") and run_together(result, "sc-2", "init-3")
    assert _times(result, "init-3", "Exiting")[0] <= _times(result, "regular-1", "Starting")[0]
    assert run_together(result, "sc-1", "regular-1") and run_together(result, "sc-2", "regular-1")


def test_s21_each_sidecar_waits_for_the_previous_ones_startup_probe() -> None:
    model = pod(sidecar("sc-1", probe()), sidecar("sc-2", probe()), regular("regular-1"))
    slow = Behaviour(start_delay=10)
    result = simulate(model, {"sc-1": slow, "sc-2": slow, "regular-1": Behaviour(run=1)})
    assert _times(result, "sc-1", "Started")[0] <= _times(result, "sc-2", "Starting")[0]
    assert _times(result, "sc-2", "Started")[0] <= _times(result, "regular-1", "Starting")[0]
    assert result.phase == "Succeeded"


def test_b5_a_post_start_hook_holds_the_next_container() -> None:
    model = pod(regular("regular-1"), regular("regular-2"))
    result = simulate(model, {"regular-1": Behaviour(run=10, post_start=1), "regular-2": Behaviour(run=1)})
    assert _times(result, "regular-2", "Starting")[0] >= 1


# -- sidecars that exit -----------------------------------------------------------------------


def test_s03_a_sidecar_that_runs_forever_does_not_keep_a_never_pod_alive() -> None:
    result = simulate(pod(sidecar("sc-1"), regular("regular-1")), {"regular-1": Behaviour(run=1)})
    assert result.phase == "Succeeded" and not restarted(result, "sc-1")
    assert _times(result, "regular-1", "Exiting")


def test_s05_s06_a_sidecar_is_restarted_under_never_and_its_exit_code_does_not_count() -> None:
    for code in (0, 1):
        model = pod(sidecar("sc-1"), init("init-1"), regular("regular-1"))
        behaviours = {"sc-1": Behaviour(run=5, exit_code=code), "init-1": Behaviour(run=5)}
        result = simulate(model, {**behaviours, "regular-1": Behaviour(run=60)})
        assert result.phase == "Succeeded"
        assert starts_before(result, "sc-1", "regular-1")
        regular_started = _times(result, "regular-1", "Starting")[0]
        assert any(time > regular_started for time in _times(result, "sc-1", "Starting"))
        assert _times(result, "regular-1", "Exiting")


def test_s11_s17_a_sidecar_is_restarted_under_on_failure_and_always_too() -> None:
    for policy in ("OnFailure", "Always"):
        model = pod(sidecar("sc-1"), init("init-1"), regular("regular-1"), policy=policy)
        result = simulate(
            model, {"sc-1": Behaviour(run=5), "init-1": Behaviour(run=5), "regular-1": Behaviour(run=60)}, horizon=120
        )
        assert restarted(result, "sc-1") and starts_before(result, "sc-1", "regular-1")


def test_s07_a_failing_init_before_the_sidecar_fails_a_never_pod() -> None:
    model = pod(init("init-1"), sidecar("sc-1"), regular("regular-1"))
    result = simulate(model, {"init-1": Behaviour(run=1, exit_code=1)})
    assert result.phase == "Failed"
    assert _times(result, "init-1", "Exiting") and not starts(result, "sc-1") and not starts(result, "regular-1")


def test_s08_a_sidecar_before_a_failing_init_ran_beside_it() -> None:
    model = pod(sidecar("sc-1"), init("init-1"), regular("regular-1"))
    result = simulate(model, {"sc-1": Behaviour(run=5, exit_code=1), "init-1": Behaviour(run=1, exit_code=1)})
    assert result.phase == "Failed" and run_together(result, "sc-1", "init-1")


def test_s13_s19_a_failing_init_is_restarted_and_the_pod_stays_pending() -> None:
    for policy in ("OnFailure", "Always"):
        model = pod(init("init-1"), sidecar("sc-1"), regular("regular-1"), policy=policy)
        result = simulate(model, {"init-1": Behaviour(run=1, exit_code=1)}, horizon=200)
        assert result.phase == "Pending" and result.restarts["init-1"] >= 3
        assert not starts(result, "sc-1")


def test_s14_s20_a_sidecar_before_a_crash_looping_init_keeps_running_beside_it() -> None:
    for policy in ("OnFailure", "Always"):
        model = pod(sidecar("sc-1"), init("init-1"), regular("regular-1"), policy=policy)
        behaviours = {"sc-1": Behaviour(run=5, exit_code=1), "init-1": Behaviour(run=1, exit_code=1)}
        result = simulate(model, behaviours, horizon=300)
        assert result.phase == "Pending" and result.restarts["sc-1"] >= 3 and restarted(result, "init-1")
        assert run_together(result, "sc-1", "init-1") and not starts(result, "regular-1")


def test_s15_under_always_the_regular_container_restarts_and_the_sidecar_does_not() -> None:
    model = pod(sidecar("sc-1"), regular("regular-1"), policy="Always")
    result = simulate(model, {"regular-1": Behaviour(run=1)}, horizon=60)
    assert result.restarts["regular-1"] >= 2 and not restarted(result, "sc-1")


# -- startup and liveness probes ----------------------------------------------------------------


def test_s22_a_startup_probe_that_never_passes_holds_everything_after_it() -> None:
    model = pod(sidecar("sc-1"), sidecar("sc-2", probe(initial=20, threshold=1)), regular("regular-1"))
    result = simulate(model, {"sc-2": Behaviour(startup_passes=False)}, horizon=120)
    assert result.phase == "Pending" and result.restarts["sc-2"] >= 2
    assert not starts(result, "regular-1") and not restarted(result, "sc-1")


def test_s23_a_failed_startup_probe_runs_the_prestop_then_restarts_the_sidecar() -> None:
    model = pod(sidecar("sc-1", probe(initial=5, threshold=1)), regular("regular-1"), policy="Always")
    behaviour = Behaviour(startup_passes=False, pre_stop=1, sigterm=15)
    result = simulate(model, {"sc-1": behaviour, "regular-1": Behaviour(run=1)}, horizon=120)
    assert result.phase == "Pending" and result.restarts["sc-1"] >= 2
    first_hook = _times(result, "sc-1", "PreStop")[0]
    assert _times(result, "sc-1", "Starting")[0] < first_hook < _times(result, "sc-1", "Exiting")[0]
    assert not starts(result, "regular-1")


def test_s24_a_failing_liveness_probe_restarts_the_sidecar_but_does_not_hold_the_app() -> None:
    model = pod(sidecar("sc-1"), regular("regular-1"), policy="Always")
    behaviour = Behaviour(liveness_kill=5, pre_stop=1, sigterm=15)
    result = simulate(model, {"sc-1": behaviour, "regular-1": Behaviour(run=1)}, horizon=200)
    assert result.restarts["sc-1"] >= 2 and result.restarts["regular-1"] >= 1
    assert _times(result, "sc-1", "PreStop") and _times(result, "sc-1", "Exiting")
    assert starts(result, "regular-1")


def test_s38_a_sidecar_that_crashes_before_its_probe_passes_holds_the_app_until_it_recovers() -> None:
    model = pod(sidecar("sc", probe(initial=3, period=2, threshold=10)), regular("app"))
    crash_once = Behaviour(first_run=Behaviour(run=0, exit_code=1))
    result = simulate(model, {"sc": crash_once}, horizon=120)
    assert result.restarts["sc"] >= 1 and result.phase == "Running"
    second_start = _times(result, "sc", "Starting")[1]
    assert _times(result, "app", "Starting")[0] > second_start


# -- termination --------------------------------------------------------------------------------


def three_sidecars(**extra: Behaviour) -> tuple[PodModel, dict[str, Behaviour]]:
    model = pod(sidecar("sc-1"), sidecar("sc-2"), sidecar("sc-3"), regular("regular-1"))
    behaviours = {name: Behaviour(sigterm=5) for name in ("sc-1", "sc-2", "sc-3")}
    behaviours["regular-1"] = Behaviour(run=5)
    behaviours.update(extra)
    return model, behaviours


def test_s26_after_the_regular_container_sidecars_stop_in_reverse_order() -> None:
    model, behaviours = three_sidecars()
    result = simulate(model, behaviours)
    assert result.phase == "Succeeded"
    assert exit_order(result) == ["regular-1", "sc-3", "sc-2", "sc-1"]
    assert all(result.statuses[name] == (0, "Completed") for name in ("sc-1", "sc-2", "sc-3"))
    assert result.stopped_at == 5 + 3 * 5  # each sidecar takes its 5 s in turn, inside the 30 s grace


def test_s28_prestop_hooks_that_never_return_end_with_everyone_killed_at_grace_plus_two() -> None:
    hanging = Behaviour(sigterm=5, pre_stop=math.inf)
    model, behaviours = three_sidecars(**{"sc-1": hanging, "sc-2": hanging, "sc-3": hanging})
    result = simulate(model, behaviours)
    assert all(result.statuses[name] == (137, "Error") for name in ("sc-1", "sc-2", "sc-3"))
    hooks = [_times(result, name, "PreStop")[0] for name in ("sc-1", "sc-2", "sc-3")]
    kills = [_times(result, name, "Killed")[0] for name in ("sc-1", "sc-2", "sc-3")]
    assert max(hooks) - min(hooks) < 1 and max(kills) - min(kills) < 1
    assert all(abs((kill - hook) - 32) <= 1.5 for kill, hook in zip(kills, hooks, strict=True))


def test_s29_sidecar_prestop_hooks_all_start_together() -> None:
    quick = Behaviour(sigterm=5, pre_stop=1)
    model, behaviours = three_sidecars(**{"sc-1": quick, "sc-2": quick, "sc-3": quick})
    result = simulate(model, behaviours)
    hooks = [_times(result, name, "PreStop")[0] for name in ("sc-1", "sc-2", "sc-3")]
    assert max(hooks) - min(hooks) < 1
    assert exit_order(result) == ["regular-1", "sc-3", "sc-2", "sc-1"]
    assert result.phase == "Succeeded"


def test_s30_deleting_a_pod_during_initialization_does_not_wait_for_sidecars_that_never_ran() -> None:
    model = pod(init("start-init"), sidecar("sc-1"), sidecar("sc-2"), sidecar("sc-3"), regular("regular-1"))
    behaviours = {"start-init": Behaviour(run=300, sigterm=0)}
    result = simulate(model, behaviours, delete_at=10, grace=3)
    assert result.stopped_at is not None and result.stopped_at - 10 < 3 + 3


def test_s31_a_running_sidecar_that_has_not_started_is_stopped_promptly() -> None:
    model = pod(init("init-1"), sidecar("sc-2", probe(threshold=600)), sidecar("sc-3"), regular("regular-1"), grace=180)
    behaviours = {"init-1": Behaviour(run=1), "sc-2": Behaviour(startup_passes=False, sigterm=1)}
    result = simulate(model, behaviours, delete_at=30)
    assert result.phase != "Succeeded" and result.stopped_at is not None and result.stopped_at - 30 <= 1 + 60


def test_s32_a_sidecars_non_zero_exit_on_sigterm_still_gives_succeeded() -> None:
    model = pod(sidecar("sc-1"), sidecar("sc-2"), sidecar("sc-3"), regular("regular-1"))
    behaviours = {name: Behaviour(sigterm=1) for name in ("sc-1", "sc-3", "regular-1")}
    behaviours["sc-2"] = Behaviour(sigterm=1, exit_code=1)
    result = simulate(model, behaviours, delete_at=10)
    assert result.phase == "Succeeded"
    assert result.statuses["regular-1"] == (0, "Completed") and result.statuses["sc-2"] == (1, "Error")
    assert result.statuses["sc-1"] == result.statuses["sc-3"] == (0, "Completed")


def test_s34_a_regular_container_that_outlives_the_grace_period_fails_the_pod() -> None:
    model = pod(sidecar("sc-1"), sidecar("sc-2"), sidecar("sc-3"), regular("regular-1"), grace=5)
    behaviours = {"sc-1": Behaviour(sigterm=20), "sc-2": Behaviour(sigterm=1), "sc-3": Behaviour(sigterm=20)}
    behaviours["regular-1"] = Behaviour(sigterm=20)
    result = simulate(model, behaviours, delete_at=10)
    assert result.phase == "Failed"
    assert result.statuses == {
        "sc-1": (137, "Error"),
        "sc-2": (0, "Completed"),
        "sc-3": (137, "Error"),
        "regular-1": (137, "Error"),
    }


def test_s35_a_sidecar_that_outlives_the_grace_period_is_killed_and_the_pod_still_succeeds() -> None:
    model = pod(sidecar("sc-1"), sidecar("sc-2"), sidecar("sc-3"), regular("regular-1"), grace=5)
    behaviours = {name: Behaviour(sigterm=1) for name in ("sc-1", "sc-3", "regular-1")}
    behaviours["sc-2"] = Behaviour(sigterm=20)
    result = simulate(model, behaviours, delete_at=10)
    assert result.phase == "Succeeded"
    assert result.statuses["sc-2"] == (137, "Error")
    assert result.statuses["sc-1"] == result.statuses["sc-3"] == result.statuses["regular-1"] == (0, "Completed")


def test_s36_a_regular_prestop_that_uses_up_the_grace_period_fails_the_pod() -> None:
    model = pod(sidecar("sc-1"), sidecar("sc-2"), sidecar("sc-3"), regular("regular-1"), grace=5)
    behaviours = {"sc-1": Behaviour(sigterm=1), "sc-2": Behaviour(sigterm=20), "sc-3": Behaviour(sigterm=1)}
    behaviours["regular-1"] = Behaviour(sigterm=20, pre_stop=20)
    result = simulate(model, behaviours, delete_at=10)
    assert result.phase == "Failed"
    assert result.statuses["regular-1"] == (137, "Error") and result.statuses["sc-2"] == (137, "Error")
    assert result.statuses["sc-1"] == result.statuses["sc-3"] == (0, "Completed")


def test_s37_a_sidecar_prestop_that_uses_up_the_grace_period_still_succeeds() -> None:
    model = pod(sidecar("sc-1"), sidecar("sc-2"), sidecar("sc-3"), regular("regular-1"), grace=5)
    behaviours = {name: Behaviour(sigterm=1, pre_stop=1) for name in ("sc-1", "sc-3")}
    behaviours["sc-2"] = Behaviour(sigterm=20, pre_stop=30)
    behaviours["regular-1"] = Behaviour(sigterm=1)
    result = simulate(model, behaviours, delete_at=10)
    assert result.phase == "Succeeded"
    assert result.statuses["sc-2"] == (137, "Error")
    assert result.statuses["sc-1"] == result.statuses["sc-3"] == result.statuses["regular-1"] == (0, "Completed")
