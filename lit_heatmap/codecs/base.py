"""The contracts between the package's parts: what an encoding, a decoder, a head and a loss provide.

These are ``typing.Protocol`` classes, not base classes: any class with these members fits (the built-in
:class:`~lit_heatmap.codecs.Heatmap2D`, :class:`~lit_heatmap.codecs.SimCC`,
:class:`~lit_heatmap.codecs.Hybrid`, the :class:`~lit_heatmap.codecs.Decoder` subclasses and the heads
and losses of :mod:`lit_heatmap.models` do; ``tests/codecs/test_codec_contracts.py`` checks them).
Who reads which member:

* ``Encoding.kind`` (class attribute, one of :data:`~lit_heatmap.codecs.KINDS`): the compatibility
  check (:func:`~lit_heatmap.codecs.check_compatible`), :func:`~lit_heatmap.codecs.flip_output`'s
  dispatch, the heads' ``target_shapes`` and ``SoftArgmaxLoss``.
* ``Encoding.input_size`` ``(w, h)``: the decoders (clamping), :func:`~lit_heatmap.codecs.flip_shift`,
  the heads (feature and target sizes), ``SoftArgmaxLoss``; the module fills an unset one from the
  dataset.
* ``Encoding.encode(keypoints (B,K,2), visibility (B,K)) -> (target, weight (B,K))``: the training step
  and the heads (which encode one dummy keypoint to learn their output size).
* ``HeatmapEncoding`` (``kind = "heatmap"``): ``heatmap_size``, ``sigma`` (heatmap px),
  ``affine()``, ``to_heatmap()``, ``to_input()``: decoders, flip, heads, the hybrid codec.
* ``VectorEncoding`` (``kind = "simcc"``): ``simcc_size``, ``sigma`` (bins, per axis),
  ``split_ratio``, ``affine()``, ``to_input()``: decoders, flip, ``SoftArgmaxLoss``, the hybrid codec.
* An encoding of another kind flips its own outputs (``flip_output(output, flip_index)``,
  :class:`FlipsItself`); a hybrid one also names its branches (:class:`HybridEncoding`).

A head's output (:data:`HeadOutput`) is what the encoding's ``encode`` returns as target: a tensor or
a nested tuple of tensors (the flip-test average walks that structure).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, TypeAlias, runtime_checkable

from torch import Tensor, nn

__all__ = [
    "Encoding",
    "HeatmapEncoding",
    "VectorEncoding",
    "FlipsItself",
    "HybridEncoding",
    "HeadOutput",
    "KeypointDecoder",
    "Head",
    "HeadFactory",
    "Loss",
]

# A head's raw output: (B, K, h, w) maps, (x (B, K, Wx), y (B, K, Wy)) vectors, (maps, (x, y)), ...
HeadOutput: TypeAlias = Tensor | tuple["HeadOutput", ...]


@runtime_checkable
class Encoding(Protocol):
    """Keypoints -> training targets.  ``kind`` names the output family (heads, decoders and losses
    list the kinds they take in ``accepts``); ``input_size`` is the network input ``(w, h)`` px."""

    kind: ClassVar[str]
    input_size: tuple[int, int]

    def encode(self, keypoints: Tensor, visibility: Tensor) -> tuple[Any, Tensor]:
        """Keypoints (B, K, 2) input px, visibility (B, K) -> (target of the head's output shape, weight (B, K))."""
        ...


@runtime_checkable
class HeatmapEncoding(Encoding, Protocol):
    """A ``"heatmap"`` encoding: one ``(h, w)`` map per keypoint (:class:`~lit_heatmap.codecs.Heatmap2D`)."""

    heatmap_size: tuple[int, int]
    sigma: float

    def affine(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``(scale, offset)`` per axis: heatmap px = input px * scale + offset (Python floats)."""
        ...

    def to_heatmap(self, xy: Tensor) -> Tensor:
        """Input px (..., 2) -> heatmap px (..., 2) float32."""
        ...

    def to_input(self, xy: Tensor) -> Tensor:
        """Heatmap px (..., 2) -> input px (..., 2) float32, the inverse of ``to_heatmap``."""
        ...

    def encode(self, keypoints: Tensor, visibility: Tensor) -> tuple[Tensor, Tensor]:
        """-> (target (B, K, h, w), weight (B, K))."""
        ...


@runtime_checkable
class VectorEncoding(Encoding, Protocol):
    """A ``"simcc"`` encoding: an x and a y vector per keypoint (:class:`~lit_heatmap.codecs.SimCC`)."""

    simcc_size: tuple[int, int]
    sigma: tuple[float, float]
    split_ratio: float

    def affine(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``(scale, offset)`` per axis: bins = input px * scale + offset (Python floats)."""
        ...

    def to_input(self, xy: Tensor) -> Tensor:
        """Bin coordinates (..., 2) -> input px (..., 2) float32."""
        ...

    def encode(self, keypoints: Tensor, visibility: Tensor) -> tuple[tuple[Tensor, Tensor], Tensor]:
        """-> ((x (B, K, Wx), y (B, K, Wy)), weight (B, K))."""
        ...


@runtime_checkable
class FlipsItself(Encoding, Protocol):
    """An encoding of a kind :func:`~lit_heatmap.codecs.flip_output` has no rule for: it mirrors its
    head's output itself (horizontal flip, channel ``k`` taken from ``flip_index[k]``)."""

    def flip_output(self, output: Any, flip_index: Sequence[int]) -> Any:
        """Head output -> the output of the mirrored image (same structure)."""
        ...


@runtime_checkable
class HybridEncoding(FlipsItself, Protocol):
    """A ``"hybrid"`` encoding (:class:`~lit_heatmap.codecs.Hybrid`): a heatmap and a vector branch of
    the same input; output ``(maps, (x, y))``.  Hybrid heads, decoders and losses read the branches."""

    heatmap: HeatmapEncoding
    simcc: VectorEncoding


@runtime_checkable
class KeypointDecoder(Protocol):
    """Head output -> keypoints (B, K, 2) float32 input px, clamped to the input, and scores (B, K).

    ``accepts`` lists the encoding kinds it reads; ``exportable = True`` says ``decode`` traces with a
    dynamic batch axis (:func:`~lit_heatmap.codecs.check_exportable`)."""

    accepts: ClassVar[tuple[str, ...]]
    exportable: ClassVar[bool]

    def decode(self, output: Any, encoding: Any) -> tuple[Tensor, Tensor]:
        """``(output, encoding)`` -> ``(keypoints (B, K, 2), scores (B, K))``."""
        ...


@runtime_checkable
class Head(Protocol):
    """A built head: backbone features (a list of ``(B, C_i, H/s_i, W/s_i)``) -> :data:`HeadOutput`."""

    accepts: ClassVar[tuple[str, ...]]

    def __call__(self, features: Sequence[Tensor]) -> Any:
        """features -> the encoding's output shape (a tensor or a nested tuple of tensors)."""
        ...


class HeadFactory(Protocol):
    """What a head node builds (a head class, or a ``_partial_`` node with its options bound): completed
    with the backbone's ``in_channels``/``in_strides``, ``num_keypoints`` and the encoding."""

    def __call__(
        self, in_channels: Sequence[int], in_strides: Sequence[int], num_keypoints: int, encoding: Any
    ) -> nn.Module:
        """-> a :class:`Head` module sized for ``encoding``."""
        ...


@runtime_checkable
class Loss(Protocol):
    """``loss(output, target, target_weight (B, K), *, keypoints=None, encoding=None) -> scalar``:
    ``target, target_weight`` are what ``encoding.encode`` returned; ``keypoints (B, K, 2)`` input px and
    ``encoding`` are read by coordinate losses only.  ``accepts`` lists the encoding kinds it reads."""

    accepts: ClassVar[tuple[str, ...]]

    def __call__(
        self,
        output: Any,
        target: Any,
        target_weight: Tensor,
        *,
        keypoints: Tensor | None = None,
        encoding: Any = None,
    ) -> Tensor:
        """-> a scalar loss, a mean over the ``B*K`` keypoints."""
        ...
