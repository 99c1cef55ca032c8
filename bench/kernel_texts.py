"""The texts the kernel benchmarks count: seeded, so every run counts the same bytes.

``ascii`` and ``unicode`` are the benchmark corpus (``wcbench.corpus``). The others are one passage
of about 1 MiB drawn by a seeded ``random.Random`` and repeated up to the size asked for (cut at a
space), each stressing one thing a UTF-8 word counter meets in real text:

* ``russian``: Cyrillic words (two-byte characters), ASCII spaces and punctuation;
* ``chinese``: CJK ideographs (three bytes), ASCII spaces, CJK punctuation (U+3001, U+3002,
  U+FF0C: their lead bytes E3 and EF are shared with U+3000 and other look-alikes);
* ``arabic``: Arabic words with some diacritics (two bytes), the Arabic comma U+060C, ASCII spaces;
* ``emoji``: short messages where a third of the tokens are emoji (four bytes), some with skin
  tones, zero-width joiners (U+200D) and variation selectors (U+FE0F), or flags;
* ``spaces``: dense Unicode whitespace: short Latin words, every separator one of the 29
  whitespace code points (most of them multi-byte), with look-alikes that are not whitespace
  (U+200B, U+FEFF, U+180E, U+2060) inside words;
* ``mixed``: mixed scripts sentence by sentence (Latin with accents, Greek, Cyrillic, Hebrew,
  Devanagari, CJK, Hangul, emoji), mostly ASCII spaces, a few NBSP, U+3000 and newlines;
* ``separators``: issue 15's mixed text, a third of the separators NBSP or U+3000.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from wcbench import corpus
from wordcount.text import WHITESPACE

_RUSSIAN = [
    "съешь", "же", "ещё", "этих", "мягких", "французских", "булок", "да", "выпей", "чаю",
    "широкая", "электрификация", "южных", "губерний", "даст", "мощный", "толчок", "подъёму",
    "сельского", "хозяйства"
]
_PUNCT = ("", "", "", "", ",", ".", "!", "?", ":")
_ARABIC_LETTERS = [chr(c) for c in range(0x0627, 0x063B)] + [chr(c) for c in range(0x0641, 0x064B)]
_ARABIC_MARKS = [chr(c) for c in range(0x064B, 0x0653)]
_EMOJI = [chr(c) for c in (*range(0x1F600, 0x1F650), *range(0x1F680, 0x1F6C0),
                           *range(0x1F90C, 0x1F980))]
_SKIN = [chr(c) for c in range(0x1F3FB, 0x1F400)]
_FLAG_LETTERS = [chr(c) for c in range(0x1F1E6, 0x1F200)]
_LATIN = "abcdefghijklmnopqrstuvwxyzéèàçñüöß"
_SCRIPTS = {
    "latin": "abcdefghijklmnopqrstuvwxyzéèêàâçñüöäøåíóú",
    "greek": "αβγδεζηθικλμνξοπρστυφχψω",
    "cyrillic": "абвгдежзийклмнопрстуфхцчшщыэюя",
    "hebrew": "".join(chr(c) for c in range(0x05D0, 0x05EB)),
    "devanagari": "".join(chr(c) for c in range(0x0915, 0x0939)) + "ािीुूेैोौ",
    "cjk": "".join(chr(c) for c in range(0x4E00, 0x4E00 + 2000)),
    "hangul": "".join(chr(c) for c in range(0xAC00, 0xAC00 + 2000)),
}
_LOOKALIKES = ("\u200b", "\ufeff", "\u180e", "\u2060")


def _russian(rng: random.Random) -> str:
    return rng.choice(_RUSSIAN) + rng.choice(_PUNCT) + ("\n" if rng.random() < 0.07 else " ")


def _chinese(rng: random.Random) -> str:
    word = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(rng.randint(1, 4)))
    word += rng.choice(("", "", "", "\u3001", "\u3002", "\uff0c", ".", ","))
    return word + ("\n" if rng.random() < 0.07 else " ")


def _arabic(rng: random.Random) -> str:
    letters = [rng.choice(_ARABIC_LETTERS) for _ in range(rng.randint(2, 8))]
    if rng.random() < 0.2:
        letters.insert(rng.randrange(1, len(letters) + 1), rng.choice(_ARABIC_MARKS))
    word = "".join(letters) + rng.choice(("", "", "", "", "\u060c", ".", "؟"))
    return word + ("\n" if rng.random() < 0.07 else " ")


def _emoji_token(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.6:
        return "".join(rng.choice(_EMOJI) for _ in range(rng.randint(1, 3)))
    if kind < 0.75:
        return rng.choice(_EMOJI) + rng.choice(_SKIN)
    if kind < 0.85:
        return rng.choice(_EMOJI) + "\u200d" + rng.choice(_EMOJI) + "\ufe0f"
    return rng.choice(_FLAG_LETTERS) + rng.choice(_FLAG_LETTERS)


def _emoji(rng: random.Random) -> str:
    if rng.random() < 1 / 3:
        token = _emoji_token(rng)
    else:
        token = "".join(rng.choice(_LATIN) for _ in range(rng.randint(1, 8)))
        if rng.random() < 0.3:
            token += _emoji_token(rng)  # glued to the word: "nice😀"
    return token + ("\n" if rng.random() < 0.1 else " ")


_UNICODE_SPACES = [c for c in WHITESPACE if ord(c) >= 0x80]


def _spaces(rng: random.Random) -> str:
    word = "".join(rng.choice(_LATIN) for _ in range(rng.randint(1, 6)))
    if rng.random() < 0.05:
        at = rng.randrange(len(word) + 1)
        word = word[:at] + rng.choice(_LOOKALIKES) + word[at:]
    sep = rng.choice(_UNICODE_SPACES) if rng.random() < 0.8 else rng.choice(WHITESPACE)
    return word + sep * (2 if rng.random() < 0.1 else 1)


def _mixed(rng: random.Random) -> str:
    script = rng.choice((*_SCRIPTS, "emoji"))
    words = []
    for _ in range(rng.randint(4, 12)):
        if script == "emoji":
            words.append(_emoji_token(rng))
        else:
            alphabet = _SCRIPTS[script]
            words.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))))
        words.append(rng.choice((" ", " ", " ", " ", " ", " ", " ", "\u00a0", "\u3000")))
    return "".join(words) + rng.choice((".\n", ". ", "! ", "? "))


def _separators(rng: random.Random) -> str:
    word = rng.choice((rng.choice(_RUSSIAN), "naïve", "δοκιμή", "中文文本", "words"))
    sep = rng.choice((" ", " ", " ", " ", "\u00a0", "\u3000"))
    return word + ("\n" if rng.random() < 0.07 else sep)


_PIECES: dict[str, Callable[[random.Random], str]] = {
    "russian": _russian, "chinese": _chinese, "arabic": _arabic, "emoji": _emoji,
    "spaces": _spaces, "mixed": _mixed, "separators": _separators,
}
#: Every text's name: the corpus flavours, then the generated ones.
TEXTS: tuple[str, ...] = (*corpus.FLAVOURS, *_PIECES)
_PASSAGE = 1 << 20


def passage(name: str, size: int = _PASSAGE, seed: int = 15) -> str:
    """About ``size`` bytes (UTF-8) of the text ``name``, drawn piece by piece."""
    rng = random.Random(f"{name}-{seed}")
    parts: list[str] = []
    length = 0
    while length < size:
        parts.append(_PIECES[name](rng))
        length += len(parts[-1].encode())
    return "".join(parts)


def load(name: str, size: int, seed: int = 15) -> bytes:
    """``size`` bytes of the text ``name`` (at most: cut after a whitespace character, so the
    text is valid UTF-8 and the cut splits no word)."""
    if name in corpus.FLAVOURS:
        return corpus.load(size, name)
    if name not in _PIECES:
        raise ValueError(f"unknown text {name!r}; choose one of: {', '.join(TEXTS)}")
    one = passage(name, min(size, _PASSAGE), seed).encode()
    text = one * (size // len(one) + 1)
    end = min(size, len(text))
    while end < len(text) and text[end] & 0xC0 == 0x80:  # back to a character boundary
        end -= 1
    start = max(0, end - 4096)
    while start > 0 and text[start] & 0xC0 == 0x80:
        start -= 1
    tail = text[start:end].decode("utf-8")
    keep = next((k + 1 for k in range(len(tail) - 1, -1, -1) if tail[k].isspace()), 0)
    return text[: start + len(tail[:keep].encode())]
