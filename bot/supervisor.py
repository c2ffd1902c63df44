"""Start the three processes together, wait until each answers, keep them running.

``python -m bot run`` (``make run``) and the end-to-end tests use this. The Rasa
server runs from Rasa's own environment, the action server and the web service
from the app environment (this interpreter). A process that exits on its own is
started again after a growing pause (``supervise``): the others keep serving, and
buyers are told of technical trouble in their language meanwhile. Only a crash
loop (``crash_limit`` exits within ``crash_window`` seconds of one process) stops
everything. Ctrl-C or SIGTERM stops all three, leaving no process behind.

The secrets between the processes (Rasa's API token, the action server's secret,
the NLG token) and the NLG listener's port are fixed here for the run when the
settings leave them empty (development), so all three processes agree on them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
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
    #: When the process exited on its own (monotonic seconds), for the crash-loop limit.
    crashes: list[float] = field(default_factory=list)
    #: When to start it again after a crash; None while it runs.
    restart_at: float | None = None
    #: Restarts so far, and whether the restarted process has answered its ready URL yet.
    restarts: int = 0
    ready: bool = True


def with_run_secrets(settings: Settings) -> Settings:
    """``settings`` with what may be left empty filled in for this run: a random secret
    for each of RASA_TOKEN, ACTION_SERVER_SECRET and NLG_TOKEN, a free NLG_PORT."""

    def secret(value: str) -> str:
        return value or secrets.token_urlsafe(32)

    return dataclasses.replace(
        settings,
        rasa_token=secret(settings.rasa_token),
        action_server_secret=secret(settings.action_server_secret),
        nlg_token=secret(settings.nlg_token),
        nlg_port=settings.nlg_port or free_port(),
    )


@dataclass
class Supervisor:
    settings: Settings
    rasa_executable: Path
    log_dir: Path
    children: list[Child] = field(default_factory=list)
    #: A process that exits this often within ``crash_window`` seconds is not restarted
    #: again: something is broken that restarting will not fix.
    crash_limit: int = 5
    crash_window: float = 60.0
    #: The pause before the first restart; it doubles with each recent crash, up to the maximum.
    first_backoff: float = 0.5
    max_backoff: float = 15.0
    #: Where restarts and crashes are reported (the terminal of `make run`).
    report: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr, flush=True))
    #: Set by stop(): from then on nothing is restarted.
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.settings = with_run_secrets(self.settings)

    @property
    def rasa_query(self) -> str:
        """Rasa's HTTP API takes its plain auth token only as ``?token=`` (a header only
        with JWT): our callers add this to the URLs of /status, /model/parse, /conversations."""
        return f"token={self.settings.rasa_token}"

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
                        # Rasa's own interpreter; bot.rasa_main adds --auth-token from RASA_TOKEN
                        # so the token is not on the command line for every local user to read.
                        str(self.rasa_executable.with_name("python")),
                        "-m",
                        "bot.rasa_main",
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
                    f"http://127.0.0.1:{s.rasa_port}/status?{self.rasa_query}",
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
        for child in children:
            self._spawn(child)
            self.children.append(child)
        deadline = time.monotonic() + timeout
        for child in children:
            self._wait_ready(child, deadline)

    def _spawn(self, child: Child) -> None:
        """Start ``child``'s process in a session of its own (so stop() reaches its children)."""
        child.log_path = self.log_dir / f"{child.name}.log"
        with child.log_path.open("ab") as log:
            child.process = subprocess.Popen(
                child.command,
                cwd=PROJECT_ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_ready(self, child: Child, deadline: float) -> None:
        assert child.process is not None
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited with code {child.process.returncode}; see {child.log_path}"
                )
            if _answers(child.ready_url, timeout=2):
                return
            time.sleep(0.5)
        raise RuntimeError(f"{child.name} did not become ready in time; see {child.log_path}")

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM every child, wait up to ``grace`` seconds, then SIGKILL what is left."""
        self.stopping.set()
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

    def supervise(self, poll: float = 0.25) -> Child | None:
        """Keep every child running until one crash-loops; return that one.

        Returns on a crash loop (the caller then stops the rest), or None once stop() was
        called; Ctrl-C and SIGTERM arrive as KeyboardInterrupt (see ``run``).
        """
        while not self.stopping.is_set():
            now = time.monotonic()
            for child in list(self.children):
                if self.stopping.is_set():
                    return None
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.restart_at = None
                        child.restarts += 1
                        child.ready = False
                        self._spawn(child)
                    continue
                assert child.process is not None
                code = child.process.poll()
                if code is None:
                    if not child.ready and _answers(child.ready_url, timeout=0.5):
                        child.ready = True
                        self.report(f"{child.name} is back (restart {child.restarts}).")
                    continue
                child.crashes = [t for t in child.crashes if now - t < self.crash_window] + [now]
                if len(child.crashes) >= self.crash_limit:
                    self.report(
                        f"{child.name} exited with code {code}: {len(child.crashes)} crashes within "
                        f"{self.crash_window:.0f} s, not restarting it again; see {child.log_path}. "
                        "Stopping the rest."
                    )
                    return child
                delay = min(self.max_backoff, self.first_backoff * 2 ** (len(child.crashes) - 1))
                child.restart_at = now + delay
                self.report(
                    f"{child.name} exited with code {code}; restart {child.restarts + 1} in {delay:.1f} s "
                    f"(see {child.log_path})."
                )
            self.stopping.wait(poll)
        return None


def _answers(url: str, timeout: float) -> bool:
    """Whether ``url`` answers 200 now."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


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
    settings = supervisor.settings
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
        supervisor.supervise()
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
