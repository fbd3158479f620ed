"""Video prediction throughput: end to end against the bare model, OpenCV against PyAV, PyTorch against ONNX.

    python benchmarks/video.py                     # the table
    python benchmarks/video.py --frames 120        # shorter
    python benchmarks/video.py --json > r.json     # machine-readable
    python benchmarks/video.py --device cuda       # on a GPU (the default: cuda when available)

One run, one model, one video. The model: the train config's defaults (regnetx_002 + multiscale_sum64 head,
heatmap2d + dark) at a whole-frame input of ``--input`` (w x h), random init (throughput does not
depend on the weights), wrapped in ``KeypointPredictor`` (uint8 in, keypoints out). The video:
``--frames`` frames of ``--size`` (640x480 by default) written with cv2.VideoWriter (mp4v), textured
with moving figures. Rows, each timed ``--repeats`` times, best run reported:

- ``decode <backend>``: decoding only (a full read loop to RGB uint8 frames), per installed backend;
- ``bare <runtime>``: the batched forward + keypoint decoding on crops made beforehand from frames
  decoded beforehand (``batch_size`` crops per call): the rate the model allows;
- ``end-to-end <runtime> <backend>``: what ``lit-heatmap-predict input=<video>`` does per video
  (:func:`lit_heatmap.analyze.analyze_video`: decoding and cropping in a background thread, batches on
  the device, mapping to original pixels, the CSV and the JSON sidecar), fresh outputs each time.

``ratio`` is end-to-end frames/s over the same runtime's bare frames/s. Goal on CPU: >= 0.85.
Frame indices are checked to be 0..N-1 with every backend, and the tables of the two backends'
end-to-end runs to have the same rows. The machine is a shared VM: compare within one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def build_predictor(input_size: tuple[int, int]):  # noqa: ANN201
    """The default model at ``input_size`` (w, h), random init (seed 0), as a ``KeypointPredictor``."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from lit_heatmap import utils
    from lit_heatmap.data import Synthetic
    from lit_heatmap.inference import KeypointPredictor

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="lit_heatmap.conf", version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"dataset.input_size=[{input_size[0]},{input_size[1]}]"])
    GlobalHydra.instance().clear()
    meta = dataclasses.replace(Synthetic(num_samples=1, split="val").meta, input_size=tuple(input_size))
    torch.manual_seed(0)
    model = utils.build_model(cfg, meta).eval()
    return KeypointPredictor(model, flip_test=False).eval()


def write_video(path: Path, size: tuple[int, int], frames: int, fps: float = 30.0) -> Path:
    """A textured ``size`` video with moving discs (mp4v)."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    rng = np.random.default_rng(0)
    base = cv2.resize(
        rng.integers(0, 200, (h // 16, w // 16, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC
    )
    for i in range(frames):
        img = base.copy()
        for k in range(5):
            cx = int(w / 2 + w / 3 * np.cos(0.05 * i + k))
            cy = int(h / 2 + h / 3 * np.sin(0.07 * i + 2 * k))
            cv2.circle(img, (cx, cy), 12 + 2 * k, (255, 255 - 40 * k, 40 * k), -1)
        writer.write(img)
    writer.release()
    return path


def best_of(repeats: int, fn) -> float:  # noqa: ANN001
    """The shortest wall time of ``repeats`` calls of ``fn`` (s)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def decode_only(path: Path, backend: str) -> list[int]:
    from lit_heatmap.video import parse_frames, probe_video, read_frames

    info = probe_video(path, backend)
    return [i for i, _ in read_frames(path, parse_frames(None), backend, info.fps)]


def end_to_end(model, backend: str, video: Path, tmp: Path, args, device, tables: dict) -> None:  # noqa: ANN001
    """One ``analyze_video`` run into a fresh folder; keeps the CSV's lines in ``tables[backend]``."""
    from lit_heatmap.analyze import VideoOptions, analyze_video
    from lit_heatmap.video import parse_frames

    out = Path(tempfile.mkdtemp(prefix=f"{backend}_", dir=tmp))
    opts = VideoOptions(
        output=out,
        frames=parse_frames(None),
        backend=backend,
        batch_size=args.batch_size,
        device=str(device),
        model_name="bench",
        progress=False,
    )
    side = analyze_video(model, video, opts)
    assert side["frames"] == args.frames and side["corrupt_frames"] == []
    tables[backend] = (out / "bench.csv").read_text().splitlines()


def run(args: argparse.Namespace) -> dict:
    from lit_heatmap.data import DatasetMeta, KeypointTransform, Record
    from lit_heatmap.data.base import crop_sample
    from lit_heatmap.export import write_onnx
    from lit_heatmap.inference import OnnxPredictor, model_metadata
    from lit_heatmap.video import parse_frames, read_frames

    torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    size = tuple(args.size)
    predictor = build_predictor(tuple(args.input)).to(device)
    tmp = Path(tempfile.mkdtemp(prefix="video_bench_"))
    video = write_video(tmp / "bench.mp4", size, args.frames)
    backends = ["opencv"] + (["pyav"] if importlib.util.find_spec("av") else [])
    rows: list[dict] = []

    for backend in backends:  # decoding only, and the exact indices
        assert decode_only(video, backend) == list(range(args.frames)), backend
        t = best_of(args.repeats, lambda b=backend: decode_only(video, b))
        rows.append({"row": f"decode {backend}", "frames_per_s": args.frames / t})

    frames = [f for _, f in read_frames(video, parse_frames(None), "opencv")]
    meta = predictor.meta
    transform = KeypointTransform(input_size=predictor.input_size, train=False, padding=1.0)
    k = len(meta["keypoint_names"])
    rec = Record("", np.array([0.0, 0.0, size[0], size[1]]), np.zeros((k, 2)), np.zeros(k), 0, 1.0)
    crops = torch.stack([crop_sample(rec, f, DatasetMeta.from_stored(meta), transform)["image"] for f in frames])
    batches = [crops[i : i + args.batch_size] for i in range(0, len(crops), args.batch_size)]

    w, h = predictor.input_size
    onnx_path = tmp / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cpu_predictor = predictor.to("cpu")
        write_onnx(cpu_predictor, torch.zeros(2, 3, h, w, dtype=torch.uint8), onnx_path, model_metadata(cpu_predictor))
        predictor.to(device)
    runtimes = {"pytorch": predictor, "onnx": OnnxPredictor(onnx_path, threads=args.threads)}
    if device.type != "cpu":
        runtimes.pop("onnx")  # the ONNX path runs on the CPU

    for name, model in runtimes.items():

        def bare(model=model) -> None:
            with torch.inference_mode():
                for b in batches:
                    x = b.to(device, non_blocking=True) if isinstance(model, torch.nn.Module) else b
                    kps, _ = model(x)
                    kps.cpu()

        bare()  # warm-up
        t_bare = best_of(args.repeats, bare)
        rows.append({"row": f"bare {name}", "frames_per_s": args.frames / t_bare})
        tables = {}
        for backend in backends:
            t = best_of(
                args.repeats, lambda m=model, b=backend, t=tables: end_to_end(m, b, video, tmp, args, device, t)
            )
            fps = args.frames / t
            rows.append(
                {"row": f"end-to-end {name} {backend}", "frames_per_s": fps, "ratio": fps * t_bare / args.frames}
            )
        first = [line.split(",")[0] for line in tables[backends[0]]]
        assert all([line.split(",")[0] for line in tables[b]] == first for b in backends)

    return {
        "device": str(device),
        "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
        "threads": args.threads,
        "video": f"{size[0]}x{size[1]} mp4v, {args.frames} frames",
        "model": f"regnetx_002 + multiscale_sum64, heatmap2d + dark, input {args.input[0]}x{args.input[1]}",
        "batch_size": args.batch_size,
        "backends": backends,
        "rows": rows,
    }


def table(result: dict) -> str:
    lines = [
        f"device {result['device']}{' (' + result['gpu'] + ')' if result['gpu'] else ''}, {result['threads']} threads; "
        f"video {result['video']}; model {result['model']}; batch {result['batch_size']}",
        f"{'':32} {'frames/s':>10} {'ratio':>7}",
    ]
    for r in result["rows"]:
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else ""
        lines.append(f"{r['row']:32} {r['frames_per_s']:10.1f} {ratio:>7}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=240, help="video frames (default 240)")
    p.add_argument("--size", type=int, nargs=2, default=[640, 480], help="video w h (default 640 480)")
    p.add_argument("--input", type=int, nargs=2, default=[160, 128], help="model input w h (default 160 128)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=2, help="torch / onnxruntime threads (default 2)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per row, best reported (default 3)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = p.parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
