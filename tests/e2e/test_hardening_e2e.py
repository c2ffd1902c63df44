"""The whole assistant as `python -m bot run` starts it, attacked and broken on purpose.

One run of the real supervisor (a subprocess, as `make run`), then in order:
- Rasa's HTTP API and the action server refuse callers without their secrets (issue 11, item 6);
- /nlg is not on the public port, and Rasa's NLG requests stay small in a long chat (item 2);
- a process killed with SIGKILL is restarted and buyers are answered again (item 17);
- SIGTERM to the supervisor leaves no process behind (item 17).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.settings import PROJECT_ROOT
from bot.supervisor import free_port

RASA_TOKEN = "e2e-rasa-token-0123456789abcdef"
ACTION_SECRET = "e2e-action-secret-0123456789abcdef"
NLG_TOKEN = "e2e-nlg-token-0123456789abcdef"
VIP = {"id": "c-1005", "email": "wang.fang@example.cn"}  # demo data: 王芳, orders 10237 and 10238


@dataclass
class Assistant:
    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    var_dir: Path
    output: Path

    def url(self, name: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def log(self) -> str:
        return self.output.read_text(errors="replace")


def until(check: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll ``check`` until it holds (deadline ``seconds``); the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"{what} not within {seconds} s")
        time.sleep(0.2)
    return time.monotonic() - started


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def descendants(pid: int) -> dict[int, str]:
    """Every living process below ``pid``, with its command line."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands.get(child, "")
                frontier.append(child)
    return found


def child_pid(assistant: Assistant, marker: str) -> int:
    [pid] = [
        p
        for p, command in descendants(assistant.process.pid).items()
        if marker in command and "-m" in command
    ]
    return pid


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    model = PROJECT_ROOT / "models" / "current.tar.gz"
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make train`")
    var_dir = tmp_path_factory.mktemp("var")
    ports = {"web": free_port(), "rasa": free_port(), "actions": free_port(), "nlg": free_port()}
    env = {
        **os.environ,
        "APP_ENV": "development",
        "HOST": "127.0.0.1",
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": "",
        "WEB_PORT": str(ports["web"]),
        "RASA_PORT": str(ports["rasa"]),
        "ACTION_PORT": str(ports["actions"]),
        "NLG_PORT": str(ports["nlg"]),
        "RASA_TOKEN": RASA_TOKEN,
        "ACTION_SERVER_SECRET": ACTION_SECRET,
        "NLG_TOKEN": NLG_TOKEN,
        "CHAT_BURST": "10000",
        "ADDRESS_BURST": "10000",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    output = var_dir / "supervisor.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    started = Assistant(process, ports, var_dir, output)
    try:
        until(
            lambda: "Ready." in started.log() or process.poll() is not None,
            480,
            "the assistant ready",
        )
        assert process.poll() is None, started.log()
        yield started
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


class Buyer:
    """A buyer on the chat API: the service issues the conversation id (and its key)."""

    def __init__(
        self, assistant: Assistant, locale: str = "en-US", customer_token: str | None = None
    ) -> None:
        self.url = assistant.url("web", "/api/chat")
        self.conversation: dict[str, str] = {}
        self.locale = locale
        self.customer_token = customer_token

    def send(self, text: str) -> requests.Response:
        if not self.conversation:  # issued on its own, before the first message
            issued = requests.post(f"{self.url}/start", json={}, timeout=60)
            assert issued.status_code == 200, issued.text
            self.conversation = {k: issued.json()[k] for k in ("conversation_id", "conversation_key")}
        body: dict[str, Any] = {**self.conversation, "text": text, "locale": self.locale}
        if self.customer_token:
            body["customer_token"] = self.customer_token
        return requests.post(self.url, json=body, timeout=60)

    def texts(self, text: str) -> list[str]:
        response = self.send(text)
        assert response.status_code == 200, response.text
        return [m.get("text") or "" for m in response.json()["messages"]]


# -- item 6: Rasa's API and the action server need their secrets ---------------------------


def test_rasa_api_refuses_callers_without_the_token(assistant: Assistant) -> None:
    buyer = Buyer(assistant)
    buyer.texts("where is my order #10231?")
    buyer.texts("emily.carter@example.com")  # the tracker now holds a buyer's email
    tracker = assistant.url("rasa", f"/conversations/{buyer.conversation['conversation_id']}/tracker")
    refused = requests.get(tracker, timeout=30)
    assert refused.status_code == 401 and "emily.carter" not in refused.text
    assert requests.get(tracker, params={"token": "wrong"}, timeout=30).status_code == 401
    parse = assistant.url("rasa", "/model/parse")
    assert requests.post(parse, json={"text": "hola"}, timeout=30).status_code == 401
    allowed = requests.get(tracker, params={"token": RASA_TOKEN}, timeout=30)
    assert allowed.status_code == 200 and "emily.carter@example.com" in allowed.text
    # The token is not on Rasa's command line, where every local user could read it.
    assert all(RASA_TOKEN not in command for command in descendants(assistant.process.pid).values())


def forged_action_call() -> dict[str, Any]:
    """What a local attacker posts to the action server: the VIP customer's order lookup."""
    user = {
        "event": "user",
        "text": "我的订单",
        "timestamp": 1.0,
        "metadata": {"customer": VIP, "locale": "zh-CN"},
    }
    return {
        "next_action": "action_track_order",
        "sender_id": "attacker",
        "version": "3.6.21",
        "tracker": {
            "sender_id": "attacker",
            "slots": {"language": "zh"},
            "latest_message": {"text": "我的订单", "intent": {"name": "ask_order_status"}, "entities": []},
            "events": [user],
            "active_loop": {},
            "paused": False,
            "followup_action": None,
            "latest_event_time": 1.0,
            "latest_action_name": "action_listen",
        },
        "domain": {},
    }


def test_the_action_server_refuses_callers_without_the_secret(assistant: Assistant) -> None:
    webhook = assistant.url("actions", "/webhook")
    for headers in ({}, {"X-Action-Secret": "wrong"}, {"Authorization": f"Bearer {ACTION_SECRET}"}):
        refused = requests.post(webhook, json=forged_action_call(), headers=headers, timeout=30)
        assert refused.status_code == 401 and "10237" not in refused.text, refused.text
    # The same call with Rasa's secret is served: the check is what stood in the way.
    allowed = requests.post(
        webhook, json=forged_action_call(), headers={"X-Action-Secret": ACTION_SECRET}, timeout=30
    )
    assert allowed.status_code == 200 and "10237" in allowed.text, allowed.text


def test_rasa_rest_channel_refuses_posts_as_a_customer_without_the_token(assistant: Assistant) -> None:
    # The web service puts the verified customer in the metadata; a forged post would
    # otherwise be a VIP customer asking for her orders.
    forged = {"sender": "attacker-" + "0" * 30, "message": "我的订单到哪了？", "metadata": {"customer": VIP}}
    rest = assistant.url("rasa", "/webhooks/rest/webhook")
    for headers in ({}, {"X-Rasa-Token": "wrong"}):
        refused = requests.post(rest, json=forged, headers=headers, timeout=60)
        assert refused.status_code == 401 and "10237" not in refused.text, refused.text
    allowed = requests.post(rest, json=forged, headers={"X-Rasa-Token": RASA_TOKEN}, timeout=60)
    assert allowed.status_code == 200 and "10237" in allowed.text, allowed.text


def test_the_assistant_still_chats_and_tracks_orders(assistant: Assistant) -> None:
    buyer = Buyer(assistant)
    reply = buyer.texts("where is my order #10231?")
    assert reply and reply[0]
    reply = buyer.texts("emily.carter@example.com")
    assert any("10231" in text for text in reply), reply


# -- item 2: Rasa's callbacks -----------------------------------------------------------------


def nlg_stats(assistant: Assistant) -> dict[str, Any]:
    response = requests.get(
        assistant.url("nlg", "/nlg/stats"), headers={"X-NLG-Token": NLG_TOKEN}, timeout=10
    )
    assert response.status_code == 200
    return dict(response.json())


def test_a_forged_nlg_post_on_the_public_port_changes_no_language(assistant: Assistant) -> None:
    buyer = Buyer(assistant, locale="en-US")
    assert buyer.send("hello").json()["language"] == "en"
    forged = {
        "response": "utter_greet",
        "arguments": {"language": "ar"},
        "slots": {"language": "ar"},
        "sender_id": buyer.conversation["conversation_id"],
        "tracker": {"sender_id": buyer.conversation["conversation_id"], "slots": {"language": "ar"}},
    }
    for url in (assistant.url("web", "/nlg"), assistant.url("web", f"/nlg?token={NLG_TOKEN}")):
        assert (
            requests.post(url, json=forged, headers={"X-NLG-Token": NLG_TOKEN}, timeout=10).status_code == 404
        )
    # On the loopback listener, without the token: refused too.
    assert requests.post(assistant.url("nlg", "/nlg"), json=forged, timeout=10).status_code == 401
    reply = buyer.send("ok")
    assert reply.status_code == 200 and reply.json()["language"] == "en"


def test_nlg_requests_stay_small_in_a_long_conversation(assistant: Assistant) -> None:
    token = subprocess.run(
        [sys.executable, "-m", "bot", "customer-token", VIP["id"], VIP["email"], "--hours", "1"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    buyer = Buyer(assistant, locale="zh-CN", customer_token=token)
    before = nlg_stats(assistant)["requests"]
    buyer.texts("我的订单到哪了？")
    sizes: list[int] = []
    for _ in range(11):  # 12 messages, each answered through Rasa's NLG
        reply = buyer.texts('/ask_order_status{"order_number": "10237"}')
        assert "10237" in reply[0]
        stats = nlg_stats(assistant)
        sizes.append(stats["recent_body_bytes"][-1])
    stats = nlg_stats(assistant)
    assert stats["requests"] - before >= 12
    # The stock NLG sent the whole tracker: 40+ kB by the 12th message and growing.
    assert max(stats["recent_body_bytes"][-(stats["requests"] - before) :]) < 4096, stats
    assert sizes[-1] <= sizes[0] + 64, sizes


# -- item 17: crashed processes come back ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "marker", "health"),
    [("actions", "bot.action_server", "/health"), ("web", "bot serve", "/health")],
)
def test_a_killed_process_is_restarted_and_buyers_are_answered_again(
    assistant: Assistant, name: str, marker: str, health: str
) -> None:
    old = child_pid(assistant, marker)
    os.kill(old, signal.SIGKILL)
    until(
        lambda: not answers(assistant.url(name, health)) or child_pid_or_none(assistant, marker) != old,
        10,
        f"{name} down",
    )
    took = until(lambda: answers(assistant.url(name, health)), 240, f"{name} back")
    assert assistant.process.poll() is None, assistant.log()
    assert child_pid(assistant, marker) != old
    assert f"{name} exited with code -9; restart 1" in assistant.log()
    # A buyer is answered by the whole assistant again (the order lookup needs the actions).
    buyer = Buyer(assistant)
    until(lambda: buyer.send("where is my order #10231?").status_code == 200, 60, "a reply")
    reply = buyer.texts("emily.carter@example.com")
    assert any("10231" in text for text in reply), reply
    print(f"{name} answered its health check {took:.1f} s after SIGKILL")


def child_pid_or_none(assistant: Assistant, marker: str) -> int | None:
    pids = [
        p
        for p, command in descendants(assistant.process.pid).items()
        if marker in command and "-m" in command
    ]
    return pids[0] if len(pids) == 1 else None


def test_sigterm_stops_everything_and_leaves_no_process(assistant: Assistant) -> None:
    children = descendants(assistant.process.pid)
    assert len(children) >= 3, children
    assistant.process.send_signal(signal.SIGTERM)
    assistant.process.wait(60)
    until(
        lambda: not any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in children),
        20,
        "no child left",
    )
    assert "Stopped." in assistant.log()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
