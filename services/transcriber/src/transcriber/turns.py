"""One timeline of turns from per-speaker word streams.

Merging works on *word* timestamps, never on recogniser segments: a segment from one channel can run on
across the other party's whole turn (Whisper closes a segment only at its own pauses), so segment order
misattributes who spoke when. Words from all speakers are sorted by start time and a turn ends where the
speaker changes or pauses for longer than `max_gap_ms`.

A back-channel ("嗯", "uh-huh", "right") said while the other party keeps talking does not cut the other
party's turn in two: it becomes a turn of its own, ordered by its start, inside the span of the longer turn.
Everything downstream (scoring phrases that a split would tear apart, response latency) reads better so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from callqa.transcripts import Role, Turn, Word

BACKCHANNEL_MAX_WORDS = 3
BACKCHANNEL_MAX_MS = 1500
# A listener's "yes" that falls in a pause longer than this is an answer, not a back-channel: the speaker
# had stopped for it (a question, a reply, a follow-up needs at least a reaction time on each side).
BACKCHANNEL_MAX_PAUSE_MS = 600

_ROLE_ORDER: dict[Role, int] = {"agent": 0, "customer": 1, "unknown": 2}
# Latin letters, digits and most punctuation are separated by spaces; CJK characters are not.
_NO_SPACE_BEFORE = frozenset(",.!?;:%)]}»”’…")
_NO_SPACE_AFTER = frozenset("([{«“‘")


def merge_words(words_by_role: Mapping[Role, Sequence[Word]], *, max_gap_ms: int = 1200) -> list[Turn]:
    """Turns t0, t1, ... ordered by start time, built from every role's words.

    A new turn starts when the speaker changes or when the same speaker is silent for more than
    `max_gap_ms` between two words. A run of at most BACKCHANNEL_MAX_WORDS words (BACKCHANNEL_MAX_MS long)
    by another role that falls inside the current speaker's talk — overlapping its words, or in a pause of
    at most BACKCHANNEL_MAX_PAUSE_MS after which the same speaker goes on — is a back-channel turn and
    does not end the current turn.
    """
    stream = sorted(
        ((word, role) for role, words in words_by_role.items() for word in words if word.text.strip()),
        key=lambda item: (item[0].begin_ms, item[0].end_ms, _ROLE_ORDER[item[1]]),
    )
    finished: list[_Draft] = []
    current: _Draft | None = None
    index = 0
    while index < len(stream):
        word, role = stream[index]
        if current is not None and role != current.role:
            run_end = index
            while run_end < len(stream) and stream[run_end][1] == role:
                run_end += 1
            run = [w for w, _ in stream[index:run_end]]
            resumes = run_end < len(stream) and stream[run_end][1] == current.role
            if resumes and _is_backchannel(run, current.end_ms, stream[run_end][0].begin_ms, max_gap_ms):
                finished.append(_Draft.of(role, run))
                index = run_end
                continue
        if current is None or role != current.role or word.begin_ms - current.end_ms > max_gap_ms:
            if current is not None:
                finished.append(current)
            current = _Draft(role)
        current.add(word)
        index += 1
    if current is not None:
        finished.append(current)

    finished.sort(key=lambda draft: (draft.begin_ms, _ROLE_ORDER[draft.role]))
    return [
        Turn(
            id=f"t{number}",
            role=draft.role,
            begin_ms=draft.begin_ms,
            end_ms=draft.end_ms,
            text=join_words(word.text for word in draft.words),
            words=draft.words,
        )
        for number, draft in enumerate(finished)
    ]


def join_words(tokens: Iterable[str]) -> str:
    """Text of a word sequence: single spaces between Latin words, none around CJK characters.

    Tokens may come with Whisper's leading spaces (" Hello") or bare ("Hello"); both give "Hello, world."
    and "您好，这里是客服中心".
    """
    text = ""
    for raw in tokens:
        token = raw.strip()
        if not token:
            continue
        if text and _space_between(text[-1], token):
            text += " "
        text += token
    return re.sub(r"\s+", " ", text)


def is_cjk(char: str) -> bool:
    """Han ideographs, kana, hangul and CJK/full-width punctuation: written without spaces between them."""
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF  # radicals, CJK punctuation, kana, ideographs
        or 0xAC00 <= code <= 0xD7AF  # hangul
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0xFE30 <= code <= 0xFE4F  # CJK compatibility forms
        or 0xFF00 <= code <= 0xFFEF  # full-width forms (，！？)
        or 0x20000 <= code <= 0x3FFFF  # ideograph extensions
    )


def _space_between(previous: str, token: str) -> bool:
    if is_cjk(previous) or is_cjk(token[0]):
        return False
    if token[0] in _NO_SPACE_BEFORE or token.startswith("'") or token.lower() == "n't":
        return False
    return previous not in _NO_SPACE_AFTER


def _is_backchannel(run: Sequence[Word], paused_ms: int, resumed_ms: int, max_gap_ms: int) -> bool:
    """Whether `run` (another role's words) falls inside a speaker's talk that paused and resumed there."""
    if len(run) > BACKCHANNEL_MAX_WORDS or max(w.end_ms for w in run) - run[0].begin_ms > BACKCHANNEL_MAX_MS:
        return False
    pause = resumed_ms - paused_ms
    if pause > max_gap_ms:
        return False  # the speaker's own turn ends there anyway
    overlaps = run[0].begin_ms < paused_ms or max(w.end_ms for w in run) > resumed_ms
    return overlaps or pause <= BACKCHANNEL_MAX_PAUSE_MS


@dataclass
class _Draft:
    role: Role
    words: list[Word] = field(default_factory=list)
    end_ms: int = 0  # the latest word end so far (a long word can end after a later short one)

    @classmethod
    def of(cls, role: Role, words: Iterable[Word]) -> _Draft:
        draft = cls(role)
        for word in words:
            draft.add(word)
        return draft

    @property
    def begin_ms(self) -> int:
        return self.words[0].begin_ms

    def add(self, word: Word) -> None:
        self.end_ms = max(self.end_ms, word.end_ms) if self.words else word.end_ms
        self.words.append(word)
