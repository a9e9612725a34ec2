"""Tests of ``tfp-flows`` for conditional flows: ``fit --context-columns`` on a CSV / .npy,
``fit --data digits --condition-on-labels``, and ``sample`` / ``log-prob`` with
``--context``, ``--context-file``, ``--label`` and the context columns found in the data
file, each command in a fresh process (fit in one, sample / log-prob in another, from the
saved files), with tiny settings.

The toy set is well separated: ``x1 = +-4 + 0.5 e`` by ``group`` in {0, 1}, ``x2 = 3 t + 0.3
e`` with ``t ~ U(-1, 1)``, so a flow that uses its context scores rows given their own
context far above the same rows given the other group."""
import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tfp_flows_cli import build_parser, main
from tfp_flows_cli.errors import ERROR_PREFIX

HEADER = ["x1", "group", "x2", "t"]
FIT_VECTOR = ["fit", "--data", "data.csv", "--flow", "maf", "--context-columns", "group,t",
              "--epochs", "15", "--num-layers", "2", "--hidden-units", "16", "--learning-rate", "5e-3",
              "--batch-size", "64", "-q", "--out", "vec"]
FIT_LABELS = ["fit", "--data", "digits", "--flow", "glow", "--condition-on-labels",
              "--epochs", "1", "--hidden-channels", "4", "--num-steps", "1", "--batch-size",
              "100", "--n-train", "200", "-q", "--out", "dig"]

def _toy_rows(n=600, seed=0):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n).astype(float)
    t = rng.uniform(-1.0, 1.0, n)
    x1 = np.where(group == 1, 4.0, -4.0) + 0.5 * rng.normal(size=n)
    x2 = 3.0 * t + 0.3 * rng.normal(size=n)
    return np.stack([x1, group, x2, t], axis=1)


def _write_csv(path, rows, header=None):
    lines = [",".join(header)] if header else []
    lines += [",".join(f"{v:.9g}" for v in row) for row in rows]
    Path(path).write_text("\n".join(lines) + "\n")


def _read_csv(path):
    lines = Path(path).read_text().splitlines()
    return lines[0].split(","), np.array([[float(v) for v in line.split(",")]
                                          for line in lines[1:]])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, cli_env):
    """A folder with the toy data and two models fitted by ``python -m tfp_flows_cli fit``
    (two processes at once): ``vec/`` (p(x1, x2 | group, t)) and ``dig/`` (p(digit |
    label))."""
    folder = tmp_path_factory.mktemp("conditional")
    rows = _toy_rows()
    _write_csv(folder / "data.csv", rows, HEADER)
    np.save(folder / "data.npy", rows)
    runs = [subprocess.Popen([sys.executable, "-m", "tfp_flows_cli", *argv], cwd=folder,
                             env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for argv in (FIT_VECTOR, FIT_LABELS)]
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        assert err == "", err
        assert out.startswith("fitted"), out
    return folder


@pytest.fixture(scope="module")
def used(fitted, run_cli):
    """``sample`` and ``log-prob`` with the saved models, all in one fresh process (not the
    one that fitted them); returns ``{command: [status, stderr, tf_imported]}``."""
    folder = fitted
    rows = _toy_rows()
    flipped = rows.copy()
    flipped[:, 1] = 1.0 - flipped[:, 1]
    _write_csv(folder / "flipped.csv", flipped, HEADER)
    order = [3, 2, 1, 0]   # t, x2, group, x1: found by name
    _write_csv(folder / "reordered.csv", rows[:, order], [HEADER[i] for i in order])
    _write_csv(folder / "xonly.csv", rows[:, [0, 2]], ["x1", "x2"])
    np.save(folder / "contexts.npy", rows[:, [1, 3]])
    _write_csv(folder / "ctx.csv", [[0.0, 0.0], [1.0, 0.5]], ["group", "t"])
    _write_csv(folder / "ctx_swapped.csv", [[0.5, 1.0]], ["t", "group"])
    _write_csv(folder / "nan.csv", [[0.0, 0.0], [1.0, float("nan")]], ["group", "t"])
    (folder / "alone").mkdir()
    shutil.copy(folder / "vec" / "model.keras", folder / "alone" / "model.keras")
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.save(folder / "images.npy", digits.images[:12].astype(np.uint8))
    np.save(folder / "labels.npy", digits.target[:12])
    np.save(folder / "threes.npy", np.full(12, 3))
    vec, dig = "vec/model.keras", "dig/model.keras"
    commands = {
        "s1": ["sample", vec, "-n", "200", "--context", "1,0.5", "--out", "s1.csv"],
        "s0": ["sample", vec, "-n", "200", "--context", "0,-0.5", "--out", "s0.npy"],
        "sfile": ["sample", vec, "-n", "5", "--context-file", "ctx.csv", "--out",
                  "sfile.npy"],
        "sdata": ["sample", vec, "-n", "1", "--context-file", "data.csv", "--out",
                  "sdata.csv"],
        "sswapped": ["sample", vec, "-n", "4", "--context-file", "ctx_swapped.csv",
                     "--out", "sswapped.npy"],
        "salone": ["sample", "alone/model.keras", "-n", "3", "--context", "1,0.5", "--out",
                   "salone.csv"],
        "lp": ["log-prob", vec, "data.csv", "--out", "lp.csv"],
        "lp_flipped": ["log-prob", vec, "flipped.csv", "--out", "lp_flipped.csv"],
        "lp_reordered": ["log-prob", vec, "reordered.csv", "--out", "lp_reordered.csv"],
        "lp_npy": ["log-prob", vec, "data.npy", "--out", "lp_npy.csv"],
        "lp_alone": ["log-prob", "alone/model.keras", "data.npy", "--context-columns", "1,3",
                     "--out", "lp_alone.csv"],
        "lp_xonly": ["log-prob", vec, "xonly.csv", "--context-file", "contexts.npy", "--out",
                     "lp_xonly.csv"],
        "lp_x_named": ["log-prob", vec, "reordered.csv", "--context-file", "contexts.npy",
                       "--out", "lp_x_named.csv"],
        "lp_samples": ["log-prob", vec, "s1.csv", "--out", "lp_s1.csv"],
        "nan_file": ["sample", vec, "-n", "1", "--context-file", "nan.csv"],
        "rows_mismatch": ["log-prob", vec, "xonly.csv", "--context-file", "ctx.csv"],
        "img_s": ["sample", dig, "-n", "3", "--label", "0,7", "--out", "img.npy"],
        "img_label": ["log-prob", dig, "images.npy", "--label", "3", "--out", "b_label.csv"],
        "img_threes": ["log-prob", dig, "images.npy", "--context-file", "threes.npy",
                       "--out", "b_threes.csv"],
        "img_true": ["log-prob", dig, "images.npy", "--context-file", "labels.npy", "--out",
                     "b_true.csv"],
    }
    return run_cli(folder, commands)


def _ok(used, key):
    status, err, _ = used[key]
    assert status == 0, (key, err)
    assert err == "", (key, err)


def _failed(used, key):
    status, err, _ = used[key]
    assert status == 1, (key, status, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), (key, err)
    return lines[0]


def test_fit_records_the_context_columns_and_the_nll_given_them(fitted):
    m = json.loads((fitted / "vec" / "metrics.json").read_text())
    assert m["context_columns"] == {"indices": [1, 3], "names": ["group", "t"]}
    assert m["x_columns"] == {"indices": [0, 2], "names": ["x1", "x2"]}
    assert m["n_columns"] == 4 and m["context_size"] == 2 and m["event_shape"] == [2]
    assert m["settings"]["context_columns"] == ["group", "t"]
    assert sum(m["n_rows"].values()) == 600 and m["n_rows"]["test"] == 60
    # The context tells the group: shuffling it among the test rows costs nats.
    assert m["test_nll_shuffled_context_nats"] > m["test_nll_nats"] + 1.0
    assert sorted(m["files"]) == sorted(["model.keras", "metrics.json", "loss.png",
                                         "samples.png", "density.png"])
    assert sorted(p.name for p in (fitted / "vec").iterdir()) == sorted(m["files"])
    config = json.loads(__import__("zipfile").ZipFile(fitted / "vec" / "model.keras")
                        .read("config.json"))["config"]
    assert config["context_size"] == 2 and config["event_shape"] == [2]


def test_samples_follow_the_context_in_the_training_files_layout(used, fitted):
    for key in ("s1", "s0", "sfile", "sdata", "sswapped", "salone"):
        _ok(used, key)
    header, s1 = _read_csv(fitted / "s1.csv")
    assert header == HEADER and s1.shape == (200, 4)
    np.testing.assert_array_equal(s1[:, [1, 3]], np.tile([1.0, 0.5], (200, 1)))
    s0 = np.load(fitted / "s0.npy")
    assert s0.shape == (200, 4) and s0.dtype == np.float64
    np.testing.assert_array_equal(s0[:, [1, 3]], np.tile([0.0, -0.5], (200, 1)))
    # group 1 puts x1 near +4, group 0 near -4; t puts x2 near 3 t.
    assert s1[:, 0].mean() > 2.0 and s0[:, 0].mean() < -2.0
    assert s1[:, 2].mean() > s0[:, 2].mean() + 1.0
    # --context-file: 5 samples for each of its 2 rows, context by context.
    sfile = np.load(fitted / "sfile.npy")
    assert sfile.shape == (10, 4)
    np.testing.assert_array_equal(sfile[:5, [1, 3]], np.tile([0.0, 0.0], (5, 1)))
    np.testing.assert_array_equal(sfile[5:, [1, 3]], np.tile([1.0, 0.5], (5, 1)))
    # A wider file whose header names the context columns: those columns are taken.
    header, sdata = _read_csv(fitted / "sdata.csv")
    assert header == HEADER and sdata.shape == (600, 4)
    np.testing.assert_allclose(sdata[:, [1, 3]], _toy_rows()[:, [1, 3]], rtol=1e-6)
    # A header with the context columns in another order: found by name.
    np.testing.assert_array_equal(np.load(fitted / "sswapped.npy")[:, [1, 3]],
                                  np.tile([1.0, 0.5], (4, 1)))
    # Without metrics.json next to the model: context first, then x.
    header, salone = _read_csv(fitted / "salone.csv")
    assert header == ["c1", "c2", "x1", "x2"] and salone.shape == (3, 4)
    np.testing.assert_array_equal(salone[:, :2], np.tile([1.0, 0.5], (3, 1)))


def test_log_prob_uses_each_rows_context_however_it_is_given(used, fitted):
    for key in ("lp", "lp_flipped", "lp_reordered", "lp_npy", "lp_alone", "lp_xonly",
                "lp_x_named", "lp_samples"):
        _ok(used, key)

    def values(name):
        header, table = _read_csv(fitted / name)
        assert header == ["log_prob"]
        return table[:, 0]

    lp = values("lp.csv")
    assert lp.shape == (600,) and np.all(np.isfinite(lp))
    # The right context explains x1; the other group puts it 8 standard deviations away.
    assert lp.mean() > values("lp_flipped.csv").mean() + 5.0
    for other in ("lp_reordered.csv", "lp_npy.csv", "lp_alone.csv", "lp_xonly.csv",
                  "lp_x_named.csv"):
        # (the .npy holds the float64 values the CSV rounds to 9 digits)
        np.testing.assert_allclose(values(other), lp, rtol=1e-5, atol=1e-5, err_msg=other)
    assert values("lp_s1.csv").shape == (200,)
    # The same numbers as the saved model's own log_prob(x, context=c).
    import keras

    import tfp_flows  # noqa: F401

    model = keras.models.load_model(fitted / "vec" / "model.keras")
    rows = _toy_rows().astype(np.float32)
    expected = np.asarray(model.log_prob(rows[:, [0, 2]], context=rows[:, [1, 3]]))
    np.testing.assert_allclose(lp, expected, rtol=1e-5, atol=1e-5)


def test_bad_contexts_after_loading_give_one_line(used):
    line = _failed(used, "nan_file")
    assert "nan.csv line 3, column 2" in line and "not a finite number" in line
    line = _failed(used, "rows_mismatch")
    assert "has 2 rows and xonly.csv 600" in line


def test_label_conditional_digits(used, fitted):
    m = json.loads((fitted / "dig" / "metrics.json").read_text())
    assert m["condition_on_labels"] is True and m["num_classes"] == 10
    assert m["context_size"] == 10 and m["settings"]["condition_on_labels"] is True
    assert np.isfinite(m["test_bits_per_dim"])
    assert np.isfinite(m["test_bits_per_dim_shuffled_labels"])
    import matplotlib.image

    grid = matplotlib.image.imread(fitted / "dig" / "samples.png")
    assert grid.shape[0] > grid.shape[1]   # 10 rows of classes, 8 columns of samples
    for key in ("img_s", "img_label", "img_threes", "img_true"):
        _ok(used, key)
    images = np.load(fitted / "img.npy")
    assert images.shape == (6, 8, 8, 1) and images.dtype == np.uint8 and images.max() <= 16
    _, by_label = _read_csv(fitted / "b_label.csv")
    _, by_file = _read_csv(fitted / "b_threes.csv")
    np.testing.assert_array_equal(by_label, by_file)   # --label 3 == a file of 3s
    _, true = _read_csv(fitted / "b_true.csv")
    import keras

    import tfp_flows  # noqa: F401
    from tfp_flows.training import bits_per_image

    model = keras.models.load_model(fitted / "dig" / "model.keras")
    pixels = np.load(fitted / "images.npy")[..., None]
    context = np.eye(10, dtype=np.float32)[np.load(fitted / "labels.npy")]
    expected = bits_per_image(model, pixels, 17, 4, 0, context=context)
    np.testing.assert_allclose(true[:, 0], expected, rtol=1e-6)
    # Each image is scored given its own label: where that label is 3, as with --label 3.
    threes = np.load(fitted / "labels.npy") == 3
    assert 0 < threes.sum() < len(threes)
    np.testing.assert_array_equal(true[threes, 0], by_label[threes, 0])
    assert not np.any(np.isclose(true[~threes, 0], by_label[~threes, 0], rtol=1e-5, atol=0))


def test_mistakes_are_reported_before_tensorflow_is_imported(fitted, used, tmp_path, run_cli):
    """Each case in a fresh process: one error line naming the problem, exit status 1 (2
    for a malformed command line), TensorFlow not imported, nothing written."""
    import tfp_flows

    tfp_flows.maf(event_shape=2, num_layers=1, hidden_units=(4,), seed=0).save(
        fitted / "plain.keras")
    np.save(fitted / "imgs.npy", np.zeros((20, 4, 4), np.uint8))
    fit = ["fit", "--flow", "maf", "--out", "o", "--data"]
    vec, dig = "vec/model.keras", "dig/model.keras"
    cases = {
        "has no column 'grp' (its columns: x1, group, x2, t)":
            fit + ["data.csv", "--context-columns", "grp,t"],
        "column index 4 is out of range; data.csv has 4 columns":
            fit + ["data.csv", "--context-columns", "4"],
        "names all 4 columns of data.csv": fit + ["data.csv", "--context-columns", "0,1,2,3"],
        ".npy files have no column names": fit + ["data.npy", "--context-columns", "group"],
        "names column 'group' twice": fit + ["data.csv", "--context-columns", "1,-3"],
        "toy data sets have no context columns": fit + ["moons", "--context-columns", "1"],
        "fit p(image | label) with --condition-on-labels":
            ["fit", "--data", "digits", "--flow", "glow", "--context-columns", "1", "--out",
             "o"],
        "needs images with labels":
            ["fit", "--data", "imgs.npy", "--flow", "glow", "--condition-on-labels", "--out",
             "o"],
        "name its context columns with --context-columns":
            fit + ["data.csv", "--condition-on-labels"],
        "needs at least 2 columns":
            ["fit", "--data", "data.csv", "--flow", "real_nvp", "--context-columns", "1,2,3",
             "--out", "o"],
        "pass --context with 2 comma-separated numbers": ["sample", vec],
        "--context has 1 value": ["sample", vec, "--context", "1"],
        "was fitted without a context": ["sample", "plain.keras", "--context", "1,2"],
        "--label applies to image models": ["sample", vec, "--label", "1"],
        "--context-file data.npy has 4 columns": ["sample", vec, "--context-file", "data.npy"],
        "labels 0 to 9": ["sample", dig, "--label", "10", "--out", "x.npy"],
        "the x values alone": ["log-prob", vec, "xonly.csv"],
        "name the context columns of data.csv with --context-columns":
            ["log-prob", "alone/model.keras", "data.csv"],
        "names 1 column of data.csv and leaves 3":
            ["log-prob", vec, "data.csv", "--context-columns", "t"],
        "takes none": ["log-prob", "plain.keras", "xonly.csv", "--context-file", "ctx.csv"],
        "one --label for all images": ["log-prob", dig, "images.npy", "--label", "1,2"],
        "expected finite numbers": ["sample", vec, "--context", "1,nan"],
        "not allowed with argument": ["sample", vec, "--context", "1,2", "--label", "1"],
        "got a mix": fit + ["data.csv", "--context-columns", "1,t"],
    }
    usage = {"expected finite numbers", "not allowed with argument", "got a mix"}
    before = sorted(p.name for p in fitted.iterdir())
    for key, (status, err, tf_imported) in run_cli(fitted, cases).items():
        assert not tf_imported, key
        assert status == (2 if key in usage else 1), (key, status, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), (key, err)
        assert key in lines[0], (key, err)
    assert sorted(p.name for p in fitted.iterdir()) == before


def test_negative_numbers_are_values():
    parser = build_parser()
    args = parser.parse_args(["sample", "m.keras", "--context", "-0.5,2e-3"])
    assert args.context == (-0.5, 0.002)
    args = parser.parse_args(["log-prob", "m.keras", "d.csv", "--context-columns", "-1"])
    assert args.context_columns == (-1,)


@pytest.mark.parametrize("command, words", [
    ("fit", ("--context-columns", "--condition-on-labels", "one row per class",
             "shuffled contexts")),
    ("sample", ("--context VALUES", "--context-file", "--label", "context by context",
                "c1..cK")),
    ("log-prob", ("--context-columns", "--context-file", "--label", "log p(x | c)")),
])
def test_help_describes_conditional_options(command, words):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([command, "--help"]) == 0
    text = " ".join(out.getvalue().split())
    for word in words:
        assert word in text, word
