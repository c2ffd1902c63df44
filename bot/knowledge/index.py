"""Finding the FAQ entry a buyer's question is about: BM25 per language.

Each entry is one document per language made of its question variants and its
answer. Terms are the words of the NLU's own tokenizers (bot/tokenization.py),
lower-cased and without accents, plus character n-grams: in spaced scripts,
trigrams inside words (typos and inflections: "envio"/"envíos", "заказ"/"заказа")
and the word's first four letters as a crude stem (Arabic: after the article);
bigrams for Korean, where particles glue onto words ("배송이", "배송은": the
syllable bigram "배송" matches), and for Chinese and Japanese, where word boundaries
are a guess, across those boundaries.

Tried on the dev paraphrases and dropped (no gain in top-1): fusing BM25 with the
cosine of the single closest question variant, trigrams in Chinese, Japanese and
Korean, Korean particle stripping, other k1/b and answer weights.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from bot.knowledge.model import KnowledgeBase
from bot.languages import fold
from bot.tokenization import Tokenizers

#: Languages where character bigrams carry the matching (no spaces, or particles glued on).
_UNSPACED = frozenset({"zh", "ja", "ko"})
#: Chinese and Japanese: the segmenter's word boundaries are a guess that differs
#: between two phrasings of the same thing ("退款" / "退回来的钱"), so bigrams are
#: taken across them, over each run of words between punctuation.
_UNSEGMENTED = frozenset({"zh", "ja"})
#: How much one character bigram counts, relative to a word.
_BIGRAM_WEIGHT = 1.0
#: A word's trigrams weigh ``_NGRAMS_WEIGHT / count ** _TRIGRAM_SHARE`` each: a long
#: word's trigrams count for more than a short word's, but not in proportion.
_TRIGRAM_SHARE = 0.5
_NGRAMS_WEIGHT = 1.0
#: How much the answer's words count relative to the questions'.
_ANSWER_WEIGHT = 0.3
#: Words longer than this also count by their first this many letters: a crude
#: stemmer that works alike in every spaced language ("refunded"/"refunds",
#: "erstattung"/"erstatten", "devolución"/"devolver"), where trigrams alone
#: let the endings weigh as much as the stem.
_STEM = 4
#: How much a word's stem counts, relative to the word.
_STEM_WEIGHT = 0.5
#: Arabic: the article and the conjunctions and prepositions glued before it, taken
#: off for the stem ("الشحن", "والشحن", "بالشحن" → "شحن"), longest first.
_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
#: Arabic letters buyers write either way: tā' marbūṭa as hā', alif maqṣūra as yā'.
_ARABIC_FOLDING = str.maketrans({"ة": "ه", "ى": "ي"})
_K1 = 1.2
_B = 0.75


@dataclass(frozen=True)
class Match:
    """An entry and how well the question matches it (confidence in 0..1)."""

    entry_id: str
    score: float
    confidence: float


def _document(
    questions: tuple[str, ...], answer: str, language: str, tokenizers: Tokenizers
) -> dict[str, float]:
    """An entry's document in one language: its questions, and its answer at a lower weight."""
    document: defaultdict[str, float] = defaultdict(float)
    for question in questions:
        for term, weight in terms(question, language, tokenizers).items():
            document[term] += weight
    for term, weight in terms(answer, language, tokenizers).items():
        document[term] += weight * _ANSWER_WEIGHT
    return dict(document)


def terms(text: str, language: str, tokenizers: Tokenizers) -> defaultdict[str, float]:
    """Weighted terms of ``text``: folded words plus character n-grams."""
    weights: defaultdict[str, float] = defaultdict(float)
    run = ""  # Chinese and Japanese: consecutive words, for bigrams across word boundaries
    for token in tokenizers.tokenize(text, language):
        word = fold(token.text)
        if not any(c.isalnum() for c in word):
            _add_bigrams(weights, run)
            run = ""
            continue
        if language == "ar":
            word = word.translate(_ARABIC_FOLDING)
        weights[word] += 1.0
        if language in _UNSEGMENTED:
            run += word
        elif language in _UNSPACED:
            _add_bigrams(weights, word)
        else:
            padded = f"<{word}>"
            grams = [padded[i : i + 3] for i in range(len(padded) - 2)] if len(word) > 3 else []
            for gram in grams:
                weights["#" + gram] += _NGRAMS_WEIGHT / len(grams) ** _TRIGRAM_SHARE
            stem = _arabic_stem(word) if language == "ar" else word
            if len(stem) > _STEM:
                weights["~" + stem[:_STEM]] += _STEM_WEIGHT
            elif stem != word:
                weights["~" + stem] += _STEM_WEIGHT
    _add_bigrams(weights, run)
    return weights


def _add_bigrams(weights: defaultdict[str, float], text: str) -> None:
    """Character bigrams of ``text``, each counting as much as a word.

    Not shared out over the word like trigrams: in Chinese, Japanese and Korean a
    bigram is most often a word (or the stem of one) in its own right.
    """
    for i in range(len(text) - 1):
        weights["#" + text[i : i + 2]] += _BIGRAM_WEIGHT


def _arabic_stem(word: str) -> str:
    """``word`` without a leading article (and what is glued before it), if enough is left."""
    for prefix in _ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 3:
            return word[len(prefix) :]
    return word


Key = tuple[str, tuple[str, ...], str]
#: Term weights of entry documents already built, by (language, questions, answer):
#: reused across reloads.
TermCache = dict[Key, dict[str, float]]


class _Cache(dict[Key, dict[str, float]]):
    """The term cache an index hands on, plus the counts it derived from it.

    Counting in how many documents each term occurs means visiting every term of
    every entry (millions for a thousand entries in ten languages): most of a
    reload. With the previous index's counts, a reload after an edit only takes
    out the documents that went and adds the ones that came.
    """

    def __init__(self) -> None:
        super().__init__()
        #: Per language: term -> how many of the index's documents hold it.
        self.frequencies: dict[str, Counter[str]] = {}
        #: The documents counted (an entry's texts can repeat another's: a multiset).
        self.members: Counter[Key] = Counter()
        #: Sum of each document's term weights.
        self.lengths: dict[Key, float] = {}


class Index:
    """A BM25 index of one knowledge base, one sub-index per language.

    Built once per (re)load, then read-only: safe to share between requests.
    Tokenizing is most of the build time, so the index keeps each entry's
    document in ``term_cache``; given the previous index's cache, a reload
    after an edit only tokenizes (and recounts) the entries that changed.
    """

    def __init__(
        self, base: KnowledgeBase, tokenizers: Tokenizers, previous: TermCache | None = None
    ) -> None:
        previous = previous or {}
        cache = _Cache()
        self.term_cache: TermCache = cache
        self._documents: dict[str, dict[str, dict[str, float]]] = {}
        self._lengths: dict[str, dict[str, float]] = {}
        self._average: dict[str, float] = {}
        self._idf: dict[str, dict[str, float]] = {}
        lengths = previous.lengths if isinstance(previous, _Cache) else {}
        for entry in base.entries.values():
            for language in entry.languages():
                key = (language, entry.questions[language], entry.answers[language])
                document = cache.get(key) or previous.get(key)
                if document is None:
                    document = _document(
                        entry.questions[language], entry.answers[language], language, tokenizers
                    )
                if key not in cache:
                    cache[key] = document
                    cache.lengths[key] = lengths.get(key) or sum(document.values())
                cache.members[key] += 1
                self._documents.setdefault(language, {})[entry.id] = document
                self._lengths.setdefault(language, {})[entry.id] = cache.lengths[key]
        _count(cache, previous if isinstance(previous, _Cache) else None)
        for language, documents in self._documents.items():
            frequencies = cache.frequencies[language]
            count = len(documents)
            self._average[language] = sum(self._lengths[language].values()) / count
            self._idf[language] = {
                term: math.log(1 + (count - n + 0.5) / (n + 0.5)) for term, n in frequencies.items()
            }
        self._tokenizers = tokenizers

    def languages(self) -> set[str]:
        return set(self._documents)

    def idf(self, language: str) -> tuple[dict[str, float], float]:
        """Inverse document frequency of each term in ``language``, and the value
        for a term no entry uses (the rarest possible)."""
        idf = self._idf.get(language, {})
        count = len(self._documents.get(language, {}))
        return idf, math.log(1 + (count + 0.5) / 0.5)

    def search(self, text: str, language: str, limit: int = 3) -> list[Match]:
        """The best ``limit`` entries for ``text`` in ``language``, best first."""
        documents = self._documents.get(language)
        if not documents:
            return []
        query = terms(text, language, self._tokenizers)
        idf = self._idf[language]
        lengths = self._lengths[language]
        average = self._average[language]
        scores: dict[str, float] = {}
        for entry_id, document in documents.items():
            norm = _K1 * (1 - _B + _B * lengths[entry_id] / average)
            score = 0.0
            for term, weight in query.items():
                frequency = document.get(term)
                if frequency:
                    score += weight * idf[term] * frequency * (_K1 + 1) / (frequency + norm)
            if score > 0:
                scores[entry_id] = score
        if not scores:
            return []
        # Confidence: the share of the query's own best possible score that the
        # entry reaches, so "3 of 4 important words matched" reads the same in
        # every language and for short and long questions alike.
        # A word the knowledge base never uses (a place, a product name) counts as
        # an average word matched by nothing.
        unseen = sum(idf.values()) / len(idf)
        ceiling = sum(weight * idf.get(term, unseen) for term, weight in query.items())
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [Match(eid, score, min(1.0, score / ceiling) if ceiling else 0.0) for eid, score in ranked]


def _count(cache: _Cache, previous: _Cache | None) -> None:
    """Fill ``cache.frequencies`` for its members, from ``previous``'s counts if given."""
    if previous is None:
        removed: Counter[Key] = Counter()
        added = cache.members
    else:
        cache.frequencies = {lang: Counter(f) for lang, f in previous.frequencies.items()}
        removed = previous.members - cache.members
        added = cache.members - previous.members
    for key, times in removed.items():
        frequencies = cache.frequencies[key[0]]
        for term in previous[key] if previous is not None else ():
            left = frequencies[term] - times
            if left > 0:
                frequencies[term] = left
            else:
                del frequencies[term]
    for key, times in added.items():
        frequencies = cache.frequencies.setdefault(key[0], Counter())
        for term in cache[key]:
            frequencies[term] += times
    for language in [lang for lang, f in cache.frequencies.items() if not f]:
        del cache.frequencies[language]
