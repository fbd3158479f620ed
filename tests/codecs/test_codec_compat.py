"""The compatibility vocabulary: encoding kinds, ``accepts``, check_compatible and check_exportable."""

from __future__ import annotations

import functools

import pytest
import torch

from lit_heatmap.codecs import (
    KINDS,
    ArgmaxDecoder,
    DarkDecoder,
    Decoder,
    ExportError,
    Heatmap2D,
    Hybrid,
    HybridDecoder,
    MarginalDecoder,
    QuarterOffsetDecoder,
    SimCC,
    SoftArgmaxDecoder,
    check_compatible,
    check_exportable,
    encoding_kind,
)
from lit_heatmap.codecs.heatmap2d import MODES, check_keypoint_shapes
from lit_heatmap.codecs.hybrid import FUSION_MODES

HM = Heatmap2D((64, 48))
SC = SimCC((64, 48))
HY = Hybrid(HM, SC)


class HeatmapHead:
    accepts = ("heatmap",)

    def __init__(self, width: int = 1) -> None:
        self.width = width


class TrustedLoss:  # declares nothing: trusted with any encoding
    pass


def test_encoding_kinds_are_class_attributes() -> None:
    assert [encoding_kind(e) for e in (HM, SC, HY)] == list(KINDS) == ["heatmap", "simcc", "hybrid"]
    assert (Heatmap2D.kind, SimCC.kind, Hybrid.kind) == ("heatmap", "simcc", "hybrid")
    with pytest.raises(ValueError, match="object is not an encoding"):
        encoding_kind(object())

    class Odd:
        kind = "mesh"

    with pytest.raises(ValueError, match="Odd is not an encoding"):
        encoding_kind(Odd())


def test_decoders_declare_what_they_read() -> None:
    assert Decoder.accepts == ArgmaxDecoder.accepts == DarkDecoder.accepts == ("heatmap", "simcc")
    assert QuarterOffsetDecoder.accepts == MarginalDecoder.accepts == ("heatmap",)
    assert HybridDecoder.accepts == ("hybrid",)
    assert not any(hasattr(Decoder, a) for a in ("supports_1d", "supports_2d"))


def test_check_compatible_returns_the_kind_and_accepts_classes_partials_instances() -> None:
    assert check_compatible(HM, head=HeatmapHead, decoder=DarkDecoder(), loss=TrustedLoss()) == "heatmap"
    assert check_compatible(SC, decoder=SoftArgmaxDecoder) == "simcc"
    assert check_compatible(HY, decoder=HybridDecoder(mode="simcc")) == "hybrid"
    partial = functools.partial(functools.partial(HeatmapHead), width=3)
    for head in (HeatmapHead, HeatmapHead(), partial):
        with pytest.raises(ValueError, match="HeatmapHead cannot be trained with a SimCC: it produces heatmap"):
            check_compatible(SC, head=head)


def test_every_misfit_is_named_in_one_message() -> None:
    with pytest.raises(ValueError) as err:
        check_compatible(SC, head=HeatmapHead, decoder=QuarterOffsetDecoder(), loss=TrustedLoss())
    msg = str(err.value)
    assert "HeatmapHead cannot be trained with a SimCC: it produces heatmap outputs, SimCC gives simcc outputs" in msg
    assert "QuarterOffsetDecoder cannot decode the output of SimCC: it decodes heatmap outputs" in msg
    assert "TrustedLoss" not in msg and msg.endswith(".")


def test_names_from_the_caller_label_the_parts() -> None:
    names = {"encoding": "encoding=simcc", "decoder": "decoder=quarter_offset (QuarterOffsetDecoder)"}
    with pytest.raises(ValueError) as err:
        check_compatible(SC, decoder=QuarterOffsetDecoder(), names=names)
    assert str(err.value).startswith(
        "decoder=quarter_offset (QuarterOffsetDecoder) cannot decode the output of encoding=simcc (SimCC): "
    )
    with pytest.raises(
        ValueError, match=r"^head=deconv \(HeatmapHead\) cannot be trained with encoding=simcc \(SimCC\)"
    ):
        check_compatible(SC, head=HeatmapHead, names={**names, "head": "head=deconv"})


def test_a_non_encoding_names_the_parts() -> None:
    with pytest.raises(ValueError, match="DarkDecoder cannot be used with object: object is not an encoding"):
        check_compatible(object(), decoder=DarkDecoder())
    with pytest.raises(ValueError, match="decoder=dark.*cannot be used with encoding=x"):
        check_compatible(object(), decoder=DarkDecoder(), names={"decoder": "decoder=dark", "encoding": "encoding=x"})


def test_hybrid_decoder_reads_only_hybrid_and_its_2d_decoder_is_checked() -> None:
    with pytest.raises(ValueError, match="HybridDecoder cannot decode the output of Heatmap2D: it decodes hybrid"):
        HybridDecoder().check(HM)
    with pytest.raises(ValueError, match="DarkDecoder cannot decode the output of Hybrid: it decodes heatmap / simcc"):
        DarkDecoder().check(HY)
    nested = HybridDecoder(mode="heatmap", heatmap_decoder=HybridDecoder())
    with pytest.raises(
        ValueError,
        match=r"HybridDecoder cannot decode the output of Heatmap2D.*"
        r"\(in HybridDecoder\.heatmap_decoder\)",
    ):
        check_compatible(HY, decoder=nested)


def test_builtin_decoders_are_exportable_and_others_are_refused() -> None:
    for dec, enc in ((ArgmaxDecoder(), SC), (DarkDecoder(), HM), (MarginalDecoder(), HM), (HybridDecoder(), HY)):
        check_exportable(dec, enc)

    class MyDark(DarkDecoder):
        exportable = False  # e.g. its hooks call .item()

    class Plain(Decoder):  # a new decoder inherits exportable = False until it says otherwise
        def _decode_2d(self, maps, ix, iy, sigma, size):
            return ix.float(), iy.float()

    assert issubclass(ExportError, ValueError)
    with pytest.raises(ExportError, match="MyDark cannot be exported to ONNX / TorchScript.*exportable = True"):
        check_exportable(MyDark(), HM)
    with pytest.raises(ExportError, match="Plain cannot be exported"):
        check_exportable(Plain(), HM)
    assert Plain().decode(torch.zeros(1, 1, 12, 16), HM)[0].shape == (1, 1, 2)  # eager decoding still works
    with pytest.raises(ExportError, match="HybridDecoder cannot be exported: MyDark cannot be exported"):
        check_exportable(HybridDecoder(heatmap_decoder=MyDark()), HY)
    with pytest.raises(ExportError, match="QuarterOffsetDecoder cannot be exported with SimCC.*cannot decode"):
        check_exportable(QuarterOffsetDecoder(), SC)


def test_renamed_helpers() -> None:
    assert MODES == ("msra", "unbiased", "udp") and FUSION_MODES == ("product", "heatmap", "simcc")
    with pytest.raises(ValueError, match=r"SimCC.encode: visibility must be \(B, K\) = \(1, 2\)"):
        check_keypoint_shapes(torch.zeros(1, 2, 2), torch.zeros(1, 3), "SimCC")
