"""Export: every encoding/decoder pair traces into ONNX (run by onnxruntime) and TorchScript graphs
with a dynamic batch axis, flip test included, and gives eager PyTorch's keypoints and scores.

Each graph is traced at batch 2 and run at batch 1 and 8 from the same file; tracing must not warn
(a TracerWarning means a Python value was baked into the graph).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import Tensor, nn

from lit_heatmap.codecs import (
    ArgmaxDecoder,
    DarkDecoder,
    Decoder,
    Heatmap2D,
    Hybrid,
    HybridDecoder,
    MarginalDecoder,
    QuarterOffsetDecoder,
    SimCC,
    SoftArgmaxDecoder,
    check_exportable,
    encoding_kind,
    flip_keypoints,
    flip_output,
)

ort = pytest.importorskip("onnxruntime")

INPUT = (64, 48)  # (w, h): heatmaps 16 x 12, SimCC 128 + 96 bins
K = 5
FLIP_INDEX = [0, 2, 1, 4, 3]
KP_TOL, SCORE_TOL = 0.01, 1e-4

HEATMAP_DECODERS = {
    "argmax": ArgmaxDecoder(),
    "quarter_offset": QuarterOffsetDecoder(),
    "dark": DarkDecoder(),
    "soft_argmax": SoftArgmaxDecoder(beta=10.0),
    "soft_argmax_window": SoftArgmaxDecoder(beta=10.0, window=3),
    "marginal": MarginalDecoder(),
}
SIMCC_DECODERS = {
    "argmax": ArgmaxDecoder(),
    "dark": DarkDecoder(),
    "soft_argmax": SoftArgmaxDecoder(beta=20.0),
    "soft_argmax_window": SoftArgmaxDecoder(beta=20.0, window=8),
}
PAIRS = [
    *(
        (f"{mode}-{name}", Heatmap2D(INPUT, sigma=1.5, mode=mode), dec)
        for mode in ("msra", "unbiased", "udp")
        for name, dec in HEATMAP_DECODERS.items()
    ),
    *((f"simcc-{name}", SimCC(INPUT, split_ratio=2.0, sigma=3.0), dec) for name, dec in SIMCC_DECODERS.items()),
    *(
        (f"hybrid-{mode}", Hybrid(Heatmap2D(INPUT, sigma=1.5), SimCC(INPUT, sigma=3.0)), HybridDecoder(mode=mode))
        for mode in ("product", "heatmap", "simcc")
    ),
]


def flatten(output: Tensor | tuple) -> list[Tensor]:
    """A head output (tensor, (x, y) or (heatmaps, (x, y))) -> its tensors in order."""
    return [output] if isinstance(output, Tensor) else [t for part in output for t in flatten(part)]


def unflatten(tensors: list[Tensor] | tuple[Tensor, ...], kind: str) -> Tensor | tuple:
    """The inverse of :func:`flatten` for an encoding kind."""
    if kind == "heatmap":
        return tensors[0]
    if kind == "simcc":
        return tensors[0], tensors[1]
    return tensors[0], (tensors[1], tensors[2])


def average(a: Tensor | tuple, b: Tensor | tuple) -> Tensor | tuple:
    """(a + b) / 2 over matching nested outputs."""
    return (a + b) / 2 if isinstance(a, Tensor) else tuple(average(x, y) for x, y in zip(a, b))


class DecodeGraph(nn.Module):
    """``decoder.decode(output, encoding)`` on flat tensor inputs; with `flip_index`, the second half
    of the inputs is the output of the flipped image, averaged in with ``flip_output`` first."""

    def __init__(self, decoder: Decoder, encoding: object, flip_index: list[int] | None) -> None:
        super().__init__()
        self.decoder, self.encoding, self.flip_index = decoder, encoding, flip_index
        self.kind = encoding_kind(encoding)

    def forward(self, *tensors: Tensor) -> tuple[Tensor, Tensor]:
        n = len(tensors) // 2 if self.flip_index else len(tensors)
        output = unflatten(tensors[:n], self.kind)
        if self.flip_index:
            flipped = unflatten(tensors[n:], self.kind)
            output = average(output, flip_output(flipped, self.encoding, self.flip_index))
        return self.decoder.decode(output, self.encoding)


def keypoints(batch: int, seed: int) -> Tensor:
    """(batch, K, 2) uniform sub-pixel keypoints over the input, with border and corner points."""
    gen = torch.Generator().manual_seed(seed)
    kp = torch.rand(batch, K, 2, generator=gen) * torch.tensor(INPUT, dtype=torch.float32) - 0.5
    kp[0, :4] = torch.tensor([[-0.5, 20.3], [63.4, 47.5], [0.2, -0.4], [31.7, 47.1]])
    return kp


def head_output(encoding: object, kp: Tensor, seed: int) -> list[Tensor]:
    """The encoded keypoints plus Gaussian noise (std 0.03): a plausible trained head's output."""
    target, _ = encoding.encode(kp, torch.ones(kp.shape[:2]))
    gen = torch.Generator().manual_seed(seed)
    return [t + 0.03 * torch.randn(t.shape, generator=gen) for t in flatten(target)]


def inputs(encoding: object, batch: int, seed: int, flip: bool) -> list[Tensor]:
    """Graph inputs: the output for the image (and, for a flip test, for the mirrored image)."""
    kp = keypoints(batch, seed)
    out = head_output(encoding, kp, seed)
    if flip:
        out += head_output(encoding, flip_keypoints(kp, INPUT, FLIP_INDEX), seed + 1)
    return out


def assert_close(got: list, ref: tuple[Tensor, Tensor], where: str) -> tuple[float, float]:
    kp, score = (torch.as_tensor(g) for g in got)
    assert kp.shape == ref[0].shape and score.shape == ref[1].shape, where
    dk, ds = (kp - ref[0]).abs().max().item(), (score - ref[1]).abs().max().item()
    assert dk <= KP_TOL and ds <= SCORE_TOL, f"{where}: keypoints differ by {dk:.2e} px, scores by {ds:.2e}"
    return dk, ds


def traced(fn, *args, **kwargs):
    """Run an export/trace call; fail on any TracerWarning (a value baked into the graph)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    baked = [str(w.message) for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    assert not baked, baked
    return result


@pytest.mark.parametrize("flip", [False, True], ids=["plain", "flip"])
@pytest.mark.parametrize(("encoding", "decoder"), [p[1:] for p in PAIRS], ids=[p[0] for p in PAIRS])
def test_onnx_and_torchscript_match_eager(encoding, decoder, flip: bool, tmp_path) -> None:
    check_exportable(decoder, encoding)
    graph = DecodeGraph(decoder, encoding, FLIP_INDEX if flip else None).eval()
    example = inputs(encoding, 2, seed=0, flip=flip)
    names = [f"in{i}" for i in range(len(example))]
    path = tmp_path / "decode.onnx"
    traced(
        torch.onnx.export,
        graph,
        tuple(example),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=names,
        output_names=["keypoints", "scores"],
        dynamic_axes={n: {0: "batch"} for n in [*names, "keypoints", "scores"]},
    )
    torch.jit.save(traced(torch.jit.trace, graph, tuple(example), check_trace=False), str(tmp_path / "decode.pt"))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    script = torch.jit.load(str(tmp_path / "decode.pt"))
    used = {i.name for i in session.get_inputs()}  # ONNX drops inputs a mode ignores (hybrid heatmap / simcc)
    for batch, seed in ((1, 1), (8, 2)):
        x = inputs(encoding, batch, seed, flip)
        with torch.no_grad():
            ref = graph(*x)
            feed = {n: t.numpy() for n, t in zip(names, x) if n in used}
            assert_close(session.run(None, feed), ref, f"onnx b={batch}")
            assert_close(script(*x), ref, f"torchscript b={batch}")
