"""Keypoint sides from names: which names are sided, and the horizontal-flip permutation.

Flip pairs come from :func:`resolve_flip_index`: given explicitly (by index or by name), or derived
from the keypoint names so that a new dataset needs no hand-written pair table. A wrong pairing
silently corrupts every flipped label, so the derivation pairs only names whose side is spelt out
and refuses (flip off, with a message saying how to give the pairs) whenever a name *looks* sided
but its mirror cannot be found by swapping the side.

A name **looks sided** when it has (case-insensitive unless stated):

1. a side word: ``left``/``right`` anywhere in a word (``left_ear``, ``LeftEar``, ``ear-left``,
   ``leftear``, ``frontleftpaw``, ``pawleftfront``, ``FRONTLEFTPAW``), except inside the English
   words ``bright``, ``fright``, ``upright``, ``cleft``...; ``near``/``off`` (horse
   anatomy: near = the animal's left, off = its right) as a word or prefix (``Nearknee``);
2. a side letter as a token of its own: a lone ``l``/``r`` between separators in a longer name
   (``ear_l``, ``L_hip``; a whole name ``r`` is not sided), or one capital ``L``/``R`` next to a
   word of two or more letters in camel case (``wingL``, ``LEar``, ``forelegL1``);
3. a compact side code: an ``L``/``R`` glued to digits only (``L1``, ``l2``), or a two-letter code
   of L/R with F, H, B, T, U, L or R (front/fore, hind, back/bottom, top, upper, lower: ``LH``,
   ``FLpaw``, ``paw1LH_top``, ``corner_TL``; lowercase only as a separate word: ``paw_fl``, ``hl``);
4. a twin: it differs from another name only by one ``l``<->``r`` letter of the same case
   (``lhip``/``rhip``, ``LHIP``/``RHIP``).

Rules 1 and 2 are derivable: the mirror is the name with every side word swapped (left<->right,
near<->off, l<->r, case kept); the pair is taken only when that mirror is a keypoint too, else flip
is off. Rules 3 and 4 are not (is ``paw1LH``'s mirror ``paw1RH`` or ``paw4RH``? is ``L1`` a side or a
lumbar vertebra?): such names need explicit pairs.
"""

from __future__ import annotations

import difflib
import numbers
import re
from collections.abc import Sequence
from typing import NamedTuple

__all__ = [
    "FlipResolution",
    "resolve_flip_index",
    "sided_names",
    "flip_index_from_names",
    "flip_index_from_pairs",
]


_SIDE = {"left": "right", "right": "left", "near": "off", "off": "near", "l": "r", "r": "l"}
_LEFT_RIGHT = re.compile("left|right")
_MIN_STEM = 3  # letters a glued near/off prefix needs after it: "Nearknee" yes, "offa" no
_CODES = {a + b for a in "LR" for b in "FHBTULR"} | {b + a for a in "LR" for b in "FHBTULR"}
_CODES_LOWER = {c.lower() for c in _CODES}
_PART = re.compile(r"[A-Za-z0-9]+")
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_CAPS = re.compile(r"[A-Z]+")
_TWIN_LETTER = {"l": "r", "r": "l", "L": "R", "R": "L"}

Span = tuple[int, int, str]  # (start, end, replacement) of a side word in a name


class FlipResolution(NamedTuple):
    """The flip permutation (None: horizontal flip must be off) and a one-line summary for the log."""

    index: list[int] | None
    summary: str


def _match_case(word: str, like: str) -> str:
    """``word`` in the case of ``like`` (``Left`` -> ``Right``, ``L`` -> ``R``, ``LEFT`` -> ``RIGHT``)."""
    if like.isupper() and (len(like) > 1 or len(word) == 1):
        return word.upper()
    return word.capitalize() if like[0].isupper() else word


# English words that hold a side word without meaning a side
_NOT_SIDES = ("bright", "fright", "upright", "outright", "downright", "forthright", "copyright", "cleft")


def _is_english(low: str, pos: int, side: str) -> bool:
    """Whether the ``side`` at ``pos`` of the lowercase word ``low`` is part of an English word (``bright``)."""
    for word in _NOT_SIDES:
        at = word.find(side)
        if at >= 0 and low[pos - at : pos - at + len(word)] == word:
            return True
    return False


def _word_side(word: str, start: int) -> list[Span]:
    """The sides in one word (rule 1): ``left``/``right`` anywhere, ``near``/``off`` whole or as a prefix."""
    low = word.lower()
    if low in _SIDE and len(low) > 1:
        return [(start, start + len(word), _match_case(_SIDE[low], word))]
    for side in ("near", "off"):
        if low.startswith(side) and len(low) - len(side) >= _MIN_STEM:
            return [(start, start + len(side), _match_case(_SIDE[side], word[: len(side)]))]
    spans = []
    for m in _LEFT_RIGHT.finditer(low):
        if not _is_english(low, m.start(), m.group(0)):
            spans.append(
                (start + m.start(), start + m.end(), _match_case(_SIDE[m.group(0)], word[m.start() : m.end()]))
            )
    return spans


def _has_side_code(words: list[str], part: str) -> bool:
    """Rule 3 on one separator-delimited part: ``L1``, ``LH``, ``FLpaw``, ``fl``."""
    if part in _CODES_LOWER:
        return True
    for n, w in enumerate(words):
        if w in ("l", "r", "L", "R") and len(words) > 1 and not _letter_token(words, n):
            return True
    for m in _CAPS.finditer(part):
        run = m.group(0)
        starts_word = m.end() < len(part) and part[m.end()].islower()  # "FLpaw": run "FL", word "Lpaw"
        if run in _CODES or (starts_word and run[:-1] in _CODES):
            return True
    return False


def _letter_token(words: list[str], n: int) -> bool:
    """Rule 2: ``words[n]`` is a capital L/R next to a word of two or more letters (``wingL``, ``LEar``)."""
    if words[n] not in ("L", "R"):
        return False
    near = [words[m] for m in (n - 1, n + 1) if 0 <= m < len(words)]
    return any(len(w) >= 2 and w.isalpha() for w in near)


def _analyse(name: str) -> tuple[list[Span], bool]:
    """The derivable side words of ``name`` (rules 1, 2) and whether it has a compact side code (rule 3)."""
    parts = list(_PART.finditer(name))
    spans: list[Span] = []
    code = False
    for part in parts:
        text, base = part.group(0), part.start()
        if text.lower() in ("l", "r"):
            if len(parts) > 1:
                spans.append((base, base + 1, _match_case(_SIDE[text.lower()], text)))
            continue
        matches = list(_WORD.finditer(text))
        words = [m.group(0) for m in matches]
        code = code or _has_side_code(words, text)
        for n, m in enumerate(matches):
            if _letter_token(words, n):
                spans.append((base + m.start(), base + m.end(), _SIDE[m.group(0).lower()].upper()))
            else:
                spans += _word_side(m.group(0), base + m.start())
    return spans, code


def _swap(name: str, spans: list[Span]) -> str:
    """``name`` with every side span replaced."""
    out, pos = [], 0
    for start, end, repl in spans:
        out += [name[pos:start], repl]
        pos = end
    return "".join(out) + name[pos:]


def _twins(names: Sequence[str], plain: set[str]) -> dict[str, str]:
    """Rule 4: each name of ``plain`` that differs from another name by one l<->r letter, with that name."""
    known, out = set(names), {}
    for n in plain:
        for i, c in enumerate(n):
            twin = n[:i] + _TWIN_LETTER[c] + n[i + 1 :] if c in _TWIN_LETTER else ""
            if twin in known:
                out[n] = twin
    return out


def _name_index(names: Sequence[str]) -> dict[str, int]:
    index = {n: i for i, n in enumerate(names)}
    if len(index) != len(names):
        dup = sorted({n for n in names if list(names).count(n) > 1})
        raise ValueError(f"duplicate keypoint names {dup}; cannot resolve flip pairs")
    return index


def _classify(names: Sequence[str]) -> tuple[dict[str, list[Span]], dict[str, str]]:
    """The derivable names with their side spans, and the other sided names with why they are not."""
    analysed = {n: _analyse(n) for n in names}
    plain = {n for n, (spans, code) in analysed.items() if not spans and not code}
    undecided = {n: "" for n, (_, code) in analysed.items() if code}
    undecided.update((n, f"l/r twin of {t}") for n, t in _twins(names, plain).items())
    return {n: spans for n, (spans, code) in analysed.items() if spans and not code}, undecided


def sided_names(names: Sequence[str]) -> list[str]:
    """The names that look sided (rules 1-4 of the module docstring), in the given order."""
    derivable, undecided = _classify(names)
    return [n for n in names if n in derivable or n in undecided]


def _derive(names: Sequence[str]) -> tuple[list[int] | None, list[tuple[str, str]]]:
    """The permutation from the names, or None with the sided names that could not be paired and why."""
    index = _name_index(names)
    derivable, problems = _classify(names)
    out = list(range(len(names)))
    for n, spans in derivable.items():
        other = _swap(n, spans)
        if other in derivable:
            out[index[n]] = index[other]
        else:
            problems[n] = f"no {other}" if other not in index else f"{other} has a side code"
    # swapping the sides is symmetric, so out is an involution
    return (None if problems else out), [(n, problems[n]) for n in names if n in problems]


def _pair_member(value: object, names: Sequence[str] | None, index: dict[str, int], where: str) -> int:
    """One entry of a flip pair: a 0-based index, or a keypoint name when ``names`` are known."""
    if isinstance(value, str) and names is not None:
        if value not in index:
            close = difflib.get_close_matches(value, list(names), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{where}: unknown keypoint name {value!r}{hint}")
        return index[value]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        kind = "a 0-based index or a keypoint name" if names is not None else "a 0-based index"
        raise ValueError(f"{where}: {value!r} is not {kind}")
    return int(value)


def _pairs_index(
    pairs: Sequence[Sequence[int | str]], num_keypoints: int, names: Sequence[str] | None, key: str
) -> list[int]:
    """The permutation of explicit pairs (indices or names, mixed freely); checks every pair."""
    index = _name_index(names) if names is not None else {}
    out = list(range(num_keypoints))
    seen: dict[int, list] = {}
    for pair in pairs:
        two = not isinstance(pair, (str, bytes)) and hasattr(pair, "__len__") and len(pair) == 2
        shown = list(pair) if two else pair
        where = f"{key}: pair {shown}"
        if not two:
            raise ValueError(f"{where} must be two keypoints, [i, j] or [name_i, name_j]")
        i, j = (_pair_member(v, names, index, where) for v in pair)
        for m in (i, j):
            if not 0 <= m < num_keypoints:
                raise ValueError(f"{where}: index {m} out of range 0..{num_keypoints - 1}")
            if m in seen:
                raise ValueError(f"{where}: keypoint {names[m] if names else m!r} is already in pair {seen[m]}")
        if i == j:
            raise ValueError(f"{where} pairs a keypoint with itself")
        seen[i] = seen[j] = shown
        out[i], out[j] = j, i
    return out


def _describe(index: list[int], names: Sequence[str], most: int = 8) -> str:
    """``a<->b, c<->d, ...`` for the swapped pairs of ``index`` (at most ``most`` shown)."""
    pairs = [f"{names[i]}<->{names[j]}" for i, j in enumerate(index) if i < j]
    more = f", ... (+{len(pairs) - most} more)" if len(pairs) > most else ""
    return ", ".join(pairs[:most]) + more


def _shorten(items: list[str], most: int = 6) -> str:
    return ", ".join(items[:most]) + (f", ... (+{len(items) - most} more)" if len(items) > most else "")


def _problems_text(problems: list[tuple[str, str]]) -> str:
    return _shorten([f"{n} ({why})" if why else n for n, why in problems])


def _flip_off_summary(problems: list[tuple[str, str]], key: str) -> str:
    return (
        f"flip off: keypoint names look sided but the pairs could not be derived ({_problems_text(problems)}); "
        f"give them with {key}=[[{problems[0][0]}, <its mirror>], ...] or {key}=[] if no keypoint has a side"
    )


def resolve_flip_index(
    names: Sequence[str],
    flip_pairs: Sequence[Sequence[int | str]] | None = None,
    key: str = "dataset.flip_pairs",
) -> FlipResolution:
    """The horizontal-flip permutation of a dataset, and a one-line summary saying where it came from.

    Args:
        names: K keypoint names (unique).
        flip_pairs: None to derive the pairs from the names; ``[]`` when no keypoint has a side
            (identity, flip stays on); else ``[[i, j], ...]`` where each entry is a 0-based index or
            a keypoint name (both may be mixed, ``[[0, "right_ear"]]``); unpaired keypoints map to
            themselves.
        key: the config key named in messages.

    Returns:
        ``(index, summary)``: ``index[k]`` = the index of k's mirror image; None when names look
        sided but cannot all be paired (horizontal flip must then be off).

    Raises:
        ValueError: duplicate names, or a bad explicit pair (not two entries, unknown name, index out
            of range, a keypoint paired with itself or in two pairs), naming the pair and ``key``.
    """
    if flip_pairs is None:
        index, problems = _derive(names)
        if index is None:
            return FlipResolution(None, _flip_off_summary(problems, key))
        return FlipResolution(
            index, f"flip pairs (derived from names): {_describe(index, names) or 'none, no keypoint name has a side'}"
        )
    pairs = list(flip_pairs)
    index = _pairs_index(pairs, len(names), names, key)
    unpaired = [n for i, n in enumerate(names) if index[i] == i and n in set(sided_names(names))]
    note = f"; note: {_shorten(unpaired)} look(s) sided but {'is' if len(unpaired) == 1 else 'are'} in no pair"
    given = f"flip pairs ({key}): {_describe(index, names)}" if pairs else f"flip pairs: none ({key}=[])"
    return FlipResolution(index, given + (note if unpaired else ""))


def flip_index_from_names(names: Sequence[str]) -> list[int]:
    """The flip permutation derived from keypoint names (see :func:`resolve_flip_index`).

    Raises:
        ValueError: duplicate names, or a name that looks sided but cannot be paired.
    """
    index, problems = _derive(names)
    if index is None:
        raise ValueError(
            f"cannot derive flip pairs from the keypoint names: {_problems_text(problems)}; "
            "give the flip pairs explicitly (flip_pairs=[[i, j], ...])"
        )
    return index


def flip_index_from_pairs(pairs: Sequence[Sequence[int]], num_keypoints: int) -> list[int]:
    """Flip permutation from explicit ``[[i, j], ...]`` pairs (0-based); others map to themselves.

    Raises:
        ValueError: a pair that is not two in-range indices, pairs a keypoint with itself, or reuses one.
    """
    return _pairs_index(pairs, num_keypoints, None, "flip_pairs")
