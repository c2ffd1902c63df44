"""The staff console and the dashboard in real Chromium (Playwright with the system browser).

The web service runs as a real process on a free port with a seeded database: a
VIP escalation whose transcript holds HTML a buyer typed. An agent signs in,
claims, replies (typed and canned), and resolves while the buyer's chat page
receives the replies live; an admin opens the dashboard. Escalations written to
the database from outside (as the action server writes them) reach a console
that is already open. Every staff page runs under its Content-Security-Policy:
a script or style the policy blocks fails the test (``page_errors``). Screenshots
of each state are saved in var/screenshots/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from browser_helpers import shot
from playwright.sync_api import Browser, Page, expect

from bot.db.database import Database, upgrade
from bot.db.models import Conversation, ConversationMessage, Escalation, Rating
from bot.db.types import utcnow
from bot.service import escalations
from bot.service.hours import load as service_config
from bot.settings import Settings
from bot.staff.accounts import add_staff
from bot.supervisor import Supervisor, free_port
from bot.web.messages import conversation_key, new_conversation_id

PASSWORD = "browser test password"
HOSTILE = "<script>alert('x')</script><b>bold?</b>"
#: The seeded conversation: an id as the server issues them (bot/web/messages.py).
CONVERSATION = new_conversation_id()
Watch = Callable[[Page], Page]
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


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    var = tmp_path_factory.mktemp("var")
    settings = Settings(web_port=free_port(), rasa_port=free_port(), action_port=free_port(), var_dir=var)
    upgrade(settings.database_url)
    with Database(settings.database_url).session() as session:
        add_staff(session, "agent@shop.test", "Ann Agent", "agent", PASSWORD, "en")
        add_staff(session, "admin@shop.test", "Ada Admin", "admin", PASSWORD, "en")
        session.add(Conversation(id=CONVERSATION, language="es"))
        session.add(ConversationMessage(conversation_id=CONVERSATION, sender="buyer", text=HOSTILE))
        session.add(
            ConversationMessage(
                conversation_id=CONVERSATION, sender="buyer", text="quiero hablar con alguien"
            )
        )
        session.add(
            Escalation(
                conversation_id=CONVERSATION,
                language="es",
                reason="request_human",
                tier="vip",
                priority=10,
                due_at=utcnow() + timedelta(minutes=15),
            )
        )
        session.add(Rating(conversation_id="older", stars=5, language="es", tier="vip", topic="shipping"))
    supervisor = Supervisor(settings, Path("unused"), var / "logs")
    try:
        supervisor.start([c for c in supervisor.plan(with_rasa_server=False) if c.name == "web"], timeout=120)
        yield settings
    finally:
        supervisor.stop()


def sign_in(page: Page, base: str, path: str, email: str) -> None:
    page.goto(f"{base}{path}")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def test_sign_in_with_a_wrong_password_says_so(
    service: Settings, browser: Browser, page_errors: Watch
) -> None:
    page = page_errors(browser.new_page())
    page.goto(f"http://127.0.0.1:{service.web_port}/console")
    page.fill("#email", "agent@shop.test")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("#signin-error")).to_contain_text("Wrong email or password")
    shot(page, "console-wrong-password")
    page.close()


def test_the_sign_in_form_follows_the_browser_language(
    service: Settings, browser: Browser, page_errors: Watch
) -> None:
    context = browser.new_context(locale="fr-FR")
    page = page_errors(context.new_page())
    page.goto(f"http://127.0.0.1:{service.web_port}/console")
    expect(page.locator("#signin h1")).to_have_text("Connexion")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.fill("#email", "agent@shop.test")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("#signin-error")).to_contain_text("E-mail ou mot de passe incorrect")
    context.close()


def test_the_console_switches_to_arabic_right_to_left_and_remembers_it(
    service: Settings, browser: Browser, page_errors: Watch
) -> None:
    base = f"http://127.0.0.1:{service.web_port}"
    context = browser.new_context()
    page = page_errors(context.new_page())
    sign_in(page, base, "/console", "agent@shop.test")
    expect(page.locator("#queue .item").first).to_contain_text("left")  # English: the agent's language
    page.select_option("#ui-language", "ar")
    html = page.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "ar")
    expect(page.locator("#queue-title")).to_have_text("قائمة الانتظار")
    expect(page.locator("#queue .item").first).to_contain_text("متبقٍ")  # time left, in Arabic
    page.locator("#queue .item").first.click()
    expect(page.locator("#context")).to_contain_text("اللغة:")
    expect(page.locator("#claim")).to_have_text("استلام المحادثة")
    queue = page.locator("#queue").bounding_box()
    detail = page.locator("#detail-title").bounding_box()
    assert queue and detail and queue["x"] > detail["x"]  # mirrored: the queue is on the right
    shot(page, "console-arabic")

    page.reload()  # the choice is remembered
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("#queue-title")).to_have_text("قائمة الانتظار")
    page.select_option("#ui-language", "en")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    context.close()


def test_claim_reply_and_resolve_while_the_buyer_watches(
    service: Settings, browser: Browser, page_errors: Watch
) -> None:
    base = f"http://127.0.0.1:{service.web_port}"
    buyer = browser.new_context().new_page()
    # The buyer's widget holds the seeded conversation, open, as if they had been chatting.
    saved = {
        "cid": CONVERSATION,
        "key": conversation_key(service.conversation_secret, CONVERSATION),
        "who": "",
        "last": 0,
        "outbox": [],
        "seen": 0,
        "open": True,
        "lang": "",
    }
    buyer.add_init_script(
        f"const s = {json.dumps(saved)}; s.last = Date.now();"
        f"localStorage.setItem('store-assistant:{base}', JSON.stringify(s))"
    )
    buyer.goto(f"{base}/store")
    expect(buyer.locator(".log")).to_contain_text("quiero hablar con alguien")  # the history, restored

    context = browser.new_context()
    agent = page_errors(context.new_page())
    sign_in(agent, base, "/console", "agent@shop.test")
    item = agent.locator("#queue .item").first
    expect(item).to_contain_text("VIP")
    expect(item).to_contain_text("left")  # the countdown to the first-response target
    shot(agent, "console-queue")

    item.click()
    expect(agent.locator("#transcript")).to_contain_text(HOSTILE)  # shown as text, not run
    assert agent.locator("#transcript script").count() == 0
    expect(agent.locator("#context")).to_contain_text("Language: Spanish")  # the detected language
    shot(agent, "console-conversation")

    agent.click("#claim")
    agent.fill("#reply", "Hola, ya lo reviso.")
    agent.click("#send")
    expect(agent.locator("#transcript")).to_contain_text("Hola, ya lo reviso.")
    agent.select_option("#canned", "checking_order")
    agent.click("#send-canned")
    agent.fill("#note", "VIP, check the DHL claim")
    agent.click("#add-note")
    expect(agent.locator("#notes")).to_contain_text("VIP, check the DHL claim")
    shot(agent, "console-replied")

    expect(buyer.locator(".log")).to_contain_text("Hola, ya lo reviso.")  # live, over WebSocket
    expect(buyer.locator(".log")).to_contain_text("Voy a revisar su pedido")  # canned reply, in Spanish
    shot(buyer, "buyer-receives-replies")

    agent.click("#resolve")
    expect(agent.locator("#queue .item")).to_have_count(0)
    shot(agent, "console-resolved")
    context.close()


def test_agents_cannot_open_the_dashboard_and_admins_can(
    service: Settings, browser: Browser, page_errors: Watch
) -> None:
    base = f"http://127.0.0.1:{service.web_port}"
    agent_context = browser.new_context()
    agent = page_errors(agent_context.new_page())
    sign_in(agent, base, "/dashboard", "agent@shop.test")
    expect(agent.locator("#error")).to_contain_text("Only admins")
    agent_context.close()

    admin_context = browser.new_context()
    admin = page_errors(admin_context.new_page())
    sign_in(admin, base, "/dashboard", "admin@shop.test")
    # The first request loads the knowledge base (unanswered questions): allow it time.
    expect(admin.locator("#figures")).to_contain_text("CSAT by language", timeout=60_000)
    expect(admin.locator("#figures")).to_contain_text("Spanish")  # the rating's language, by name
    shot(admin, "dashboard")
    admin_context.close()


def test_other_sites_cannot_frame_the_console(service: Settings, browser: Browser) -> None:
    """Clickjacking: a page elsewhere that puts the console in a frame gets nothing shown."""
    page = browser.new_page()
    console_url = f"http://127.0.0.1:{service.web_port}/console"
    page.set_content(f'<iframe src="{console_url}" width="600" height="400"></iframe>')
    page.wait_for_load_state("load")
    frame = page.frames[1]
    assert frame.locator("#signin, #console").count() == 0  # refused: an error page, not the console
    page.close()


def open_escalation(
    settings: Settings, conversation_id: str, language: str, due_in: timedelta | None = None
) -> tuple[int, float]:
    """Open an escalation the way the action server does (actions/escalation.py), from
    another process's connection; ``due_in``: its first-response target runs out that soon.
    Returns its id and when it was committed (ms since the epoch, as the browser's Date.now())."""
    database = Database(settings.database_url)
    try:
        config = service_config(settings.service_file)
        now = utcnow() - config.target("standard") + due_in if due_in is not None else None
        with database.session() as session:
            escalation, _, created = escalations.create(
                session, config, conversation_id, language, "complain", now=now
            )
            assert created
        return escalation.id, time.time() * 1000
    finally:
        database.dispose()


def due_at(settings: Settings, escalation_id: int) -> datetime:
    database = Database(settings.database_url)
    with database.session() as session:
        escalation = session.get(Escalation, escalation_id)
        assert escalation is not None
        due = escalation.due_at
    database.dispose()
    return due


def resolve_all(settings: Settings, ids: list[int]) -> None:
    """Take the test's escalations out of the queue again (the other tests count it)."""
    database = Database(settings.database_url)
    with database.session() as session:
        for escalation_id in ids:
            escalation = session.get(Escalation, escalation_id)
            if escalation is not None:
                escalation.status, escalation.resolved_at = "resolved", utcnow()
    database.dispose()


def test_an_open_console_shows_new_and_late_escalations_by_itself(
    service: Settings, browser: Browser, page_errors: Watch
) -> None:
    """The console is open before the escalations exist and is never reloaded: a new one
    appears within a second of being written, and one that passes its first-response
    target moves above a VIP's that has not."""
    base = f"http://127.0.0.1:{service.web_port}"
    context = browser.new_context()
    page = page_errors(context.new_page())
    ids: list[int] = []
    try:
        sign_in(page, base, "/console", "agent@shop.test")
        expect(page.locator("#who")).to_contain_text("Ann Agent")
        # The console's socket (console.js: `socket`) is open: from now on it is told.
        page.wait_for_function("() => socket !== null && socket.readyState === WebSocket.OPEN")

        database = Database(service.database_url)
        with database.session() as session:
            vip = Escalation(
                conversation_id="live-vip",
                language="fr",
                reason="request_human",
                tier="vip",
                priority=10,
                due_at=utcnow() + timedelta(minutes=15),
            )
            session.add(vip)
            session.flush()
            ids.append(vip.id)
        database.dispose()
        page.wait_for_selector(f'#queue .item[data-id="{vip.id}"]', timeout=5_000)

        page.evaluate(WATCH_QUEUE)
        late, committed_at = open_escalation(service, "live-late", "de", due_in=timedelta(seconds=3))
        ids.append(late)
        page.wait_for_selector(f'#queue .item[data-id="{late}"]', timeout=5_000)
        appeared = page.evaluate(f"window.appearedAt[{str(late)!r}]") - committed_at
        print(f"new escalation shown {appeared:.0f} ms after it was written")
        assert appeared < 1_000, f"the new escalation took {appeared:.0f} ms to appear"
        news = page.locator("#queue-news").inner_text()
        assert "New in the queue" in news and f"#{late}" in news, news
        items = page.locator("#queue .item")
        order = [items.nth(i).get_attribute("data-id") for i in range(items.count())]
        assert order.index(str(vip.id)) < order.index(str(late)), order  # the VIP's first while on time
        shot(page, "console-new-escalation")

        # Past its target: to the top, marked late, still without a reload.
        page.wait_for_function(
            "id => document.querySelector('#queue .item')?.dataset.id === id", arg=str(late), timeout=5_000
        )
        late_by = (utcnow() - due_at(service, late)).total_seconds()
        print(f"late escalation moved to the top {late_by * 1000:.0f} ms after its target")
        assert late_by < 1.0, f"the late escalation moved up {late_by:.2f} s after its target"
        expect(items.first).to_have_class("item overdue")
        expect(items.first).to_contain_text("late")
        shot(page, "console-overdue-escalation")
    finally:
        resolve_all(service, ids)
        context.close()
