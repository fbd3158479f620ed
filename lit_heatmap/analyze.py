"""Keypoints for every frame of a video: the loop behind ``lit-heatmap-predict input=<video>``.

Frames are decoded and cropped in a background thread (:class:`~lit_heatmap.video.FrameSource`),
batched (``batch_size`` crops) onto the model's device, mapped back to original pixels and written as
a DeepLabCut-layout table (:mod:`lit_heatmap.tracks`), a JSON sidecar, optionally a median-filtered
table and a labelled video. Crops are made as for images (:func:`~lit_heatmap.data.base.crop_sample`;
for whole frames its matrix once per frame size, then the same warp), so a frame predicts what the
same frame saved as PNG predicts (tested to 0.01 px).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from tqdm.auto import tqdm

from lit_heatmap import tracks, visualize
from lit_heatmap.data import DatasetMeta, KeypointTransform, Record
from lit_heatmap.data.base import crop_sample
from lit_heatmap.data.geometry import crop_matrix, to_original
from lit_heatmap.metrics.functional.topdown import crop_areas, topdown_results
from lit_heatmap.video import FrameSource, VideoInfo, VideoOpenError, probe_video

__all__ = ["VideoOptions", "output_paths", "analyze_video", "frame_boxes"]


@dataclass
class VideoOptions:
    """What ``conf/predict.yaml`` sets for videos (see there)."""

    output: Path
    frames: slice
    backend: str = "opencv"
    batch_size: int = 16
    device: str = "cpu"
    padding: float = 1.25
    box_score_threshold: float = 0.0
    keypoint_score_threshold: float = 0.2
    nms_threshold: float | None = 0.9
    save_video: bool = False
    pcutoff: float = 0.6
    filter: str | None = None
    filter_window: int = 5
    overwrite: bool = False
    model_name: str = ""
    progress: bool = True


def output_paths(out_dir: Path, video: Path, opts: VideoOptions) -> dict[str, Path]:
    """The files one video gets (the ``.h5`` only when pandas + tables are installed)."""
    stem = video.stem
    paths = {"csv": out_dir / f"{stem}.csv", "json": out_dir / f"{stem}.json"}
    if tracks.h5_available():
        paths["h5"] = out_dir / f"{stem}.h5"
    if opts.filter:
        paths["filtered"] = out_dir / f"{stem}_filtered.csv"
    if opts.save_video:
        paths["labeled"] = out_dir / f"{stem}_labeled.mp4"
    return paths


def frame_boxes(detections: Sequence[dict[str, Any]], video: Path, many: bool) -> dict[int, list[tuple]]:
    """Per-frame boxes of one video from a detections list ``[{"frame": i, "bbox": [x, y, w, h],
    "score": s, ["file_name": <video file name>]}]`` (``image_id`` is read as the frame index too).

    Raises:
        ValueError: a malformed entry, or entries without ``file_name`` when there are several videos.
    """
    out: dict[int, list[tuple]] = {}
    for n, det in enumerate(detections):
        where = f"boxes=, detection #{n}"
        if not isinstance(det, dict) or "bbox" not in det or ("frame" not in det and "image_id" not in det):
            raise ValueError(f"{where}: a video detection needs 'frame' and 'bbox': [x, y, w, h], got {det!r:.80}")
        if "file_name" in det:
            if Path(str(det["file_name"])).name != video.name:
                continue
        elif many:
            raise ValueError(f"{where}: several videos are predicted: give each detection its video's 'file_name'")
        box = np.asarray(det["bbox"], dtype=np.float64)
        if box.shape != (4,) or not np.isfinite(box).all():
            raise ValueError(f"{where}: 'bbox' must be 4 finite numbers, got {det['bbox']!r}")
        if box[2] > 0 and box[3] > 0:
            out.setdefault(int(det.get("frame", det.get("image_id"))), []).append((box, float(det.get("score", 1.0))))
    return out


class _Cropper:
    """``(index, frame) -> (frame or None, [crop sample per box])`` in the decoding thread."""

    def __init__(self, predictor: Any, info: VideoInfo, boxes: dict[int, list[tuple]] | None, opts: VideoOptions):
        self.meta = DatasetMeta.from_stored(predictor.meta)
        k = self.meta.num_keypoints
        self.zeros = np.zeros((k, 2)), np.zeros(k)
        self.boxes, self.keep_frame = boxes, opts.save_video
        padding = 1.0 if boxes is None else opts.padding
        self.transform = KeypointTransform(input_size=predictor.input_size, train=False, padding=padding)
        self.threshold = opts.box_score_threshold
        self._whole: dict[tuple[int, int], tuple[np.ndarray, dict[str, Any]]] = {}

    def _whole_frame(self, index: int, frame: np.ndarray) -> dict[str, Any]:
        """The whole-frame crop: the matrix of :func:`crop_sample` made once per frame size, then only
        the warp it does (``cv2.warpAffine``, bilinear, black border): the same pixels, less work."""
        h, w = frame.shape[:2]
        if (w, h) not in self._whole:
            rec = Record("", np.array([0.0, 0.0, w, h]), *self.zeros, image_id=index, area=float(w * h))
            sample = crop_sample(rec, frame, self.meta, self.transform)
            params = self.transform.sample(rec.keypoints, rec.visibility, rec.bbox)
            m = crop_matrix(params.center, params.size, self.transform.input_size)
            self._whole[(w, h)] = m, sample
            return sample
        m, first = self._whole[(w, h)]
        warped = cv2.warpAffine(
            frame, m, self.transform.input_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        return {
            "image": torch.from_numpy(np.ascontiguousarray(warped.transpose(2, 0, 1))),
            "affine": first["affine"],
            "score": first["score"],
        }

    def __call__(self, index: int, frame: np.ndarray) -> tuple[np.ndarray | None, list[dict[str, Any]]]:
        keep = frame if self.keep_frame else None
        if self.boxes is None:
            return keep, [self._whole_frame(index, frame)]
        samples = [
            crop_sample(
                Record("", box, *self.zeros, image_id=index, area=float(box[2] * box[3]), score=s),
                frame,
                self.meta,
                self.transform,
            )
            for box, s in self.boxes.get(index, [])
            if s >= self.threshold
        ]
        return keep, samples


def _label_writer(path: Path, info: VideoInfo) -> cv2.VideoWriter:
    fps = info.fps if info.fps > 0 else 30.0
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (info.width, info.height))
    if not writer.isOpened():
        raise OSError(f"cannot write the labelled video {path} (OpenCV VideoWriter, mp4v)")
    return writer


def _select(
    kps: torch.Tensor,
    scores: torch.Tensor,
    box_scores: torch.Tensor,
    areas: torch.Tensor,
    opts: VideoOptions,
    sigmas: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Instances of one frame after the top-down protocol (``areas (n,)``: the crop boxes', for
    OKS-NMS), best first: ``(n, K, 2)``, ``(n, K)``."""
    one_frame = torch.zeros(len(kps), dtype=torch.long)
    keep, score = topdown_results(
        kps.double(),
        scores.double(),
        box_scores,
        one_frame,
        areas,
        sigmas,
        opts.keypoint_score_threshold,
        opts.nms_threshold,
    )
    order = [i for i in torch.argsort(score, descending=True).tolist() if keep[i]]
    return kps[order], scores[order]


def analyze_video(
    predictor: Any, video: Path, opts: VideoOptions, boxes: dict[int, list[tuple]] | None = None
) -> dict[str, Any] | None:
    """Predicts every selected frame of ``video``; writes the missing outputs of :func:`output_paths`.

    Args:
        predictor: a :class:`~lit_heatmap.inference.KeypointPredictor` (on ``opts.device``) or an
            :class:`~lit_heatmap.inference.OnnxPredictor`.
        video: the file.
        opts: the options.
        boxes: per-frame boxes (:func:`frame_boxes`): a multi-animal table; None: whole frames.

    Returns:
        the sidecar's content, or None when every output exists already (and ``opts.overwrite`` is off).

    Raises:
        VideoOpenError: the video cannot be opened.
    """
    out_dir = Path(opts.output)
    paths = output_paths(out_dir, video, opts)
    todo = {k: p for k, p in paths.items() if opts.overwrite or not p.exists()}
    if not todo:
        return None
    info = probe_video(video, opts.backend)
    meta = predictor.meta
    names = list(meta["keypoint_names"])
    sigmas = torch.as_tensor(meta.get("sigmas") or [0.05] * len(names), dtype=torch.float64)
    out_dir.mkdir(parents=True, exist_ok=True)
    cropper = _Cropper(predictor, info, boxes, opts)
    source = FrameSource(video, opts.frames, opts.backend, info.fps, cropper, prefetch=4 * opts.batch_size)
    start, stop, step = opts.frames.start, opts.frames.stop, opts.frames.step
    end = min(stop, info.claimed_frames) if stop is not None else info.claimed_frames
    bar = tqdm(
        total=len(range(start, end, step)) or None,
        unit="frame",
        desc=video.name,
        disable=not opts.progress,
        mininterval=1.0,
        dynamic_ncols=True,
    )
    labeled_tmp = out_dir / f"{video.stem}_labeled.partial.mp4"
    writer = _label_writer(labeled_tmp, info) if "labeled" in todo else None
    blank = np.zeros((info.height, info.width, 3), np.uint8)
    frame_index: list[int] = []
    per_frame: list[tuple[torch.Tensor, torch.Tensor]] = []
    k = len(names)
    empty = torch.full((0, k, 2), float("nan")), torch.full((0, k), float("nan"))
    pending: list[tuple[int, Any]] = []
    tic = time.perf_counter()
    # decoding and cropping run beside the model's threads: OpenCV's own thread pool on top of them
    # oversubscribes the CPU (see benchmarks/video.py), so it gets one thread while a video is read
    opencv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)

    def flush() -> None:
        samples = [s for _, item in pending if item is not None for s in item[1]]
        if samples:
            images = torch.stack([s["image"] for s in samples])
            if not isinstance(predictor, torch.nn.Module):
                kps, scores = predictor(images)
            else:
                kps, scores = predictor(images.to(opts.device, non_blocking=True))
            affine = torch.stack([s["affine"] for s in samples]).float()
            kps = to_original(kps.float().cpu(), affine)
            areas = crop_areas(affine, (images.shape[-1], images.shape[-2]))
            scores = scores.float().cpu()
            box_scores = torch.stack([s["score"] for s in samples])
        n = 0
        for index, item in pending:
            count = 0 if item is None else len(item[1])
            if count == 0:
                result = empty
            elif boxes is None:
                result = kps[n : n + 1], scores[n : n + 1]
            else:
                part = slice(n, n + count)
                result = _select(kps[part], scores[part], box_scores[part], areas[part], opts, sigmas)
            n += count
            frame_index.append(index)
            per_frame.append(result)
            if writer is not None:
                frame = blank if item is None else item[0]
                writer.write(_draw(frame, *result, meta.get("skeleton"), opts.pcutoff)[:, :, ::-1])
        bar.update(len(pending))
        pending.clear()

    try:
        with torch.inference_mode():
            crops = 0
            for index, item in source:
                pending.append((index, item))
                crops += 0 if item is None else len(item[1])
                if crops >= opts.batch_size:
                    flush()
                    crops = 0
            flush()
    finally:
        cv2.setNumThreads(opencv_threads)
        bar.close()
        if writer is not None:
            writer.release()
    elapsed = time.perf_counter() - tic
    if not frame_index:
        labeled_tmp.unlink(missing_ok=True)
        raise VideoOpenError(f"{video}: no frame could be read in frames={start}:{'' if stop is None else stop}:{step}")
    individuals = (
        None if boxes is None else [f"individual{i}" for i in range(max(1, max(len(s) for s, _ in per_frame)))]
    )
    n_ind = 1 if individuals is None else len(individuals)
    keypoints = np.full((len(frame_index), n_ind, k, 2), np.nan)
    scores_arr = np.full((len(frame_index), n_ind, k), np.nan)
    for row, (kp, sc) in enumerate(per_frame):
        keypoints[row, : len(kp)], scores_arr[row, : len(sc)] = kp.numpy(), sc.numpy()
    idx = np.asarray(frame_index, dtype=np.int64)
    written = {}
    if "csv" in todo:
        written["csv"] = tracks.write_csv(paths["csv"], idx, keypoints, scores_arr, names, individuals)
    if "h5" in todo:
        written["h5"] = tracks.write_h5(paths["h5"], idx, keypoints, scores_arr, names, individuals)
    if "filtered" in todo:
        smooth = tracks.median_filter(keypoints, opts.filter_window)
        written["filtered"] = tracks.write_csv(paths["filtered"], idx, smooth, scores_arr, names, individuals)
    if writer is not None:
        labeled_tmp.replace(paths["labeled"])
        written["labeled"] = paths["labeled"]
    else:
        labeled_tmp.unlink(missing_ok=True)
    sidecar = {
        "video": str(video.resolve()),
        "model": opts.model_name,
        "decoder": repr(predictor.decoder) if hasattr(predictor, "decoder") else predictor.metadata.get("decoder"),
        "input_size": list(predictor.input_size),
        "bodyparts": names,
        "individuals": individuals,
        "frames": len(frame_index),
        "frame_range": [start, stop, step],
        "corrupt_frames": sorted(source.corrupt),
        "header_frame_count": info.claimed_frames,
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "backend": info.backend,
        "device": str(opts.device),
        "batch_size": opts.batch_size,
        "elapsed_s": round(elapsed, 3),
        "frames_per_s": round(len(frame_index) / max(elapsed, 1e-9), 2),
        "pcutoff": opts.pcutoff,
        "filter": opts.filter,
        "filter_window": opts.filter_window if opts.filter else None,
        "outputs": {key: str(p) for key, p in written.items()},
    }
    if "json" in todo:
        tracks.write_json(paths["json"], sidecar)
    return sidecar


def _draw(frame: np.ndarray, kps: torch.Tensor, scores: torch.Tensor, skeleton: Any, pcutoff: float) -> np.ndarray:
    """Every instance's keypoints with likelihood >= ``pcutoff`` and the skeleton between them."""
    size = max(frame.shape[:2])
    out = frame
    for kp, sc in zip(kps.numpy(), scores.numpy()):
        out = visualize.draw_keypoints(
            out, kp, sc >= pcutoff, skeleton, radius=max(2, round(size / 200)), thickness=max(1, round(size / 300))
        )
    return out
