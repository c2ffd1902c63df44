"""The languages the assistant speaks, and how to recognise them by name.

Kept free of third-party imports: the Rasa process (Python env with Rasa's pins),
the action server and the web service all import it.
"""

from __future__ import annotations

import re
import unicodedata

#: ISO 639-1 codes of the supported languages, in the order the UI lists them.
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "zh", "es", "fr", "de", "pt", "ru", "ar", "ja", "ko")

#: The store's default language: the fallback for missing translations and for
#: messages that say nothing about their language.
DEFAULT_LANGUAGE = "en"

#: Languages written right to left (the widget flips its layout for these).
RTL_LANGUAGES: frozenset[str] = frozenset({"ar"})

#: Each language's own name for itself.
NATIVE_NAMES: dict[str, str] = {
    "en": "English",
    "zh": "中文",
    "es": "Español",
    "fr": "Français",
    "de": "Deutsch",
    "pt": "Português",
    "ru": "Русский",
    "ar": "العربية",
    "ja": "日本語",
    "ko": "한국어",
}

#: Names buyers use for each supported language, in every supported language,
#: written without accents and in lower case (see :func:`fold`). Latin-script
#: names match at the start of a word ("ingles" also finds "inglesa"); the
#: others match anywhere, which covers Russian case endings ("по-английски")
#: and Arabic prefixes ("بالعربي").
LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "en": (
        "english",
        "ingles",
        "anglais",
        "englisch",
        "английск",
        "انجليزي",
        "إنجليزي",
        "انكليزي",
        "الإنجليزية",
        "الانجليزية",
        "英語",
        "えいご",
        "영어",
        "英语",
        "英文",
    ),
    "zh": (
        "chinese",
        "mandarin",
        "chino",
        "chinois",
        "chinesisch",
        "chines",
        "китайск",
        "صيني",
        "الصينية",
        "中国語",
        "ちゅうごくご",
        "중국어",
        "中文",
        "汉语",
        "漢語",
        "普通话",
        "華語",
        "华语",
        "中国话",
    ),
    "es": (
        "spanish",
        "espanol",
        "castellano",
        "espagnol",
        "spanisch",
        "espanhol",
        "испанск",
        "اسباني",
        "إسباني",
        "الإسبانية",
        "الاسبانية",
        "スペイン語",
        "すぺいんご",
        "스페인어",
        "西班牙语",
        "西班牙文",
        "西语",
    ),
    "fr": (
        "french",
        "frances",
        "francais",
        "franzosisch",
        "franzoesisch",
        "французск",
        "فرنسي",
        "الفرنسية",
        "フランス語",
        "ふらんすご",
        "프랑스어",
        "法语",
        "法文",
    ),
    "de": (
        "german",
        "aleman",
        "allemand",
        "deutsch",
        "alemao",
        "немецк",
        "الماني",
        "ألماني",
        "الألمانية",
        "الالمانية",
        "ドイツ語",
        "どいつご",
        "독일어",
        "德语",
        "德文",
    ),
    "pt": (
        "portuguese",
        "portugues",
        "portugais",
        "portugiesisch",
        "португальск",
        "برتغالي",
        "البرتغالية",
        "ポルトガル語",
        "포르투갈어",
        "葡萄牙语",
        "葡萄牙文",
        "葡语",
    ),
    "ru": (
        "russian",
        "ruso",
        "russe",
        "russisch",
        "russo",
        "русск",
        "روسي",
        "الروسية",
        "ロシア語",
        "ろしあご",
        "러시아어",
        "俄语",
        "俄文",
    ),
    "ar": (
        "arabic",
        "arabe",
        "arabisch",
        "арабск",
        "عربي",
        "العربية",
        "アラビア語",
        "아랍어",
        "阿拉伯语",
        "阿拉伯文",
    ),
    "ja": (
        "japanese",
        "japones",
        "japonais",
        "japanisch",
        "японск",
        "ياباني",
        "اليابانية",
        "日本語",
        "にほんご",
        "日本语",
        "일본어",
        "日语",
        "日文",
    ),
    "ko": (
        "korean",
        "coreano",
        "coreen",
        "koreanisch",
        "корейск",
        "كوري",
        "الكورية",
        "韓国語",
        "かんこくご",
        "한국어",
        "한국말",
        "韩语",
        "韩文",
        "韓語",
        "朝鲜语",
    ),
}

#: Names of languages we do not speak, so "can we speak Italian?" gets an honest
#: "not yet" instead of a guess.
UNSUPPORTED_LANGUAGE_NAMES: tuple[str, ...] = (
    "italian",
    "italiano",
    "italien",
    "italienisch",
    "итальянск",
    "إيطالي",
    "الإيطالية",
    "イタリア語",
    "이탈리아어",
    "意大利语",
    "hindi",
    "хинди",
    "ヒンディー語",
    "힌디어",
    "印地语",
    "turkish",
    "turco",
    "turc",
    "turkisch",
    "турецк",
    "تركي",
    "トルコ語",
    "터키어",
    "土耳其语",
    "dutch",
    "nederlands",
    "hollandes",
    "neerlandais",
    "niederlandisch",
    "голландск",
    "polish",
    "polski",
    "polaco",
    "polonais",
    "polnisch",
    "польск",
    "vietnamese",
    "vietnamita",
    "tieng viet",
    "вьетнамск",
    "ベトナム語",
    "베트남어",
    "越南语",
    "thai",
    "тайск",
    "タイ語",
    "태국어",
    "泰语",
    "indonesian",
    "bahasa",
    "indonesio",
    "hebrew",
    "hebreo",
    "иврит",
    "greek",
    "griego",
    "grec",
    "griechisch",
    "греческ",
    "swedish",
    "sueco",
    "svenska",
    "шведск",
    "ukrainian",
    "украинск",
    "persian",
    "farsi",
    "فارسي",
    "urdu",
    "bengali",
)

_KANA_VOICING = frozenset("\u3099\u309a")
_WORD_RE = re.compile(r"\w+", re.UNICODE)


def fold(text: str) -> str:
    """Lower-case and strip accents, so "Español", "espanol" and "ESPAÑOL" compare equal.

    Drops combining marks (Latin accents, Arabic vowel signs and hamza, "ё" → "е"),
    which buyers often leave out, but keeps the kana voicing marks ("が" is not
    "か"); Hangul syllables are recomposed unchanged.
    """
    decomposed = unicodedata.normalize("NFD", text.casefold())
    kept = [c for c in decomposed if not unicodedata.combining(c) or c in _KANA_VOICING]
    return unicodedata.normalize("NFC", "".join(kept))


def _is_latin_name(name: str) -> bool:
    return all(char.isascii() for char in name)


def _mentions(folded_text: str, words: list[str], name: str) -> bool:
    if _is_latin_name(name):
        if " " in name:
            return name in folded_text
        return any(word.startswith(name) for word in words)
    return name in folded_text


def requested_language(text: str) -> str | None:
    """Which language a message asks for ("can we speak Spanish?" → "es").

    Returns a supported code, ``"unsupported"`` when the message names a
    language we do not speak, or ``None`` when it names no language. When a
    message names several languages, the last one named wins ("not English,
    French please" → "fr").
    """
    folded = fold(text)
    words = _WORD_RE.findall(folded)
    best: tuple[int, str] | None = None
    for code, names in LANGUAGE_NAMES.items():
        for name in names:
            if _mentions(folded, words, name):
                position = folded.rfind(name)
                if best is None or position > best[0]:
                    best = (position, code)
    if best is not None:
        return best[1]
    if any(_mentions(folded, words, name) for name in UNSUPPORTED_LANGUAGE_NAMES):
        return "unsupported"
    return None


def language_from_locale(locale: str | None) -> str | None:
    """Map a browser locale ("pt-BR", "zh_Hant_TW", "ES") to a supported code, or None."""
    if not locale or not isinstance(locale, str):
        return None
    code = re.split(r"[-_]", locale.strip(), maxsplit=1)[0].lower()
    return code if code in SUPPORTED_LANGUAGES else None


def normalise_language(code: object) -> str | None:
    """Return ``code`` if it is a supported language code (any case), else None."""
    if isinstance(code, str) and code.strip().lower() in SUPPORTED_LANGUAGES:
        return code.strip().lower()
    return None
