"""The staff console and the dashboard in real Chromium (Playwright with the system browser).

The web service runs as a real process on a free port with a seeded database: a
VIP escalation whose transcript holds HTML a buyer typed. An agent signs in,
claims, replies (typed and canned), and resolves while the buyer's chat page
receives the replies live; an admin opens the dashboard. Screenshots of each
state are saved in var/screenshots/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from browser_helpers import shot
from playwright.sync_api import Browser, Page, expect

from bot.db.database import Database, upgrade
from bot.db.models import Conversation, ConversationMessage, Escalation, Rating
from bot.db.types import utcnow
from bot.settings import Settings
from bot.staff.accounts import add_staff
from bot.supervisor import Supervisor, free_port

PASSWORD = "browser test password"
HOSTILE = "<script>alert('x')</script><b>bold?</b>"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    var = tmp_path_factory.mktemp("var")
    settings = Settings(web_port=free_port(), rasa_port=free_port(), action_port=free_port(), var_dir=var)
    upgrade(settings.database_url)
    with Database(settings.database_url).session() as session:
        add_staff(session, "agent@shop.test", "Ann Agent", "agent", PASSWORD, "en")
        add_staff(session, "admin@shop.test", "Ada Admin", "admin", PASSWORD, "en")
        session.add(Conversation(id="browser-conv", language="es"))
        session.add(ConversationMessage(conversation_id="browser-conv", sender="buyer", text=HOSTILE))
        session.add(
            ConversationMessage(
                conversation_id="browser-conv", sender="buyer", text="quiero hablar con alguien"
            )
        )
        session.add(
            Escalation(
                conversation_id="browser-conv",
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


def test_sign_in_with_a_wrong_password_says_so(service: Settings, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{service.web_port}/console")
    page.fill("#email", "agent@shop.test")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("#signin-error")).to_contain_text("Wrong email or password")
    shot(page, "console-wrong-password")
    page.close()


def test_the_sign_in_form_follows_the_browser_language(service: Settings, browser: Browser) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{service.web_port}/console")
    expect(page.locator("#signin h1")).to_have_text("Connexion")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.fill("#email", "agent@shop.test")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator("#signin-error")).to_contain_text("E-mail ou mot de passe incorrect")
    context.close()


def test_the_console_switches_to_arabic_right_to_left_and_remembers_it(
    service: Settings, browser: Browser
) -> None:
    base = f"http://127.0.0.1:{service.web_port}"
    context = browser.new_context()
    page = context.new_page()
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


def test_claim_reply_and_resolve_while_the_buyer_watches(service: Settings, browser: Browser) -> None:
    base = f"http://127.0.0.1:{service.web_port}"
    buyer = browser.new_context().new_page()
    # The buyer's widget holds the seeded conversation, open, as if they had been chatting.
    saved = {"cid": "browser-conv", "who": "", "last": 0, "outbox": [], "seen": 0, "open": True, "lang": ""}
    buyer.add_init_script(
        f"const s = {json.dumps(saved)}; s.last = Date.now();"
        f"localStorage.setItem('store-assistant:{base}', JSON.stringify(s))"
    )
    buyer.goto(f"{base}/store")
    expect(buyer.locator(".log")).to_contain_text("quiero hablar con alguien")  # the history, restored

    context = browser.new_context()
    agent = context.new_page()
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


def test_agents_cannot_open_the_dashboard_and_admins_can(service: Settings, browser: Browser) -> None:
    base = f"http://127.0.0.1:{service.web_port}"
    agent_context = browser.new_context()
    agent = agent_context.new_page()
    sign_in(agent, base, "/dashboard", "agent@shop.test")
    expect(agent.locator("#error")).to_contain_text("Only admins")
    agent_context.close()

    admin_context = browser.new_context()
    admin = admin_context.new_page()
    sign_in(admin, base, "/dashboard", "admin@shop.test")
    # The first request loads the knowledge base (unanswered questions): allow it time.
    expect(admin.locator("#figures")).to_contain_text("CSAT by language", timeout=60_000)
    expect(admin.locator("#figures")).to_contain_text("Spanish")  # the rating's language, by name
    shot(admin, "dashboard")
    admin_context.close()
