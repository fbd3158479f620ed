"""Video frames for prediction: exact frame indices, corrupt frames kept as gaps, decoding in a thread.

A reader yields ``(index, frame)`` pairs: ``index`` is the frame's position in the video (0-based,
from the frame's timestamp where the container has one), ``frame`` an ``(H, W, 3)`` uint8 RGB array,
or ``None`` for a frame that failed to decode, so that a table written from it keeps one row per
frame number. The number of frames is what a full read returns, never the container's header
(``CAP_PROP_FRAME_COUNT`` lies for some containers).

Backends: ``opencv`` (``cv2.VideoCapture``, always there) and ``pyav`` (PyAV, threaded decoding;
the ``[video]`` extra). ``auto`` picks OpenCV: decoding to RGB frames, it measured about twice as fast
as threaded PyAV in ``benchmarks/video.py``. :class:`FrameSource` runs a reader (and an optional
per-frame function, e.g. the crop) in a background thread so that decoding overlaps inference.
"""

from __future__ import annotations

import glob
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lit_heatmap.data.images import IMAGE_SUFFIXES

__all__ = [
    "VIDEO_SUFFIXES",
    "BACKENDS",
    "VideoOpenError",
    "VideoInfo",
    "FrameSource",
    "list_inputs",
    "parse_frames",
    "pick_backend",
    "probe_video",
    "read_frames",
]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv", ".webm", ".h264", ".mjpeg", ".mjpg")
BACKENDS = ("auto", "opencv", "pyav")
# consecutive failed grabs after which OpenCV's stream is taken to have ended
_MAX_FAILED_GRABS = 16

log = logging.getLogger("lit_heatmap.video")


class VideoOpenError(OSError):
    """A video file that cannot be opened (named in the message)."""


@dataclass
class VideoInfo:
    """What the container says about a video (``claimed_frames`` is the header's count: display only)."""

    path: Path
    width: int
    height: int
    fps: float
    claimed_frames: int
    backend: str
    corrupt: list[int] = field(default_factory=list)


def list_inputs(path: str | Path) -> tuple[list[Path], list[Path]]:
    """``input=``: an image, a video, a folder or a glob -> ``(images, videos)``, each sorted. A single
    file that is not an image (by suffix) is taken as a video (whatever the backend opens).

    Raises:
        FileNotFoundError: nothing there, or no image or video file (naming ``input=``).
    """
    p = Path(str(path)).expanduser()
    if p.is_file():
        return ([p], []) if p.suffix.lower() in IMAGE_SUFFIXES else ([], [p])
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file())
    else:
        files = sorted(Path(f) for f in glob.glob(str(p)) if Path(f).is_file())
        if not files:
            raise FileNotFoundError(f"input={str(path)!r}: no such file or folder, and no file matches it as a pattern")
    images = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES]
    videos = [f for f in files if f.suffix.lower() in VIDEO_SUFFIXES]
    if not images and not videos:
        raise FileNotFoundError(
            f"input={str(path)!r}: no image ({', '.join(IMAGE_SUFFIXES)}) or video ({', '.join(VIDEO_SUFFIXES)}) files"
        )
    return images, videos


def parse_frames(spec: Any) -> slice:
    """``frames=START:STOP[:STEP]`` (each part optional, non-negative) -> a slice; None -> every frame.

    Raises:
        ValueError: anything else, naming ``frames=``.
    """
    if spec is None or str(spec).strip() in ("", ":"):
        return slice(0, None, 1)
    parts = str(spec).split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        vals = [int(v) if v.strip() else None for v in parts]
    except ValueError:
        raise ValueError(f"frames={spec!r}: use START:STOP or START:STOP:STEP (e.g. frames=0:1000:2)") from None
    start, stop, step = (vals + [None])[:3]
    start, step = start or 0, 1 if step is None else step
    if start < 0 or step < 1 or (stop is not None and stop <= start):
        raise ValueError(f"frames={spec!r}: need 0 <= START < STOP and STEP >= 1")
    return slice(start, stop, step)


def pick_backend(backend: str = "auto") -> str:
    """``auto`` -> ``opencv`` (the faster one measured); ``pyav`` is checked to be installed."""
    if backend not in BACKENDS:
        raise ValueError(f"video_backend={backend!r}: use one of {', '.join(BACKENDS)}")
    if backend != "auto":
        if backend == "pyav":
            try:
                import av  # noqa: F401
            except ImportError as err:
                raise ValueError("video_backend=pyav needs PyAV: pip install 'lit_heatmap[video]'") from err
        return backend
    return "opencv"  # measured faster than PyAV in benchmarks/video.py (README, "Analyse videos")


def probe_video(path: str | Path, backend: str = "opencv") -> VideoInfo:
    """Size, fps and the header's frame count of a video.

    Raises:
        VideoOpenError: the file cannot be opened as a video.
    """
    p = Path(path)
    if backend == "pyav":
        import av

        try:
            with av.open(str(p)) as container:
                stream = container.streams.video[0]
                fps = float(stream.average_rate or stream.guessed_rate or 0.0)
                return VideoInfo(p, stream.width, stream.height, fps, int(stream.frames or 0), backend)
        except (av.error.FFmpegError, IndexError) as err:
            raise VideoOpenError(f"cannot open video {p}: {err}") from err
    cap = cv2.VideoCapture(str(p))
    try:
        if not cap.isOpened():
            raise VideoOpenError(f"cannot open video {p} (OpenCV VideoCapture)")
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if w <= 0 or h <= 0:
            raise VideoOpenError(f"cannot open video {p}: no video stream")
        return VideoInfo(p, w, h, float(cap.get(cv2.CAP_PROP_FPS)), int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), backend)
    finally:
        cap.release()


def _opencv_frames(path: Path, stop: int | None, fps: float) -> Iterator[tuple[int, np.ndarray | None]]:
    """Every frame up to ``stop``; a failed grab followed by good frames is a gap of corrupt frames,
    sized by the next good frame's timestamp (or one frame per failed grab when timestamps are absent)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoOpenError(f"cannot open video {path} (OpenCV VideoCapture)")
    try:
        nxt, failed, t0 = 0, 0, None
        while stop is None or nxt < stop:
            if not cap.grab():
                failed += 1
                if failed >= _MAX_FAILED_GRABS:
                    return
                continue
            msec = cap.get(cv2.CAP_PROP_POS_MSEC)
            t0 = msec if t0 is None else t0
            if failed:
                by_time = round((msec - t0) * fps / 1000.0) if fps > 0 else -1
                gap = by_time - nxt if by_time > nxt else failed
                for _ in range(gap):
                    yield nxt, None
                    nxt += 1
                failed = 0
            if stop is not None and nxt >= stop:
                return
            ok, bgr = cap.retrieve()
            yield nxt, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok and bgr is not None else None
            nxt += 1
    finally:
        cap.release()


def _pyav_frames(path: Path, stop: int | None) -> Iterator[tuple[int, np.ndarray | None]]:
    """Every frame up to ``stop`` with PyAV (threaded decoding); the index comes from the frame's
    timestamp; a packet that fails to decode, or a jump in timestamps, is a gap of corrupt frames."""
    import av

    try:
        container = av.open(str(path))
        stream = container.streams.video[0]
    except (av.error.FFmpegError, IndexError) as err:
        raise VideoOpenError(f"cannot open video {path}: {err}") from err
    stream.thread_type = "AUTO"
    rate = stream.average_rate or stream.guessed_rate
    tick = float(stream.time_base * rate) if (rate and stream.time_base) else 0.0
    nxt, t0 = 0, None

    def index_of(pts: int | None) -> int:
        nonlocal t0
        if pts is None or tick <= 0:
            return nxt
        t0 = pts if t0 is None else t0
        return max(nxt, round((pts - t0) * tick))

    try:
        for packet in container.demux(stream):
            try:
                decoded = packet.decode()
            except av.error.InvalidDataError:
                if packet.pts is not None and t0 is not None and tick > 0:
                    while nxt <= round((packet.pts - t0) * tick) and (stop is None or nxt < stop):
                        yield nxt, None
                        nxt += 1
                else:
                    yield nxt, None
                    nxt += 1
                continue
            for frame in decoded:
                idx = index_of(frame.pts)
                while nxt < idx and (stop is None or nxt < stop):
                    yield nxt, None
                    nxt += 1
                if stop is not None and nxt >= stop:
                    return
                yield nxt, frame.to_ndarray(format="rgb24")
                nxt += 1
            if stop is not None and nxt >= stop:
                return
    finally:
        container.close()


def read_frames(
    path: str | Path, frames: slice = slice(0, None, 1), backend: str = "opencv", fps: float = 0.0
) -> Iterator[tuple[int, np.ndarray | None]]:
    """``(index, RGB frame or None)`` for the frames of ``frames`` (read in order from the start, so
    that indices are exact: no seeking).

    Args:
        path: the video.
        frames: which frames (``start``, ``stop``, ``step``; ``stop`` None: to the end).
        backend: ``opencv`` or ``pyav`` (see :func:`pick_backend`).
        fps: the video's frame rate (OpenCV: sizes gaps from timestamps; 0: one frame per failed grab).
    """
    start, step = frames.start or 0, frames.step or 1
    reader = (
        _pyav_frames(Path(path), frames.stop) if backend == "pyav" else _opencv_frames(Path(path), frames.stop, fps)
    )
    for index, frame in reader:
        if index >= start and (index - start) % step == 0:
            yield index, frame


_END = object()


class FrameSource:
    """Iterates ``(index, item)`` with ``item = fn(frame)`` (or ``None`` for a corrupt frame), decoded
    and mapped in a background thread, at most ``prefetch`` items ahead. OpenCV and PyAV release the
    GIL while decoding, so this overlaps with inference in the caller's thread.

    Args:
        path, frames, backend, fps: as :func:`read_frames`.
        fn: ``fn(index, frame)`` applied to each decoded ``(H, W, 3)`` uint8 RGB frame in the thread
            (identity when None).
        prefetch: the queue's size.

    Attributes:
        corrupt: the indices of frames that failed to decode (complete once iteration has ended).
    """

    def __init__(
        self,
        path: str | Path,
        frames: slice = slice(0, None, 1),
        backend: str = "opencv",
        fps: float = 0.0,
        fn: Callable[[int, np.ndarray], Any] | None = None,
        prefetch: int = 64,
    ) -> None:
        self.path, self.frames, self.backend, self.fps = Path(path), frames, backend, fps
        self.fn = fn
        self.corrupt: list[int] = []
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"frames:{self.path.name}", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for index, frame in read_frames(self.path, self.frames, self.backend, self.fps):
                if frame is None:
                    self.corrupt.append(index)
                    log.warning("%s: frame %d failed to decode (written as NaN)", self.path, index)
                item = None if frame is None else (frame if self.fn is None else self.fn(index, frame))
                if not self._put((index, item)):
                    return
            self._put(_END)
        except BaseException as err:  # handed to the consumer, raised there
            self._put(err)

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """Stops the thread (safe to call twice)."""
        self._stop.set()
        self._thread.join(timeout=5.0)
