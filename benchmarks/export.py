"""Inference latency of an exported model: PyTorch eager vs TorchScript vs onnxruntime (CPU).

    python benchmarks/export.py                    # both models, the table
    python benchmarks/export.py --quick            # fewer timed calls (~1.5 min; full run ~2.5 min)
    python benchmarks/export.py --json > r.json    # machine-readable
    python benchmarks/export.py --table r.json     # the table of a saved --json result

Models, built from the Hydra config (``conf/train.yaml`` + overrides, ``lit_heatmap.utils.build_model``,
random init, no checkpoint) and wrapped in ``KeypointPredictor`` (uint8 crops in; normalisation,
backbone, head and the checkpoint's decoder inside; keypoints and scores out):
  default   the defaults: regnetx_002 + multiscale_sum64 head, heatmap2d + dark, input 128x128 (w x h)
  resnet18  backbone=resnet18 (pretrained=false) head=deconv, input 192x256 (w x h)

Each predictor is exported with the code ``lit-heatmap-export`` runs (``write_onnx``, ``write_torchscript``:
dynamic batch axis, flip test off) and run on synthetic-figure crops at batch 1 and batch 32 by PyTorch
eager (``torch.inference_mode``), the TorchScript file (``torch.jit.load``) and the ONNX file
(onnxruntime CPUExecutionProvider, the session options ``OnnxPredictor`` uses), all on the same threads:
``torch.set_num_threads(--threads)`` and ``intra_op_num_threads=--threads`` (inter-op 1).

Latency is milliseconds per image (the batch call's wall time / batch size), after ``--warmup`` calls
per runtime; then ``--rounds`` rounds in which each runtime runs as one block (an untimed call, then
``--calls`` timed calls; 4x as many at batch 1), the block order rotating, and each runtime's best
(minimum) call is reported, the median too.  Blocks, not call-by-call alternation: onnxruntime's and
OpenMP's worker threads spin for a while after a call, and on 2 cores the next runtime's call then runs
several times slower (call-by-call alternation measured eager batch 1 at ~1 s instead of ~20 ms).  The
machine is a shared 2-core VM, so absolute numbers drift from run to run by 10-30 %: compare latencies
within one run, not across runs.  Also reported: file sizes (MB), the largest keypoint and score
difference to eager PyTorch (input px) over 32 crops, how many keypoints differ by more than 0.01 px,
and the largest difference of the ONNX head output (before decoding) relative to its peak.  The models
are first trained for ``--train-steps`` steps on synthetic figures: random weights give near-flat
heatmaps whose maximum float noise can move by pixels, which says nothing about the export.
Goal: onnxruntime batch-1 latency <= eager batch-1 latency (same run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import torch  # noqa: E402

MODELS = {
    "default": [],
    "resnet18": ["backbone=resnet18", "backbone.pretrained=false", "head=deconv", "dataset.input_size=[192,256]"],
}
RUNTIMES = ("eager", "torchscript", "onnxruntime")


def build_predictor(overrides: list[str], train_steps: int = 0):  # noqa: ANN201
    """``KeypointPredictor`` of the train config with ``overrides`` (seed 0) and the synthetic data set's
    meta at its input size, trained for ``train_steps`` Adam steps of batch 8 on synthetic figures (0:
    random weights), so that its heatmaps have real peaks."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from lit_heatmap import utils
    from lit_heatmap.data import KeypointTransform, Synthetic
    from lit_heatmap.inference import KeypointPredictor

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="lit_heatmap.conf", version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    GlobalHydra.instance().clear()
    size = tuple(int(v) for v in cfg.dataset.input_size)
    data = Synthetic(num_samples=32, seed=0, split="val", transform=KeypointTransform(input_size=size, padding=1.25))
    torch.manual_seed(0)
    model = utils.build_model(cfg, data.meta)
    if train_steps > 0:
        train_briefly(model, size, train_steps)
    model.eval()
    images = torch.stack([data[i]["image"] for i in range(32)])
    choice = {o.split("=")[0]: o.split("=")[1] for o in overrides if o.split("=")[0] in ("backbone", "head")}
    names = (
        f"{choice.get('backbone', 'regnetx_002')} + {choice.get('head', 'multiscale_sum64')}, "
        f"{cfg.encoding._target_.split('.')[-1]} + {cfg.decoder._target_.split('.')[-1]}, {size[0]}x{size[1]}"
    )
    return KeypointPredictor(model, flip_test=False).eval(), images, names


def train_briefly(model, size: tuple[int, int], steps: int, batch_size: int = 8) -> None:  # noqa: ANN001
    """``steps`` Adam (lr 1e-3) steps of ``model.training_step`` on synthetic training figures."""
    from lit_heatmap.data import KeypointTransform, Synthetic, collate

    data = Synthetic(num_samples=steps * batch_size, seed=1, transform=KeypointTransform(size, train=True))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for step in range(steps):
        batch = collate([data[step * batch_size + i] for i in range(batch_size)])
        loss = model.training_step(batch, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def export_files(predictor, folder: Path) -> dict[str, Path]:  # noqa: ANN001
    """The ONNX and TorchScript files, written as ``lit-heatmap-export`` writes them (batch dynamic)."""
    from lit_heatmap.export import write_onnx, write_torchscript
    from lit_heatmap.inference import model_metadata

    w, h = predictor.input_size
    example = torch.randint(0, 256, (2, 3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    meta = model_metadata(predictor)
    files = {"onnx": folder / "model.onnx", "torchscript": folder / "model.pt"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_onnx(predictor, example, files["onnx"], meta, dynamic=True)
        write_torchscript(predictor, example, files["torchscript"], meta)
    return files


def runtimes(predictor, files: dict[str, Path], threads: int) -> dict[str, Callable]:  # noqa: ANN001
    """``images (B, 3, H, W) uint8 -> (keypoints, scores)`` for each runtime."""
    from lit_heatmap.inference import OnnxPredictor

    script = torch.jit.load(str(files["torchscript"]))
    onnx = OnnxPredictor(files["onnx"], threads=threads)

    def eager(x: torch.Tensor):  # noqa: ANN202
        with torch.inference_mode():
            return predictor(x)

    def torchscript(x: torch.Tensor):  # noqa: ANN202
        with torch.inference_mode():
            return script(x)

    def onnxruntime(x: torch.Tensor):  # noqa: ANN202
        return onnx.session.run(["keypoints", "scores"], {"images": x.numpy()})  # numpy view: no copy

    return {"eager": eager, "torchscript": torchscript, "onnxruntime": onnxruntime}


class _HeadOutput(torch.nn.Module):
    """The predictor without its decoder: uint8 crops -> the head's raw output (heatmaps)."""

    def __init__(self, predictor) -> None:  # noqa: ANN001
        super().__init__()
        self.predictor = predictor

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.predictor._output(images)


def heatmap_difference(predictor, images: torch.Tensor, folder: Path, threads: int) -> float:  # noqa: ANN001
    """max |onnxruntime - eager| of the head's raw output over the crops, relative to eager's largest
    value: the export's numerical error before decoding. (Random weights give near-flat heatmaps whose
    maximum can move under ~1e-6 of float noise, so a few keypoints may differ by pixels although the
    graphs agree.)"""
    import onnxruntime as ort

    path = folder / "head.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        # eval(): torch.onnx.export restores the wrapper's mode on every child afterwards, and a wrapper in
        # training mode would leave the predictor's BatchNorms using batch statistics
        torch.onnx.export(
            _HeadOutput(predictor).eval(),
            (images[:2],),
            str(path),
            input_names=["images"],
            output_names=["out"],
            dynamic_axes={"images": {0: "b"}, "out": {0: "b"}},
            opset_version=17,
            dynamo=False,
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    (got,) = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]).run(
        None, {"images": images.numpy()}
    )
    assert not predictor.training
    with torch.inference_mode():
        ref = predictor._output(images)
    return float((torch.as_tensor(got) - ref).abs().max() / ref.abs().max())


def time_runtimes(fns: dict[str, Callable], x: torch.Tensor, rounds: int, calls: int) -> dict[str, dict[str, float]]:
    """ms per image for each runtime on batch ``x``: best and median of ``rounds * calls`` timed calls.

    Each round runs every runtime in turn (the order rotates between rounds), as one block: an untimed
    call, then ``calls`` timed ones. The untimed call lets the previous runtime's thread pool go idle:
    onnxruntime's and OpenMP's workers spin for a while after a call, and on 2 cores a runtime timed
    right after another one's call runs at a fraction of its speed.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = fns[name]
            fn(x)
            for _ in range(calls):
                t0 = time.perf_counter()
                fn(x)
                times[name].append(time.perf_counter() - t0)
    n = x.shape[0]
    return {
        name: {"best_ms": 1000 * min(t) / n, "median_ms": 1000 * statistics.median(t) / n} for name, t in times.items()
    }


def bench_model(name: str, overrides: list[str], args: argparse.Namespace) -> dict:
    predictor, images, title = build_predictor(overrides, args.train_steps)
    with tempfile.TemporaryDirectory() as tmp:
        files = export_files(predictor, Path(tmp))
        sizes = {fmt: path.stat().st_size / 2**20 for fmt, path in files.items()}
        fns = runtimes(predictor, files, args.threads)
        ref_k, ref_s = fns["eager"](images)
        diff = {}
        for rt in ("torchscript", "onnxruntime"):
            k, s = (torch.as_tensor(v) for v in fns[rt](images))
            dk = (k - ref_k).abs().amax(-1)
            diff[rt] = {
                "keypoints_px": float(dk.max()),
                "scores": float((s - ref_s).abs().max()),
                "keypoints_over_0.01px": int((dk > 0.01).sum()),
                "keypoints": dk.numel(),
            }
        heatmap = heatmap_difference(predictor, images, Path(tmp), args.threads)
        latency = {}
        for batch, calls in ((1, args.calls * 4), (32, args.calls)):
            x = images[:batch].contiguous()
            for _ in range(args.warmup):  # TorchScript's profiling executor optimises the graph in its first calls
                for fn in fns.values():
                    fn(x)
            latency[batch] = time_runtimes(fns, x, args.rounds, calls)
    return {
        "model": name,
        "title": title,
        "overrides": overrides,
        "file_mb": sizes,
        "max_diff": diff,
        "onnx_head_output_max_rel_diff": heatmap,
        "latency_ms_per_image": {str(b): v for b, v in latency.items()},
        "goal_met": latency[1]["onnxruntime"]["best_ms"] <= latency[1]["eager"]["best_ms"],
    }


def weights(settings: dict) -> str:
    steps = settings.get("train_steps", 0)
    return f"weights after {steps} training steps on synthetic figures" if steps else "random weights"


def print_table(result: dict) -> None:
    s = result["settings"]
    print(
        f"Per-image latency in ms: best of {s['rounds']} rounds of alternating runtime blocks (median in brackets); "
        f"torch {s['torch']}, onnxruntime {s['onnxruntime']}, {s['threads']} threads, {weights(s)}, flip test off. "
        "Compare within one run only."
    )
    head = (
        "| model | runtime | file MB | b=1 ms/img | b=32 ms/img | max Δkp px | kp > 0.01 px | max Δscore "
        "| head output rel. diff |"
    )
    print(head + "\n|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in result["rows"]:
        lat = r["latency_ms_per_image"]
        for rt in RUNTIMES:
            size = "-" if rt == "eager" else f"{r['file_mb']['onnx' if rt == 'onnxruntime' else 'torchscript']:.1f}"
            d = r["max_diff"].get(rt)
            if d is None:
                diffs = "(ref) | | (ref) | "
            else:
                diffs = (
                    f"{d['keypoints_px']:.1e} | {d['keypoints_over_0.01px']}/{d['keypoints']} | {d['scores']:.1e} | "
                )
            hm = {"onnxruntime": f"{r['onnx_head_output_max_rel_diff']:.1e}", "torchscript": "0 (same kernels)"}.get(
                rt, ""
            )
            print(
                f"| {r['model']} ({r['title']}) | {rt} | {size} | "
                f"{lat['1'][rt]['best_ms']:.2f} ({lat['1'][rt]['median_ms']:.2f}) | "
                f"{lat['32'][rt]['best_ms']:.2f} ({lat['32'][rt]['median_ms']:.2f}) | {diffs}{hm} |"
            )
    print(
        "(differences over 32 synthetic crops; the head output column is the export's own error before decoding. "
        "Random weights give near-flat heatmaps whose maximum float noise can move by pixels.)"
    )
    for r in result["rows"]:
        lat = r["latency_ms_per_image"]["1"]
        ratio = lat["onnxruntime"]["best_ms"] / lat["eager"]["best_ms"]
        print(
            f"goal (onnxruntime b=1 <= eager b=1), {r['model']}: {'MET' if r['goal_met'] else 'NOT MET'} "
            f"({lat['onnxruntime']['best_ms']:.2f} vs {lat['eager']['best_ms']:.2f} ms, x{ratio:.2f})"
        )


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    p.add_argument("--threads", type=int, default=2, help="torch and onnxruntime intra-op threads (default 2)")
    p.add_argument("--rounds", type=int, default=3, help="rounds over the runtimes (default 3)")
    p.add_argument(
        "--calls", type=int, default=2, help="timed batch-32 calls per runtime and round (batch 1: 4x as many)"
    )
    p.add_argument("--warmup", type=int, default=2, help="untimed calls per runtime and batch size first")
    p.add_argument("--quick", action="store_true", help="--rounds 2 --calls 1")
    p.add_argument(
        "--train-steps", type=int, default=40, help="Adam steps on synthetic figures before export (0: random weights)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON only")
    p.add_argument("--table", metavar="JSON", help="print the table of a result saved with --json, run nothing")
    args = p.parse_args(argv)
    if args.table:
        result = json.loads(Path(args.table).read_text())
        print_table(result)
        return result
    if args.quick:
        args.rounds, args.calls = 2, 1
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    import onnxruntime

    rows = [bench_model(name, MODELS[name], args) for name in args.models]
    settings = {"threads": args.threads, "rounds": args.rounds, "calls": args.calls, "warmup": args.warmup}
    settings.update(train_steps=args.train_steps, torch=torch.__version__, onnxruntime=onnxruntime.__version__)
    result = {"settings": settings, "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
