"""Order-tracking latency through the whole assistant, on SQLite and on PostgreSQL.

Starts the three processes with the demo data, then identified customers ask
for an order (the widget's button payload with a signed customer token): message
in at the web service, reply out with status, carrier and checkpoint. As in the
widget, each request is a question ("where is my order?", not timed) answered with
the customer's orders as buttons, then the click on one of them (timed): a payload
reaches Rasa as a payload only while the bot's latest turn offers it (bot/payloads.py),
so a button sent again without being offered would be timed as typed text instead.
The first question names no conversation and gets the server's id and key.
Measured one conversation at a time and with 20 at once, 10 requests per conversation.
PostgreSQL runs when BENCH_DATABASE_URL (or TEST_DATABASE_URL) points at a server;
each run gets a throw-away database.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chat_client import Conversation, post  # noqa: E402

from bot.db.database import Database, throwaway_database, upgrade  # noqa: E402
from bot.orders import demo  # noqa: E402
from bot.orders.tokens import sign  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.supervisor import Supervisor, free_port  # noqa: E402

RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
REQUESTS_PER_CONVERSATION = 10
#: (customer id, email, order number) of demo customers with a shipped order, each with
#: two orders so that the question is answered with buttons to choose from.
ASKERS = [
    ("c-1001", "emily.carter@example.com", "10231"),
    ("c-1002", "ana.garcia@example.com", "10233"),
    ("c-1005", "wang.fang@example.cn", "10237"),
    ("c-1010", "minjun.kim@example.kr", "A40912"),
]


T = TypeVar("T")


@contextmanager
def postgres_database() -> Iterator[str | None]:
    server = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield None
        return
    with throwaway_database(server, "assistant_bench") as url:
        yield url


def _conversation(settings: Settings, asker: tuple[str, str, str], count: int) -> list[float]:
    customer_id, email, number = asker
    token = sign(customer_id, email, int(time.time()) + 3600, settings.customer_token_secret)
    base = f"http://127.0.0.1:{settings.web_port}"
    conversation = Conversation()
    payload = f'/ask_order_status{{"order_number": "{number}"}}'
    question = {"text": "where is my order?", "locale": "en-US", "customer_token": token}
    timings = []
    for _ in range(count):
        asked = post(base, conversation, question)
        replies = asked.json().get("messages", []) if asked.status_code == 200 else []
        offered = [b.get("payload") for m in replies for b in m.get("buttons") or []]
        if conversation.id is None or payload not in offered:
            raise RuntimeError(f"no button for order {number}: {asked.status_code} {asked.text[:500]}")
        start = time.perf_counter()
        response = post(base, conversation, {"payload": payload, "customer_token": token})
        timings.append((time.perf_counter() - start) * 1000)
        messages = response.json().get("messages", [])
        if response.status_code != 200 or not any(number in (m.get("text") or "") for m in messages):
            raise RuntimeError(f"no order status in the reply: {response.status_code} {messages}")
    return timings


def percentiles(timings: list[float]) -> dict[str, float]:
    timings = sorted(timings)
    return {
        "p50": statistics.median(timings),
        "p95": timings[int(len(timings) * 0.95) - 1],
        "n": len(timings),
    }


def measure(
    database_url: str,
    concurrencies: tuple[int, ...] = (1, 20),
    count: int = REQUESTS_PER_CONVERSATION,
) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            web_port=free_port(),
            rasa_port=free_port(),
            action_port=free_port(),
            var_dir=Path(tmp),
            database_url_setting=database_url.replace("{tmp}", tmp),
            # A script asks faster than a buyer types: the chat's rate limits are lifted.
            chat_burst=100_000,
            address_burst=100_000,
            reads_burst=100_000,  # each conversation's start counts as a read
        )
        upgrade(settings.database_url)
        database = Database(settings.database_url)
        demo.load(database)
        database.dispose()
        supervisor = Supervisor(settings, RASA, Path(tmp) / "logs")
        try:
            supervisor.start(supervisor.plan(), timeout=420)
            try:
                _conversation(settings, ASKERS[0], count)  # warm-up
            except RuntimeError:
                for log in sorted((Path(tmp) / "logs").glob("*.log")):
                    print(f"--- {log.name}", *log.read_text(errors="replace").splitlines()[-15:], sep="\n")
                raise
            results = {}
            for concurrency in concurrencies:
                askers = [ASKERS[i % len(ASKERS)] for i in range(concurrency)]
                with ThreadPoolExecutor(max_workers=concurrency) as pool:
                    timings = [
                        t
                        for batch in pool.map(lambda a: _conversation(settings, a, count), askers)
                        for t in batch
                    ]
                results[str(concurrency)] = percentiles(timings)
            return results
        finally:
            supervisor.stop()


def by_database(measure: Callable[[str], T]) -> dict[str, T]:
    """``measure(database_url)`` on SQLite (a file in the run's temporary folder, ``{tmp}``),
    then on PostgreSQL when BENCH_DATABASE_URL names a server."""
    results = {"SQLite": measure("sqlite:///{tmp}/assistant.db")}
    with postgres_database() as url:
        if url:
            results["PostgreSQL"] = measure(url)
    return results


def run() -> dict[str, dict[str, dict[str, float]]]:
    return by_database(measure)


def markdown(results: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [
        "| database | conversations at once | requests | p50 | p95 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for backend, by_concurrency in results.items():
        for concurrency, figures in by_concurrency.items():
            p50, p95 = figures["p50"], figures["p95"]
            lines.append(f"| {backend} | {concurrency} | {figures['n']:.0f} | {p50:.0f} ms | {p95:.0f} ms |")
    if "PostgreSQL" not in results:
        lines.append("")
        lines.append("PostgreSQL was not measured (set BENCH_DATABASE_URL to a server to include it).")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run()))
