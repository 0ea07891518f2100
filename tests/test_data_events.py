"""Event datasets: on-disk formats, frame integration vs a hand count, cache keys, splits, augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from snnrepro.data.base import DatasetMissing
from snnrepro.data.events.event_frames import EventFrames, FrameSpec
from snnrepro.data.events.event_io import (
    read_aedat2_dvs128,
    read_nmnist,
    write_aedat2_dvs128,
    write_nmnist,
)
from snnrepro.data.events.frames import events_to_frames, segment_bounds
from snnrepro.registry import DATASETS

SAMPLE = Path("/work/shared/data/N-MNIST/sample/sample_nmnist.bin")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNREPRO_CACHE", str(tmp_path / "cache"))


def hand_count(x, y, p, frame_of, T, H, W):
    out = np.zeros((T, 2, H, W), np.float32)
    for xi, yi, pi, fi in zip(x, y, p, frame_of, strict=True):
        out[fi, int(pi != 0), yi, xi] += 1
    return out


def random_stream(rng, n, H, W, t_max=100_000):
    t = np.sort(rng.integers(0, t_max, n))
    return rng.integers(0, W, n), rng.integers(0, H, n), rng.integers(0, 2, n), t


def test_count_split_matches_hand_count_remainder_in_last_frame():
    x = np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 0])
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 2])
    p = np.array([0, 1, 0, 1, 0, 1, 0, 1, 1, 1])
    t = np.arange(10) * 7
    got = events_to_frames(x, y, p, t, (3, 4), 3, "count")
    # 10 events, T 3: floor(10/3) = 3 per frame, the last frame takes events 6..9
    expected = hand_count(x, y, p, [0, 0, 0, 1, 1, 1, 2, 2, 2, 2], 3, 3, 4)
    np.testing.assert_array_equal(got, expected)
    assert got[2, 1, 2, 0] == 2  # two ON events at (x=0, y=2) in the last frame


def test_time_split_matches_hand_count():
    t = np.array([0, 1, 2, 5, 6, 9, 10, 12])
    x = np.arange(8) % 4
    y = np.zeros(8, int)
    p = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    got = events_to_frames(x, y, p, t, (1, 4), 3, "time")
    # dt = floor(12/3) = 4: [0,4) [4,8) [8, end]
    expected = hand_count(x, y, p, [0, 0, 0, 1, 1, 2, 2, 2], 3, 1, 4)
    np.testing.assert_array_equal(got, expected)
    lo, hi = segment_bounds(t, 3, "time")
    assert lo.tolist() == [0, 3, 5] and hi.tolist() == [3, 5, 8]


def test_count_split_equals_tonic_toframe_when_events_divide_evenly():
    import tonic.transforms as tt

    rng = np.random.default_rng(0)
    x, y, p, t = random_stream(rng, 1600, 34, 34)
    ev = np.zeros(len(x), dtype=[("x", int), ("y", int), ("t", int), ("p", int)])
    ev["x"], ev["y"], ev["t"], ev["p"] = x, y, t, p
    ref = tt.ToFrame(sensor_size=(34, 34, 2), n_event_bins=16)(ev)
    np.testing.assert_array_equal(events_to_frames(x, y, p, t, (34, 34), 16, "count"), ref.astype(np.float32))


def test_bad_params_raise():
    with pytest.raises(ValueError, match="split_by"):
        events_to_frames(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), (2, 2), 2, "both")
    with pytest.raises(ValueError, match="outside"):
        events_to_frames(np.array([5]), np.zeros(1), np.zeros(1), np.zeros(1), (2, 2), 2, "count")
    with pytest.raises(ValueError, match="unknown dataset params"):
        DATASETS.get("nmnist").shape(frames=16)


@pytest.mark.skipif(not SAMPLE.is_file(), reason="shared N-MNIST sample absent")
def test_real_nmnist_sample():
    x, y, p, t = read_nmnist(SAMPLE)
    assert len(x) == 4325
    assert (x.min(), x.max(), y.min(), y.max()) == (0, 33, 0, 33)
    assert np.bincount(p).tolist() == [2180, 2145]
    assert (np.diff(t) >= 0).all() and t[0] == 654 and t[-1] == 311175
    fr = events_to_frames(x, y, p, t, (34, 34), 16, "count")
    assert fr.sum() == 4325 and fr[:, 0].sum() == 2180 and fr[:, 1].sum() == 2145
    assert fr.sum(axis=(1, 2, 3)).tolist() == [270.0] * 15 + [275.0]


def make_nmnist(root: Path, per_digit: int = 2) -> dict[str, int]:
    rng = np.random.default_rng(1)
    counts = {}
    for split in ("Train", "Test"):
        for d in range(10):
            folder = root / "NMNIST" / split / str(d)
            folder.mkdir(parents=True)
            for k in range(per_digit):
                n = 100 + 10 * d + k
                write_nmnist(folder / f"{k:05d}.bin", *random_stream(rng, n, 34, 34, 300_000))
                counts[f"{split}/{d}/{k:05d}"] = n
    return counts


def test_nmnist_binary_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    x, y, p, t = random_stream(rng, 500, 34, 34, 2**23 - 1)
    write_nmnist(tmp_path / "a.bin", x, y, p, t)
    assert (tmp_path / "a.bin").stat().st_size == 5 * 500
    rx, ry, rp, rt = read_nmnist(tmp_path / "a.bin")
    for a, b in ((x, rx), (y, ry), (p, rp), (t, rt)):
        np.testing.assert_array_equal(a, b)


def test_nmnist_loads_from_disk_layout(tmp_path):
    counts = make_nmnist(tmp_path)
    b = DATASETS.get("nmnist").load(tmp_path, download=False, T=4)
    assert (len(b.train), len(b.test)) == (20, 20)
    assert b.input_shape == (4, 2, 34, 34) and b.time_steps == 4 and b.num_classes == 10
    x, label = b.train[5]  # sorted: digit 2, file 1
    assert x.dtype == torch.float32 and x.shape == (4, 2, 34, 34)
    assert label == 2 and x.sum().item() == counts["Train/2/00001"]
    assert b.info["split"] == "official Train/Test"
    assert DATASETS.get("nmnist").check(tmp_path).status == "present"


def test_nmnist_missing_offline_names_files_md5_and_folder(tmp_path):
    with pytest.raises(DatasetMissing) as e:
        DATASETS.get("nmnist").load(tmp_path, download=False)
    msg = str(e.value)
    assert "train.zip" in msg and "20959b8e626244a1b502305a9e6e2031" in msg and "test.zip" in msg
    assert str(tmp_path / "NMNIST") in msg
    a = DATASETS.get("nmnist").check(tmp_path)
    assert a.status == "downloadable" and any("train.zip" in m for m in a.missing)


def test_frame_cache_is_keyed_by_every_param(tmp_path):
    make_nmnist(tmp_path, per_digit=1)
    src = DATASETS.get("nmnist")
    b4 = src.load(tmp_path, download=False, T=4)
    ds: EventFrames = b4.train  # type: ignore[assignment]
    first = ds[0][0]
    path4 = ds.cache_path(0)
    assert path4 is not None and path4.is_file()
    # the cache is really used: tamper with the cached frames, same params return the tampered copy
    np.save(path4, np.full(first.shape, 7.0, np.float32))
    assert src.load(tmp_path, download=False, T=4).train[0][0].max().item() == 7.0
    # any changed parameter must convert afresh, never reuse the stale (tampered) file
    for params in ({"T": 8}, {"T": 4, "split_by": "time"}, {"T": 4, "size": 17}):
        b = src.load(tmp_path, download=False, **params)
        fr = b.train[0][0]
        assert b.train.cache_path(0) != path4
        assert not (fr == 7.0).all() and fr.shape[0] == params["T"]
        assert torch.equal(fr, b.train.convert(0))  # exactly a fresh conversion of the recording
    # different T: genuinely different frames (sum preserved)
    b8 = src.load(tmp_path, download=False, T=8)
    assert b8.train[0][0].sum().item() == first.sum().item()
    # no cache at all
    nb = src.load(tmp_path, download=False, T=4, cache=False)
    assert nb.train.cache_path(0) is None and torch.equal(nb.train[0][0], first)


def test_frame_spec_key_changes_with_each_field():
    base = FrameSpec((34, 34), 16, "count")
    keys = {
        base.key("nmnist", "a.bin"),
        base.key("nmnist", "b.bin"),
        base.key("dvsgesture", "a.bin"),
        FrameSpec((34, 34), 8, "count").key("nmnist", "a.bin"),
        FrameSpec((34, 34), 16, "time").key("nmnist", "a.bin"),
        FrameSpec((34, 34), 16, "count", (17, 17)).key("nmnist", "a.bin"),
        FrameSpec((34, 34), 16, "count", (17, 17), "area").key("nmnist", "a.bin"),
    }
    assert len(keys) == 7


def make_gesture(root: Path) -> None:
    rng = np.random.default_rng(3)
    for split, users in (("ibmGestureTrain", (1, 2)), ("ibmGestureTest", (24,))):
        for u in users:
            folder = root / "DVSGesture" / split / f"user{u:02d}_fluorescent"
            folder.mkdir(parents=True)
            for label in range(11):
                n = 64
                x, y, p, t = random_stream(rng, n, 128, 128, 6000)
                np.save(folder / f"{label}.npy", np.stack([x, y, p, t // 1000], axis=1).astype(np.int64))


def test_dvsgesture_layout_classes_resize_and_counts(tmp_path):
    make_gesture(tmp_path)
    src = DATASETS.get("dvsgesture")
    b = src.load(tmp_path, download=False, T=8)
    assert (len(b.train), len(b.test), b.num_classes) == (22, 11, 11)
    assert b.info["sample_count"]["train"] == 22 and b.info["sample_count"]["test"] == 11
    x, y = b.train[0]
    assert x.shape == (8, 2, 128, 128) and x.sum().item() == 64
    b10 = src.load(tmp_path, download=False, T=8, classes=10, size=32)
    assert (len(b10.train), len(b10.test), b10.num_classes) == (20, 10, 10)
    assert b10.input_shape == (8, 2, 32, 32) and b10.train[0][0].shape == (8, 2, 32, 32)
    assert max(b10.train.targets) == 9
    assert src.shape(T=8, classes=10, size=32) == ((8, 2, 32, 32), 10)


def test_augmentation_only_on_train_and_keeps_shape(tmp_path):
    make_gesture(tmp_path)
    b = DATASETS.get("dvsgesture").load(tmp_path, download=False, T=4, crop_padding=16, hflip=True, rotation=5)
    torch.manual_seed(0)
    x, _ = b.train[0]
    assert x.shape == (4, 2, 128, 128) and x.sum().item() <= 64
    clean = b.train.frames(0)
    assert not torch.equal(x, clean)  # crop offset / flip / rotation moved events
    assert torch.equal(b.test[0][0], b.test.frames(0))  # the test split is never augmented


def test_cifar10dvs_aedat2_reader_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    x, y, p, t = random_stream(rng, 300, 128, 128)
    write_aedat2_dvs128(tmp_path / "a.aedat", x, y, p, t)
    rx, ry, rp, rt = read_aedat2_dvs128(tmp_path / "a.aedat")
    for a, b in ((x, rx), (y, ry), (p, rp), (t, rt)):
        np.testing.assert_array_equal(a, b)


def test_cifar10dvs_split_first_90_percent_per_class_in_file_name_order(tmp_path):
    from snnrepro.data.events.cifar10dvs import CLASSES

    rng = np.random.default_rng(5)
    for c in CLASSES:
        folder = tmp_path / "CIFAR10DVS" / c
        folder.mkdir(parents=True)
        for i in range(12):
            write_aedat2_dvs128(folder / f"cifar10_{c}_{i}.aedat", *random_stream(rng, 40, 128, 128))
    b = DATASETS.get("cifar10dvs").load(tmp_path, download=False, T=2)
    # 12 per class: ceil(0.9 * 12) = 11 train; sorted names run _0 _1 _10 _11 _2 ... _9, so _9 is the test file
    assert (len(b.train), len(b.test)) == (110, 10)
    assert [p.name for p, _ in b.test.samples] == [f"cifar10_{c}_9.aedat" for c in CLASSES]
    assert [label for _, label in b.test.samples] == list(range(10))
    assert "ceil(0.9*n)" in b.info["split"]
    assert b.train[0][0].shape == (2, 2, 128, 128) and b.train[0][0].sum().item() == 40
    b5 = DATASETS.get("cifar10dvs").load(tmp_path, download=False, T=2, train_ratio=0.5)
    assert (len(b5.train), len(b5.test)) == (60, 60)


def test_ntidigits_through_tonic(tmp_path):
    h5py = pytest.importorskip("h5py")
    folder = tmp_path / "NTIDIGITS18"
    folder.mkdir()
    rng = np.random.default_rng(6)
    with h5py.File(folder / "n-tidigits.hdf5", "w") as f:
        for part, ids in (("train", ["man-ab-1", "man-ab-z", "man-ab-12"]), ("test", ["woman-cd-o"])):
            f.create_dataset(f"{part}_labels", data=np.array([i.encode() for i in ids]))
            for i in ids:
                f.create_dataset(f"{part}_addresses/{i}", data=rng.integers(0, 64, 50))
                f.create_dataset(f"{part}_timestamps/{i}", data=np.sort(rng.random(50)))
    b = DATASETS.get("ntidigits").load(tmp_path, download=False, T=10)
    assert (len(b.train), len(b.test)) == (2, 1)  # the two-digit utterance is not a single digit
    x, label = b.train[1]
    assert x.shape == (1, 64, 10) and x.sum().item() == 50 and label == 10  # tonic maps z -> 10
    assert b.test[0][1] == 0  # and o -> 0
