"""Health as ECS and the load balancer judge it: the definition's check inside the task, the target
group's from outside.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from scripts import stack
from scripts.rehearse.definitions import HealthCheck, TargetGroupCheck
from scripts.rehearse.reporting import RehearsalError, say
from scripts.rehearse.task import Task


def health_argv(command: Sequence[str]) -> list[str]:
    """ECS HealthCheck.Command: CMD runs the words, CMD-SHELL runs one string with /bin/sh -c."""
    kind, *rest = command
    if kind == "CMD":
        return list(rest)
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(rest)]
    raise RehearsalError(f"health check command must start with CMD or CMD-SHELL: {command}")


def wait_healthy(task: Task, check: HealthCheck, interval: float | None) -> int:
    """Run the container health check as ECS does until HEALTHY; returns the number of runs.

    Failures within StartPeriod do not count; `Retries` consecutive failures after it make the
    container UNHEALTHY (ECS would stop the task): the rehearsal fails.
    """
    every = check.interval if interval is None else interval
    started = time.monotonic()
    failures = runs = 0
    argv = health_argv(check.command)
    while True:
        time.sleep(every)
        if not task.running():
            raise RehearsalError(
                f"{task.name} exited before it was healthy:\n{stack.tail(task.log_path, 40)}"
            )
        runs += 1
        result = task.exec(argv, check.timeout)
        if result.returncode == 0:
            return runs
        if time.monotonic() - started > check.start_period:
            failures += 1
            if failures >= check.retries:
                raise RehearsalError(
                    f"{task.name}: UNHEALTHY after {failures} failed health checks "
                    f"({result.stderr.strip()[-500:]}):\n{stack.tail(task.log_path, 40)}"
                )


def wait_target_healthy(
    task: Task, port: int, check: TargetGroupCheck, interval: float | None
) -> None:
    """The target group's health check, from outside the task, at the task's address."""
    every = check.interval if interval is None else interval
    target_port = port if check.port == "traffic-port" else int(check.port)
    url = f"http://{task.address}:{target_port}{check.path}"
    codes = {int(c) for c in check.matcher.split(",") if c.strip().isdigit()}
    healthy = failures = 0
    while healthy < check.healthy_threshold:
        status = 0
        try:
            with urllib.request.urlopen(url, timeout=check.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except OSError:
            status = 0
        if status in codes:
            healthy += 1
        else:
            healthy = 0
            failures += 1
            if failures > 10:
                raise RehearsalError(f"target group check {url} keeps failing (last {status})")
        if healthy < check.healthy_threshold:
            time.sleep(every)
    say(f"target group: {url} healthy ({check.healthy_threshold} checks answered {check.matcher})")
