"""Interface labels: every catalogue complete in every language, every page's labels
defined (and none left unused), and the labels API.

Pages name their labels in ``data-i18n*`` attributes, in ``t("key")`` calls, and as
the values of their ``*_LABELS`` maps (API codes → label keys); the tests read all three,
in a page and in the scripts it loads from /static/ (staff-i18n.js, shared by the staff pages).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.languages import RTL_LANGUAGES, SUPPORTED_LANGUAGES
from bot.settings import PROJECT_ROOT, Settings
from bot.ui_labels import CATALOGUES, LABELS_DIR
from bot.web.app import create_app

Factory = Callable[..., Awaitable[Any]]
STATIC = PROJECT_ROOT / "bot" / "web" / "static"
#: Page → its catalogue. The staff pages must exist; the others are checked once they do.
PAGES: dict[str, str] = {"console.html": "console", "dashboard.html": "console"}
OPTIONAL_PAGES: dict[str, str] = {"widget.js": "widget", "store.html": "store"}

PLACEHOLDER = re.compile(r"\{(\w+)\}")
I18N_ATTRIBUTE = re.compile(r"""\bdata-i18n(?:-[a-z-]+)?=["']([^"']+)["']""")
T_CALL = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.-]+)["']""")
LABEL_MAP = re.compile(r"\bconst\s+[A-Z_]*LABELS\s*=\s*\{(.*?)\};", re.DOTALL)
MAP_VALUE = re.compile(r""":\s*["']([A-Za-z0-9_.-]+)["']""")
LOCAL_SCRIPT = re.compile(r"""<script\s+src=["']/static/([\w.-]+)["']""")


def raw_catalogue(name: str) -> dict[str, Any]:
    """The catalogue as written (not through bot.ui_labels, which turns anything into text)."""
    data = yaml.safe_load((LABELS_DIR / f"{name}.yml").read_text(encoding="utf-8")) or {}
    labels = data.get("labels")
    assert isinstance(labels, dict) and labels, f"data/ui/{name}.yml has no labels"
    return labels


def used_keys(source: str) -> set[str]:
    keys = set(I18N_ATTRIBUTE.findall(source)) | set(T_CALL.findall(source))
    for body in LABEL_MAP.findall(source):
        keys |= set(MAP_VALUE.findall(body))
    return keys


def page_source(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def label_source(name: str) -> str:
    """A page with the scripts it loads from /static/: where its label keys are named."""
    source = page_source(name)
    return "\n".join([source, *(page_source(script) for script in LOCAL_SCRIPT.findall(source))])


@pytest.mark.parametrize("page", PAGES)
def test_staff_pages_load_the_shared_language_script(page: str) -> None:
    assert LOCAL_SCRIPT.findall(page_source(page)) == ["staff-i18n.js", page.replace(".html", ".js")]


@pytest.mark.parametrize("catalogue", CATALOGUES)
def test_every_label_has_a_text_in_every_language(catalogue: str) -> None:
    missing = [
        f"{key}: {language}"
        for key, texts in raw_catalogue(catalogue).items()
        for language in SUPPORTED_LANGUAGES
        if not isinstance(texts, dict) or not str(texts.get(language) or "").strip()
    ]
    assert not missing, f"data/ui/{catalogue}.yml lacks texts: {missing}"


@pytest.mark.parametrize("catalogue", CATALOGUES)
def test_every_language_has_the_english_placeholders(catalogue: str) -> None:
    wrong = []
    for key, texts in raw_catalogue(catalogue).items():
        english = set(PLACEHOLDER.findall(texts["en"]))
        for language, text in texts.items():
            found = set(PLACEHOLDER.findall(str(text)))
            if found != english:
                wrong.append(f"{key}: {language} has {sorted(found)}, en {sorted(english)}")
    assert not wrong, f"data/ui/{catalogue}.yml: {wrong}"


@pytest.mark.parametrize("catalogue", CATALOGUES)
def test_catalogues_know_only_supported_languages(catalogue: str) -> None:
    unknown = {
        f"{key}: {language}"
        for key, texts in raw_catalogue(catalogue).items()
        for language in texts
        if language not in SUPPORTED_LANGUAGES
    }
    assert not unknown


@pytest.mark.parametrize("page", [*PAGES, *OPTIONAL_PAGES])
def test_every_label_a_page_uses_is_defined(page: str) -> None:
    catalogue = {**PAGES, **OPTIONAL_PAGES}[page]
    if page in OPTIONAL_PAGES and not (STATIC / page).exists():
        pytest.skip(f"{page} does not exist yet")
    used = used_keys(label_source(page))
    assert used or page in OPTIONAL_PAGES, f"{page} uses no labels"
    undefined = sorted(used - set(raw_catalogue(catalogue)))
    assert not undefined, f"{page} uses labels missing from data/ui/{catalogue}.yml: {undefined}"


def test_every_console_label_is_used() -> None:
    used = set().union(*(used_keys(label_source(page)) for page in PAGES))
    unused = sorted(set(raw_catalogue("console")) - used)
    assert not unused, f"data/ui/console.yml has labels neither staff page uses: {unused}"


class VisibleText(HTMLParser):
    """Text and human-facing attributes written into a page's HTML (outside scripts and styles)."""

    HUMAN_ATTRIBUTES = frozenset({"placeholder", "aria-label", "title", "alt", "value"})

    def __init__(self) -> None:
        super().__init__()
        self.skipping = 0
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skipping += 1
        for name, value in attrs:
            if name in self.HUMAN_ATTRIBUTES and value and re.search(r"[^\W\d_]", value):
                self.found.append(f'<{tag} {name}="{value}">')

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping and re.search(r"[^\W\d_]", data):  # any letter, in any script
            self.found.append(data.strip())


@pytest.mark.parametrize("page", PAGES)
def test_staff_pages_write_no_text_into_their_html(page: str) -> None:
    parser = VisibleText()
    parser.feed(page_source(page))
    assert not parser.found, f"{page} has text outside its labels: {parser.found}"


# --- The labels API -------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "kb").mkdir()
    return Settings(var_dir=tmp_path / "var", knowledge_base_dir=tmp_path / "kb")


async def test_arabic_console_labels_are_right_to_left(aiohttp_client: Factory, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/api/ui/labels/console?lang=ar")
    assert response.status == 200
    body = await response.json()
    assert body["language"] == "ar" and body["dir"] == "rtl" and "ar" in RTL_LANGUAGES
    assert body["labels"]["console_title"] == raw_catalogue("console")["console_title"]["ar"]
    worded = [text for text in body["labels"].values() if re.search(r"[^\W\d_]", PLACEHOLDER.sub("", text))]
    assert worded and all(re.search("[\u0600-\u06ff]", text) for text in worded)  # Arabic script


async def test_other_languages_are_left_to_right_and_follow_the_browser(
    aiohttp_client: Factory, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    body = await (await client.get("/api/ui/labels/console", headers={"Accept-Language": "ja-JP"})).json()
    assert body["language"] == "ja" and body["dir"] == "ltr"
    assert body["labels"]["queue_title"] == raw_catalogue("console")["queue_title"]["ja"]


async def test_all_languages_at_once(aiohttp_client: Factory, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/api/ui/labels/console?lang=all")
    assert response.status == 200
    body = await response.json()
    assert body["languages"] == list(SUPPORTED_LANGUAGES) and len(body["languages"]) == 10
    assert set(body["labels"]) == set(SUPPORTED_LANGUAGES)
    assert body["rtl"] == ["ar"]
    keys = set(raw_catalogue("console"))
    assert all(set(texts) == keys for texts in body["labels"].values())
    assert body["labels"]["de"]["sign_in_button"] == "Anmelden"


async def test_the_shared_language_script_is_served_and_nothing_else(
    aiohttp_client: Factory, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/static/staff-i18n.js")
    assert response.status == 200
    assert response.content_type == "text/javascript"
    assert await response.text() == page_source("staff-i18n.js")
    for path in ("/static/console.html", "/static/widget.js", "/static/", "/static/../app.py"):
        assert (await client.get(path)).status == 404, path


async def test_an_unknown_catalogue_is_a_json_404(aiohttp_client: Factory, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/api/ui/labels/nonsense?lang=en")
    assert response.status == 404
    assert response.content_type == "application/json"
    assert (await response.json())["error"]["code"] == "not_found"
