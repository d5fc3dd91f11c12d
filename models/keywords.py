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
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from policytheme.models.base import ModelError, ThemeModel
from policytheme.models.evidence import phrases

LEXICON_PATH = Path(__file__).with_name("keywords.json")
LEXICON_FILE = "lexicon.json"  # the lexicon a saved model uses, inside its folder (the folder travels alone)
_LATIN = re.compile(r"^[A-Za-z]")


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


def _pattern(cues: list[str]) -> re.Pattern:
    """One alternation of all cues, longest first; a Latin-script cue only where a word starts."""
    parts = [
        (r"(?<![A-Za-z])" if _LATIN.match(c) else "") + re.escape(c.lower())
        for c in sorted(set(cues), key=lambda c: (-len(c), c))
    ]
    return re.compile("|".join(parts) or r"(?!)")  # no cues: a pattern that never matches


class KeywordModel(ThemeModel):
    kind = "keywords"
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

    def fit(self, texts: Sequence[str], y: np.ndarray, dev: tuple | None = None, **_) -> KeywordModel:
        """Nothing to learn: the cues are read (``train`` still tunes the thresholds on dev)."""
        self._use(read_lexicon(self.params["lexicon"] or LEXICON_PATH))
        return self

    def matches(self, text: str) -> list[list[str]]:
        """Per theme, the distinct cues found in ``text`` (lower-cased), in order of appearance."""
        self._ensure()
        low = text.lower()
        return [list(dict.fromkeys(m.group(0) for m in p.finditer(low))) for p in self.patterns_]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        hits = np.array([[len(m) for m in self.matches(t)] for t in texts], dtype=np.float32)
        hits = hits.reshape(len(texts), len(self.labels))
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
