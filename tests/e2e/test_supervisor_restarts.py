"""The supervisor's restart policy, with real (tiny) processes instead of the assistant.

A process that crashes is started again after a pause that doubles; one that keeps
crashing (crash_limit times within crash_window) makes supervise() give up, so that
`python -m bot run` stops everything with a clear message instead of looping forever.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from bot.settings import Settings
from bot.supervisor import Child, Supervisor, free_port


def supervisor_of(tmp_path: Path, command: list[str], lines: list[str]) -> Supervisor:
    supervisor = Supervisor(
        Settings(var_dir=tmp_path),
        Path("unused"),
        tmp_path / "logs",
        first_backoff=0.05,
        max_backoff=0.2,
        report=lines.append,
    )
    supervisor.log_dir.mkdir(parents=True)
    child = Child("flaky", command, f"http://127.0.0.1:{free_port()}/health")
    supervisor._spawn(child)
    supervisor.children.append(child)
    return supervisor


def test_a_crash_loop_stops_with_a_clear_message(tmp_path: Path) -> None:
    lines: list[str] = []
    supervisor = supervisor_of(tmp_path, [sys.executable, "-c", "raise SystemExit(3)"], lines)
    try:
        given_up = supervisor.supervise(poll=0.02)
    finally:
        supervisor.stop()
    assert given_up.name == "flaky" and given_up.restarts == 4
    restarts = [line for line in lines if "; restart " in line]
    assert restarts == [
        f"flaky exited with code 3; restart {n} in {delay:.1f} s (see {tmp_path / 'logs' / 'flaky.log'})."
        for n, delay in ((1, 0.05), (2, 0.1), (3, 0.2), (4, 0.2))
    ]
    assert lines[-1].startswith("flaky exited with code 3: 5 crashes within 60 s, not restarting it again")


def test_a_process_killed_once_is_started_again(tmp_path: Path) -> None:
    lines: list[str] = []
    marker = tmp_path / "started"
    # Each start appends a line; the process then lives until it is killed.
    script = f"import time; open({str(marker)!r}, 'a').write('x\\n'); time.sleep(600)"
    supervisor = supervisor_of(tmp_path, [sys.executable, "-c", script], lines)
    child = supervisor.children[0]
    assert child.process is not None
    first = child.process
    watcher = threading.Thread(target=supervisor.supervise, kwargs={"poll": 0.02}, daemon=True)
    watcher.start()
    try:
        first.kill()
        first.wait()
        deadline = threading.Event()
        for _ in range(200):
            if child.process is not first and marker.exists() and marker.read_text().count("x") == 2:
                break
            deadline.wait(0.05)
        assert child.process is not first and child.process is not None
        assert child.process.poll() is None and child.restarts == 1
        assert lines == [
            f"flaky exited with code -9; restart 1 in 0.1 s (see {tmp_path / 'logs' / 'flaky.log'})."
        ]
    finally:
        supervisor.stop()
