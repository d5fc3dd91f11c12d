"""The keyword method as a model: a cue lexicon per theme and language, on the same contract as the others.

This is what a researcher would do without the tool (a theme applies when one of its words occurs), so
every comparison shows whether a trained model earns its keep over it. The lexicon
(``models/keywords.json``) was written by the project from its codebook; ``lexicon=PATH`` takes another
file of the same shape (``{"cues": {theme: {lang: [cue, ...]}}}``).

A theme's score is ``hits / (hits + 1)`` for ``hits`` distinct cues of that theme found in the paragraph:
0 without a cue, 0.5 with one, 0.67 with two... The default threshold (0.5) applies a theme on one cue;
``train`` tunes it on dev like any model's (it may ask for two cues). Nothing is learned from data.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from policytheme.models.base import ModelError, ThemeModel
from policytheme.models.evidence import phrases

LEXICON_PATH = Path(__file__).with_name("keywords.json")
LEXICON_FILE = "lexicon.json"  # the lexicon a saved model uses, inside its folder (the folder travels alone)
_LATIN = re.compile(r"^[A-Za-z]")
_ASCII_LETTERS = frozenset(string.ascii_letters)  # what the look-behind (?<![A-Za-z]) refuses


def read_lexicon(path: str | Path) -> dict[str, dict[str, list[str]]]:
    """``{theme: {lang: [cue, ...]}}`` from a lexicon file; ModelError naming the file when it is not one."""
    path = Path(path)
    try:
        cues = json.loads(path.read_text(encoding="utf-8"))["cues"]
        if not all(isinstance(c, str) and c for langs in cues.values() for cs in langs.values() for c in cs):
            raise TypeError("every cue must be a non-empty string")
    except FileNotFoundError:
        raise ModelError(f"{path}: no such lexicon file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise ModelError(f"{path}: not a keyword lexicon ({{'cues': {{theme: {{lang: [cue, ...]}}}}}}): {e}") from None
    return cues


def _alternatives(cues: list[str]) -> list[tuple[str, bool]]:
    """The pattern's alternatives in the order it tries them: (lower-cased cue, only where a word starts)."""
    return [(c.lower(), bool(_LATIN.match(c))) for c in sorted(set(cues), key=lambda c: (-len(c), c))]


def _pattern(cues: list[str]) -> re.Pattern:
    """One alternation of all cues, longest first; a Latin-script cue only where a word starts."""
    parts = [(r"(?<![A-Za-z])" if latin else "") + re.escape(cue) for cue, latin in _alternatives(cues)]
    return re.compile("|".join(parts) or r"(?!)")  # no cues: a pattern that never matches


class CueCounter:
    """``counts(texts)``: per text and theme, how many distinct cues ``matches`` finds, for many texts at once.

    Python's ``re`` tries every alternative of a long alternation at every position, which made cue counting
    80% of a TF-IDF model's labeling time. Here every cue is a literal, so all places where some cue occurs
    are found in one vectorised pass (a rolling hash per cue length over the code points of all texts,
    candidates checked letter by letter), and the regular expression's own choice among them is replayed:
    scanning on from the end of the last match, the leftmost place where an alternative matches, and there
    the first alternative in the pattern's order (its Latin look-behind included). The counts equal
    ``[[len(m) for m in matches(t)] for t in texts]`` (a test checks it on the shipped test splits)."""

    _BASE = np.uint64(0x110001)  # one more than the largest code point

    def __init__(self, themes: list[list[tuple[str, bool]]]):
        self.strings = sorted({cue for alts in themes for cue, _ in alts})
        sid = {s: i for i, s in enumerate(self.strings)}
        # per theme and cue: its rank in the pattern when it may match anywhere, and where a word starts
        never = len(self.strings) + 1
        self.rank_any = np.full((len(themes), len(self.strings)), never, dtype=np.int64)
        self.rank_word = self.rank_any.copy()
        for t, alts in enumerate(themes):
            for rank, (cue, latin) in enumerate(alts):
                table = self.rank_word if latin else self.rank_any
                table[t, sid[cue]] = min(table[t, sid[cue]], rank)
        self.never = never
        self.length = np.array([len(s) for s in self.strings], dtype=np.int64)
        used = {ch for s in self.strings for ch in s}
        self.sep = next(chr(c) for c in range(1, 0x110000) if chr(c) not in used and not chr(c).isalpha())
        self.by_length = {}  # cue length -> (sorted hashes, cue ids in that order)
        for n in sorted(set(self.length.tolist())):
            ids = np.flatnonzero(self.length == n)
            keys = np.array([self._key(self.strings[i]) for i in ids], dtype=np.uint64)
            order = np.argsort(keys, kind="stable")
            if len(np.unique(keys)) < len(keys):
                raise ValueError("two cues of one length share a hash")  # the caller uses the regular expressions
            self.by_length[n] = (keys[order], ids[order])
        longest = int(self.length.max(initial=0))
        # per n < longest: the sorted keys of the first n characters of every cue longer than n
        self.prefixes = [
            np.unique(np.array([self._key(s[:n]) for s in self.strings if len(s) > n], dtype=np.uint64))
            for n in range(1, longest)
        ] + [np.zeros(0, np.uint64)]
        self.first = np.zeros(0x110000, dtype=bool)  # the characters a cue starts with
        self.first[[ord(s[0]) for s in self.strings]] = True

    @classmethod
    def _key(cls, s: str) -> np.uint64:
        key = np.uint64(0)
        with np.errstate(over="ignore"):
            for ch in s:
                key = key * cls._BASE + np.uint64(ord(ch) + 1)
        return key

    def _candidates(self, joined: str) -> tuple[np.ndarray, np.ndarray]:
        """(start, cue id) of every occurrence of every cue in ``joined``, overlapping ones too.

        Walks all places at once, one character further per step, keeping only places whose text so far
        begins some cue (a trie walked with hashes)."""
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        pos = np.flatnonzero(self.first[np.minimum(codes, 0x10FFFF)])
        key = np.zeros(len(pos), dtype=np.uint64)
        starts, ids = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        with np.errstate(over="ignore"):
            for n in range(1, len(self.prefixes) + 1):
                pos, key = pos[pos + n <= len(codes)], key[pos + n <= len(codes)]
                key = key * self._BASE + codes[pos + n - 1].astype(np.uint64) + np.uint64(1)
                if n in self.by_length:
                    keys, cue_ids = self.by_length[n]
                    at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
                    hit = np.flatnonzero(keys[at] == key)
                    starts.append(pos[hit])
                    ids.append(cue_ids[at[hit]])
                if n == len(self.prefixes):
                    break
                go = self.prefixes[n - 1]  # keys of the first n characters of the longer cues
                alive = go[np.minimum(np.searchsorted(go, key), len(go) - 1)] == key
                pos, key = pos[alive], key[alive]
                if not len(pos):
                    break
        start, cue = np.concatenate(starts), np.concatenate(ids)
        real = np.fromiter(  # a hash is not the text: keep the true occurrences
            (joined.startswith(self.strings[c], p) for p, c in zip(start.tolist(), cue.tolist())), bool, len(start)
        )
        return start[real], cue[real]

    def counts(self, texts: Sequence[str]) -> np.ndarray:
        lowered = [t.lower() for t in texts]
        out = np.zeros((len(texts), self.rank_any.shape[0]), dtype=np.int64)
        if not texts or not self.strings:
            return out
        joined = self.sep.join(lowered)
        begin = np.cumsum([0] + [len(t) + 1 for t in lowered[:-1]])
        start, cue = self._candidates(joined)
        if not len(start):
            return out
        owner = np.searchsorted(begin, start, side="right") - 1
        word = np.array([p == 0 or joined[p - 1] not in _ASCII_LETTERS for p in start.tolist()], dtype=bool)
        for t in range(self.rank_any.shape[0]):
            rank = np.minimum(self.rank_any[t, cue], np.where(word, self.rank_word[t, cue], self.never))
            ok = np.flatnonzero(rank < self.never)
            order = ok[np.lexsort((rank[ok], start[ok]))]  # by place, then the pattern's order
            found, end = [], -1
            for i, p in zip(order.tolist(), start[order].tolist()):
                if p >= end:  # the regular expression goes on from the end of its last match
                    found.append(i)
                    end = p + int(self.length[cue[i]])
            if found:
                pairs = np.unique(owner[found] * len(self.strings) + cue[found])
                np.add.at(out[:, t], pairs // len(self.strings), 1)
        return out


class KeywordModel(ThemeModel):
    kind = "keywords"
    score_in_processes = True  # numpy and scipy on the CPU: one process per core scales
    # lexicon: a file of cues (None: the project's own); partial: themes without cues never match (else an error)
    defaults = {"lexicon": None, "partial": False, "seed": 0}

    def _use(self, cues: dict) -> None:
        missing = [lab for lab in self.labels if lab not in cues]
        if missing and not self.params["partial"]:
            raise ModelError(
                f"the keyword lexicon has no cues for {', '.join(missing)}; pass --param lexicon=FILE with cues "
                "for your themes (the shape of models/keywords.json)"
            )
        cues = {**{lab: {} for lab in missing}, **cues}
        self.cues_ = {lab: cues[lab] for lab in self.labels}
        self.patterns_ = [_pattern([c for cs in cues[lab].values() for c in cs]) for lab in self.labels]
        self.counter_ = None  # built on first use (``counts``)

    def fit(self, texts: Sequence[str], y: np.ndarray, dev: tuple | None = None, **_) -> KeywordModel:
        """Nothing to learn: the cues are read (``train`` still tunes the thresholds on dev)."""
        self._use(read_lexicon(self.params["lexicon"] or LEXICON_PATH))
        return self

    def matches(self, text: str) -> list[list[str]]:
        """Per theme, the distinct cues found in ``text`` (lower-cased), in order of appearance."""
        self._ensure()
        low = text.lower()
        return [list(dict.fromkeys(m.group(0) for m in p.finditer(low))) for p in self.patterns_]

    def counts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, themes): how many distinct cues of each theme each text holds (``len`` of ``matches``' lists)."""
        self._ensure()
        if self.counter_ is None:
            themes = [[c for cs in self.cues_[lab].values() for c in cs] for lab in self.labels]
            try:
                self.counter_ = CueCounter([_alternatives(cues) for cues in themes])
            except ValueError:  # never seen; the regular expressions give the same counts, slower
                self.counter_ = False
        if self.counter_ is False:
            counts = [[len(m) for m in self.matches(t)] for t in texts]
            return np.asarray(counts, dtype=np.int64).reshape(len(texts), len(self.labels))
        return self.counter_.counts(list(texts))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        hits = self.counts(texts).astype(np.float32)
        return hits / (hits + 1)

    def explain(self, texts: Sequence[str], k: int = 3) -> list[dict[str, list[str]]]:
        """The cues found, as they are written in the text."""
        out = []
        for text in texts:
            found = self.matches(text)
            out.append({lab: phrases(text, [(c, 1.0) for c in cues], k) for lab, cues in zip(self.labels, found)})
        return out

    def top_terms(self, k: int = 15) -> dict[str, list[tuple[str, float]]]:
        """Per theme, its first ``k`` cues (all weigh the same)."""
        self._ensure()
        return {lab: [(c, 1.0) for cs in self.cues_[lab].values() for c in cs][:k] for lab in self.labels}

    def _ensure(self) -> None:
        """The cues need no data: a model used before ``fit`` reads its lexicon then."""
        if not hasattr(self, "patterns_"):
            self.fit([], np.zeros((0, len(self.labels))))

    def _save_weights(self, directory: Path) -> None:
        self._ensure()
        doc = {"about": "the cues this model uses (see models/keywords.py)", "cues": self.cues_}
        (directory / LEXICON_FILE).write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")

    def _load_weights(self, directory: Path) -> None:
        self._use(read_lexicon(directory / LEXICON_FILE))
