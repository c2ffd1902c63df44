"""A console that is open before a buyer asks for a person shows the new escalation by itself.

The whole assistant runs as `make run` starts it (Rasa, the action server, the web
service, on free ports): the escalation is written by the action server, another
process, and the web service learns of it from the database. The console is signed
in and idle, with its socket open, before the buyer writes; the test measures, in the
browser's own clock, from the moment the bot's answer appears in the buyer's widget to
the moment the escalation appears in the console's queue (negative when the console
was first). Screenshot: var/screenshots/console-live-escalation.png.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest
from browser_helpers import shot
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from bot.db.database import Database, upgrade
from bot.db.models import Escalation
from bot.orders import demo
from bot.service.hours import write_always_open
from bot.settings import PROJECT_ROOT, Settings
from bot.staff.accounts import add_staff
from bot.supervisor import Supervisor, free_port

RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
PASSWORD = "console live test password"
#: Rasa on 2 cores can take a few seconds for the first answers.
REPLY = 60_000
#: What the issue asks for: every open console hears of a new escalation within a second.
WITHIN_MS = 1_000

#: In the console: the time (Date.now()) each queue entry first appeared, by escalation id.
WATCH_QUEUE = """() => {
  window.appearedAt = {};
  for (const item of document.querySelectorAll("#queue .item")) window.appearedAt[item.dataset.id] = 0;
  new MutationObserver(() => {
    for (const item of document.querySelectorAll("#queue .item")) {
      if (!(item.dataset.id in window.appearedAt)) window.appearedAt[item.dataset.id] = Date.now();
    }
  }).observe(document.getElementById("queue"), { childList: true, subtree: true });
}"""
#: In the buyer's widget (an open shadow root): when the bot's first answer appeared.
WATCH_REPLY = """() => {
  const root = document.getElementById("store-assistant").shadowRoot;
  window.answeredAt = null;
  new MutationObserver(() => {
    if (window.answeredAt === null && root.querySelector(".msg.bot")) window.answeredAt = Date.now();
  }).observe(root, { childList: true, subtree: true });
}"""


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    var = tmp_path_factory.mktemp("var")
    knowledge_base = var / "knowledge_base"
    shutil.copytree(PROJECT_ROOT / "knowledge_base", knowledge_base)
    settings = Settings(
        web_port=free_port(),
        rasa_port=free_port(),
        action_port=free_port(),
        var_dir=var,
        knowledge_base_dir=knowledge_base,
        service_file=write_always_open(var / "service.yml"),  # not dependent on the clock
    )
    if not settings.model_path.exists():
        pytest.fail(f"no trained model at {settings.model_path}: run `make train`")
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    demo.load(database)
    with database.session() as session:
        add_staff(session, "agent@shop.test", "Ann Agent", "agent", PASSWORD, "en")
    database.dispose()
    supervisor = Supervisor(settings, RASA, var / "logs")
    try:
        supervisor.start(supervisor.plan(), timeout=420)
        yield settings
    finally:
        supervisor.stop()


def escalation_of(settings: Settings, conversation_id: str) -> int | None:
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            return session.scalar(select(Escalation.id).where(Escalation.conversation_id == conversation_id))
    finally:
        database.dispose()


def test_an_open_console_shows_the_escalation_a_buyer_just_asked_for(
    assistant: Settings, browser: Browser, page_errors: Callable[[Page], Page]
) -> None:
    base = f"http://127.0.0.1:{assistant.web_port}"
    agent = page_errors(browser.new_context(locale="en-US").new_page())
    agent.goto(f"{base}/console")
    agent.fill("#email", "agent@shop.test")
    agent.fill("#password", PASSWORD)
    agent.click("button[type=submit]")
    expect(agent.locator("#who")).to_contain_text("Ann Agent")
    agent.wait_for_function("() => socket !== null && socket.readyState === WebSocket.OPEN")
    agent.evaluate(WATCH_QUEUE)

    buyer = browser.new_context(locale="en-US").new_page()
    buyer.goto(f"{base}/store")
    buyer.locator(".launcher").click()
    expect(buyer.locator(".panel")).to_be_visible()
    buyer.evaluate(WATCH_REPLY)
    buyer.locator("#sa-input").fill("I want to talk to a real person")
    buyer.locator("#sa-input").press("Enter")
    expect(buyer.locator(".msg.bot").first).to_be_visible(timeout=REPLY)
    answered_at = buyer.evaluate("window.answeredAt")
    conversation = buyer.evaluate(
        "() => JSON.parse(localStorage.getItem(Object.keys(localStorage)"
        ".find(k => k.startsWith('store-assistant:')))).cid"
    )
    escalation_id = escalation_of(assistant, conversation)
    assert escalation_id is not None, "the assistant opened no escalation"

    item = agent.locator(f'#queue .item[data-id="{escalation_id}"]')
    expect(item).to_be_visible(timeout=WITHIN_MS + 1_000)  # generous here; measured below
    appeared_at = agent.evaluate(f"window.appearedAt[{str(escalation_id)!r}]")
    delay = appeared_at - answered_at
    print(f"console showed escalation {escalation_id} {delay} ms after the buyer's answer")
    assert delay < WITHIN_MS, f"the console showed it {delay} ms after the buyer's answer"
    expect(item).to_contain_text("Asked for a person")
    shot(agent, "console-live-escalation")
    agent.context.close()
    buyer.context.close()
