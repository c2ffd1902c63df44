"""Fault and load suite: simulated buyers against the whole assistant while its parts crash.

Starts the assistant for real (``python -m bot run``: the supervisor with Rasa, the
action server and the web service) and lets buyers in 10 languages chat with it the
way the widget does: over ``/ws/chat`` or ``POST /api/chat``, one message at a time,
each with a ``client_msg_id`` that is sent again, unchanged, after an error, a
timeout or a lost connection. Meanwhile the suite kills Rasa, the action server and
the web service with SIGKILL, one at a time and spaced out, and restarts PostgreSQL
when the assistant runs on it. It never restarts a process itself: bringing a
crashed part back is the supervisor's job, and a part that does not come back is a
failure of the product.

It fails (exit status 1, each problem named) when a buyer message is lost (never
answered, or missing from the conversation log), answered twice or out of order,
when any HTTP 5xx other than the designed 503 appears, when a killed part does not
come back, or when a process's memory keeps growing (resident memory sampled from
/proc every second; the last third of a process's life against its first third,
after warm-up). The figures go to a section of docs/benchmarks.md.

    python bench/soak.py --buyers 50 --seconds 300 --faults rasa,actions,web,postgres --database postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.supervisor import free_port  # noqa: E402

RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
PROCESSES = ("rasa", "actions", "web")
SECTION = "## Fault and load (soak)"

#: locale, then greeting, a shipping question, an order-tracking attempt, thanks, goodbye.
SCRIPTS: dict[str, tuple[str, list[str]]] = {
    "en": (
        "en-US",
        [
            "Hi there",
            "How long does shipping to Canada take?",
            "Where is my order 10235?",
            "Thanks a lot",
            "Bye",
        ],
    ),
    "zh": ("zh-CN", ["你好", "寄到上海要多久？", "我的订单10235到哪里了？", "谢谢", "再见"]),
    "es": (
        "es-ES",
        [
            "Hola",
            "¿Cuánto tarda el envío a México?",
            "¿Dónde está mi pedido 10235?",
            "Muchas gracias",
            "Adiós",
        ],
    ),
    "fr": (
        "fr-FR",
        [
            "Bonjour",
            "Combien de temps prend la livraison en Belgique ?",
            "Où en est ma commande 10235 ?",
            "Merci beaucoup",
            "Au revoir",
        ],
    ),
    "de": (
        "de-DE",
        [
            "Hallo",
            "Wie lange dauert der Versand nach Österreich?",
            "Wo ist meine Bestellung 10235?",
            "Vielen Dank",
            "Tschüss",
        ],
    ),
    "pt": (
        "pt-BR",
        [
            "Olá",
            "Quanto tempo demora o envio para o Brasil?",
            "Onde está a minha encomenda 10235?",
            "Muito obrigado",
            "Tchau",
        ],
    ),
    "ru": (
        "ru-RU",
        [
            "Здравствуйте",
            "Сколько идёт доставка в Москву?",
            "Где мой заказ 10235?",
            "Спасибо большое",
            "До свидания",
        ],
    ),
    "ar": ("ar-EG", ["مرحبا", "كم يستغرق الشحن إلى دبي؟", "أين طلبي رقم 10235؟", "شكرا جزيلا", "مع السلامة"]),
    "ja": (
        "ja-JP",
        [
            "こんにちは",
            "東京までの配送はどのくらいかかりますか？",
            "注文10235はどこですか？",
            "ありがとうございます",
            "さようなら",
        ],
    ),
    "ko": (
        "ko-KR",
        [
            "안녕하세요",
            "서울까지 배송은 얼마나 걸리나요?",
            "주문 10235 어디쯤 있나요?",
            "감사합니다",
            "안녕히 계세요",
        ],
    ),
}
#: Errors after which the widget sends the same message again (the others are final).
RETRIED_CODES = {"pending", "throttled", "assistant_unavailable", "internal_error", "history_unavailable"}


@dataclass
class Options:
    buyers: int = 50
    seconds: float = 300.0
    #: Faults in the order injected: rasa, actions, web, postgres.
    faults: list[str] = field(default_factory=lambda: ["rasa", "actions", "web"])
    database: str = "sqlite"
    #: PostgreSQL server for --database postgres (a throw-away database is made on it).
    postgres_url: str = ""
    #: How long a killed part may take to answer again (Rasa loads its model: slow).
    recovery_deadline: dict[str, float] = field(
        default_factory=lambda: {"rasa": 420.0, "actions": 180.0, "web": 90.0, "postgres": 60.0}
    )
    #: After the load ends, how long unanswered messages may still be retried.
    grace_seconds: float = 180.0
    #: Memory: growth allowed between the first and last third of a process's life.
    rss_tolerance: float = 0.25
    rss_tolerance_mb: float = 40.0
    warmup_seconds: float = 20.0
    think_seconds: tuple[float, float] = (2.0, 6.0)
    seed: int = 11
    #: Where the figures go (None: not written).
    benchmarks_file: Path | None = ROOT / "docs" / "benchmarks.md"


# --- what the buyers saw ---------------------------------------------------------------


@dataclass
class Sent:
    """One buyer message and everything that happened to it."""

    buyer: int
    conversation: str
    client_msg_id: str
    text: str
    first_sent: float
    attempts: int = 0
    answered_at: float | None = None
    #: Log ids of the replies as the buyer received them (None ids: not logged).
    reply_ids: list[int | None] = field(default_factory=list)
    reply_sets: list[tuple[int | None, ...]] = field(default_factory=list)
    refused: str | None = None
    empty_answers: int = 0
    #: What each attempt got ("HTTP 503 assistant_unavailable", "connection error", ...).
    outcomes: list[str] = field(default_factory=list)

    def story(self) -> str:
        shown = self.outcomes[:4] + (["…"] if len(self.outcomes) > 4 else [])
        return f"(buyer {self.buyer}; attempts: {', '.join(shown) or 'none'})"


@dataclass
class Fault:
    kind: str
    at: float
    old_pid: int | None = None
    new_pid: int | None = None
    back_after: float | None = None
    first_answer_after: float | None = None
    problem: str | None = None


@dataclass
class Run:
    options: Options
    started: float = field(default_factory=time.monotonic)
    sent: list[Sent] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    http_5xx: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    #: name -> [(seconds since start, pid, resident MB)]
    rss: dict[str, list[tuple[float, int, float]]] = field(default_factory=dict)
    supervisor_exit: str | None = None
    problems: list[str] = field(default_factory=list)
    memory: dict[str, dict[str, float]] = field(default_factory=dict)
    #: When the buyers stop starting new messages (seconds since start); a fault still
    #: recovering pushes it back, so every fault happens under load.
    load_ends: float = 0.0
    load_ended: float | None = None
    #: A fault is being injected or recovered from: the load goes on meanwhile.
    fault_active: bool = False
    #: When each process (pid) was seen ready, for the memory warm-up.
    ready_at: dict[int, float] = field(default_factory=dict)

    def loading(self) -> bool:
        """Do buyers still start new messages?"""
        return self.fault_active or self.now() < self.load_ends

    def giving_up(self) -> bool:
        """Has the time to get unanswered messages answered run out?"""
        return not self.fault_active and self.now() > self.load_ends + self.options.grace_seconds

    def now(self) -> float:
        return time.monotonic() - self.started

    def count(self, what: str) -> None:
        self.statuses[what] = self.statuses.get(what, 0) + 1

    def answered(self, item: Sent, messages: list[dict[str, Any]]) -> None:
        ids = tuple(m.get("id") if isinstance(m.get("id"), int) else None for m in messages)
        if item.reply_sets and ids in item.reply_sets:
            return  # the same replies again (a retry of an answered message): fine
        item.reply_sets.append(ids)
        if item.answered_at is None:
            item.answered_at = self.now()
            item.reply_ids = list(ids)
            for fault in self.faults:
                if fault.first_answer_after is None and item.answered_at > fault.at:
                    fault.first_answer_after = item.answered_at - fault.at


# --- the processes ---------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children of children too), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _read(f"/proc/{entry.name}/stat")
        if not stat:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        match = re.search(r"^VmRSS:\s+(\d+)", _read(f"/proc/{pid}/status"), re.MULTILINE)
        if match:
            total += int(match.group(1))
    return total / 1024


def classify(pid: int) -> str | None:
    """Which part of the assistant a process is, from its command line."""
    argv = _read(f"/proc/{pid}/cmdline").split("\0")
    line = " ".join(argv)
    if "bot.action_server" in line:
        return "actions"
    if "bot.rasa_main" in line or ("bin/rasa" in line and "run" in argv and "actions" not in argv):
        return "rasa"
    if "-m bot serve" in line or ("-m" in argv and "bot" in argv and "serve" in argv):
        return "web"
    return None


@dataclass
class Assistant:
    """``python -m bot run`` with its settings in the environment, as an operator starts it."""

    options: Options
    var_dir: Path
    database_url: str
    web_port: int = field(default_factory=free_port)
    rasa_port: int = field(default_factory=free_port)
    action_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.var_dir / "supervisor.log"

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def ready_urls(self) -> dict[str, str]:
        return {
            "web": f"{self.web}/health",
            "actions": f"http://127.0.0.1:{self.action_port}/health",
            "rasa": f"http://127.0.0.1:{self.rasa_port}/",  # answers without the API token
        }

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            APP_ENV="development",
            HOST="127.0.0.1",
            WEB_PORT=str(self.web_port),
            RASA_PORT=str(self.rasa_port),
            ACTION_PORT=str(self.action_port),
            NLG_PORT=str(free_port()),
            VAR_DIR=str(self.var_dir),
            DATABASE_URL=self.database_url,
            # Each simulated buyer comes from an address of its own, as real ones do.
            TRUST_X_FORWARDED_FOR="1",
            PYTHONPATH=str(ROOT),
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        return env

    def start(self, timeout: float = 420.0) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", "--rasa", str(RASA)],
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        for name in PROCESSES:
            while not self.answers(name):
                if self.process.poll() is not None:
                    raise RuntimeError(f"the assistant did not start:\n{self.tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not become ready in {timeout:.0f} s:\n{self.tail()}")
                time.sleep(0.5)

    def answers(self, name: str) -> bool:
        """Is this part serving? Rasa's own port answers while its model still loads, and its
        /status needs the token the supervisor made up: the web service's deep health says."""
        import urllib.error
        import urllib.request

        url = f"{self.web}/health?deep=1" if name == "rasa" else self.ready_urls()[name]
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if name == "rasa":
                    return bool(json.loads(response.read()).get("rasa") == "up")
                return bool(response.status < 500)
        except urllib.error.HTTPError as error:
            return name != "rasa" and error.code < 500
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def pids(self) -> dict[str, int]:
        """The main process of each part (the topmost one of its kind)."""
        found: dict[str, int] = {}
        if self.process is None or self.process.poll() is not None:
            return found
        for pid in sorted(descendants(self.process.pid)):
            name = classify(pid)
            if name and name not in found:
                found[name] = pid
        return found

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        logs = ""
        for log in sorted((self.var_dir / "logs").glob("*.log")):
            logs += f"\n--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(text.splitlines()[-lines:]) + logs

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Children live in sessions of their own: whatever is left of them goes too.
        for pid in descendants(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def sample_memory(assistant: Assistant, run: Run, stop: threading.Event) -> None:
    """Resident memory of each part (with its own child processes) once a second."""
    while not stop.wait(1.0):
        for name, pid in assistant.pids().items():
            run.rss.setdefault(name, []).append((run.now(), pid, rss_mb([pid, *descendants(pid)])))


# --- faults ----------------------------------------------------------------------------


def postgres_cluster() -> tuple[str, str] | None:
    """(version, name) of the local PostgreSQL cluster, from pg_lsclusters."""
    if not shutil.which("pg_lsclusters"):
        return None
    out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False)
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "5432":
            return parts[0], parts[1]
    return None


def postgres_answers(url: str) -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, pool_pre_ping=True)
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def inject(assistant: Assistant, run: Run, kind: str) -> Fault:
    fault = Fault(kind, run.now())
    run.faults.append(fault)
    deadline = time.monotonic() + run.options.recovery_deadline.get(kind, 120.0)
    if kind == "postgres":
        cluster = postgres_cluster()
        if cluster is None:
            fault.problem = "no local PostgreSQL cluster on port 5432 (pg_lsclusters)"
            return fault
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart"],
            check=False,
            capture_output=True,
        )
        while not postgres_answers(assistant.database_url):
            if time.monotonic() > deadline:
                fault.problem = "PostgreSQL did not come back"
                return fault
            time.sleep(0.5)
        fault.back_after = run.now() - fault.at
        return fault
    fault.old_pid = assistant.pids().get(kind)
    if fault.old_pid is None:
        fault.problem = f"no {kind} process to kill"
        return fault
    with contextlib.suppress(ProcessLookupError):
        os.kill(fault.old_pid, signal.SIGKILL)
    while True:
        if not assistant.alive():
            fault.problem = (
                f"the supervisor stopped after {kind} was killed "
                f"(exit {assistant.process.returncode if assistant.process else '?'})"
            )
            return fault
        pid = assistant.pids().get(kind)
        if pid is not None and pid != fault.old_pid and assistant.answers(kind):
            fault.new_pid = pid
            fault.back_after = run.now() - fault.at
            run.ready_at[pid] = run.now()
            return fault
        if time.monotonic() > deadline:
            fault.problem = f"{kind} was not restarted within {run.options.recovery_deadline.get(kind)} s"
            return fault
        time.sleep(0.25)


async def fault_schedule(assistant: Assistant, run: Run) -> None:
    """The faults, evenly spaced over the load after warm-up, one at a time; each waits
    until the previous part is back, and the load goes on until the last is back."""
    kinds = run.options.faults
    start = min(run.options.warmup_seconds, run.options.seconds / 4)
    gap = (run.options.seconds - start) / (len(kinds) + 0.5) if kinds else 0.0
    for number, kind in enumerate(kinds):
        due = start + gap * number
        await asyncio.sleep(max(0.0, due - run.now()))
        run.fault_active = True
        try:
            fault = await asyncio.to_thread(inject, assistant, run, kind)
        finally:
            run.fault_active = False
        back = f"back after {fault.back_after:.1f} s" if fault.back_after is not None else fault.problem
        print(f"[{run.now():6.1f} s] fault: {kind} ({back})", flush=True)
        # Some load after each recovery, so it is seen to work again.
        run.load_ends = max(run.load_ends, run.now() + 10.0)
        if fault.problem and not assistant.alive():
            run.load_ends = run.now()  # nothing left to talk to
            return


# --- buyers ----------------------------------------------------------------------------


Socket = aiohttp.ClientWebSocketResponse[bool]


class Refused(Exception):
    """The service refused a message for good (the widget would not send it again)."""


@dataclass
class Buyer:
    number: int
    language: str
    transport: str  # "ws" or "http"
    run: Run
    base: str
    rng: random.Random
    conversation_id: str | None = None
    conversation_key: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        # 198.18.0.0/15 is for benchmarks: one address per buyer.
        return {"X-Forwarded-For": f"198.18.{self.number // 250}.{self.number % 250 + 1}"}

    def body(self, item: Sent, locale: str) -> dict[str, Any]:
        body: dict[str, Any] = {"client_msg_id": item.client_msg_id, "text": item.text, "locale": locale}
        if self.conversation_id:
            body["conversation_id"] = self.conversation_id
            if self.conversation_key:
                body["conversation_key"] = self.conversation_key
        return body

    def adopt(self, body: dict[str, Any]) -> None:
        if not self.conversation_id and isinstance(body.get("conversation_id"), str):
            self.conversation_id = body["conversation_id"]
            self.conversation_key = body.get("conversation_key")

    async def live(self, session: aiohttp.ClientSession) -> None:
        locale, script = SCRIPTS[self.language]
        await asyncio.sleep(self.rng.uniform(0, self.run.options.think_seconds[1]))
        while self.run.loading():
            self.conversation_id = self.conversation_key = None
            socket: Socket | None = None
            try:
                for text in script:
                    if not self.run.loading():
                        break
                    item = Sent(self.number, "", uuid.uuid4().hex, text, self.run.now())
                    self.run.sent.append(item)
                    try:
                        if self.transport == "ws":
                            socket = await self.send_ws(session, socket, item, locale)
                        else:
                            await self.send_http(session, item, locale)
                    finally:
                        item.conversation = self.conversation_id or ""
                    if item.answered_at is None:
                        break  # given up on: this buyer leaves
                    await asyncio.sleep(self.rng.uniform(*self.run.options.think_seconds))
            except Refused:
                pass  # a refused buyer starts a new conversation, as the widget does
            finally:
                if socket is not None:
                    await socket.close()

    async def pause(self, attempt: int, retry_after: float | None = None) -> None:
        await asyncio.sleep(retry_after if retry_after else min(5.0, 0.5 * 2 ** min(attempt, 4)))

    def refused(self, item: Sent, why: str) -> None:
        item.refused = why
        self.run.problems.append(f"buyer {self.number} ({self.language}): {item.text!r} refused: {why}")
        raise Refused(why)

    async def start_http(self, session: aiohttp.ClientSession, item: Sent) -> bool:
        """Get a conversation id and key before the first message, as the widget does
        (``POST /api/chat/start`` stores nothing, so asking again is harmless); a
        message is never sent without an id, so its retry cannot start a second one."""
        while not self.conversation_id and not self.run.giving_up():
            item.attempts += 1
            try:
                async with session.post(
                    f"{self.base}/api/chat/start",
                    json={},
                    headers=self.headers,
                    timeout=aiohttp.ClientTimeout(total=15),
                ) as response:
                    status = response.status
                    try:
                        body = await response.json(content_type=None)
                    except (json.JSONDecodeError, aiohttp.ContentTypeError, UnicodeDecodeError):
                        body = {}
            except (aiohttp.ClientError, TimeoutError, asyncio.TimeoutError) as lost:
                self.run.count("connection error or timeout")
                item.outcomes.append(f"no response to start ({type(lost).__name__})")
                await self.pause(item.attempts)
                continue
            self.run.count(f"HTTP {status} (start)")
            if status >= 500 and status != 503:
                self.run.http_5xx.append(f"POST /api/chat/start: HTTP {status} {str(body)[:200]}")
            if status == 200 and isinstance(body, dict):
                self.adopt(body)
                continue
            error = body.get("error") if isinstance(body, dict) else None
            await self.pause(item.attempts, error.get("retry_after") if isinstance(error, dict) else None)
        return bool(self.conversation_id)

    async def send_http(self, session: aiohttp.ClientSession, item: Sent, locale: str) -> None:
        if not await self.start_http(session, item):
            return
        while item.answered_at is None and not self.run.giving_up():
            item.attempts += 1
            try:
                async with session.post(
                    f"{self.base}/api/chat",
                    json=self.body(item, locale),
                    headers=self.headers,
                    timeout=aiohttp.ClientTimeout(total=45),
                ) as response:
                    status = response.status
                    body: Any
                    try:
                        body = await response.json(content_type=None)
                    except (json.JSONDecodeError, aiohttp.ContentTypeError, UnicodeDecodeError):
                        body = {}
            except (aiohttp.ClientError, TimeoutError, asyncio.TimeoutError) as lost:
                self.run.count("connection error or timeout")
                item.outcomes.append(f"no response ({type(lost).__name__})")
                await self.pause(item.attempts)
                continue
            self.run.count(f"HTTP {status}")
            if not isinstance(body, dict):
                body = {}
            self.adopt(body)
            if status == 200 and body.get("messages"):
                item.outcomes.append("HTTP 200")
                self.run.answered(item, body["messages"])
                return
            if status == 200:
                item.empty_answers += 1  # no reply is no answer: the widget tries again
            elif status >= 500 and status != 503:
                self.run.http_5xx.append(f"POST /api/chat {item.text!r}: HTTP {status} {str(body)[:200]}")
            error: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
            item.outcomes.append(f"HTTP {status} {error.get('code') or ''}".strip())
            if status != 200 and status < 500 and error.get("code") not in RETRIED_CODES:
                self.refused(item, f"HTTP {status} {error.get('code')}")
            await self.pause(item.attempts, error.get("retry_after"))

    async def hello(self, session: aiohttp.ClientSession) -> Socket | None:
        """Connect and say hello (issuing or resuming the conversation); None if it failed."""
        try:
            socket = await asyncio.wait_for(
                session.ws_connect(f"{self.base}/ws/chat", headers=self.headers), timeout=10
            )
        except aiohttp.WSServerHandshakeError as error:
            self.run.count(f"WS handshake {error.status}")
            if error.status >= 500 and error.status != 503:
                self.run.http_5xx.append(f"GET /ws/chat: HTTP {error.status}")
            return None
        except (aiohttp.ClientError, TimeoutError, asyncio.TimeoutError):
            self.run.count("connection error or timeout")
            return None
        hello: dict[str, Any] = {"type": "hello", "after": 0}
        if self.conversation_id:
            hello.update(conversation_id=self.conversation_id, conversation_key=self.conversation_key)
        while not self.run.giving_up():
            try:
                await socket.send_json(hello)
                while True:
                    event = await socket.receive_json(timeout=20)
                    if event.get("type") in ("history", "error"):
                        break
            except (aiohttp.ClientError, TimeoutError, asyncio.TimeoutError, TypeError, ValueError):
                await socket.close()
                return None
            if event["type"] == "history":
                self.adopt(event)
                return socket
            if event.get("code") == "invalid_conversation_id" and "conversation_id" not in hello:
                hello["conversation_id"] = uuid.uuid4().hex  # the older API: ids from the client
                continue
            if event.get("code") in RETRIED_CODES:
                await asyncio.sleep(float(event.get("retry_after") or 1))
                continue
            await socket.close()
            raise Refused(f"hello refused: {event.get('code')}")
        await socket.close()
        return None

    async def send_ws(
        self,
        session: aiohttp.ClientSession,
        socket: Socket | None,
        item: Sent,
        locale: str,
    ) -> Socket | None:
        failures = 0
        while item.answered_at is None and not self.run.giving_up():
            if socket is None or socket.closed:
                socket = await self.hello(session)
                if socket is None:
                    failures += 1
                    await self.pause(failures)
                    continue
            item.attempts += 1
            frame = {"type": "message", **self.body(item, locale)}
            frame.pop("conversation_id", None)
            frame.pop("conversation_key", None)
            try:
                await socket.send_json(frame)
                event = await self.reply_to(socket, item.client_msg_id)
            except (aiohttp.ClientError, TimeoutError, asyncio.TimeoutError, ConnectionError, ValueError):
                self.run.count("connection error or timeout")
                item.outcomes.append("socket lost")
                await socket.close()
                socket = None
                failures += 1
                await self.pause(failures)
                continue
            self.run.count(f"WS {event.get('type')} {event.get('code') or ''}".strip())
            item.outcomes.append(f"WS {event.get('type')} {event.get('code') or ''}".strip())
            if event["type"] == "reply" and event.get("messages"):
                item.outcomes.append("WS reply")
                self.run.answered(item, event["messages"])
                # A second answer to the same message would arrive on this socket too.
                return socket
            if event["type"] == "reply":
                item.empty_answers += 1
            elif event.get("code") == "internal_error":
                self.run.http_5xx.append(f"/ws/chat {item.text!r}: internal_error {event.get('detail')}")
            elif event.get("code") not in RETRIED_CODES:
                self.refused(item, f"WS error {event.get('code')}")
            await self.pause(item.attempts, event.get("retry_after"))
        return socket

    async def reply_to(self, socket: Socket, client_msg_id: str) -> dict[str, Any]:
        """The reply or error for this message; extra answers to earlier messages are noted."""
        while True:
            message = await socket.receive(timeout=45)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"socket closed ({message.type})")
            if message.data == "pong":
                continue
            event = json.loads(message.data)
            if not isinstance(event, dict):
                continue
            if event.get("client_msg_id") == client_msg_id and event.get("type") in ("reply", "error"):
                return event
            if event.get("type") == "reply" and event.get("messages"):
                earlier = next(
                    (s for s in self.run.sent if s.client_msg_id == event.get("client_msg_id")), None
                )
                if earlier is not None:
                    self.run.answered(earlier, event["messages"])


# --- checks ----------------------------------------------------------------------------


def check_log(run: Run, database_url: str) -> None:
    """Every message the buyers sent is in the conversation log once, in the order sent,
    each followed by its replies, and by no second set of replies."""
    from sqlalchemy import select

    from bot.db.database import Database
    from bot.db.models import ConversationMessage

    database = Database(database_url)
    try:
        with database.session() as session:
            rows = session.scalars(select(ConversationMessage).order_by(ConversationMessage.id)).all()
            log = [(r.id, r.conversation_id, r.sender, r.client_msg_id) for r in rows]
    finally:
        database.dispose()
    by_conversation: dict[str, list[tuple[int, str, str | None]]] = {}
    stored: dict[str, list[str]] = {}
    for row_id, conversation, sender, client_msg_id in log:
        by_conversation.setdefault(conversation, []).append((row_id, sender, client_msg_id))
        if sender == "buyer" and client_msg_id:
            stored.setdefault(client_msg_id, []).append(conversation)
    sent_in: dict[str, list[Sent]] = {}
    for item in run.sent:
        places = stored.get(item.client_msg_id, [])
        if not places:
            run.problems.append(f"lost: {item.text!r} is not in the conversation log {item.story()}")
        elif len(places) > 1:
            run.problems.append(
                f"stored twice: {item.text!r} in {len(places)} rows of {len(set(places))} conversations "
                f"{item.story()}"
            )
        if item.conversation:
            sent_in.setdefault(item.conversation, []).append(item)
    for conversation, items in sent_in.items():
        rows_here = by_conversation.get(conversation, [])
        order = [c for _, sender, c in rows_here if sender == "buyer"]
        expected = [i.client_msg_id for i in items if i.client_msg_id in order]
        if [c for c in order if c in set(expected)] != expected:
            run.problems.append(
                f"out of order: conversation {conversation[:12]}… stored {order} for {expected}"
            )
        for number, item in enumerate(items):
            at = next((n for n, (_, s, c) in enumerate(rows_here) if c == item.client_msg_id), None)
            if at is None:
                continue
            replies = []
            for row_id, sender, _ in rows_here[at + 1 :]:
                if sender == "buyer":
                    break
                replies.append(row_id)
            received = [i for i in item.reply_ids if i is not None]
            if item.answered_at is not None and not replies:
                run.problems.append(f"lost: the replies to {item.text!r} (buyer {item.buyer}) are not logged")
            elif (
                received
                and sorted(replies) != sorted(received)
                # The next message missing from the log (named above) leaves its replies here.
                and all(later.client_msg_id in stored for later in items[number + 1 : number + 2])
            ):
                run.problems.append(
                    f"answered twice: {item.text!r} (buyer {item.buyer}) has replies {replies} in the log, "
                    f"the buyer got {received}"
                )


def check_buyers(run: Run) -> None:
    for item in run.sent:
        if item.refused:
            continue  # named already
        if item.answered_at is None:
            why = f", {item.empty_answers} empty answers" if item.empty_answers else ""
            run.problems.append(
                f"lost: {item.text!r} never answered after {item.attempts} attempts{why} {item.story()}"
            )
        elif len(item.reply_sets) > 1:
            run.problems.append(f"answered twice: {item.text!r} (buyer {item.buyer}) got {item.reply_sets}")
    run.problems.extend(f"HTTP 5xx: {line}" for line in run.http_5xx)
    run.problems.extend(f"fault {f.kind} at {f.at:.0f} s: {f.problem}" for f in run.faults if f.problem)
    if run.supervisor_exit:
        run.problems.append(run.supervisor_exit)


def memory_growth(run: Run) -> dict[str, dict[str, float]]:
    """Per part: peak, and the first and last third of its longest-lived process after
    warm-up; growth beyond the tolerance is a problem."""
    figures: dict[str, dict[str, float]] = {}
    for name, samples in run.rss.items():
        peak = max(mb for _, _, mb in samples)
        lives: dict[int, list[tuple[float, float]]] = {}
        for t, pid, mb in samples:
            lives.setdefault(pid, []).append((t, mb))

        # Warm-up counts from when the process was ready (a restarted Rasa loads its model
        # first): the initial processes were ready when the run started.
        settled = max(
            (
                [mb for t, mb in life if t - run.ready_at.get(pid, 0.0) >= run.options.warmup_seconds]
                for pid, life in lives.items()
            ),
            key=len,
        )
        figures[name] = {"peak_mb": peak, "samples": len(settled)}
        if len(settled) < 30:
            continue  # too short a life to judge
        third = len(settled) // 3
        first, last = statistics.mean(settled[:third]), statistics.mean(settled[-third:])
        figures[name].update(first_mb=first, last_mb=last)
        allowed = max(first * run.options.rss_tolerance, run.options.rss_tolerance_mb)
        if last - first > allowed:
            run.problems.append(
                f"memory keeps growing: {name} from {first:.0f} MB to {last:.0f} MB "
                f"(allowed {allowed:.0f} MB more)"
            )
    return figures


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))] if ordered else 0.0


# --- the run ---------------------------------------------------------------------------


@contextlib.contextmanager
def database_for(options: Options, tmp: Path) -> Iterator[str]:
    """The assistant's database: a SQLite file, or a new PostgreSQL database dropped after.

    (Not ``bot.db.database.throwaway_database``: its pooled connection does not survive the
    PostgreSQL restart this suite performs; each step here opens a connection of its own.)
    """
    if options.database == "sqlite":
        yield f"sqlite:///{tmp / 'var' / 'assistant.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    server = (
        options.postgres_url
        or os.environ.get("TEST_DATABASE_URL")
        or os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    name = f"soak_{uuid.uuid4().hex[:12]}"

    def execute(statement: str) -> None:
        engine = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def drive(assistant: Assistant, run: Run) -> None:
    options = run.options
    run.load_ends = run.now() + options.seconds
    rng = random.Random(options.seed)
    languages = list(SCRIPTS)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        buyers = [
            Buyer(
                n,
                languages[n % len(languages)],
                "ws" if n % 2 else "http",
                run,
                assistant.web,
                random.Random(rng.random()),
            )
            for n in range(options.buyers)
        ]
        faults = asyncio.create_task(fault_schedule(assistant, run))
        await asyncio.gather(*(b.live(session) for b in buyers))
        run.load_ended = run.now()
        await faults


def soak(options: Options) -> Run:
    """Run the suite; the returned run holds the figures and the problems found."""
    run = Run(options)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp_name:
        tmp = Path(tmp_name)
        with database_for(options, tmp) as database_url:
            assistant = Assistant(options, tmp / "var", database_url)
            stop = threading.Event()
            sampler = threading.Thread(target=sample_memory, args=(assistant, run, stop), daemon=True)
            try:
                print(f"Starting the assistant ({options.database})...", flush=True)
                assistant.start()
                run.started = time.monotonic()
                sampler.start()
                print(
                    f"{options.buyers} buyers for {options.seconds:.0f} s, faults: {options.faults}",
                    flush=True,
                )
                asyncio.run(drive(assistant, run))
                if not assistant.alive():
                    run.supervisor_exit = f"the assistant stopped during the run:\n{assistant.tail(12)}"
            finally:
                stop.set()
                if sampler.is_alive():
                    sampler.join(5)
                logs = assistant.tail(40)
                assistant.stop()
            check_buyers(run)
            check_log(run, database_url)
            run.memory = memory_growth(run)
            if run.problems:
                (Path(tempfile.gettempdir()) / "soak-last-logs.txt").write_text(logs, encoding="utf-8")
    return run


def figures(run: Run) -> dict[str, Any]:
    latencies = [(s.answered_at - s.first_sent) * 1000 for s in run.sent if s.answered_at is not None]
    return {
        "sent": len(run.sent),
        "answered": sum(1 for s in run.sent if s.answered_at is not None),
        "retries": sum(max(0, s.attempts - 1) for s in run.sent),
        "p50_ms": percentile(latencies, 0.5),
        "p95_ms": percentile(latencies, 0.95),
        "faults": [
            {
                "kind": f.kind,
                "at": f.at,
                "back_after": f.back_after,
                "first_answer_after": f.first_answer_after,
                "problem": f.problem,
            }
            for f in run.faults
        ],
        "memory": run.memory,
        "statuses": dict(sorted(run.statuses.items())),
        "problems": run.problems,
    }


def markdown(run: Run) -> str:
    data = figures(run)
    options = run.options
    lines = [
        f"`bench/soak.py`: {options.buyers} simulated buyers in 10 languages (half over WebSocket, half "
        f"over HTTP, each retrying with the same `client_msg_id` as the widget does) for "
        f"{options.seconds:.0f} s against `python -m bot run` on {options.database}, while the suite "
        "kills (SIGKILL) Rasa, the action server and the web service one at a time"
        + (" and restarts PostgreSQL" if "postgres" in options.faults else "")
        + ". Recovery is the supervisor's: the suite never restarts a process.",
        "",
        f"Messages sent: {data['sent']}, answered: {data['answered']}, sent again after an error or "
        f"timeout: {data['retries']}. Reply latency (first send to answer, retries included): "
        f"p50 {data['p50_ms']:.0f} ms, p95 {data['p95_ms']:.0f} ms.",
        "",
        "| fault | at | part back after | first answer after | problem |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in data["faults"]:
        back = f"{f['back_after']:.1f} s" if f["back_after"] is not None else "never"
        answer = f"{f['first_answer_after']:.1f} s" if f["first_answer_after"] is not None else "–"
        what = "restarted" if f["kind"] == "postgres" else "killed"
        lines.append(f"| {f['kind']} {what} | {f['at']:.0f} s | {back} | {answer} | {f['problem'] or ''} |")
    lines += [
        "",
        "| process | peak resident memory | first third | last third |",
        "| --- | --- | --- | --- |",
    ]
    for name, m in sorted(data["memory"].items()):
        first = f"{m['first_mb']:.0f} MB" if "first_mb" in m else "(too short)"
        last = f"{m['last_mb']:.0f} MB" if "last_mb" in m else ""
        lines.append(f"| {name} | {m['peak_mb']:.0f} MB | {first} | {last} |")
    lines += ["", "Responses seen: " + ", ".join(f"{k}: {v}" for k, v in data["statuses"].items()) + "."]
    if run.problems:
        lines += ["", f"**{len(run.problems)} problems** (the suite failed):", ""]
        lines += [f"- {p.splitlines()[0]}" for p in run.problems[:30]]
    else:
        lines += ["", "No message lost, doubled or reordered; no 5xx; no memory growth beyond the tolerance."]
    return "\n".join(lines)


def write_section(path: Path, body: str) -> None:
    """Replace (or add) this suite's section of docs/benchmarks.md, leaving the rest."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = f"{SECTION}\n\n{body}\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    text = (
        pattern.sub(lambda _: section + "\n", text, count=1)
        if pattern.search(text)
        else (text.rstrip("\n") + "\n\n" + section)
    )
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def parse_faults(value: str, database: str) -> list[str]:
    """``rasa,actions,web,postgres`` (in that order), or a number of faults cycling through them."""
    cycle = ["rasa", "actions", "web"] + (["postgres"] if database == "postgres" else [])
    if value.strip().isdigit():
        return [cycle[n % len(cycle)] for n in range(int(value))]
    kinds = [k.strip() for k in value.split(",") if k.strip() and k.strip() != "none"]
    unknown = [k for k in kinds if k not in (*PROCESSES, "postgres")]
    if unknown:
        raise SystemExit(f"unknown faults {unknown}: use rasa, actions, web, postgres or a number")
    if "postgres" in kinds and database != "postgres":
        raise SystemExit("a postgres fault needs --database postgres")
    return kinds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument(
        "--faults", default="", help="e.g. rasa,actions,web,postgres or 4 (default: one of each)"
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args(argv)
    faults = parse_faults(args.faults or ("4" if args.database == "postgres" else "3"), args.database)
    options = Options(
        buyers=args.buyers,
        seconds=args.seconds,
        faults=faults,
        database=args.database,
        benchmarks_file=None if args.no_write else ROOT / "docs" / "benchmarks.md",
    )
    run = soak(options)
    report = markdown(run)
    print(report)
    if options.benchmarks_file is not None:
        write_section(options.benchmarks_file, report)
    if run.problems:
        print(f"\nSOAK FAILED: {len(run.problems)} problems:", file=sys.stderr)
        for problem in run.problems:
            print(f"  - {problem}", file=sys.stderr)
        print(f"Last logs: {Path(tempfile.gettempdir()) / 'soak-last-logs.txt'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
