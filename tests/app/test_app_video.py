"""lit-heatmap-predict on videos (issue: videos in, tracks out) and the predict fixes that go with it.

Videos are written here with cv2.VideoWriter (mp4v and MJPG): a bright square moves by a known amount
per frame, so that a frame's index can be read off its pixels. Oracles: the image path of predict on
the same decoded frames saved as PNG, pandas for the tables, a full ``VideoCapture.read()`` loop for
frame counts, onnxruntime through ``model=...onnx``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

from lit_heatmap.predict import NothingReadableError, predict
from lit_heatmap.train import train
from lit_heatmap.video import parse_frames, probe_video, read_frames
from tests.app.app_helpers import TINY, TINY_HEAD, cli, cli_env
from tests.app.conftest import compose_cfg

pd = pytest.importorskip("pandas")

W, H, N = 96, 64, 12  # video size and frames
FPS = 25.0


def _have_pyav() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


BACKENDS = ["opencv", "pyav"] if _have_pyav() else ["opencv"]


def blob_x(i: int) -> int:
    """The moving square's left edge in frame ``i`` (the frame's 'known keypoint')."""
    return 8 + 6 * i


def write_video(path: Path, fourcc: str, n: int = N) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (W, H))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 120, (H // 8, W // 8, 3), dtype=np.uint8), (W, H), interpolation=cv2.INTER_CUBIC)
    for i in range(n):
        img = base.copy()
        img[20:36, blob_x(i) : blob_x(i) + 12] = 255
        writer.write(img)
    writer.release()
    return path


def corrupt_mjpeg_frame(src: Path, dst: Path, frame: int) -> Path:
    """A copy of an MJPG AVI whose ``frame``-th JPEG is zeroed (FFmpeg fails to decode it)."""
    data = bytearray(src.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    end = data.index(b"\xff\xd9", starts[frame])  # its end-of-image marker
    data[starts[frame] : end + 2] = b"\x00" * (end + 2 - starts[frame])
    dst.write_bytes(bytes(data))
    return dst


def cv2_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a full ``VideoCapture.read()`` loop (RGB): the independent frame count."""
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return out


def blob_left(frame: np.ndarray) -> int:
    row = frame[28].astype(int).sum(-1)
    return int(np.argmax(row > 600))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny training run (synthetic, 64x64, 1 epoch of 2 batches): its best checkpoint."""
    out = tmp_path_factory.mktemp("train")
    try:
        _, objects = train(compose_cfg("train", [*TINY, *TINY_HEAD], out))
    finally:
        GlobalHydra.instance().clear()
    return Path(objects["best_model_path"])


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    avi = write_video(d / "mjpg.avi", "MJPG")
    bad_dir = d / "bad"
    bad_dir.mkdir()
    return {
        "mp4v": write_video(d / "mp4v.mp4", "mp4v"),
        "mjpg": avi,
        "corrupt": corrupt_mjpeg_frame(avi, bad_dir / "mjpg.avi", 5),
    }


def run_predict(out: Path, *overrides: str) -> list[dict[str, Any]]:
    try:
        return predict(compose_cfg("predict", ["progress=false", *overrides], out))
    finally:
        GlobalHydra.instance().clear()


def read_table(path: Path, levels: int = 3) -> Any:
    return pd.read_csv(path, header=list(range(levels)), index_col=0)


# ------------------------------------------------------------------------------------------------ frames
@pytest.mark.parametrize("backend", BACKENDS)
def test_frame_indices_are_exact(videos, backend: str) -> None:
    for name in ("mp4v", "mjpg"):
        path = videos[name]
        info = probe_video(path, backend)
        got = list(read_frames(path, parse_frames(None), backend, info.fps))
        assert [i for i, _ in got] == list(range(len(cv2_frames(path)))) == list(range(N))
        assert [blob_left(f) for _, f in got] == [blob_x(i) for i in range(N)]
        part = list(read_frames(path, parse_frames("2:10:3"), backend, info.fps))
        assert [i for i, _ in part] == [2, 5, 8] and [blob_left(f) for _, f in part] == [blob_x(i) for i in (2, 5, 8)]
    got = list(read_frames(videos["corrupt"], parse_frames(None), backend, FPS))
    assert [i for i, _ in got] == list(range(N))
    assert [i for i, f in got if f is None] == [5]
    assert all(blob_left(f) == blob_x(i) for i, f in got if f is not None)


@pytest.mark.parametrize(
    "spec, message", [("5", "START:STOP"), ("a:b", "START:STOP"), ("1:9:0", "STEP >= 1"), ("5:5", "START < STOP")]
)
def test_frames_spec_errors_name_the_key(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        parse_frames(spec)
    assert "frames=" in str(err.value)


# --------------------------------------------------------------------------------------- video vs PNG
@pytest.mark.parametrize("codec", ["mp4v", "mjpg"])
def test_video_predictions_equal_png_predictions(ckpt, videos, codec: str, tmp_path: Path) -> None:
    """Every row of ``<stem>.csv`` equals the image prediction of the same decoded frame saved as PNG
    (within 0.01 px); the table has DeepLabCut's single-animal layout and one row per frame."""
    video = videos[codec]
    out = tmp_path / "out"
    run_predict(tmp_path, f"ckpt_path={ckpt}", f"input={video}", f"output={out}", "video_backend=opencv")
    frames = cv2_frames(video)
    pngs = tmp_path / "png"
    pngs.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(pngs / f"{i:06d}.png"), f[:, :, ::-1])
    results = run_predict(tmp_path, f"ckpt_path={ckpt}", f"input={pngs}", f"output={tmp_path / 'img'}")
    by_id = {r["image_id"]: np.asarray(r["keypoints"]).reshape(-1, 3) for r in results}

    table = read_table(out / f"{video.stem}.csv")
    names = torch.load(ckpt, map_location="cpu", weights_only=True)["hyper_parameters"]["meta"]["keypoint_names"]
    assert table.columns.names == ["scorer", "bodyparts", "coords"]
    assert set(table.columns.get_level_values("scorer")) == {"lit_heatmap"}
    assert list(table.columns.get_level_values("bodyparts")[::3]) == list(names)
    assert list(table.columns.get_level_values("coords")) == ["x", "y", "likelihood"] * len(names)
    assert list(table.index) == list(range(len(frames))) == list(range(N))
    got = table.to_numpy().reshape(N, len(names), 3)
    want = np.stack([by_id[i] for i in range(N)])
    np.testing.assert_allclose(got[..., :2], want[..., :2], atol=0.01)
    np.testing.assert_allclose(got[..., 2], want[..., 2], atol=1e-4)
    side = json.loads((out / f"{video.stem}.json").read_text())
    assert side["frames"] == N and side["fps"] == pytest.approx(FPS) and side["backend"] == "opencv"
    assert side["input_size"] == [64, 64] and side["model"] == str(ckpt.resolve()) and "Decoder" in side["decoder"]
    assert side["corrupt_frames"] == [] and side["elapsed_s"] > 0


# ------------------------------------------------------------------------------------- corrupt frames
def test_corrupt_frame_is_a_nan_row_and_rows_stay_aligned(ckpt, videos, tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    run_predict(tmp_path, f"ckpt_path={ckpt}", f"input={videos['mjpg']}", f"output={good}", "video_backend=opencv")
    run_predict(tmp_path, f"ckpt_path={ckpt}", f"input={videos['corrupt']}", f"output={bad}", "video_backend=opencv")
    a, b = read_table(good / "mjpg.csv"), read_table(bad / "mjpg.csv")
    assert list(b.index) == list(range(N))
    assert b.loc[5].isna().all() and not b.drop(index=5).isna().any().any()
    np.testing.assert_allclose(b.drop(index=5).to_numpy(), a.drop(index=5).to_numpy(), atol=1e-4)
    assert json.loads((bad / "mjpg.json").read_text())["corrupt_frames"] == [5]


# ----------------------------------------------------------------------------------- resume and skip
def test_existing_outputs_are_skipped_unless_overwrite(ckpt, videos, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    args = [f"ckpt_path={ckpt}", f"input={videos['mp4v']}", f"output={out}", "frames=0:4"]
    run_predict(tmp_path, *args)
    csv, side = out / "mp4v.csv", out / "mp4v.json"
    csv.write_text(csv.read_text() + "# marker\n")  # a rerun must not touch it
    run_predict(tmp_path, *args)
    assert csv.read_text().endswith("# marker\n")
    assert "outputs exist, skipped" in capsys.readouterr().out
    side.unlink()  # a missing output is made, the existing ones stay
    run_predict(tmp_path, *args)
    assert side.is_file() and csv.read_text().endswith("# marker\n")
    run_predict(tmp_path, *args, "overwrite=true")
    assert "# marker" not in csv.read_text() and list(read_table(csv).index) == [0, 1, 2, 3]
    assert not list(out.glob("*.partial*"))


# ------------------------------------------------------------------------- labelled video and filter
def test_labeled_video_and_median_filter(ckpt, videos, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_predict(
        tmp_path,
        f"ckpt_path={ckpt}",
        f"input={videos['corrupt'].parent}",
        f"output={out}",
        "save_video=true",
        "filter=median",
        "filter_window=3",
        "video_backend=opencv",
    )
    labeled = cv2_frames(out / "mjpg_labeled.mp4")
    cap = cv2.VideoCapture(str(out / "mjpg_labeled.mp4"))
    assert len(labeled) == N and labeled[0].shape == (H, W, 3) and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    assert labeled[5].max() < 30  # the corrupt frame: a blank frame keeps the video aligned
    raw, filt = read_table(out / "mjpg.csv"), read_table(out / "mjpg_filtered.csv")
    assert list(filt.index) == list(raw.index) and list(filt.columns) == list(raw.columns)
    xy = [c for c in raw.columns if c[2] != "likelihood"]
    oracle = raw[xy].rolling(3, center=True, min_periods=1).median()
    oracle.loc[5] = np.nan
    np.testing.assert_allclose(filt[xy].to_numpy(), oracle.to_numpy(), atol=1e-9)
    lk = [c for c in raw.columns if c[2] == "likelihood"]
    np.testing.assert_array_equal(filt[lk].to_numpy(), raw[lk].to_numpy())


# -------------------------------------------------------------------------------------- multi-animal
def test_multi_animal_table_with_boxes(ckpt, videos, tmp_path: Path) -> None:
    """Boxes per frame: four header rows (individuals), instances best first; each equals the image
    path's prediction for the same box on the frame saved as PNG; a frame with one box has NaN for
    individual1."""
    video = videos["mp4v"]
    boxes = [{"frame": i, "bbox": [0, 0, 48, 64], "score": 0.9} for i in range(3)]
    boxes += [{"frame": i, "bbox": [40, 8, 56, 48], "score": 0.8} for i in (0, 2)]
    det = tmp_path / "boxes.json"
    det.write_text(json.dumps(boxes))
    out = tmp_path / "out"
    run_predict(
        tmp_path,
        f"ckpt_path={ckpt}",
        f"input={video}",
        f"output={out}",
        f"boxes={det}",
        "frames=0:3",
        "nms_threshold=null",
        "video_backend=opencv",
    )
    table = read_table(out / "mp4v.csv", 4)
    assert table.columns.names == ["scorer", "individuals", "bodyparts", "coords"]
    assert list(dict.fromkeys(table.columns.get_level_values("individuals"))) == ["individual0", "individual1"]
    assert list(table.index) == [0, 1, 2]
    assert table.loc[1, (slice(None), "individual1")].isna().all()
    frame0 = cv2_frames(video)[0]
    png = tmp_path / "png"
    png.mkdir()
    cv2.imwrite(str(png / "0.png"), frame0[:, :, ::-1])
    img_det = tmp_path / "img_boxes.json"
    img_det.write_text(json.dumps([{**b, "file_name": "0.png"} for b in boxes if b["frame"] == 0]))
    results = run_predict(
        tmp_path,
        f"ckpt_path={ckpt}",
        f"input={png}",
        f"output={tmp_path / 'img'}",
        f"boxes={img_det}",
        "nms_threshold=null",
    )
    results.sort(key=lambda r: -r["score"])
    k = len(results[0]["keypoints"]) // 3
    got = table.loc[0].to_numpy().reshape(2, k, 3)
    want = np.stack([np.asarray(r["keypoints"]).reshape(k, 3) for r in results])
    np.testing.assert_allclose(got, want, atol=0.01)


# ------------------------------------------------------------------------------------ nothing readable
def test_nothing_readable_exits_nonzero(tmp_path: Path, ckpt, videos, capsys) -> None:
    """The console script on a folder with only a broken video, then only a broken image: exit != 0,
    the file named; the in-process call raises NothingReadableError."""
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "session.mp4").write_text("not a video")
    (tmp_path / "i").mkdir()
    (tmp_path / "i" / "photo.png").write_text("not an image")
    with pytest.raises(NothingReadableError):
        run_predict(tmp_path, f"ckpt_path={ckpt}", f"input={tmp_path / 'i'}", f"output={tmp_path / 'o'}")
    assert not (tmp_path / "o" / "results.json").exists()
    mixed = tmp_path / "mixed"  # one readable video: exit 0, the broken one named and counted
    mixed.mkdir()
    (mixed / "broken.avi").write_text("not a video")
    (mixed / "good.mp4").write_bytes(videos["mp4v"].read_bytes())
    run_predict(tmp_path, f"ckpt_path={ckpt}", f"input={mixed}", f"output={tmp_path / 'm'}", "frames=0:2")
    out = capsys.readouterr().out
    assert "broken.avi" in out and "1 predicted, 0 already done, 1 unreadable" in out
    assert (tmp_path / "m" / "good.csv").is_file() and not (tmp_path / "m" / "broken.csv").exists()
    for folder, name in (("v", "session.mp4"), ("i", "photo.png")):
        proc = subprocess.run(
            [cli("lit-heatmap-predict"), f"ckpt_path={ckpt}", f"input={tmp_path / folder}", "output=preds"],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode != 0, proc.stdout + proc.stderr
        assert name in proc.stdout + proc.stderr and "nothing was readable" in proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------------- ONNX
@pytest.mark.parametrize("batch", ["dynamic", "1", "5"])
def test_onnx_video_equals_checkpoint_video(ckpt, videos, tmp_path: Path, batch: str) -> None:
    """model=<file.onnx> on a video gives the checkpoint's table; a fixed-batch export (1, 5) runs in
    chunks of its batch, the last partial one included (7 frames, batch_size=4)."""
    pytest.importorskip("onnxruntime")
    from lit_heatmap.export import export

    onnx_path = tmp_path / f"model_{batch}.onnx"
    try:
        export(
            compose_cfg(
                "export", [f"ckpt_path={ckpt}", "format=onnx", f"output={onnx_path}", f"batch={batch}"], tmp_path
            )
        )
    finally:
        GlobalHydra.instance().clear()
    common = [f"input={videos['mp4v']}", "frames=0:7", "batch_size=4", "video_backend=opencv"]
    run_predict(tmp_path, f"ckpt_path={ckpt}", f"output={tmp_path / 'ckpt'}", *common)
    run_predict(tmp_path, f"model={onnx_path}", f"output={tmp_path / 'onnx'}", *common)
    a, b = read_table(tmp_path / "ckpt" / "mp4v.csv"), read_table(tmp_path / "onnx" / "mp4v.csv")
    assert list(b.index) == list(range(7))
    np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), atol=1e-3)
    assert json.loads((tmp_path / "onnx" / "mp4v.json").read_text())["model"] == str(onnx_path.resolve())
    if batch != "dynamic":  # images too (19.11): 3 images, batch_size=16
        pngs = tmp_path / "png"
        pngs.mkdir()
        for i, f in enumerate(cv2_frames(videos["mp4v"])[:3]):
            cv2.imwrite(str(pngs / f"{i}.png"), f[:, :, ::-1])
        ra = run_predict(tmp_path, f"ckpt_path={ckpt}", f"input={pngs}", f"output={tmp_path / 'ia'}")
        rb = run_predict(tmp_path, f"model={onnx_path}", f"input={pngs}", f"output={tmp_path / 'ib'}")
        np.testing.assert_allclose([r["keypoints"] for r in rb], [r["keypoints"] for r in ra], atol=1e-3)


# --------------------------------------------------------------------------------- boxes padding (19.7)
def test_box_padding_defaults_to_the_checkpoints(ckpt, videos, tmp_path: Path) -> None:
    """A checkpoint trained with padding 1.0: predict boxes= without box_padding crops like
    box_padding=1.0, not like the old fixed 1.25."""
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    state["hyper_parameters"]["meta"]["padding"] = 1.0
    custom = tmp_path / "padding1.ckpt"
    torch.save(state, custom)
    png = tmp_path / "png"
    png.mkdir()
    cv2.imwrite(str(png / "0.png"), cv2_frames(videos["mp4v"])[0][:, :, ::-1])
    det = tmp_path / "boxes.json"
    det.write_text(json.dumps([{"file_name": "0.png", "bbox": [20, 10, 40, 40], "score": 1.0}]))
    runs = {
        pad: run_predict(
            tmp_path,
            f"ckpt_path={custom}",
            f"input={png}",
            f"output={tmp_path / str(pad)}",
            f"boxes={det}",
            *([] if pad is None else [f"box_padding={pad}"]),
        )[0]["keypoints"]
        for pad in (None, 1.0, 1.25)
    }
    assert runs[None] == runs[1.0] and runs[None] != runs[1.25]


# ------------------------------------------------------------------------------------------------- h5
def test_h5_only_with_tables(ckpt, videos, tmp_path: Path, monkeypatch, capsys) -> None:
    """With pandas + tables the .h5 holds the CSV's table (DeepLabCut's key); without them no .h5, and
    the run says so."""
    from lit_heatmap import tracks

    args = [f"ckpt_path={ckpt}", f"input={videos['mp4v']}", "frames=0:3"]
    if tracks.h5_available():
        run_predict(tmp_path, *args, f"output={tmp_path / 'a'}")
        h5 = pd.read_hdf(tmp_path / "a" / "mp4v.h5", "df_with_missing")
        csv = read_table(tmp_path / "a" / "mp4v.csv")
        assert list(h5.index) == [0, 1, 2] and list(h5.columns) == list(csv.columns)
        np.testing.assert_allclose(h5.to_numpy(), csv.to_numpy(), rtol=0, atol=0)
    monkeypatch.setattr(tracks, "h5_available", lambda: False)
    run_predict(tmp_path, *args, f"output={tmp_path / 'b'}")
    assert (tmp_path / "b" / "mp4v.csv").is_file() and not (tmp_path / "b" / "mp4v.h5").exists()
    assert "no .h5 tables" in capsys.readouterr().out
    assert "h5" not in json.loads((tmp_path / "b" / "mp4v.json").read_text())["outputs"]
