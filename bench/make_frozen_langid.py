"""Build the frozen language-identification benchmark (bench/data/frozen/langid/*.yml).

Why this exists: the langid benchmark must come from a source independent of the
project's training data.  Single words and word pairs are sampled from the word
lists shipped in the ``wordfreq`` wheel (version pinned below); sentences were
written by hand on 2026-12-03 by a helper who never saw the training data and are
passed in as one-sentence-per-line text files.

This script documents how the frozen YAML was made; it is NOT used at run time
(the committed YAML files are the frozen data).  Re-running it needs:

    python3 -m venv /tmp/wf && /tmp/wf/bin/pip install wordfreq==3.1.1
    /tmp/wf/bin/python bench/make_frozen_langid.py --sentences DIR --out bench/data/frozen/langid

Selection rules for words (per language):
  * candidates are ranks 200..20000 of ``wordfreq.top_n_list(lang, 20000)``;
  * drop anything with a digit, single Latin letters, and tokens without a letter;
  * drop words not written in the language's script (e.g. Latin loanwords in the
    ru/ar/ko/zh/ja lists, Cyrillic in the fr list) because they are ambiguous;
  * drop words that appear with the same spelling in the top 5000 of any of the
    other nine languages (ambiguous by nature);
  * sample 300 words with ``random.Random(SEED + index_of_language)``;
  * pairs: 300 pairs of two further sampled words of the same language joined by
    one space (also for zh and ja, whose normal text has no spaces).
"""

from __future__ import annotations

import argparse
import pathlib
import random
import re
import unicodedata

import yaml

WORDFREQ_VERSION = "3.1.1"
SEED = 20261203
LANGS = ["en", "zh", "es", "fr", "de", "pt", "ru", "ar", "ja", "ko"]
RANK_FROM, RANK_TO, OTHER_TOP = 200, 20000, 5000
N_WORDS, N_PAIRS = 300, 300

HEADER = (
    "# Written by a helper on 2026-12-03 without seeing any training data.\n"
    "# words/pairs: sampled from wordfreq {ver} top_n_list (ranks {a}-{b}), seed {seed},\n"
    "#   see bench/make_frozen_langid.py; sentences: written by hand by the helper.\n"
    "# FROZEN on 2026-12-03: do not edit. Must never be copied or paraphrased into training data.\n"
)


def _script_ok(lang: str, word: str) -> bool:
    """True when every letter of ``word`` is in the script expected for ``lang``."""
    letters = [c for c in word if c.isalpha()]
    if not letters:
        return False
    names = [unicodedata.name(c, "") for c in letters]
    if lang == "zh":
        return all(n.startswith("CJK UNIFIED") for n in names)
    if lang == "ja":
        return all(n.startswith(("CJK UNIFIED", "HIRAGANA", "KATAKANA")) for n in names)
    if lang == "ko":
        return all(n.startswith("HANGUL") for n in names)
    if lang == "ar":
        return all(n.startswith("ARABIC") for n in names)
    if lang == "ru":
        return all(n.startswith("CYRILLIC") for n in names)
    return all(n.startswith("LATIN") for n in names)


def candidates(lang: str, others: dict[str, set[str]]) -> list[str]:
    """Eligible words of ``lang`` in rank order (rules in the module docstring)."""
    from wordfreq import top_n_list

    out: list[str] = []
    for word in top_n_list(lang, RANK_TO)[RANK_FROM:]:
        if re.search(r"\d", word) or not _script_ok(lang, word):
            continue
        if len(word) == 1 and "LATIN" in unicodedata.name(word, ""):
            continue
        if any(word in top for other, top in others.items() if other != lang):
            continue
        out.append(word)
    return out


def main() -> None:
    from importlib.metadata import version

    import wordfreq  # noqa: F401  (fails early when the venv is missing)
    from wordfreq import top_n_list

    assert version("wordfreq") == WORDFREQ_VERSION, version("wordfreq")
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", required=True, type=pathlib.Path)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    args = ap.parse_args()
    others = {lang: set(top_n_list(lang, OTHER_TOP)) for lang in LANGS}
    args.out.mkdir(parents=True, exist_ok=True)
    for i, lang in enumerate(LANGS):
        pool = candidates(lang, others)
        rng = random.Random(SEED + i)
        words = rng.sample(pool, N_WORDS)
        rest = [w for w in pool if w not in set(words)]
        pairs: list[str] = []
        seen: set[str] = set()
        while len(pairs) < N_PAIRS:
            a, b = rng.sample(rest, 2)
            pair = f"{a} {b}"
            if pair not in seen:
                seen.add(pair)
                pairs.append(pair)
        src = args.sentences / f"{lang}.txt"
        sentences: list[str] = []
        for line in src.read_text(encoding="utf-8").splitlines():
            s = line.strip()
            if s and s not in sentences:
                sentences.append(s)
        doc = {"language": lang, "words": words, "pairs": pairs, "sentences": sentences}
        body = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000)
        head = HEADER.format(ver=WORDFREQ_VERSION, a=RANK_FROM, b=RANK_TO, seed=SEED)
        (args.out / f"{lang}.yml").write_text(head + body, encoding="utf-8")
        print(lang, "pool", len(pool), "words", len(words), "pairs", len(pairs), "sentences", len(sentences))


if __name__ == "__main__":
    main()
