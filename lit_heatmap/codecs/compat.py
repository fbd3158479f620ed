"""One compatibility vocabulary for encodings, heads, decoders and losses.

Every encoding class names the kind of network output it trains with a class attribute ``kind``:
``"heatmap"`` (``(B, K, h, w)`` maps), ``"simcc"`` (``(x, y)`` vectors) or ``"hybrid"``
(``(heatmaps, (x, y))``).  Heads, decoders and losses declare the kinds they work with as a class
attribute ``accepts: tuple[str, ...]``.  :func:`check_compatible` checks a whole combination at once;
a part without ``accepts`` (e.g. a user's loss) is trusted.

Decoders also declare ``exportable``: the built-ins set it True once their ``decode`` is checked to
trace (``torch.jit.trace``) and export (``torch.onnx.export``) with a dynamic batch axis;
:func:`check_exportable` refuses the others with an :class:`ExportError`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from .base import Encoding, KeypointDecoder

__all__ = ["KINDS", "ExportError", "check_compatible", "check_exportable", "encoding_kind"]

KINDS = ("heatmap", "simcc", "hybrid")

# How a part is said not to fit an encoding ({a}: an article before a bare class name), and what it does.
_VERBS = {"head": "cannot be trained with {a}", "decoder": "cannot decode the output of ", "loss": "cannot train {a}"}
_ROLES = {"head": "produces", "decoder": "decodes", "loss": "reads"}
# The parts of a hybrid part that must fit a branch of a Hybrid encoding: attribute -> branch.
_BRANCHES = (("heatmap", "heatmap"), ("simcc", "simcc"), ("heatmap_decoder", "heatmap"))


class ExportError(ValueError):
    """A decoder cannot go inside an exported (ONNX / TorchScript) graph."""


def encoding_kind(encoding: Any) -> str:
    """``"heatmap"`` | ``"simcc"`` | ``"hybrid"``: the ``kind`` class attribute of an encoding.

    Raises:
        ValueError: when ``encoding`` is not an encoding (no ``kind`` among :data:`KINDS`).
    """
    kind = getattr(type(encoding), "kind", None)
    if kind not in KINDS:
        raise ValueError(
            f"{type(encoding).__name__} is not an encoding: expected Heatmap2D, SimCC or Hybrid from "
            f"lit_heatmap.codecs, or a class with kind = one of {KINDS}"
        )
    return kind


def _class(part: Any) -> type:
    """The class behind a part given as a class, a (nested) ``functools.partial`` or an instance."""
    while isinstance(part, functools.partial):
        part = part.func
    return part if isinstance(part, type) else type(part)


def _label(role: str, part: Any, names: Mapping[str, str] | None) -> str:
    """The part's class name, with the caller's name for it (e.g. ``decoder=dark``) when given."""
    cls = _class(part).__name__
    name = (names or {}).get(role)
    if not name:
        return cls
    return name if cls in name else f"{name} ({cls})"


def _problems(encoding: Any, role: str, part: Any, names: Mapping[str, str] | None) -> list[str]:
    """Why ``part`` (a head, decoder or loss) cannot work with ``encoding``; [] when it can."""
    accepts = getattr(_class(part), "accepts", None)
    if accepts is None:  # a user part that does not declare what it reads: trusted
        return []
    kind = encoding_kind(encoding)
    name, enc = _label(role, part, names), _label("encoding", encoding, names)
    if kind not in accepts:
        verb = _VERBS[role].format(a="" if (names or {}).get("encoding") else "a ")
        return [
            f"{name} {verb}{enc}: it {_ROLES[role]} {' / '.join(accepts)} outputs, "
            f"{type(encoding).__name__} gives {kind} outputs"
        ]
    if kind != "hybrid" or isinstance(part, (type, functools.partial)):
        return []
    problems = []
    for attr, branch in _BRANCHES:  # the branch losses of HybridLoss, the 2D decoder of HybridDecoder
        sub = getattr(part, attr, None)
        if sub is not None and hasattr(_class(sub), "accepts"):
            problems += [f"{p} (in {name}.{attr})" for p in _problems(getattr(encoding, branch), role, sub, None)]
    return problems


def check_compatible(
    encoding: Encoding,
    *,
    head: Any = None,
    decoder: Any = None,
    loss: Any = None,
    names: Mapping[str, str] | None = None,
) -> str:
    """Check that a head, decoder and loss (each optional) all work with ``encoding``.

    Args:
        encoding: an encoding object (``Heatmap2D``, ``SimCC``, ``Hybrid`` or any class with ``kind``).
        head, decoder, loss: a class, a ``functools.partial`` of one or an instance; their class
            attribute ``accepts`` lists the encoding kinds they work with.  Instances of hybrid parts
            are also checked branch by branch (``HybridLoss(heatmap=..., simcc=...)``,
            ``HybridDecoder(heatmap_decoder=...)``).
        names: optional names of the parts for the message, by role (``"encoding"``, ``"head"``,
            ``"decoder"``, ``"loss"``), e.g. ``{"decoder": "decoder=quarter_offset"}``.

    Returns:
        The encoding's kind.

    Raises:
        ValueError: naming every part that does not fit (and the encoding), with the kinds involved.
    """
    parts = {"head": head, "decoder": decoder, "loss": loss}
    try:
        kind = encoding_kind(encoding)
    except ValueError as err:
        given = ", ".join(_label(r, p, names) for r, p in parts.items() if p is not None) or "the parts"
        raise ValueError(f"{given} cannot be used with {_label('encoding', encoding, names)}: {err}") from None
    problems = [p for role, part in parts.items() if part is not None for p in _problems(encoding, role, part, names)]
    if problems:
        raise ValueError("; ".join(problems) + ".")
    return kind


def check_exportable(decoder: KeypointDecoder, encoding: Encoding) -> None:
    """Check that ``decoder.decode(output, encoding)`` can go inside an exported graph.

    The decoder must fit the encoding (:func:`check_compatible`) and its class must declare
    ``exportable = True`` (the built-in decoders do; a subclass can set it False to opt out).  A
    decoder holding another decoder (``HybridDecoder.heatmap_decoder``) needs that one exportable too.

    Raises:
        ExportError: naming the decoder and the reason (a ``ValueError``).
    """
    try:
        check_compatible(encoding, decoder=decoder)
    except ValueError as err:
        raise ExportError(
            f"{type(decoder).__name__} cannot be exported with {type(encoding).__name__}: {err}"
        ) from None
    if getattr(type(decoder), "exportable", False) is not True:
        raise ExportError(
            f"{type(decoder).__name__} cannot be exported to ONNX / TorchScript: its class does not declare "
            "exportable = True (its decode is not known to trace with a dynamic batch axis)"
        )
    inner = getattr(decoder, "heatmap_decoder", None)
    if inner is not None and encoding_kind(encoding) == "hybrid":
        try:
            check_exportable(inner, encoding.heatmap)
        except ExportError as err:
            raise ExportError(f"{type(decoder).__name__} cannot be exported: {err}") from None
