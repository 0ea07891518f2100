"""Audio and sensor datasets: SPHERE/WAV readers, the shared feature pipeline, TIDIGITS/FSDD/GSC/AUSLAN layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from snnrepro.data.audio.audio_features import FeatureSpec, frame_signal, utterance_features
from snnrepro.data.audio.audio_io import SphereCompressed, read_audio, read_sphere, write_sphere
from snnrepro.data.base import DatasetMissing
from snnrepro.registry import DATASETS

FSDD = Path("/work/shared/data/FSDD/recordings")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SNNREPRO_CACHE", str(tmp_path / "cache"))


def tone(freq: float, n: int, sr: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 0.5 * np.sin(2 * np.pi * freq * np.arange(n) / sr) + 0.01 * rng.standard_normal(n)
    return (x * 32767).astype(np.int16)


def test_sphere_round_trip_and_compressed_detection(tmp_path):
    s = tone(440, 2000, 20000)
    write_sphere(tmp_path / "a.wav", s, 20000)
    x, sr = read_sphere(tmp_path / "a.wav")
    assert sr == 20000 and x.dtype == np.float32
    np.testing.assert_allclose(x, s / 32768.0)
    assert np.array_equal(read_audio(tmp_path / "a.wav")[0], x)  # detected by content despite .wav
    write_sphere(tmp_path / "b.wav", s, 20000, coding="pcm,embedded-shorten-v2.00")
    with pytest.raises(SphereCompressed, match="sph2pipe"):
        read_audio(tmp_path / "b.wav")
    (tmp_path / "c.wav").write_bytes(b"garbage!")
    with pytest.raises(ValueError, match="neither RIFF WAV nor NIST SPHERE"):
        read_audio(tmp_path / "c.wav")


def test_fit_framing_gives_exactly_n_frames_for_any_length():
    spec = FeatureSpec(features="fbank", n_features=30, n_frames=30, log=False, normalize="band_l1")
    for n in (800, 3517, 20000):
        assert frame_signal(np.ones(n), 8000, spec).shape[0] == 30
        f = utterance_features(tone(300, n, 8000) / 32768.0, 8000, spec)
        assert f.shape == (30, 30)
        np.testing.assert_allclose(f.sum(axis=1), 1.0, rtol=1e-5)  # band_l1: each band sums to 1 over frames


def test_fbank_matches_librosa_melspectrogram():
    """Independent reference: librosa's mel power spectrogram with the same window, hop and FFT size."""
    import librosa

    sr, n = 8000, 4000
    x = tone(440, n, sr) / 32768.0
    spec = FeatureSpec(features="fbank", n_features=30, n_frames=20, framing="fixed", normalize="none", log=False,
                       win_ms=32, hop_ms=16)
    ours = utterance_features(x, sr, spec)
    ref = librosa.feature.melspectrogram(y=x.astype(np.float64), sr=sr, n_fft=512, hop_length=128, win_length=256,
                                         window=np.hamming(256), center=False, power=2.0, n_mels=30, htk=True,
                                         norm=None, fmin=0.0, fmax=sr / 2) / 512
    # librosa centres the 256-sample window in its 512-sample FFT frame: its frame k is our frame k + 1
    np.testing.assert_allclose(ours[:, 1:], ref[:, :19], rtol=1e-4, atol=1e-10)


def test_mfcc_is_dct_of_log_mel():
    from scipy.fft import dct

    x = tone(300, 5000, 8000) / 32768.0
    mf = utterance_features(x, 8000, FeatureSpec(n_features=13, n_frames=40, normalize="none"))
    fb = utterance_features(x, 8000, FeatureSpec(features="fbank", n_features=40, n_frames=40, normalize="none",
                                                 log=True))
    np.testing.assert_allclose(mf, dct(fb, type=2, norm="ortho", axis=0)[:13], rtol=1e-4, atol=1e-4)


def make_tidigits(root: Path) -> None:
    base = root / "TIDIGITS" / "tidigits"
    for split, group, spk in (("train", "man", "ab"), ("train", "woman", "cd"), ("test", "man", "ef"),
                              ("train", "boy", "gh")):
        d = base / split / group / spk
        d.mkdir(parents=True)
        for k, ch in enumerate("z123456789o"):
            write_sphere(d / f"{ch}a.wav", tone(200 + 40 * k, 6000 + 100 * k, 20000, k), 20000)
        write_sphere(d / "12a.wav", tone(100, 6000, 20000), 20000)  # a digit string: not isolated


def test_tidigits_layout_classes_features_and_licence(tmp_path):
    src = DATASETS.get("tidigits")
    a = src.check(tmp_path)
    assert a.status == "licensed" and "LDC93S10" in a.note
    with pytest.raises(DatasetMissing, match="licensed"):
        src.load(tmp_path, download=True)
    make_tidigits(tmp_path)
    assert src.check(tmp_path).status == "present"
    b = src.load(tmp_path, download=False)
    assert (len(b.train), len(b.test), b.num_classes) == (22, 11, 11)  # adults only: man + woman in train
    assert b.input_shape == (1, 20, 90) and b.train[0][0].shape == (1, 20, 90)
    assert sorted(int(y) for _, y in b.test) == list(range(11))  # z=0, 1..9, o=10
    b10 = src.load(tmp_path, download=False, classes=10, speakers="all", features="fbank")
    assert (len(b10.train), len(b10.test), b10.num_classes) == (30, 10, 10)
    assert b10.input_shape == (1, 30, 30)
    torch.testing.assert_close(b10.train[0][0].sum(-1), torch.ones(1, 30))  # BRP: band-L1-normalised, no log
    r = src.load(tmp_path, download=False, split="random70")
    assert len(r.train) + len(r.test) == 33 and len(r.train) == 23


def make_fsdd(root: Path) -> None:
    rec = root / "FSDD" / "recordings"
    rec.mkdir(parents=True)
    for digit in range(10):
        for idx in range(7):
            wavfile.write(rec / f"{digit}_jackson_{idx}.wav", 8000, tone(150 + 60 * digit, 3000, 8000, idx))


def test_fsdd_split_and_feature_cache(tmp_path):
    make_fsdd(tmp_path)
    src = DATASETS.get("fsdd")
    b = src.load(tmp_path, download=False)
    assert (len(b.train), len(b.test)) == (20, 50)  # index 0-4 test, 5-49 train
    assert b.input_shape == (1, 20, 90)
    cached = sorted((tmp_path / "cache" / "features" / "fsdd").glob("*.pt"))
    assert len(cached) == 2
    src.load(tmp_path, download=False)
    assert sorted((tmp_path / "cache" / "features" / "fsdd").glob("*.pt")) == cached  # reused
    src.load(tmp_path, download=False, n_frames=45)
    assert len(list((tmp_path / "cache" / "features" / "fsdd").glob("*.pt"))) == 4  # new params, new entries
    assert src.check(tmp_path / "nowhere").status == "downloadable"


@pytest.mark.skipif(not FSDD.is_dir(), reason="shared FSDD absent")
def test_real_fsdd_2700_300_and_a_relu_net_learns_it():
    from snnrepro.models.relu import build

    root = FSDD.parent.parent
    b = DATASETS.get("fsdd").load(root, download=False)
    assert (len(b.train), len(b.test)) == (2700, 300)
    assert b.input_shape == (1, 20, 90) and b.num_classes == 10
    xtr, ytr = b.train.tensors
    xte, yte = b.test.tensors
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny MLP: extra threads only contend
    try:
        net = build("1800-128-10", (1, 20, 90), 10)
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        for _ in range(8):
            perm = torch.randperm(len(ytr))
            for i in range(0, len(ytr), 100):
                idx = perm[i : i + 100]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(xtr[idx]), ytr[idx]).backward()
                opt.step()
        with torch.no_grad():
            acc = (net(xte).argmax(1) == yte).float().mean().item()
    finally:
        torch.set_num_threads(threads)
    assert acc > 0.8, acc  # chance is 0.1


def make_gsc(root: Path) -> None:
    from snnrepro.data.audio.gsc import WORDS

    folder = root / "SpeechCommands" / "speech_commands_v0.02"
    val, tst = [], []
    for k, w in enumerate(WORDS):
        (folder / w).mkdir(parents=True)
        n_train = 3 if k == 0 else 1
        for i in range(n_train + 2):
            name = f"{i:08x}_nohash_0.wav"
            wavfile.write(folder / w / name, 16000, tone(100 + 10 * k, 12000 if i else 17000, 16000, i))
            if i == n_train:
                val.append(f"{w}/{name}")
            elif i == n_train + 1:
                tst.append(f"{w}/{name}")
    (folder / "_background_noise_").mkdir()
    (folder / "validation_list.txt").write_text("\n".join(val) + "\n")
    (folder / "testing_list.txt").write_text("\n".join(tst) + "\n")


def test_gsc_lists_clip_length_and_rebalance(tmp_path):
    from snnrepro.data.audio.gsc import GscSource, balanced_indices

    make_gsc(tmp_path)
    src = DATASETS.get("gsc")
    b = src.load(tmp_path, download=False)
    assert b.num_classes == 35 and b.input_shape == (1, 40, 98)
    assert len(b.test) == 35 and b.info["n_train_before_rebalance"] == 37
    counts = torch.bincount(b.train.tensors[1], minlength=35)
    assert (counts == 3).all()  # every class topped up to the largest (3)
    nb = src.load(tmp_path, download=False, rebalance=False)
    assert len(nb.train) == 37
    x, sr = GscSource().read(tmp_path / "SpeechCommands" / "speech_commands_v0.02" / "bed" / "00000000_nohash_0.wav",
                             {})
    assert x.shape == (16000,) and sr == 16000  # 17000 samples cropped to 1 s
    y = np.array([0, 0, 0, 0, 1, 2, 2])
    idx = balanced_indices(y)
    assert np.bincount(y[idx]).tolist() == [4, 4, 4] and set(idx[7:]) <= {4, 5, 6}


def make_auslan(root: Path, days=(1, 2, 7)) -> None:
    rng = np.random.default_rng(7)
    signs = [f"sign{k:02d}" for k in range(94)] + ["hurry-up"]  # a sign name with a hyphen
    for day in days:
        d = root / "AUSLAN" / "tctodd" / f"tctodd{day}"
        d.mkdir(parents=True)
        for s in signs:
            n = int(rng.integers(30, 60))
            rows = rng.standard_normal((n, 22)).round(4)
            rows[:, 0] = np.linspace(0, 1, n)
            (d / f"{s}-1.tsd").write_text("\n".join("\t".join(map(str, r)) for r in rows) + "\n")


def test_auslan_split_by_day_and_fixed_length(tmp_path):
    src = DATASETS.get("auslan")
    assert src.check(tmp_path).status == "downloadable"
    make_auslan(tmp_path)
    b = src.load(tmp_path, download=False, test_days=[7], normalize="none")
    assert (len(b.train), len(b.test), b.num_classes) == (190, 95, 95)
    assert b.input_shape == (1, 22, 45) and b.train[0][0].shape == (1, 22, 45)
    np.testing.assert_allclose(b.train[0][0][0, 0].numpy(), np.linspace(0, 1, 45), atol=1e-6)  # a ramp stays a ramp
    p = src.load(tmp_path, download=False, test_days=[7], fit="pad", length=80, normalize="none")
    assert p.input_shape == (1, 22, 80) and (p.train[0][0][0, :, 60:] == 0).all()  # zero-padded past the end
    z = src.load(tmp_path, download=False, test_days=[7])
    assert abs(z.train.tensors[0].mean().item()) < 1e-4
    with pytest.raises(ValueError, match="test_days"):
        src.shape(test_days=list(range(1, 10)))
