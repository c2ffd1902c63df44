"""Language identification that holds up on short chat messages.

Plain langdetect guesses among 55 languages from character n-gram profiles built
on Wikipedia; on "ok", "gracias!" or "A12345" it is close to a coin toss, and it
is random unless seeded. Buyers write short messages, so this detector layers
what is certain before what is statistical:

1. Nothing to go on (empty, emoji, digits, order numbers, button payloads,
   "ok"): keep the conversation's language, else the browser locale's, else the
   store default.
2. A decisive script: Hangul → ko, kana → ja, Arabic → ar, Cyrillic → ru, Han
   without kana → zh, unless it holds kanji that only Japanese writes (発, 込,
   様...), or is kanji-only in a Japanese conversation where no character is
   Simplified-only.
   Han-only text also counts characters that only one of the national
   character sets has (GB 2312 for Simplified Chinese, JIS X 0208 via
   Shift_JIS for Japanese): 経, 済, 鮮 are Japanese forms, 经, 济, 鲜 Chinese.
3. Latin text: lingua (``lingua-language-detector``, restricted to our five
   Latin-script languages, models preloaded) when it is installed: on outside
   single words and word pairs it is right far more often than langdetect
   (measured in bench/langid.py); a single word our own chat data has seen in
   one language only ("obrigado") adds to that language. Without lingua, every
   n-gram is scored against langdetect's profiles (exact, so deterministic)
   plus what we learnt from our chat data.
4. Inside a conversation its language holds unless the message is strong
   evidence against it (``switches``): a decisive script (rule 2), or Latin
   text of at least SWITCH_MIN_WORDS words and SWITCH_MIN_LETTERS letters
   whose best language beats the conversation's by SWITCH_MARGIN (more,
   CLOSE_SWITCH_MARGIN, between the close neighbours es/pt/fr). A short or
   ambiguous message ("si", "cancela o globoplay", "rpg" in a Japanese chat)
   never flips it: on the off-topic benchmark half the harmful outcomes were
   such flips. Asking for a language is the ``change_language`` intent's job.
   The browser locale alone is a softer prior: on short text it holds unless
   a word our data has seen in one other language only ("gracias") says
   otherwise, so a first message in the buyer's own language is answered in it.

Used inside the Rasa process (the NLU component) and by the app env, so it
imports only langdetect, lingua (optional) and the standard library.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.languages import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, fold

#: Languages written in the Latin script, told apart statistically.
LATIN_LANGUAGES: tuple[str, ...] = tuple(
    code for code in SUPPORTED_LANGUAGES if code in {"en", "es", "fr", "de", "pt"}
)

#: Words that say nothing about the writer's language: typed the same way by
#: buyers everywhere.
NEUTRAL_WORDS: frozenset[str] = frozenset(
    {
        "ok",
        "okay",
        "okey",
        "oki",
        "okk",
        "k",
        "kk",
        "lol",
        "haha",
        "hahaha",
        "jaja",
        "hmm",
        "hm",
        "xd",
        "wow",
        "pls",
        "plz",
        "thx",
        "bye",
        "hi",
        "hello",
        "hey",
        "cool",
        "super",
        "top",
        "yes",
        "no",
        "si",
        "sms",
        "email",
        "mail",
        "paypal",
        "visa",
        "dhl",
        "ups",
        "fedex",
        "usps",
        "id",
        "ps",
        "ah",
        "oh",
        "eh",
        "uh",
        "oops",
        "vip",
        "usb",
        "iphone",
        "android",
    }
)

#: A message with fewer letters than this (after removing neutral words) is too
#: short for statistics alone: the conversation's language is preferred.
SHORT_TEXT_LETTERS = 12

_URL_RE = re.compile(r"(https?://\S+|www\.\S+|\S+@\S+\.\w+)", re.IGNORECASE)
_TOKEN_RE = re.compile(r"[^\W\d_]+", re.UNICODE)


#: Log-odds added per word that our chat data has seen in one language only.
LEXICON_WEIGHT = 4.0
#: Log-odds added to the conversation's language on short text.
PRIOR_WEIGHT = 4.0
#: Log-odds added (with lingua) per one-language word of a single-word message.
SINGLE_WORD_LEXICON_WEIGHT = 2.0

#: Inside a conversation, a Latin-script message switches its language only when
#: it has at least this many words and letters (neutral words not counted)...
SWITCH_MIN_WORDS = 3
SWITCH_MIN_LETTERS = 15
#: ...and its best language's score (``switch_scores``: lingua's log-probability
#: plus langdetect's log-likelihood per 4 letters plus SWITCH_LEXICON_WEIGHT per
#: word our chat data has seen in that language only) beats the conversation
#: language's by this margin, or by CLOSE_SWITCH_MARGIN between close neighbours.
#: Chosen on the dev sets (bench/data/dev, ``bench/langid.py --data``): no dev
#: off-topic message or dev sentence in its own language's conversation flips
#: (the worst came within 0.4 of its conversation's language, close neighbours
#: 1.2: a buffer of 2.3 or more), while 99.7% of the 5-9 word dev sentences
#: written in another, not close, language switch at once (97.6% between
#: es/pt/fr: the next sentence gets another chance). lingua alone separated them
#: worse (91% between neighbours at a margin of 2.5 that already missed
#: "bonjour, vous êtes un robot ?" in an English chat by a hair); without our
#: words 93%, and unaccented Spanish ("quiero saber donde esta mi pedido")
#: stayed Portuguese.
SWITCH_MARGIN = 3.0
CLOSE_SWITCH_MARGIN = 3.5
SWITCH_LEXICON_WEIGHT = 1.0
#: Pairs of languages that share most short words and endings.
CLOSE_NEIGHBOURS: frozenset[frozenset[str]] = frozenset(
    frozenset(pair) for pair in (("es", "pt"), ("es", "fr"), ("fr", "pt"))
)


def _script_of(char: str) -> str | None:
    """Name the script of a letter, for the scripts that decide a language."""
    code = ord(char)
    if 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9D:
        return "kana"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
        return "han"
    if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFEFF:
        return "arabic"
    if 0x0400 <= code <= 0x04FF:
        return "cyrillic"
    if char.isalpha() and ("LATIN" in unicodedata.name(char, "")):
        return "latin"
    if char.isalpha():
        return "other"
    return None


#: Kanji used in Japanese but in neither Simplified nor Traditional Chinese
#: (Japanese-only forms and kokuji): one of them in a Han-only message means ja.
JAPANESE_ONLY_HAN = frozenset(
    "発変様済払帰続売読関図楽対歳円駅気広実経営価単県辺験険転込収戻壊黒遅弁応担拡挙覚観権歩毎"
    "団伝労働畳枠匂峠沢剣検証説悪悩桜拝絵芸薬弾霊隠稲殻穏祢栄覧徳灯鉄銭銅当恵歴縦軽蔵"
)
#: Simplified characters that Japanese never writes.
SIMPLIFIED_ONLY_HAN = frozenset(
    "们这说么还发货买卖钱问题时间运费单订没吗呢啊谢给让请怎样为账额换码话语认证确联系网电个东车长书过进难应该哪里吧呀"
)

#: Weight of one character of each script when scripts are mixed: one Han or
#: Hangul character carries about as much as a short Latin word.
_SCRIPT_WEIGHT = {
    "hangul": 3.0,
    "kana": 3.0,
    "han": 3.0,
    "arabic": 1.0,
    "cyrillic": 1.0,
    "latin": 1.0,
    "other": 0.5,
}


def _encodable(char: str, codec: str) -> bool:
    try:
        char.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def han_votes(text: str) -> tuple[int, int]:
    """(Japanese, Chinese) evidence in Han characters: forms only one national charset has."""
    japanese = chinese = 0
    for char in text:
        if _script_of(char) != "han":
            continue
        in_gb, in_jis = _encodable(char, "gb2312"), _encodable(char, "shift_jis")
        if char in JAPANESE_ONLY_HAN or (in_jis and not in_gb):
            japanese += 1
        elif char in SIMPLIFIED_ONLY_HAN or (in_gb and not in_jis):
            chinese += 1
    return japanese, chinese


@dataclass(frozen=True)
class Detection:
    """The outcome of one detection: the language, how sure, and which rule decided."""

    language: str
    confidence: float
    method: str  # "prior", "script", "statistics"


@dataclass
class Lexicon:
    """What our own chat data says about the Latin-script languages.

    Learnt from the labelled NLU examples: the words seen in one language only
    (a word shared by languages, like "no" or "total", says nothing), and
    character n-gram counts per language, the way buyers really type
    (missing accents, typos, chat abbreviations), to complement langdetect's
    Wikipedia-trained profiles.
    """

    words: dict[str, str] = field(default_factory=dict)
    ngrams: dict[str, dict[str, int]] = field(default_factory=dict)
    _cached_totals: dict[str, tuple[dict[str, int], int]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @classmethod
    def learn(cls, examples: Iterable[tuple[str, str]]) -> Lexicon:
        """Build a lexicon from (text, language) pairs."""
        seen: dict[str, set[str]] = {}
        ngrams: dict[str, Counter[str]] = {lang: Counter() for lang in LATIN_LANGUAGES}
        for text, language in examples:
            if language not in LATIN_LANGUAGES:
                continue
            words = _latin_words(text)
            for word in words:
                seen.setdefault(fold(word), set()).add(language)
                ngrams[language].update(_char_ngrams(word))
        return cls(
            {word: next(iter(langs)) for word, langs in seen.items() if len(langs) == 1 and len(word) > 1},
            {lang: dict(counts) for lang, counts in ngrams.items()},
        )

    def votes(self, words: Iterable[str]) -> Counter[str]:
        """Count the words of a message that only one language uses."""
        return Counter(self.words[w] for w in map(fold, words) if w in self.words)

    def log_likelihoods(self, words: list[str]) -> dict[str, float]:
        """Add-one smoothed character n-gram log-likelihood of ``words`` per language."""
        grams = [g for word in words for g in _char_ngrams(word)]
        scores = {}
        for lang, (counts, total) in self._totals().items():
            scores[lang] = sum(math.log((counts.get(g, 0) + 1) / total) for g in grams)
        return scores

    def _totals(self) -> dict[str, tuple[dict[str, int], int]]:
        """Per language: its counts and the add-one denominator (computed once)."""
        if self._cached_totals is None:
            vocabulary = len(set().union(*(self.ngrams.get(lang, {}) for lang in LATIN_LANGUAGES))) + 1
            self._cached_totals = {
                lang: (self.ngrams.get(lang) or {}, sum((self.ngrams.get(lang) or {}).values()) + vocabulary)
                for lang in LATIN_LANGUAGES
            }
        return self._cached_totals

    def to_dict(self) -> dict[str, object]:
        return {"words": self.words, "ngrams": self.ngrams}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Lexicon:
        words = data.get("words") or {}
        ngrams = data.get("ngrams") or {}
        assert isinstance(words, dict) and isinstance(ngrams, dict)
        return cls(dict(words), {lang: dict(c) for lang, c in ngrams.items()})


def _char_ngrams(word: str, sizes: tuple[int, ...] = (1, 2, 3)) -> list[str]:
    padded = f" {word} "
    return [padded[i : i + n] for n in sizes for i in range(len(padded) - n + 1) if padded[i : i + n].strip()]


def _latin_words(text: str) -> list[str]:
    """Lower-cased Latin-script words of ``text``, accents kept, neutral words dropped."""
    return [
        word
        for word in _TOKEN_RE.findall(text.casefold())
        if len(word) > 1 and all(_script_of(c) == "latin" for c in word) and fold(word) not in NEUTRAL_WORDS
    ]


class LanguageDetector:
    """Seeded, supported-languages-only detector with script rules and priors.

    Construct once and reuse: loading langdetect's profiles takes ~100 ms. Safe
    to share between threads (langdetect detectors are created per call).
    """

    def __init__(
        self,
        lexicon: Lexicon | None = None,
        default_language: str = DEFAULT_LANGUAGE,
        seed: int = 0,
    ) -> None:
        self.lexicon = lexicon or Lexicon()
        self.default_language = default_language
        self._seed = seed
        self._factory: Any = None
        self._lingua: Any = None
        self._lingua_loaded = False
        self._lock = threading.Lock()

    def lingua(self) -> Any:
        """lingua's detector for the Latin-script languages, built once; None when not installed."""
        with self._lock:
            if not self._lingua_loaded:
                self._lingua_loaded = True
                try:
                    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
                except ImportError:
                    return None
                languages = [
                    Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in LATIN_LANGUAGES
                ]
                self._lingua = (
                    LanguageDetectorBuilder.from_languages(*languages)
                    .with_preloaded_language_models()
                    .build()
                )
            return self._lingua

    def warm_up(self) -> None:
        """Load every model now (at server start) rather than on the first buyer's message."""
        self._langdetect_factory()
        self.lingua()
        self.detect("warm up")

    def _langdetect_factory(self) -> Any:
        """Load langdetect profiles of the Latin-script languages, once, on first use."""
        with self._lock:
            if self._factory is None:
                from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

                factory = DetectorFactory()
                profiles = [
                    (Path(PROFILES_DIRECTORY) / code).read_text(encoding="utf-8") for code in LATIN_LANGUAGES
                ]
                factory.load_json_profile(profiles)
                factory.set_seed(self._seed)
                self._factory = factory
            return self._factory

    def statistics(self, text: str) -> dict[str, float]:
        """Naive-Bayes log-likelihood of ``text`` under langdetect's profiles, per language.

        langdetect itself samples n-grams at random, which on a one-word message
        gives a different answer per seed; scoring every n-gram is exact,
        deterministic and as fast. Uses langdetect's own n-gram extraction.
        """
        detector = self._langdetect_factory().create()
        detector.append(text)
        # langdetect's own n-gram extraction (its character normalisation), not a copy.
        grams = detector._extract_ngrams()
        smoothing = detector.alpha / detector.BASE_FREQ
        scores = dict.fromkeys(detector.langlist, 0.0)
        for gram in grams:
            for lang, probability in zip(detector.langlist, detector.word_lang_prob_map[gram], strict=True):
                scores[lang] += math.log(smoothing + probability)
        return scores

    def detect(
        self,
        text: str,
        conversation_language: str | None = None,
        locale_language: str | None = None,
    ) -> Detection:
        """Detect the language of ``text``.

        ``conversation_language`` is the language the conversation is in so far;
        ``locale_language`` is the buyer's browser language. Both act as priors
        for short or ambiguous text and may be None.
        """
        prior = next(
            (lang for lang in (conversation_language, locale_language) if lang in SUPPORTED_LANGUAGES),
            self.default_language,
        )
        cleaned = _URL_RE.sub(" ", text or "")
        if cleaned.lstrip().startswith("/"):
            # A button payload such as "/affirm": not something the buyer wrote.
            return Detection(prior, 1.0, "prior")

        weights: defaultdict[str, float] = defaultdict(float)
        for char in cleaned:
            script = _script_of(char)
            if script:
                weights[script] += _SCRIPT_WEIGHT[script]
        # Letters in order numbers ("A12345") and neutral words ("ok") don't count.
        latin_words = _latin_words(cleaned)
        weights["latin"] = float(sum(len(w) for w in latin_words))
        if not any(weight > 0 for weight in weights.values()):
            return Detection(prior, 1.0, "prior")

        script, weight = max(weights.items(), key=lambda item: (item[1], item[0]))
        total = sum(weights.values())
        if script != "latin":
            confidence = round(weight / total, 3)
            if script == "hangul":
                return Detection("ko", confidence, "script")
            if script == "kana" or (script == "han" and weights["kana"] > 0):
                return Detection("ja", confidence, "script")
            if script == "han":
                japanese, chinese = han_votes(cleaned)
                japanese_prior = prior == "ja" or locale_language == "ja"
                if japanese > chinese or (japanese_prior and japanese >= chinese):
                    return Detection("ja", confidence, "script")
                return Detection("zh", confidence, "script")
            if script == "arabic":
                return Detection("ar", confidence, "script")
            if script == "cyrillic":
                return Detection("ru", confidence, "script")
            return Detection(prior, 0.0, "prior")
        conversation = conversation_language if conversation_language in SUPPORTED_LANGUAGES else None
        if conversation is not None and conversation not in LATIN_LANGUAGES:
            # Latin text in a conversation in another script: a brand, an acronym
            # or "thank you" keeps it; a sentence is a change of script.
            if not _sentence_like(latin_words):
                return Detection(conversation, 0.9, "prior")
            return self._detect_latin(latin_words, None)
        if conversation is not None:
            return self._hold_or_switch(latin_words, conversation)
        known_prior = prior if prior == locale_language else None
        return self._detect_latin(latin_words, known_prior)

    def latin_scores(self, words: list[str]) -> dict[str, float]:
        """Log-scores of the Latin-script languages for ``words`` (no prior)."""
        votes = self.lexicon.votes(words)
        lingua = self.lingua()
        if lingua is not None:
            confidence = {
                value.language.iso_code_639_1.name.lower(): value.value
                for value in lingua.compute_language_confidence_values(" ".join(words))
            }
            weight = SINGLE_WORD_LEXICON_WEIGHT if len(words) == 1 else 0.0
            return {
                lang: math.log(confidence.get(lang, 0.0) + 1e-6) + weight * votes.get(lang, 0)
                for lang in LATIN_LANGUAGES
            }
        statistics = self.statistics(" ".join(words))
        chat = self.lexicon.log_likelihoods(words)
        return {
            lang: statistics.get(lang, 0.0) + chat[lang] + LEXICON_WEIGHT * votes.get(lang, 0)
            for lang in LATIN_LANGUAGES
        }

    def switches(self, words: list[str], conversation: str) -> tuple[str, float] | None:
        """(language, confidence) when ``words`` are strong evidence against the
        Latin-script ``conversation`` language, else None (the conversation holds)."""
        if not _sentence_like(words):
            return None
        scores = self.switch_scores(words)
        best = max(LATIN_LANGUAGES, key=lambda lang: scores[lang])
        if best == conversation:
            return None
        needed = CLOSE_SWITCH_MARGIN if frozenset((best, conversation)) in CLOSE_NEIGHBOURS else SWITCH_MARGIN
        if scores[best] - scores[conversation] < needed:
            return None
        return best, _confidence(scores, best, 1.0)

    def switch_scores(self, words: list[str]) -> dict[str, float]:
        """Scores of the Latin-script languages for deciding a switch, on one scale
        whichever models are installed: lingua and langdetect together when lingua
        is there (two views of the text separate neighbours better than either)."""
        scores = self.latin_scores(words)
        scale = max(1, sum(len(w) for w in words)) / 4
        if self.lingua() is None:
            return {lang: score / scale for lang, score in scores.items()}
        statistics = self.statistics(" ".join(words))
        votes = self.lexicon.votes(words)
        return {
            lang: scores[lang]
            + statistics.get(lang, 0.0) / scale
            + SWITCH_LEXICON_WEIGHT * votes.get(lang, 0)
            for lang in LATIN_LANGUAGES
        }

    def _hold_or_switch(self, words: list[str], conversation: str) -> Detection:
        switch = self.switches(words, conversation)
        if switch is None:
            return Detection(conversation, 0.9, "prior")
        return Detection(switch[0], switch[1], "statistics")

    def _scale(self, words: list[str]) -> float:
        """lingua's scores are log-probabilities already; langdetect's are
        normalised per n-gram so that confidence does not saturate on long text."""
        return 1.0 if self.lingua() is not None else max(1, sum(len(w) for w in words)) / 4

    def _detect_latin(self, words: list[str], prior: str | None) -> Detection:
        votes = self.lexicon.votes(words)
        scores = self.latin_scores(words)
        letters = sum(len(w) for w in words)
        if prior in LATIN_LANGUAGES and letters < SHORT_TEXT_LETTERS:
            # Too short for statistics: only a word that our data has seen in
            # one other language only ("gracias", "merci") moves it away.
            if not votes or votes.get(prior):
                return Detection(prior, 0.9, "prior")
            scores[prior] += PRIOR_WEIGHT
        best = max(LATIN_LANGUAGES, key=lambda lang: scores[lang])
        return Detection(best, _confidence(scores, best, self._scale(words)), "statistics")


def _sentence_like(words: list[str]) -> bool:
    """Long enough to be read as a language on its own, against a conversation's."""
    return len(words) >= SWITCH_MIN_WORDS and sum(len(w) for w in words) >= SWITCH_MIN_LETTERS


def _confidence(scores: Mapping[str, float], best: str, scale: float) -> float:
    """Softmax probability of ``best`` among the Latin-script languages."""
    exp = [math.exp((score - scores[best]) / scale) for score in scores.values()]
    return round(1 / sum(exp), 3)
