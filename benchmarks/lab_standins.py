"""Stand-ins for DeepLabCut / lightning-pose labelled projects: rendered lab video frames + labels.

    python benchmarks/lab_standins.py --out /tmp/standins/openfield --kind openfield --frames 100 --seed 0
    python benchmarks/lab_standins.py --out /tmp/standins/mirror --kind mirror --preview /tmp/standin_examples

writes a labelled project ``OUT/`` and held-out frames ``OUT_heldout/`` (same rig and animal, other
recording sessions), deterministic by ``--seed``. Nothing is downloaded; frames are rendered with OpenCV.

Layout (as DeepLabCut writes it)::

    OUT/config.yaml                                  Task, scorer, bodyparts, skeleton, video_sets, ...
    OUT/labeled-data/<video>/img01234.png            frames, named by their frame number in the video
    OUT/labeled-data/<video>/CollectedData_<scorer>.csv
    OUT/CollectedData.csv                            mirror kind only: all videos (lightning-pose layout)
    OUT_heldout/frames/<video>_img01234.png          frames of sessions that are not in OUT/
    OUT_heldout/ground_truth.json                    {file_name: [[x, y] or null] * K}
                                                     multi: {file_name: [[[x, y] or null] * K] * animals}
    OUT_heldout/meta.json                            kind, bodyparts, left/right pairs, frame size

CSV layout (pandas ``DataFrame.to_csv`` of DLC's MultiIndex frame, written here with ``csv``): header rows
``scorer`` / (``individuals``, multi-animal) / ``bodyparts`` / ``coords`` with the level name in the
first cell and empty cells under the other index columns; then one row per frame. The index is
DLC >= 2.2's three columns ``labeled-data, <video>, img01234.png`` for ``openfield`` and ``multi``,
and one column ``labeled-data/<video>/img01234.png`` for ``mirror`` (DLC < 2.2 and lightning-pose's
``CollectedData.csv``). Unlabelled (occluded, or skipped by the labeller) keypoints are empty cells.
Coordinates are pixels with the centre of pixel column j at x = j (DLC, napari and OpenCV agree).

Kinds:

* ``openfield`` -- one mouse seen from above in a square open-field box, 640x480 frames, keypoints
  ``snout, leftear, rightear, tailbase``, 3 labelled videos, 2 held-out videos.
* ``mirror`` -- a head-fixed mouse on a treadmill filmed from the side with a 45-degree mirror below
  (the lightning-pose "mirror-mouse" rig): the top of the 396x406 frame is the side view, the bottom
  the mirrored view from below; 17 keypoints (4 paws, tail base/mid, nose, obstacle, in both views).
  The camera sees the mouse's right side: the left paws are the far, darker, partly hidden ones in the
  side view, and lie below the body midline in the bottom view. Grayscale (infrared) frames.
* ``multi`` -- 2-3 identical mice in the open field, DLC multi-animal CSV (4 header rows).

What makes them realistic (and hard the way real lab video is) -- not tuned to any model:

* animal small in the frame (open field: nose-to-tail-base 80-115 px of 640x480), articulated body
  (bending spine, turning head, rearing foreshortening, waving tail), ears that are small blobs;
  smooth trajectories simulated at 30 fps with walk / run / pause bouts and wall avoidance, labelled
  frames picked in short bursts (consecutive labelled frames are 2-4 video frames apart) spread over
  each video, as when a labeller walks through a video;
* the left ear is always on the animal's left, the left paws always on its left side: a horizontal
  flip of a frame that keeps the labels produces wrong labels; the four paws of the mirror rig are
  drawn alike (left and right identical; hind paws slightly larger, as real ones), so only their
  position relative to the body tells left from right;
* strains (black / albino / agouti) and floors drawn by seed, so some projects are low contrast
  (albino on white); floor texture, scratches, bedding specks, droppings the size and colour of an
  ear, urine stains, arena walls in perspective, a lamp's glare, a shelter the mouse walks under
  (keypoints under it are unlabelled), a soft cast shadow;
* lighting: a per-video gradient and vignette, slow drift, flicker and occasional steps of the room
  light; motion blur along the motion when the animal moves fast (paws in swing for the mirror rig);
  lens blur, shot and read noise, and a JPEG round trip (video compression) before the PNG is saved;
* mirror rig: treadmill belt texture moving under the mouse, a reflective metal obstacle bar that
  the belt carries through the frame (its keypoints are unlabelled while it is out of view), a
  head-post, a lick spout, a darker and softer mirror view with dust on the mirror, far paws hidden
  behind near paws (unlabelled, as a labeller would leave them);
* labels are what a human would click: the rendered position plus 1 px Gaussian noise
  (``--label-noise``), and about 2 % of visible keypoints left unlabelled. Held-out ground truth
  gets the same treatment.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

OPENFIELD_PARTS = ["snout", "leftear", "rightear", "tailbase"]
OPENFIELD_SKELETON = [["snout", "leftear"], ["snout", "rightear"], ["leftear", "tailbase"], ["rightear", "tailbase"]]
MIRROR_PARTS = [
    "paw1LH_top",
    "paw2LF_top",
    "paw3RF_top",
    "paw4RH_top",
    "tailBase_top",
    "tailMid_top",
    "nose_top",
    "obs_top",
    "paw1LH_bot",
    "paw2LF_bot",
    "paw3RF_bot",
    "paw4RH_bot",
    "tailBase_bot",
    "tailMid_bot",
    "nose_bot",
    "obsHigh_bot",
    "obsLow_bot",
]
MIRROR_SKELETON = [
    ["nose_top", "tailBase_top"],
    ["tailBase_top", "tailMid_top"],
    ["nose_bot", "tailBase_bot"],
    ["tailBase_bot", "tailMid_bot"],
    ["paw2LF_bot", "paw3RF_bot"],
    ["paw1LH_bot", "paw4RH_bot"],
    ["obsHigh_bot", "obsLow_bot"],
]
#: left/right partners (by name): a prediction nearer its partner's ground truth than its own is a swap
SWAP_PAIRS = {
    "openfield": [["leftear", "rightear"]],
    "multi": [["leftear", "rightear"]],
    "mirror": [
        ["paw1LH_top", "paw4RH_top"],
        ["paw2LF_top", "paw3RF_top"],
        ["paw1LH_bot", "paw4RH_bot"],
        ["paw2LF_bot", "paw3RF_bot"],
    ],
}
SCORER = "Lab"
Keypoints = list[list[float] | None]


# ----------------------------------------------------------------------------------------------
# image helpers
# ----------------------------------------------------------------------------------------------
def smooth_field(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Zero-mean low-frequency noise with unit standard deviation (features about ``cell`` px wide)."""
    out = np.zeros((h, w), np.float32)
    for octave in range(3):
        c = max(2.0, cell / 2**octave)
        small = rng.standard_normal((int(h / c) + 3, int(w / c) + 3)).astype(np.float32)
        out += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) * 0.5**octave
    return (out - out.mean()) / (out.std() + 1e-6)


def fill(mask: np.ndarray, pts: np.ndarray, value: float = 1.0) -> None:
    """Anti-aliased, sub-pixel polygon fill into a float mask (in place, max-combined)."""
    layer = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(layer, [np.round(np.asarray(pts) * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    np.maximum(mask, layer.astype(np.float32) / 255.0 * value, out=mask)


def ellipse_pts(center: np.ndarray, axes: tuple[float, float], angle: float, n: int = 28) -> np.ndarray:
    """Outline of an ellipse (``angle`` in radians) as an (n, 2) polygon."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ca, sa = math.cos(angle), math.sin(angle)
    x, y = axes[0] * np.cos(t), axes[1] * np.sin(t)
    return np.stack([center[0] + ca * x - sa * y, center[1] + sa * x + ca * y], 1)


def stroke(mask: np.ndarray, pts: np.ndarray, widths: np.ndarray) -> None:
    """A tapering tube along a polyline (discs of the given radii), max-combined into ``mask``."""
    for (x0, y0), (x1, y1), r in zip(pts[:-1], pts[1:], widths[:-1]):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / max(0.7, r * 0.6)))
        for t in np.linspace(0, 1, n, endpoint=False):
            fill(mask, ellipse_pts(np.array([x0 + t * (x1 - x0), y0 + t * (y1 - y0)]), (r, r), 0.0, 12))


def motion_blur(img: np.ndarray, vec: tuple[float, float]) -> np.ndarray:
    """Blur along the displacement ``vec`` (px during the exposure); unchanged below 1 px."""
    length = math.hypot(*vec)
    if length < 1.0:
        return img
    k = 2 * int(math.ceil(length / 2)) + 1
    kernel = np.zeros((k, k), np.uint8)
    c = k // 2
    p0 = (int(round((c - vec[0] / 2) * 16)), int(round((c - vec[1] / 2) * 16)))
    p1 = (int(round((c + vec[0] / 2) * 16)), int(round((c + vec[1] / 2) * 16)))
    cv2.line(kernel, p0, p1, 255, 1, cv2.LINE_AA, shift=4)
    kernel = kernel.astype(np.float32)
    return cv2.filter2D(img, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def composite(img: np.ndarray, color: np.ndarray | float | tuple, alpha: np.ndarray) -> None:
    """``img = img * (1 - alpha) + color * alpha`` in place (color: image, scalar or BGR)."""
    a = alpha[..., None] if img.ndim == 3 else alpha
    img *= 1.0 - a
    img += np.asarray(color, np.float32) * a


def camera(img: np.ndarray, rng: np.random.Generator, noise: float, blur: float, jpeg: int) -> np.ndarray:
    """Lens blur, shot + read noise, 8-bit quantisation and a JPEG round trip (compressed video)."""
    img = cv2.GaussianBlur(img, (0, 0), blur) if blur > 0 else img
    shot = np.sqrt(np.clip(img, 0, None) / 255.0) * noise
    img = img + rng.standard_normal(img.shape).astype(np.float32) * (shot + noise * 0.5)
    out = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, jpeg])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else out


def ou(x: float, mean: float, theta: float, sigma: float, rng: np.random.Generator) -> float:
    """One step of an Ornstein-Uhlenbeck process (smooth random motion)."""
    return x + theta * (mean - x) + sigma * float(rng.standard_normal())


def light_schedule(rng: np.random.Generator, n: int) -> np.ndarray:
    """Room light gain per video frame: slow drift, mains flicker, and rare steps (a door, a lamp)."""
    t = np.arange(n)
    gain = 1.0 + 0.05 * np.sin(2 * np.pi * t / rng.uniform(300, 900) + rng.uniform(0, 6.3))
    for _ in range(rng.poisson(n / 1500.0)):
        start = int(rng.integers(0, n))
        gain[start : start + int(rng.integers(60, 400))] *= rng.uniform(0.82, 1.15)
    return gain * (1.0 + 0.012 * rng.standard_normal(n))


def pick_bursts(rng: np.random.Generator, n_video: int, count: int, margin: int = 10) -> list[int]:
    """Frame numbers to label: bursts of 3-8 frames 2-4 apart, the bursts spread over the video."""
    frames: list[int] = []
    while len(frames) < count:
        start = int(rng.integers(margin, n_video - 40))
        burst = start + np.cumsum(rng.integers(2, 5, size=int(rng.integers(3, 9))))
        frames += [int(f) for f in burst if f not in frames and all(abs(f - g) > 1 for g in frames)]
    return sorted(frames[:count])


# ----------------------------------------------------------------------------------------------
# open field: one or several mice seen from above
# ----------------------------------------------------------------------------------------------
# BGR colours: body, ears, tail, eyes; and the floors such a strain is filmed on
STRAINS = {
    "black": dict(
        body=(40, 39, 43),
        ear=(70, 68, 92),
        tail=(62, 60, 70),
        eye=(12, 12, 12),
        sheen=0.45,
        floors=[(205, 207, 204), (182, 180, 176), (150, 152, 150)],
    ),
    "albino": dict(
        body=(214, 218, 224),
        ear=(168, 163, 218),
        tail=(178, 176, 210),
        eye=(70, 50, 160),
        sheen=0.1,
        floors=[(206, 206, 204), (160, 160, 158), (92, 96, 100)],
    ),
    "agouti": dict(
        body=(64, 86, 106),
        ear=(86, 96, 128),
        tail=(82, 92, 112),
        eye=(14, 14, 14),
        sheen=0.2,
        floors=[(196, 198, 196), (140, 142, 140)],
    ),
}
# half-width of the body along the spine (fraction of the nose-to-tail-base length)
WIDTH_S = [0.0, 0.06, 0.2, 0.38, 0.55, 0.66, 0.72, 0.78, 0.87, 0.95, 1.0]
WIDTH_W = [0.055, 0.1, 0.15, 0.165, 0.15, 0.12, 0.1, 0.1, 0.078, 0.045, 0.012]


@dataclass
class MouseState:
    """Pose of one mouse in one video frame (arena pixels)."""

    pos: np.ndarray
    heading: float
    speed: float
    bend: float
    head_yaw: float
    stretch: float
    tail_phase: float


def simulate_mice(
    rng: np.random.Generator, n: int, count: int, floor_poly: np.ndarray, length: float
) -> list[list[MouseState]]:
    """Smooth 30 fps trajectories of ``count`` mice inside ``floor_poly`` (walk / run / pause / rear bouts)."""
    center = floor_poly.mean(0)
    half = np.abs(floor_poly - center).max(0) - 0.45 * length
    mice = []
    for _ in range(count):
        p = center + rng.uniform(-0.8, 0.8, 2) * half
        st = dict(heading=rng.uniform(-np.pi, np.pi), speed=0.0, bend=0.0, yaw=0.0, stretch=1.0, turn=0.0, phase=0.0)
        mice.append((p, st, ["walk", 0]))
    tracks: list[list[MouseState]] = [[] for _ in range(count)]
    targets = {"walk": (3.5, 1.0), "run": (9.0, 1.0), "pause": (0.2, 0.88), "rear": (0.0, 0.74)}
    for _ in range(n):
        for i, (p, st, bout) in enumerate(mice):
            if bout[1] <= 0:
                bout[0] = str(rng.choice(["walk", "run", "pause", "rear"], p=[0.5, 0.15, 0.25, 0.1]))
                bout[1] = int(rng.integers(20, 120))
            bout[1] -= 1
            v_target, s_target = targets[bout[0]]
            st["speed"] = max(0.0, ou(st["speed"], v_target, 0.12, 0.4, rng))
            st["stretch"] = ou(st["stretch"], s_target + 0.06 * min(st["speed"], 6) / 6, 0.1, 0.01, rng)
            st["turn"] = ou(st["turn"], 0.0, 0.15, 0.035 if bout[0] != "pause" else 0.015, rng)
            # wall avoidance: turn towards the arena centre when the heading points at a nearby wall
            ahead = p + np.array([math.cos(st["heading"]), math.sin(st["heading"])]) * (0.6 * length + 4 * st["speed"])
            if np.any(np.abs(ahead - center) > half):
                to_c = math.atan2(*(center - p)[::-1]) - st["heading"]
                st["turn"] += 0.08 * math.sin(to_c) + (0.02 if math.sin(to_c) >= 0 else -0.02)
            # other mice: turn away when close
            for j, (q, _, _) in enumerate(mice):
                if j != i and np.linalg.norm(q - p) < 1.1 * length:
                    away = math.atan2(*(p - q)[::-1]) - st["heading"]
                    st["turn"] += 0.04 * math.sin(away)
            st["heading"] += st["turn"] * (0.4 + min(st["speed"], 6) / 6)
            st["bend"] = ou(st["bend"], 7.0 * st["turn"], 0.2, 0.03, rng)
            st["yaw"] = ou(st["yaw"], 0.0, 0.08, 0.08 if bout[0] in ("pause", "rear") else 0.03, rng)
            st["yaw"] = float(np.clip(st["yaw"], -0.9, 0.9))
            st["phase"] += 0.15 + 0.05 * st["speed"]
            p += st["speed"] * np.array([math.cos(st["heading"]), math.sin(st["heading"])])
            np.clip(p, center - half, center + half, out=p)
            tracks[i].append(
                MouseState(
                    p.copy(),
                    st["heading"],
                    st["speed"],
                    float(np.clip(st["bend"], -1.3, 1.3)),
                    st["yaw"],
                    float(np.clip(st["stretch"], 0.68, 1.12)),
                    st["phase"],
                )
            )
    return tracks


def mouse_geometry(m: MouseState, length: float) -> dict[str, Any]:
    """Spine, outline, ears, eyes, tail and the 4 keypoints of a mouse seen from above."""
    L = length * m.stretch
    s = np.linspace(0.0, 1.0, 41)
    ang = m.heading + m.bend * (s - 0.45) + m.head_yaw * np.clip((s - 0.66) / 0.34, 0, 1)
    step = np.stack([np.cos(ang), np.sin(ang)], 1) * (L / 40)
    spine = np.concatenate([[0, 0], np.cumsum(step[:-1], 0).ravel()]).reshape(-1, 2)
    spine += m.pos - spine[18]  # s = 0.45 is the tracked body centre
    left = np.stack([np.sin(ang), -np.cos(ang)], 1)  # the animal's left, seen from above (image y down)
    # rearing brings the head towards the camera: slightly wider head
    width = np.interp(s, WIDTH_S, WIDTH_W) * length * (1.0 + 0.25 * (1.0 - m.stretch) * (s > 0.6))
    outline = np.concatenate([spine + left * width[:, None], (spine - left * width[:, None])[::-1]])
    e = 30  # s = 0.75, the ears
    ear_off = width[e] + 0.03 * length
    ears = [spine[e] + left[e] * ear_off - step[e] * 0.8, spine[e] - left[e] * ear_off - step[e] * 0.8]
    eyes = [spine[35] + left[35] * width[35] * 0.75, spine[35] - left[35] * width[35] * 0.75]
    t = np.linspace(0, 1, 16)
    tail_ang = ang[0] + np.pi + 0.5 * np.sin(2 * np.pi * 0.8 * t + m.tail_phase) * t + 0.6 * m.bend * t
    tail_step = np.stack([np.cos(tail_ang), np.sin(tail_ang)], 1) * (0.85 * length / 15)
    tail = spine[0] + np.concatenate([[[0, 0]], np.cumsum(tail_step[:-1], 0)])
    return dict(
        spine=spine,
        outline=outline,
        ears=ears,
        eyes=eyes,
        tail=tail,
        angle=ang,
        keypoints=[spine[-1], ears[0], ears[1], spine[0]],
    )


class OpenField:
    """Renders open-field frames of one session (one video) with one or several mice."""

    def __init__(self, rng: np.random.Generator, project: dict[str, Any], n_mice: int = 1) -> None:
        self.rng, self.p, self.h, self.w = rng, project, 480, 640
        h, w = self.h, self.w
        # the camera moves a little between sessions: the arena's place, turn and size change
        c = np.array([w / 2, h / 2]) + rng.uniform(-25, 25, 2)
        side = project["arena"] * rng.uniform(0.95, 1.05)
        rot = math.radians(rng.uniform(-4, 4))
        sq = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * side / 2
        r = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
        self.floor = sq @ r.T + c + rng.uniform(-4, 4, (4, 2))
        # wall tops appear further out from the optical axis (perspective): the walls' inner sides show
        principal = np.array([w / 2, h / 2]) + rng.uniform(-30, 30, 2)
        self.walls = principal + (self.floor - principal) * project["wall_scale"]
        self.length = project["length"] * rng.uniform(0.94, 1.06)
        self.n_mice = n_mice
        self.background = self._background()
        self.shelter = None
        if project["shelter"]:
            corner = self.floor[project["shelter_corner"]]
            inward = (c - corner) / np.linalg.norm(c - corner)
            sc = corner + inward * side * 0.16
            box = (tuple(sc), (side * 0.26, side * 0.19), math.degrees(rot) + project["shelter_angle"])
            self.shelter = cv2.boxPoints(box).astype(np.float64)
        # lighting of this session: gradient, vignette, lamp glare
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        g = rng.uniform(-1, 1, 2)
        grad = 1.0 + 0.22 * (g[0] * (xx / w - 0.5) + g[1] * (yy / h - 0.5))
        vign = 1.0 - rng.uniform(0.15, 0.35) * (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2) / 2
        self.illum = (grad * vign * rng.uniform(0.72, 1.05)).astype(np.float32)
        gx, gy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
        self.glare = rng.uniform(15, 45) * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * rng.uniform(25, 60) ** 2))
        self.noise, self.jpeg = rng.uniform(2.0, 5.0), int(rng.integers(60, 88))
        self.lens = rng.uniform(0.4, 1.0)
        self.shadow_dir = rng.uniform(-1, 1, 2) * 4

    def _background(self) -> np.ndarray:
        rng, p, h, w = self.rng, self.p, self.h, self.w
        img = np.empty((h, w, 3), np.float32)
        img[:] = np.array(p["bench"], np.float32) * (1 + 0.15 * smooth_field(rng, h, w, 40))[..., None]
        wall_m, floor_m = np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
        fill(wall_m, self.walls)
        fill(floor_m, self.floor)
        # the inner wall faces: shaded from the top edge (lit) to the floor (in shadow)
        d = cv2.distanceTransform((floor_m < 0.5).astype(np.uint8), cv2.DIST_L2, 5)
        wall_shade = np.clip(1.0 - d / 25.0, 0, 1) * 0.25 + 0.75
        composite(img, np.array(p["wall"], np.float32) * wall_shade[..., None], wall_m)
        rim = cv2.Canny((wall_m > 0.5).astype(np.uint8) * 255, 50, 150).astype(np.float32) / 255
        composite(img, np.array(p["wall"]) * 1.2, cv2.GaussianBlur(rim, (0, 0), 0.8) * 0.8)
        floor = np.array(p["floor"], np.float32) * (1 + 0.05 * smooth_field(rng, h, w, 80))[..., None]
        floor *= (1 + 0.025 * rng.standard_normal((h, w)).astype(np.float32))[..., None]
        # ambient occlusion along the walls, scratches, urine stains, bedding specks, droppings
        d_in = cv2.distanceTransform((floor_m > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
        floor *= (1 - 0.18 * np.exp(-d_in / 8.0))[..., None]
        for _ in range(int(rng.integers(5, 25))):
            a, b = rng.uniform(0, w, 2), rng.uniform(0, h, 2)
            s = np.zeros((h, w), np.float32)
            cv2.line(s, (int(a[0]), int(b[0])), (int(a[1]), int(b[1])), 1.0, 1, cv2.LINE_AA)
            composite(floor, np.array(p["floor"]) * rng.uniform(0.8, 1.1), s * rng.uniform(0.1, 0.3))
        for _ in range(int(rng.integers(1, 6))):
            s = np.zeros((h, w), np.float32)
            fill(s, ellipse_pts(rng.uniform([0, 0], [w, h]), tuple(rng.uniform(8, 25, 2)), rng.uniform(0, 3)))
            floor *= (1 - 0.08 * cv2.GaussianBlur(s, (0, 0), 3))[..., None]
        specks = np.zeros((h, w), np.float32)
        for _ in range(int(rng.integers(60, 260))):
            speck = ellipse_pts(rng.uniform([0, 0], [w, h]), tuple(rng.uniform(0.6, 2.2, 2)), rng.uniform(0, 3), 8)
            fill(specks, speck, rng.uniform(0.3, 1.0))
        composite(floor, np.array(p["floor"]) * rng.uniform(0.55, 0.8), specks)
        drops = np.zeros((h, w), np.float32)
        for _ in range(int(rng.integers(3, 16))):
            fill(
                drops,
                ellipse_pts(
                    rng.uniform([0, 0], [w, h]), (rng.uniform(3, 4.5), rng.uniform(1.5, 2.2)), rng.uniform(0, 3), 12
                ),
            )
        composite(floor, (30, 32, 38), drops)
        composite(img, floor, floor_m)
        return img

    def render(self, mice: list[MouseState], gain: float) -> tuple[np.ndarray, list[Keypoints]]:
        """One frame (uint8 BGR) and, per mouse, the true keypoints (None: hidden under something)."""
        rng, p, h, w = self.rng, self.p, self.h, self.w
        strain = STRAINS[p["strain"]]
        img = self.background.copy()
        alphas, all_kps = [], []
        for m in mice:
            g = mouse_geometry(m, self.length)
            body, ears, tail, eyes = (np.zeros((h, w), np.float32) for _ in range(4))
            fill(body, g["outline"])
            for e, a in zip(g["ears"], (g["angle"][30], g["angle"][30])):
                fill(ears, ellipse_pts(e, (0.055 * self.length, 0.042 * self.length), a, 16))
            stroke(tail, g["tail"], np.linspace(0.045, 0.012, 16) * self.length)
            for e in g["eyes"]:
                fill(eyes, ellipse_pts(e, (0.014 * self.length, 0.011 * self.length), g["angle"][35], 10))
            shadow = cv2.GaussianBlur(
                np.roll(np.maximum(body, tail), tuple(np.round(self.shadow_dir).astype(int)), (0, 1)), (0, 0), 4
            )
            img *= (1 - 0.3 * shadow)[..., None]
            # fur: lighter along the spine (sheen), fine texture; ears with a darker rim
            dist = cv2.distanceTransform((body > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
            shade = 1 - strain["sheen"] * 0.4 + strain["sheen"] * np.clip(dist / (0.12 * self.length), 0, 1)
            shade = shade * (1 + 0.06 * rng.standard_normal((h, w)).astype(np.float32))
            layer = np.array(strain["body"], np.float32) * shade[..., None]
            composite(layer, strain["tail"], tail)
            composite(layer, np.array(strain["ear"]) * 0.8, ears)
            composite(layer, strain["ear"], cv2.erode(ears, np.ones((3, 3), np.uint8)))
            composite(layer, strain["eye"], eyes)
            alpha = np.maximum(np.maximum(body, ears), tail)
            # motion blur during the exposure (about half a frame at 30 fps)
            v = 0.55 * m.speed * np.array([math.cos(m.heading), math.sin(m.heading)])
            layer = motion_blur(layer * alpha[..., None], tuple(v))
            alpha = motion_blur(alpha, tuple(v))
            img = img * (1 - alpha[..., None]) + layer
            alphas.append(alpha)
            all_kps.append([np.array(k, np.float64) for k in g["keypoints"]])
        if self.shelter is not None:
            s = np.zeros((h, w), np.float32)
            fill(s, self.shelter)
            lid = np.array(p["shelter_color"], np.float32) * (1 + 0.04 * smooth_field(rng, h, w, 30))[..., None]
            composite(img, lid, s * 0.97)
            alphas.append(s)
        img = img * (self.illum * gain)[..., None] + self.glare[..., None]
        out = camera(img, rng, self.noise, self.lens, self.jpeg)
        # a keypoint is hidden when a later-drawn mouse or the shelter covers it
        visible: list[Keypoints] = []
        for i, kps in enumerate(all_kps):
            row: Keypoints = []
            for k in kps:
                xi, yi = int(round(k[0])), int(round(k[1]))
                inside = 0 <= xi < w and 0 <= yi < h
                hidden = not inside or any(a[yi, xi] > 0.5 for a in alphas[i + 1 :])
                row.append(None if hidden else [float(k[0]), float(k[1])])
            visible.append(row)
        return out, visible


def openfield_project(rng: np.random.Generator) -> dict[str, Any]:
    """Choices shared by every session of one project: strain, arena, materials, animal size."""
    strain = str(rng.choice(list(STRAINS)))
    floors = STRAINS[strain]["floors"]
    floor = np.array(floors[int(rng.integers(len(floors)))], np.float64) + rng.uniform(-8, 8)
    return dict(
        strain=strain,
        floor=tuple(floor),
        wall=tuple(floor * rng.uniform(0.75, 1.1)),
        bench=tuple(rng.uniform(30, 70) * np.array([1.0, 1.0, 1.05])),
        arena=rng.uniform(390, 440),
        wall_scale=rng.uniform(1.06, 1.1),
        length=rng.uniform(80, 115),
        shelter=bool(rng.random() < 0.6),
        shelter_corner=int(rng.integers(4)),
        shelter_angle=float(rng.uniform(-10, 10)),
        shelter_color=tuple(rng.uniform(40, 90) * np.array([1.0, 0.9, 1.6])),
    )


def openfield_video(
    rng: np.random.Generator, project: dict[str, Any], count: int, n_mice: int
) -> list[tuple[int, np.ndarray, list[Keypoints]]]:
    """Labelled frames of one session: ``(frame number, image, per-mouse true keypoints)``."""
    n = int(rng.integers(1800, 3600))
    scene = OpenField(rng, project, n_mice)
    tracks = simulate_mice(rng, n, n_mice, scene.floor, scene.length)
    gain = light_schedule(rng, n)
    out = []
    for f in pick_bursts(rng, n, count):
        img, kps = scene.render([t[f] for t in tracks], float(gain[f]))
        out.append((f, img, kps))
    return out


# ----------------------------------------------------------------------------------------------
# mirror rig: side view (top of the frame) + mirrored bottom view, head-fixed mouse on a treadmill
# ----------------------------------------------------------------------------------------------
PAWS = ["LH", "LF", "RF", "RH"]  # paw1LH, paw2LF, paw3RF, paw4RH


@dataclass
class MirrorRig:
    """One session of the mirror rig (camera placement, lighting, mouse size)."""

    rng: np.random.Generator
    project: dict[str, Any]
    w: int = 396
    h: int = 406
    cfg: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        r, p = self.rng, self.project
        self.cfg = dict(
            zoom=p["zoom"] * r.uniform(0.96, 1.04),
            x0=r.uniform(180, 200),
            belt_y=r.uniform(162, 172),
            bot_y=r.uniform(296, 306),
            divider=r.uniform(194, 200),
            gain=r.uniform(0.8, 1.15),
            noise=r.uniform(2.5, 5.5),
            jpeg=int(r.integers(60, 88)),
            lens=r.uniform(0.5, 0.9),
            phase_jitter=r.uniform(-0.06, 0.06),
            duty=r.uniform(0.58, 0.68),
        )
        self.size = p["size"] * r.uniform(0.95, 1.05)
        h, w = self.h, self.w
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        self.illum = (1 - r.uniform(0.15, 0.35) * ((xx - r.uniform(120, 280)) / w) ** 2) * (
            1 + 0.1 * smooth_field(r, h, w, 120)
        )
        self.wall_tex = smooth_field(r, h, w, 30)
        self.belt_tex = smooth_field(r, 64, 2400, 6)
        self.dust = np.zeros((h, w), np.float32)
        for _ in range(int(r.integers(10, 40))):
            fill(
                self.dust,
                ellipse_pts(r.uniform([0, self.cfg["divider"] + 5], [w, h]), tuple(r.uniform(0.8, 2.5, 2)), 0.0, 8),
                r.uniform(0.2, 0.6),
            )

    def simulate(self, n: int) -> list[dict[str, Any]]:
        """Per video frame: belt speed, gait phase, body wobble, tail sway, obstacle position."""
        r, c = self.rng, self.cfg
        speed, phase, belt, states = 3.0, r.uniform(0, 1), 0.0, []
        obstacle, next_obs = None, int(r.integers(0, 120))
        stride = 30.0 * c["zoom"] * self.size
        for i in range(n):
            speed = float(np.clip(ou(speed, 4.0 if (i // 400) % 3 else 2.0, 0.02, 0.35, r), 0.0, 7.0))
            phase += speed * c["duty"] / stride
            belt += speed
            if obstacle is None and i >= next_obs:
                obstacle = self.w + 10.0
            if obstacle is not None:
                obstacle -= speed
                if obstacle < -20:
                    obstacle, next_obs = None, i + int(r.integers(60, 250))
            states.append(
                dict(
                    speed=speed,
                    phase=phase,
                    belt=belt,
                    obstacle=obstacle,
                    wobble=np.array([2.5 * math.sin(i / 37.0), 1.5 * math.sin(i / 23.0 + 1)]),
                    tail=(math.sin(i / 19.0) * 0.6, math.sin(i / 29.0 + 2) * 0.5),
                    i=i,
                )
            )
        return states

    def paw(self, name: str, st: dict[str, Any]) -> tuple[np.ndarray, float]:
        """3D paw position ``(X, Y, Z)`` (px, body frame; Y > 0 is the left) and its X speed."""
        c, z = self.cfg, self.cfg["zoom"] * self.size
        offset = {"LF": 0.0, "RH": 0.04, "RF": 0.5, "LH": 0.54}[name] + (c["phase_jitter"] if name[0] == "L" else 0)
        phi = (st["phase"] + offset) % 1.0
        stride, duty = 30.0 * z, c["duty"]
        if phi < duty:
            u = phi / duty
            dx, dz, vx = stride * (0.5 - u), 0.0, -st["speed"]
        else:
            u = (phi - duty) / (1 - duty)
            sm = u * u * (3 - 2 * u)
            dx, dz = stride * (sm - 0.5), 9.0 * z * math.sin(math.pi * u)
            vx = st["speed"] * duty / (1 - duty) * 6 * u * (1 - u) * 1.5
        front = name[1] == "F"
        x = (45.0 if front else -34.0) * z + dx
        y = (18.0 if front else 21.0) * z * (1 if name[0] == "L" else -1) * (1 - 0.15 * (dz > 0))
        return np.array([x, y, dz]), vx

    def render(self, st: dict[str, Any], gain: float) -> tuple[np.ndarray, Keypoints]:
        """One grayscale-looking frame (uint8, 3 equal channels) and the 17 true keypoints."""
        r, c, h, w = self.rng, self.cfg, self.h, self.w
        z = c["zoom"] * self.size
        x0 = c["x0"] + st["wobble"][0]
        zb = 33.0 * z + st["wobble"][1] + 0.8 * math.sin(2 * np.pi * st["phase"] * 2)
        top = lambda X, Z: np.array([x0 + X, c["belt_y"] - Z])  # noqa: E731  (side view)
        bot = lambda X, Y: np.array([x0 + X, c["bot_y"] + Y])  # noqa: E731  (mirror view from below)
        img = np.zeros((h, w), np.float32)
        div = int(c["divider"])
        # backgrounds: enclosure wall, belt (side and, through the clear belt, from below), mirror frame
        img[:div] = 55 + 10 * self.wall_tex[:div]
        shift = int(st["belt"]) % 2000
        belt_side = cv2.resize(self.belt_tex[:, shift : shift + w], (w, div - int(c["belt_y"])))
        img[int(c["belt_y"]) : div] = 38 + 8 * belt_side
        img[div:] = 30 + 6 * self.wall_tex[div:]
        rails = np.zeros((h, w), np.float32)
        for yy in (bot(0, -47 * z)[1], bot(0, 47 * z)[1]):
            cv2.line(rails, (0, int(yy * 16)), (w * 16, int(yy * 16)), 1.0, 2, cv2.LINE_AA, shift=4)
        composite(img, 95.0, rails)
        smudge = cv2.resize(self.belt_tex[:, (shift + 700) % 1600 : (shift + 700) % 1600 + w], (w, h - div))
        img[div:] += 7 * np.clip(smudge, 0, None)
        cv2.line(img, (0, div), (w, div), 140.0, 3, cv2.LINE_AA)
        cv2.line(img, (0, int(c["belt_y"])), (w, int(c["belt_y"])), 85.0, 2, cv2.LINE_AA)

        paws = {n: self.paw(n, st) for n in PAWS}
        head_c, body_c = np.array([68.0 * z, zb - 2 * z]), np.array([0.0, zb])
        nose = np.array([93.0 * z, zb - 7 * z])
        tail_base = np.array([-60.0 * z, zb - 6 * z])
        t = np.linspace(0, 1, 14)
        tail_x = tail_base[0] - 95 * z * t
        tail_z = np.maximum(2.0, tail_base[1] + 35 * z * (st["tail"][0] * 0.4 * t - 0.6 * t * t))
        tail_y = 18 * z * st["tail"][1] * t * t
        kps: dict[str, np.ndarray | None] = {}
        # ---- side view: far (left) legs, obstacle, tail, body, head, near (right) legs, head post ----
        for side_is_far in (True, False):
            for n in PAWS:
                if (n[0] == "L") != side_is_far:
                    continue
                (px, py, pz), vx = paws[n]
                hip = np.array([(36.0 if n[1] == "F" else -36.0) * z, zb - 9 * z])
                leg = np.zeros((h, w), np.float32)
                stroke(leg, np.stack([top(*hip), top(px, pz + 3 * z)]), np.array([3.2, 2.2]) * z)
                paw_m = np.zeros((h, w), np.float32)
                pw = (5.2 if n[1] == "H" else 4.2) * z
                fill(paw_m, ellipse_pts(top(px, pz + 1.5 * z), (pw, 2.2 * z), 0.0, 14))
                paw_m = motion_blur(paw_m, (0.5 * vx, 0.0))
                bright = 0.68 if side_is_far else 1.0
                composite(img, 105.0 * bright, leg)
                composite(img, 175.0 * bright, paw_m)
                kps[f"{n}_top"] = top(px, pz + 1.5 * z)
            if side_is_far:
                self._obstacle_top(img, st, top, z, kps)
                tail_m = np.zeros((h, w), np.float32)
                stroke(tail_m, np.stack([top(x, zz) for x, zz in zip(tail_x, tail_z)]), np.linspace(3.2, 1.2, 14) * z)
                composite(img, 120.0, tail_m)
                body = np.zeros((h, w), np.float32)
                fill(body, ellipse_pts(top(*body_c), (62 * z, 16 * z), 0.05))
                fill(body, ellipse_pts(top(*head_c), (27 * z, 13 * z), 0.28))
                fill(body, ellipse_pts(top(nose[0] - 6 * z, nose[1] + 1 * z), (8 * z, 6 * z), 0.3))
                dist = cv2.distanceTransform((body > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
                fur = 118 + 30 * np.clip(dist / (14 * z), 0, 1) + 6 * self.wall_tex
                composite(img, fur, body)
                ear = np.zeros((h, w), np.float32)
                fill(ear, ellipse_pts(top(56 * z, zb + 10 * z), (5 * z, 7 * z), -0.4, 16))
                composite(img, 150.0, ear)
                cv2.circle(
                    img,
                    tuple(np.round(top(80 * z, zb + 1 * z) * 16).astype(int)),
                    int(2.2 * z * 16),
                    40.0,
                    -1,
                    cv2.LINE_AA,
                    shift=4,
                )
        post = np.zeros((h, w), np.float32)
        fill(post, np.array([top(58 * z, zb + 12 * z), top(66 * z, zb + 12 * z), top(75 * z, 300), top(60 * z, 300)]))
        composite(img, 70.0, post)
        spout = np.zeros((h, w), np.float32)
        stroke(spout, np.stack([top(99 * z, zb - 5 * z), top(135 * z, zb + 40 * z)]), np.array([1.2, 1.2]))
        composite(img, 150.0, spout * 0.7)
        kps["tailBase_top"], kps["tailMid_top"] = top(*tail_base), top(tail_x[7], tail_z[7])
        kps["nose_top"] = top(*nose)
        # ---- bottom view (mirror): belly, tail, legs, the four alike paws, obstacle ----
        belly = np.zeros((h, w), np.float32)
        fill(belly, ellipse_pts(bot(0, 0), (62 * z, 19 * z), 0.0))
        fill(belly, ellipse_pts(bot(head_c[0], 0), (25 * z, 12.5 * z), 0.0))
        fill(belly, ellipse_pts(bot(nose[0] - 6 * z, 0), (8 * z, 5.5 * z), 0.0))
        tail_m = np.zeros((h, w), np.float32)
        stroke(tail_m, np.stack([bot(x, y) for x, y in zip(tail_x, tail_y)]), np.linspace(3.2, 1.2, 14) * z)
        composite(img, 105.0, tail_m)
        dist = cv2.distanceTransform((belly > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
        composite(img, 112 + 35 * np.clip(dist / (15 * z), 0, 1), belly)
        for n in PAWS:
            (px, py, pz), vx = paws[n]
            leg = np.zeros((h, w), np.float32)
            hip = bot((36.0 if n[1] == "F" else -36.0) * z, math.copysign(12 * z, py))
            stroke(leg, np.stack([hip, bot(px, py)]), np.array([3.0, 2.2]) * z)
            composite(img, 128.0, leg)
            paw_m = np.zeros((h, w), np.float32)
            pw = (5.6 if n[1] == "H" else 4.6) * z
            fill(paw_m, ellipse_pts(bot(px, py), (pw, 3.6 * z), 0.0, 16))
            for k in range(4):  # toes: in front of the paw for every paw (left and right alike)
                toe = bot(px + pw + 1.2 * z, py + (k - 1.5) * 2.0 * z)
                fill(paw_m, ellipse_pts(toe, (1.3 * z, 1.0 * z), 0.0, 8))
            lifted = pz / (9.0 * z)  # a lifted paw is further from the mirror: softer and darker
            paw_m = cv2.GaussianBlur(motion_blur(paw_m, (0.5 * vx, 0.0)), (0, 0), 0.3 + 1.2 * lifted)
            composite(img, 185.0 - 35 * lifted, paw_m)
            kps[f"{n}_bot"] = bot(px, py)
        kps["tailBase_bot"], kps["tailMid_bot"], kps["nose_bot"] = (
            bot(tail_base[0], 0),
            bot(tail_x[7], tail_y[7]),
            bot(nose[0], 0),
        )
        self._obstacle_bot(img, st, bot, z, kps)
        # ---- optics: the mirror view is darker, softer and dusty; IR light; camera ----
        img[div + 2 :] = cv2.GaussianBlur(img[div + 2 :], (0, 0), 0.7) * 0.82
        composite(img, 20.0, self.dust)
        img = img * self.illum * c["gain"] * gain
        gray = camera(img, r, c["noise"], c["lens"], c["jpeg"])
        # far paws hidden behind a near paw in the side view are left unlabelled, as a labeller would
        for far, near in (("LH", "RH"), ("LF", "RF"), ("LH", "RF"), ("LF", "RH")):
            if np.linalg.norm(kps[f"{far}_top"] - kps[f"{near}_top"]) < 5.0 * z:
                kps[f"{far}_top"] = None
        out: Keypoints = []
        for name in MIRROR_PARTS:
            name = name.replace("paw1", "").replace("paw2", "").replace("paw3", "").replace("paw4", "")
            k = kps.get(name)
            ok = k is not None and 0 <= k[0] <= w - 1 and 0 <= k[1] <= h - 1
            out.append([float(k[0]), float(k[1])] if ok else None)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), out

    def _obstacle_top(self, img: np.ndarray, st: dict[str, Any], top: Callable, z: float, kps: dict) -> None:
        kps["obs_top"] = None
        if st["obstacle"] is None:
            return
        xo, height = st["obstacle"] - self.cfg["x0"], 11.0 * z
        bar = np.zeros(img.shape, np.float32)
        fill(
            bar,
            np.array(
                [top(xo - 2.5 * z, 0), top(xo + 2.5 * z, 0), top(xo + 2.5 * z, height), top(xo - 2.5 * z, height)]
            ),
        )
        composite(img, 175.0, bar)
        glint = np.zeros(img.shape, np.float32)  # specular highlight of the metal bar
        stroke(glint, np.stack([top(xo - 0.8 * z, 1), top(xo - 0.8 * z, height - 1)]), np.array([0.9, 0.9]))
        composite(img, 250.0, glint)
        kps["obs_top"] = top(xo, height)

    def _obstacle_bot(self, img: np.ndarray, st: dict[str, Any], bot: Callable, z: float, kps: dict) -> None:
        kps["obsHigh_bot"] = kps["obsLow_bot"] = None
        if st["obstacle"] is None:
            return
        xo = st["obstacle"] - self.cfg["x0"]
        bar = np.zeros(img.shape, np.float32)
        fill(
            bar,
            np.array(
                [
                    bot(xo - 2.5 * z, -47 * z),
                    bot(xo + 2.5 * z, -47 * z),
                    bot(xo + 2.5 * z, 47 * z),
                    bot(xo - 2.5 * z, 47 * z),
                ]
            ),
        )
        composite(img, 165.0, bar)
        glint = np.zeros(img.shape, np.float32)
        g = 20 * z * math.sin(st["i"] / 9.0)  # the reflection slides along the bar as the view angle changes
        stroke(glint, np.stack([bot(xo, g - 8 * z), bot(xo, g + 8 * z)]), np.array([1.2, 1.2]))
        composite(img, 245.0, glint)
        kps["obsHigh_bot"], kps["obsLow_bot"] = bot(xo, -47 * z), bot(xo, 47 * z)


def mirror_video(
    rng: np.random.Generator, project: dict[str, Any], count: int
) -> list[tuple[int, np.ndarray, list[Keypoints]]]:
    """Labelled frames of one mirror-rig session: ``(frame number, image, [17 true keypoints])``."""
    n = int(rng.integers(3000, 6000))
    rig = MirrorRig(rng, project)
    states = rig.simulate(n)
    gain = light_schedule(rng, n)
    out = []
    for f in pick_bursts(rng, n, count):
        img, kps = rig.render(states[f], float(gain[f]))
        out.append((f, img, [kps]))
    return out


# ----------------------------------------------------------------------------------------------
# DLC files
# ----------------------------------------------------------------------------------------------
def fmt(v: float | None) -> str:
    """A CSV cell as pandas writes a float64 (``repr``); missing -> empty."""
    return "" if v is None else repr(float(v))


def write_dlc_csv(
    path: Path,
    bodyparts: list[str],
    rows: list[tuple[list[str], list[Keypoints]]],
    individuals: list[str] | None = None,
) -> None:
    """DLC's ``CollectedData_<scorer>.csv``: the pandas ``to_csv`` layout of its MultiIndex DataFrame.

    Args:
        bodyparts: keypoint names (per individual).
        rows: ``(index cells, [keypoints of each individual])``; 3 index cells (DLC >= 2.2) or 1 (a path).
        individuals: names for a multi-animal project (adds the ``individuals`` header row), else None.
    """
    n_index = len(rows[0][0])
    inds = individuals or [None]
    header = {"scorer": [], "individuals": [], "bodyparts": [], "coords": []}
    for ind in inds:
        for bp in bodyparts:
            for c in ("x", "y"):
                header["scorer"].append(SCORER)
                header["individuals"].append(ind or "")
                header["bodyparts"].append(bp)
                header["coords"].append(c)
    levels = ["scorer", "individuals", "bodyparts", "coords"] if individuals else ["scorer", "bodyparts", "coords"]
    with open(path, "w", newline="") as f:
        wr = csv.writer(f)
        for lv in levels:
            wr.writerow([lv] + [""] * (n_index - 1) + header[lv])
        for index, per_ind in rows:
            cells = []
            for kps in per_ind:
                for k in kps:
                    cells += [fmt(None if k is None else k[0]), fmt(None if k is None else k[1])]
            wr.writerow(list(index) + cells)


def write_config(
    out: Path,
    kind: str,
    bodyparts: list[str],
    skeleton: list[list[str]],
    videos: list[str],
    size: tuple[int, int],
    individuals: list[str] | None,
) -> None:
    """A DeepLabCut ``config.yaml`` with the keys DLC 2.x / 3.x writes."""
    w, h = size
    multi = individuals is not None
    cfg: dict[str, Any] = {
        "Task": kind,
        "scorer": SCORER,
        "date": "Jan1",
        "multianimalproject": multi,
        "identity": False if multi else None,
        "project_path": str(out.resolve()),
        "engine": "pytorch",
        "video_sets": {str((out / "videos" / f"{v}.mp4").resolve()): {"crop": f"0, {w}, 0, {h}"} for v in videos},
        "bodyparts": "MULTI!" if multi else list(bodyparts),
    }
    if multi:
        cfg.update(individuals=list(individuals), uniquebodyparts=[], multianimalbodyparts=list(bodyparts))
    cfg.update(
        {
            "start": 0,
            "stop": 1,
            "numframes2pick": 20,
            "skeleton": skeleton,
            "skeleton_color": "black",
            "pcutoff": 0.6,
            "dotsize": 12,
            "alphavalue": 0.7,
            "colormap": "rainbow",
            "TrainingFraction": [0.95],
            "iteration": 0,
            "default_net_type": "resnet_50",
            "default_augmenter": "default",
            "snapshotindex": -1,
            "detector_snapshotindex": -1,
            "batch_size": 8,
            "cropping": False,
            "x1": 0,
            "x2": w,
            "y1": 0,
            "y2": h,
            "corner2move2": [50, 50],
            "move2corner": True,
        }
    )
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False))


# ----------------------------------------------------------------------------------------------
# a project
# ----------------------------------------------------------------------------------------------
def labeller(rng: np.random.Generator, kps: Keypoints, noise: float, skip: float = 0.02) -> Keypoints:
    """What a human clicks: the true point plus Gaussian noise; a few visible points left out."""
    out: Keypoints = []
    for k in kps:
        if k is None or rng.random() < skip:
            out.append(None)
        else:
            out.append([k[0] + noise * float(rng.standard_normal()), k[1] + noise * float(rng.standard_normal())])
    return out


def split_counts(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def draw_labels(img: np.ndarray, per_ind: list[Keypoints], names: list[str]) -> np.ndarray:
    """The frame with its labels: left-side parts red, right-side green, others blue; names beside."""
    out = img.copy()
    for kps in per_ind:
        for name, k in zip(names, kps):
            if k is None:
                continue
            low = name.lower()
            for paw, side in (("paw1lh", "l"), ("paw2lf", "l"), ("paw3rf", "r"), ("paw4rh", "r")):
                low = low.replace(paw, side)
            color = (0, 0, 255) if low.startswith("l") else (0, 200, 0) if low.startswith("r") else (255, 120, 0)
            p = (int(round(k[0] * 4)), int(round(k[1] * 4)))
            cv2.circle(out, p, 3 * 4, color, 1, cv2.LINE_AA, shift=2)
            cv2.putText(out, name, (p[0] // 4 + 4, p[1] // 4 - 3), cv2.FONT_HERSHEY_PLAIN, 0.7, color, 1, cv2.LINE_AA)
    return out


def make_project(
    out: Path,
    kind: str = "openfield",
    frames: int | None = None,
    heldout: int | None = None,
    seed: int = 0,
    label_noise: float = 1.0,
    preview: Path | None = None,
) -> dict[str, Any]:
    """Writes the project ``out`` and ``out``_heldout; returns a summary (paths, counts)."""
    if kind not in ("openfield", "mirror", "multi"):
        raise ValueError(f"unknown kind {kind!r} (openfield, mirror, multi)")
    kind_id = ("openfield", "mirror", "multi").index(kind)
    rng = np.random.default_rng([seed, kind_id])
    frames = frames or {"openfield": 100, "mirror": 80, "multi": 80}[kind]
    heldout = heldout or {"openfield": 40, "mirror": 30, "multi": 30}[kind]
    held = Path(str(out) + "_heldout")
    for d in (out, held):
        if d.exists():
            shutil.rmtree(d)
    n_train = 3
    individuals = None
    if kind == "mirror":
        project = dict(zoom=rng.uniform(0.95, 1.05), size=rng.uniform(0.92, 1.08))
        bodyparts, skeleton, size = MIRROR_PARTS, MIRROR_SKELETON, (396, 406)
        names = [f"1806{d:02d}_00{i}" for i, d in enumerate(rng.choice(np.arange(1, 29), 5, replace=False))]
        make_video = lambda r, c: mirror_video(r, project, c)  # noqa: E731
    else:
        project = openfield_project(rng)
        n_mice = int(rng.integers(2, 4)) if kind == "multi" else 1
        individuals = [f"mouse{i + 1}" for i in range(n_mice)] if kind == "multi" else None
        bodyparts, skeleton, size = OPENFIELD_PARTS, OPENFIELD_SKELETON, (640, 480)
        names = [f"m{int(rng.integers(1, 40))}_session{i + 1}" for i in range(5)]
        make_video = lambda r, c: openfield_video(r, project, c, n_mice)  # noqa: E731
    train_names, held_names = names[:n_train], names[n_train:]
    (out / "labeled-data").mkdir(parents=True)
    (out / "videos").mkdir()
    (held / "frames").mkdir(parents=True)
    all_rows: list[tuple[list[str], list[Keypoints]]] = []
    examples: list[tuple[str, np.ndarray, list[Keypoints]]] = []
    digits = 5
    for vid, count in zip(train_names, split_counts(frames, n_train)):
        vdir = out / "labeled-data" / vid
        vdir.mkdir()
        rows = []
        for f, img, kps in make_video(np.random.default_rng([seed, kind_id, 1, len(all_rows)]), count):
            fname = f"img{f:0{digits}d}.png"
            cv2.imwrite(str(vdir / fname), img)
            labels = [labeller(rng, k, label_noise) for k in kps]
            index = [f"labeled-data/{vid}/{fname}"] if kind == "mirror" else ["labeled-data", vid, fname]
            rows.append((index, labels))
            if len(examples) < 3 and len(rows) == 1:
                examples.append((f"{kind}_{vid}_{fname}", img, labels))
        write_dlc_csv(vdir / f"CollectedData_{SCORER}.csv", bodyparts, rows, individuals)
        all_rows += rows
    if kind == "mirror":  # lightning-pose keeps one CSV of all labelled frames at the project root
        write_dlc_csv(out / "CollectedData.csv", bodyparts, all_rows)
    write_config(out, kind, bodyparts, skeleton, train_names, size, individuals)
    truth: dict[str, Any] = {}
    for j, (vid, count) in enumerate(zip(held_names, split_counts(heldout, len(held_names)))):
        for f, img, kps in make_video(np.random.default_rng([seed, kind_id, 2, j]), count):
            fname = f"{vid}_img{f:0{digits}d}.png"
            cv2.imwrite(str(held / "frames" / fname), img)
            labels = [labeller(rng, k, label_noise) for k in kps]
            truth[fname] = labels if individuals else labels[0]
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in truth.items()]  # one frame per line
    (held / "ground_truth.json").write_text("{\n" + ",\n".join(lines) + "\n}\n")
    meta = dict(
        kind=kind,
        bodyparts=bodyparts,
        skeleton=skeleton,
        swap_pairs=SWAP_PAIRS[kind],
        individuals=individuals,
        frame_size=list(size),
        seed=seed,
        label_noise_px=label_noise,
        train_videos=train_names,
        heldout_videos=held_names,
        project=str(out),
    )
    (held / "meta.json").write_text(json.dumps(meta, indent=1))
    if preview is not None:
        preview.mkdir(parents=True, exist_ok=True)
        for name, img, labels in examples[:3]:
            cv2.imwrite(str(preview / name), draw_labels(img, labels, bodyparts))
    return dict(
        project=str(out),
        heldout=str(held),
        kind=kind,
        labelled_frames=len(all_rows),
        heldout_frames=len(truth),
        videos=train_names,
        heldout_videos=held_names,
        strain=project.get("strain"),
        individuals=individuals,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--out", type=Path, required=True, help="project folder (replaced); held-out frames go to OUT_heldout"
    )
    ap.add_argument("--kind", default="openfield", choices=["openfield", "mirror", "multi"])
    ap.add_argument("--frames", type=int, default=None, help="labelled frames (default 100 / 80 / 80)")
    ap.add_argument("--heldout", type=int, default=None, help="held-out frames (default 40 / 30 / 30)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--label-noise", type=float, default=1.0, help="labeller click noise, px (std)")
    ap.add_argument("--preview", type=Path, default=None, help="also write 3 labelled example frames here")
    args = ap.parse_args()
    summary = make_project(args.out, args.kind, args.frames, args.heldout, args.seed, args.label_noise, args.preview)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
