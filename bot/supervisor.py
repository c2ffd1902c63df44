"""Start the three processes together, wait until each answers, stop them together.

``python -m bot run`` (``make run``) and the end-to-end tests use this. The Rasa
server runs from Rasa's own environment, the action server and the web service
from the app environment (this interpreter). Ctrl-C or SIGTERM stops all three;
if one dies, the others are stopped too, so nothing is left half-running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.settings import DEV_ADMIN_TOKEN, PROJECT_ROOT, Settings


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for tests and benchmarks)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Child:
    """One supervised process and the URL that answers once it is ready."""

    name: str
    command: list[str]
    ready_url: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None


@dataclass
class Supervisor:
    settings: Settings
    rasa_executable: Path
    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def plan(self, with_rasa_server: bool = True) -> list[Child]:
        s = self.settings
        children = [
            Child(
                "actions",
                [
                    sys.executable,
                    "-m",
                    "bot.action_server",
                    "--actions",
                    "actions",
                    "--port",
                    str(s.action_port),
                ],
                f"http://127.0.0.1:{s.action_port}/health",
            ),
            Child("web", [sys.executable, "-m", "bot", "serve"], f"http://127.0.0.1:{s.web_port}/health"),
        ]
        if with_rasa_server:
            children.append(
                Child(
                    "rasa",
                    [
                        str(self.rasa_executable),
                        "run",
                        "--enable-api",
                        "--interface",
                        "127.0.0.1",
                        "--port",
                        str(s.rasa_port),
                        "--model",
                        str(s.model_path),
                        "--endpoints",
                        "endpoints.yml",
                        "--credentials",
                        "credentials.yml",
                    ],
                    f"http://127.0.0.1:{s.rasa_port}/status",
                )
            )
        return children

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.settings.process_environment())
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        return env

    def start(self, children: Sequence[Child], timeout: float = 300.0) -> None:
        """Migrate the database, start ``children`` and wait until each answers its ready URL.

        Migrating first means no process can write before the tables exist.
        """
        from bot.db.database import upgrade

        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        upgrade(self.settings.database_url)
        env = self.environment()
        for child in children:
            child.log_path = self.log_dir / f"{child.name}.log"
            log = child.log_path.open("ab")
            child.process = subprocess.Popen(
                child.command,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            self.children.append(child)
        deadline = time.monotonic() + timeout
        for child in children:
            self._wait_ready(child, deadline)

    def _wait_ready(self, child: Child, deadline: float) -> None:
        assert child.process is not None
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited with code {child.process.returncode}; see {child.log_path}"
                )
            try:
                with urllib.request.urlopen(child.ready_url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{child.name} did not become ready in time; see {child.log_path}")

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM every child, wait up to ``grace`` seconds, then SIGKILL what is left."""
        for child in self.children:
            if child.process and child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        self.children.clear()

    def restart(self, name: str, timeout: float = 120.0) -> None:
        """Stop one child (SIGTERM, as a deploy does) and start it again; the others keep running."""
        old = next(child for child in self.children if child.name == name)
        if old.process and old.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(old.process.pid, signal.SIGTERM)
            old.process.wait(15)
        self.children.remove(old)
        self.start([Child(old.name, old.command, old.ready_url)], timeout=timeout)

    def wait_any_exit(self) -> Child:
        """Block until one child exits; return it."""
        while True:
            for child in self.children:
                if child.process and child.process.poll() is not None:
                    return child
            time.sleep(0.5)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _load_demo_data_into_a_new_database(settings: Settings) -> None:
    """A new user sees order tracking at once: a database without orders gets the demo set."""
    from bot.db.database import Database, upgrade
    from bot.orders import demo

    upgrade(settings.database_url)
    database = Database(settings.database_url)
    try:
        if demo.is_empty(database):
            report = demo.load(database)
            print(f"New database: loaded {report.created} demo orders (python -m bot demo-data).")
    finally:
        database.dispose()


def _shown_token(settings: Settings) -> str:
    """The admin token as printed: the development default in full, a real one never."""
    return settings.admin_token if settings.admin_token == DEV_ADMIN_TOKEN else "$ADMIN_TOKEN"


def run(settings: Settings, rasa_executable: Path, shell: bool = False) -> int:
    """Run everything until Ctrl-C (or, with ``shell``, until ``rasa shell`` ends)."""
    if not settings.model_path.exists():
        print(f"No trained model at {settings.model_path}: run `make train` first.", file=sys.stderr)
        return 2
    supervisor = Supervisor(settings, rasa_executable, settings.var_dir / "logs")
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    _load_demo_data_into_a_new_database(settings)
    try:
        print("Starting the action server, the web service and the Rasa server (about a minute)...")
        supervisor.start(supervisor.plan(with_rasa_server=not shell))
        if shell:
            command = [
                str(rasa_executable),
                "shell",
                "--model",
                str(settings.model_path),
                "--endpoints",
                "endpoints.yml",
            ]
            return subprocess.call(command, cwd=PROJECT_ROOT, env=supervisor.environment())
        print(
            "\nReady.\n"
            f"  Demo store with the chat widget: {settings.web_url}/store\n"
            f'  Widget for your store:  <script src="{settings.web_url}/widget.js" async></script>\n'
            f"  Chat API:               POST {settings.web_url}/api/chat "
            '{"conversation_id": "...", "text": "hola", "locale": "es-ES"}\n'
            f"  Knowledge-base admin:   {settings.web_url}/api/admin/kb/entries "
            f"(header 'Authorization: Bearer {_shown_token(settings)}')\n"
            f"  Staff console:          {settings.web_url}/console   (python -m bot staff add ... first)\n"
            f"  Dashboard:              {settings.web_url}/dashboard (admins)\n"
            f"  Database:               {settings.database_url}\n"
            f"  Logs:                   {supervisor.log_dir}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        child = supervisor.wait_any_exit()
        print(f"{child.name} stopped unexpectedly; see {child.log_path}. Stopping the rest.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping...")
        return 0
    except RuntimeError as error:
        print(f"Could not start: {error}", file=sys.stderr)
        return 1
    finally:
        supervisor.stop()
        print("Stopped.")
