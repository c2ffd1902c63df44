"""Delivery time between a buyer and a person, with 50 conversations open at once.

Starts the web service as a real process (conversations with a person do not go
through Rasa); 50 buyer WebSockets open their conversations as the widget does
(a hello without an id: the server issues id and key), then each gets a claimed
escalation, and one staff console WebSocket listens. Measures, over 10 rounds of
all 50 conversations at once: buyer message (POST /api/chat) → the console receives it; staff reply (POST
.../reply) → the buyer's window receives it. Goal: p95 < 100 ms.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat_client import open_window  # noqa: E402
from orders import by_database, percentiles  # noqa: E402

from bot.db.database import Database, upgrade  # noqa: E402
from bot.db.models import Conversation, Escalation  # noqa: E402
from bot.db.types import utcnow  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.staff.accounts import add_staff  # noqa: E402
from bot.supervisor import Supervisor, free_port  # noqa: E402

CONVERSATIONS = 50
ROUNDS = 10
PASSWORD = "bench staff password"


def _seed(database_url: str, conversations: list[str], staff_id: int) -> dict[str, int]:
    """A claimed escalation for each conversation (what a buyer asking for a person and
    an agent claiming it leave behind); returns each conversation's escalation id."""
    database = Database(database_url)
    try:
        with database.session() as session:
            session.add_all(Conversation(id=c, language="en") for c in conversations)
            session.flush()
            escalations = {
                c: Escalation(
                    conversation_id=c,
                    language="en",
                    reason="request_human",
                    status="claimed",
                    claimed_by_id=staff_id,
                    due_at=utcnow(),
                )
                for c in conversations
            }
            session.add_all(escalations.values())
            session.flush()
            return {c: e.id for c, e in escalations.items()}
    finally:
        database.dispose()


async def _measure(
    base: str, seed: Callable[[list[str]], dict[str, int]], conversations: int, rounds: int
) -> dict[str, dict[str, float]]:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as staff, aiohttp.ClientSession() as buyers:
        async with staff.post(
            f"{base}/api/staff/login", json={"email": "bench@x.test", "password": PASSWORD}
        ) as r:
            csrf = (await r.json())["csrf_token"]
        console = await staff.ws_connect(f"{base}/ws/staff")
        opened = [await open_window(buyers, base) for _ in range(conversations)]
        windows = {conversation.id or "": socket for socket, conversation in opened}
        keys = {conversation.id or "": conversation.key for _, conversation in opened}
        escalation_of = await asyncio.to_thread(seed, list(windows))
        to_console: list[float] = []
        to_buyer: list[float] = []
        sent_at: dict[str, float] = {}

        async def console_reader() -> None:
            async for frame in console:
                data = frame.json()
                if data.get("type") == "buyer_message" and data["text"] in sent_at:
                    to_console.append((time.perf_counter() - sent_at.pop(data["text"])) * 1000)

        reader = asyncio.create_task(console_reader())
        for round_ in range(rounds):

            async def buyer_says(conversation: str, round_: int = round_) -> None:
                text = f"{conversation} round {round_}"
                sent_at[text] = time.perf_counter()
                body = {"conversation_id": conversation, "conversation_key": keys[conversation], "text": text}
                async with buyers.post(f"{base}/api/chat", json=body) as response:
                    if response.status != 200:
                        raise RuntimeError(
                            f"buyer message refused: HTTP {response.status} {await response.text()}"
                        )

            await asyncio.gather(*(buyer_says(c) for c in windows))

            async def staff_replies(escalation_id: int, conversation: str, round_: int = round_) -> None:
                started = time.perf_counter()
                await staff.post(
                    f"{base}/api/staff/escalations/{escalation_id}/reply",
                    json={"text": f"reply {round_}"},
                    headers={"X-CSRF-Token": csrf},
                )
                while True:
                    data = await windows[conversation].receive_json(timeout=10)
                    if data.get("type") == "staff_message":
                        to_buyer.append((time.perf_counter() - started) * 1000)
                        return

            await asyncio.gather(*(staff_replies(escalation_of[c], c) for c in windows))
        await asyncio.sleep(0.5)
        reader.cancel()
        for window in windows.values():
            await window.close()
        await console.close()
    expected = conversations * rounds
    if len(to_console) != expected or len(to_buyer) != expected:
        raise RuntimeError(f"lost messages: {len(to_console)} and {len(to_buyer)} of {expected} arrived")
    return {"buyer → console": percentiles(to_console), "staff → buyer": percentiles(to_buyer)}


def measure(
    database_url: str, conversations: int = CONVERSATIONS, rounds: int = ROUNDS
) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        # Every simulated buyer writes from 127.0.0.1, ten rounds in a few seconds:
        # faster than people type, so the rate limits are lifted here, and so are the
        # caps on sockets and hellos from one address (50 windows open at once).
        settings = Settings(
            web_port=free_port(),
            rasa_port=free_port(),
            action_port=free_port(),
            var_dir=Path(tmp),
            database_url_setting=database_url.replace("{tmp}", tmp),
            chat_burst=100_000,
            address_burst=100_000,
            sockets_per_address=conversations + 10,
            reads_burst=100_000,
        )
        upgrade(settings.database_url)
        database = Database(settings.database_url)
        with database.session() as session:
            staff_id = add_staff(session, "bench@x.test", "Bench", "agent", PASSWORD).id
        database.dispose()
        supervisor = Supervisor(settings, Path("unused"), Path(tmp) / "logs")
        web = [c for c in supervisor.plan(with_rasa_server=False) if c.name == "web"]
        try:
            supervisor.start(web, timeout=120)
            base = f"http://127.0.0.1:{settings.web_port}"

            def seed(ids: list[str]) -> dict[str, int]:
                return _seed(settings.database_url, ids, staff_id)

            return asyncio.run(_measure(base, seed, conversations, rounds))
        finally:
            supervisor.stop()


def run() -> dict[str, dict[str, dict[str, float]]]:
    """Figures by database: SQLite, and PostgreSQL when BENCH_DATABASE_URL names a server."""
    return by_database(measure)


def markdown(results: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = ["| database | direction | messages | p50 | p95 |", "| --- | --- | --- | --- | --- |"]
    for database, directions in results.items():
        for direction, figures in directions.items():
            p50, p95 = f"{figures['p50']:.1f} ms", f"{figures['p95']:.1f} ms"
            lines.append(f"| {database} | {direction} | {figures['n']:.0f} | {p50} | {p95} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run()))
