"""Tests of the ``tfp-flows`` command, run in-process through ``tfp_flows_cli.main(argv)``
with tiny settings, and in subprocesses where a fresh process or two processes at once
matter (errors before TensorFlow is imported, two runs with one --out, the entry point)."""
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tfp_flows import BUILDERS
from tfp_flows_cli import FLOW_NAMES, TOY_DATA_NAMES, build_parser, main
from tfp_flows_cli.errors import ERROR_PREFIX, WARNING_PREFIX, CLIError
from tfp_flows_cli.files import DATA_EXTENSIONS
from tfp_flows_cli.output import OutputDir, write_text_atomically
from tfp_flows.datasets import (
    SUPPORTED_EXTENSIONS,
    TOY_NAMES,
    TwoMoons,
    load_array,
    load_toy,
)

TINY_FILE = ["--epochs", "2", "--num-layers", "2", "--hidden-units", "8", "--batch-size", "64",
             "-q"]
TINY = TINY_FILE + ["--n-train", "200"]
PLOTS = ("loss.png", "samples.png", "density.png", "layers.png")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A tiny MAF fitted to moons by ``tfp-flows fit``: its output directory."""
    out = tmp_path_factory.mktemp("fit") / "run"
    assert main(["fit", "--data", "moons", "--flow", "maf", *TINY, "--out", str(out)]) == 0
    return out


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _one_error_line(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(ERROR_PREFIX), err
    return lines[0]


def _truncated_copy(model, dest):
    data = model.read_bytes()
    dest.write_bytes(data[: len(data) // 2])


def test_names_match_the_package():
    assert sorted(FLOW_NAMES) == sorted(BUILDERS)
    assert tuple(TOY_DATA_NAMES) == tuple(TOY_NAMES)
    assert tuple(DATA_EXTENSIONS) == tuple(SUPPORTED_EXTENSIONS)


def test_fit_writes_model_metrics_and_pictures(fitted, capsys):
    assert sorted(p.name for p in fitted.iterdir()) == sorted(
        ("model.keras", "metrics.json") + PLOTS)
    assert not [p for p in fitted.parent.iterdir() if p.name.startswith(".")]
    m = json.loads((fitted / "metrics.json").read_text())
    for key in ("train_nll_nats", "validation_nll_nats", "test_nll_nats", "kl_to_truth_nats",
                "true_entropy_nats", "wall_time_s", "train_time_s"):
        assert isinstance(m[key], float) and math.isfinite(m[key]), key
    assert m["kl_to_truth_nats"] == pytest.approx(m["test_nll_nats"] - m["true_entropy_nats"])
    assert m["kl_to_truth_nats"] > 0
    # The moons in scikit-learn's units (the CLI does not standardise; the model does).
    assert m["true_entropy_nats"] == pytest.approx(TwoMoons().entropy())
    assert m["epochs_run"] == 2 and m["n_rows"] == {"train": 180, "validation": 20,
                                                    "test": 20000}
    assert m["settings"]["flow"] == "maf" and m["settings"]["hidden_units"] == [8]
    assert m["settings"]["epochs"] == 2 and m["settings"]["learning_rate"] == 1e-3
    assert m["versions"]["tensorflow"] and m["versions"]["keras"]
    assert "scaler" not in m and m["nll_space"].startswith("data units")
    assert m["stopped_by"] == "epochs" and m["best_epoch"] in (1, 2)


def test_sample_and_log_prob_round_trip(fitted, tmp_path, capsys):
    model_path = str(fitted / "model.keras")
    samples_csv, lp_csv = tmp_path / "samples.csv", tmp_path / "lp.csv"
    assert main(["sample", model_path, "-n", "50", "--out", str(samples_csv), "-q"]) == 0
    assert samples_csv.read_text().splitlines()[0] == "x1,x2"
    x = load_array(samples_csv)
    assert x.shape == (50, 2)
    assert main(["log-prob", model_path, str(samples_csv), "--out", str(lp_csv), "-q"]) == 0
    assert lp_csv.read_text().splitlines()[0] == "log_prob"
    from_cli = load_array(lp_csv)[:, 0]
    model = keras.models.load_model(model_path)
    np.testing.assert_allclose(from_cli, np.asarray(model.log_prob(x)), rtol=1e-6, atol=1e-6)
    capsys.readouterr()
    assert main(["log-prob", model_path, str(samples_csv)]) == 0   # to stdout, no header
    printed = np.array([float(v) for v in capsys.readouterr().out.split()])
    np.testing.assert_allclose(printed, from_cli, rtol=1e-6, atol=1e-6)


def test_models_give_samples_and_densities_in_data_units_in_a_fresh_process(tmp_path,
                                                                           cli_env):
    """Data scaled by 1000 with an offset, and no scaler anywhere: in fresh processes, from
    model.keras alone, ``sample`` gives points in the data's units and ``log-prob`` the
    density in those units (it integrates to 1 over a grid in data units, and matches the
    loaded model's own log_prob)."""
    x, _ = load_toy("moons", n_train=600, seed=0, standardize=False)
    x = 1000.0 * x + np.array([5000.0, -3000.0])
    np.savetxt(tmp_path / "big.csv", x, delimiter=",")
    out = tmp_path / "run"
    assert main(["fit", "--data", str(tmp_path / "big.csv"), "--flow", "maf", "--epochs", "5",
                 "--num-layers", "2", "--hidden-units", "16", "--batch-size", "64", "-q",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert "scaler" not in metrics
    shutil.copy(out / "model.keras", tmp_path / "model.keras")   # alone, no metrics.json
    lo, hi = x.min(axis=0) - 500.0, x.max(axis=0) + 500.0
    g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], 150), np.linspace(lo[1], hi[1], 150))
    np.savetxt(tmp_path / "grid.csv", np.stack([g1.ravel(), g2.ravel()], axis=1),
               delimiter=",")
    cell = (hi[0] - lo[0]) / 149 * (hi[1] - lo[1]) / 149
    for argv in (["sample", "model.keras", "-n", "2000", "--out", "samples.csv"],
                 ["log-prob", "model.keras", "grid.csv", "--out", "grid_lp.csv"],
                 ["log-prob", "model.keras", "samples.csv", "--out", "lp.csv"]):
        done = subprocess.run([sys.executable, "-m", "tfp_flows_cli", *argv, "-q"],
                              cwd=tmp_path, env=cli_env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0 and done.stderr == "", (argv, done.stderr)
    samples = load_array(tmp_path / "samples.csv")
    np.testing.assert_allclose(samples.mean(axis=0), x.mean(axis=0), atol=150.0)
    # Units, not fit quality (5 epochs): interquartile ranges within 50 % of the data's (in
    # standardised units they would be 1000x off); the heavy-tailed (Student-t) base makes
    # the std a noisy measure.
    spread = lambda a: np.subtract(*np.percentile(a, [75, 25], axis=0))  # noqa: E731
    np.testing.assert_allclose(spread(samples), spread(x), rtol=0.5)
    # The grid holds most of the mass (the Student-t base puts some beyond it); in the wrong
    # units the sum would be off by a factor of 1000^2.
    assert np.exp(load_array(tmp_path / "grid_lp.csv")[:, 0]).sum() * cell == pytest.approx(
        0.95, abs=0.07)
    model = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(load_array(tmp_path / "lp.csv")[:, 0],
                               np.asarray(model.log_prob(samples.astype(np.float32))),
                               rtol=1e-5, atol=1e-5)
    # metrics.json's test NLL is in the same units: 2 log(1000) above that of the moons in
    # scikit-learn's units (their entropy is 0.29 nats).
    assert 2 * np.log(1000.0) < metrics["test_nll_nats"] < 2 * np.log(1000.0) + 3.0


def test_fit_a_csv_file_holds_out_test_rows_and_measures_in_data_units(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal([5.0, -3.0], [2.0, 0.5], size=(150, 2))
    data = tmp_path / "data.csv"
    np.savetxt(data, x, delimiter=",", header="a,b", comments="")
    out = tmp_path / "run"
    assert main(["fit", "--data", str(data), "--flow", "real_nvp", *TINY_FILE,
                 "--out", str(out)]) == 0
    assert "NLL (nats per point, data units)" in capsys.readouterr().out
    m = json.loads((out / "metrics.json").read_text())
    assert m["data_kind"] == "file" and "kl_to_truth_nats" not in m and "scaler" not in m
    assert m["n_rows"] == {"train": 122, "validation": 13, "test": 15}   # split_rows' rule
    # About the NLL of the generating Gaussian in data units (log(2 pi e) + log(2 * 0.5)).
    assert m["test_nll_nats"] == pytest.approx(1.0 + np.log(2 * np.pi), abs=0.6)
    assert {p.name for p in out.iterdir()} >= set(PLOTS)


def _bad_cases():
    """(id, files to create {name: text}, argv with {tmp} / {model} placeholders, exit,
    text expected in the message)."""
    fit = ["fit", "--flow", "maf", *TINY_FILE, "--out", "{tmp}/out"]
    return [
        ("missing-file", {}, ["fit", "--data", "{tmp}/nope.csv", *fit[1:]], 1,
         "data file not found"),
        ("non-numeric", {"bad.csv": "x,y\n1,2\n3,abc\n"},
         ["fit", "--data", "{tmp}/bad.csv", *fit[1:]], 1, "line 3, column 2"),
        ("nan", {"nan.csv": "1,2\n3,nan\n"}, ["fit", "--data", "{tmp}/nan.csv", *fit[1:]], 1,
         "not a finite number"),
        ("too-few-rows", {"few.csv": "1,2\n3,4\n5,7\n"},
         ["fit", "--data", "{tmp}/few.csv", *fit[1:]], 1, "at least 10"),
        ("one-column-coupling", {"one.csv": "".join(f"{i}\n" for i in range(12))},
         ["fit", "--data", "{tmp}/one.csv", "--flow", "real_nvp", *fit[3:]], 1,
         "use --flow maf or iaf"),
        ("unknown-flow", {}, ["fit", "--data", "moons", "--flow", "flowy", *fit[3:]], 2,
         "invalid choice: 'flowy'"),
        ("unknown-data", {}, ["fit", "--data", "moonz", *fit[1:]], 1, "unknown data 'moonz'"),
        ("zero-epochs", {}, ["fit", "--data", "moons", *fit[1:], "--epochs", "0"], 2,
         "--epochs"),
        ("negative-epochs", {}, ["fit", "--data", "moons", *fit[1:], "--epochs", "-3"], 2,
         "--epochs"),
        ("zero-lr", {}, ["fit", "--data", "moons", *fit[1:], "--learning-rate", "0"], 2,
         "--learning-rate"),
        ("negative-lr", {}, ["fit", "--data", "moons", *fit[1:], "--learning-rate", "-1e-3"],
         2, "--learning-rate"),
        ("bad-hidden", {}, ["fit", "--data", "moons", *fit[1:], "--hidden-units", "64,x"], 2,
         "--hidden-units"),
        ("wrong-width", {"wide.csv": "1,2,3\n4,5,6\n"},
         ["log-prob", "{model}", "{tmp}/wide.csv", "--out", "{tmp}/out"], 1, "column 3"),
        ("log-prob-nan", {"nan.csv": "1,2\nnan,3\n"},
         ["log-prob", "{model}", "{tmp}/nan.csv", "--out", "{tmp}/out"], 1, "line 2, column 1"),
        ("log-prob-missing", {}, ["log-prob", "{model}", "{tmp}/none.csv", "--out", "{tmp}/out"],
         1, "data file not found"),
        ("invalid-model", {"fake.keras": "not a zip file\n"},
         ["sample", "{tmp}/fake.keras", "--out", "{tmp}/out"], 1, "not a valid .keras model"),
        ("truncated-model", {"cut.keras": "TRUNCATED"},
         ["log-prob", "{tmp}/cut.keras", "{tmp}/ok.csv"], 1,
         "cut.keras is a corrupt or truncated .keras model file"),
        ("nan-first-line-fit", {"nanhead.csv": "nan,nan\n1,2\n3,4\n"},
         ["fit", "--data", "{tmp}/nanhead.csv", *fit[1:]], 1,
         "line 1, column 1: 'nan' is not a finite number"),
        ("nan-first-line-log-prob", {"nanhead.csv": "nan,nan\n1,2\n"},
         ["log-prob", "{model}", "{tmp}/nanhead.csv"], 1,
         "line 1, column 1: 'nan' is not a finite number"),
        ("negative-seed", {}, ["fit", "--data", "moons", *fit[1:], "--seed", "-1"], 2,
         "--seed: expected an integer from 0 to 2147483646, got '-1'"),
        ("negative-sample-seed", {}, ["sample", "{model}", "--seed", "-1"], 2,
         "--seed: expected an integer from 0 to 2147483646, got '-1'"),
        ("missing-model", {}, ["sample", "{tmp}/none.keras", "--out", "{tmp}/out"], 1,
         "model file not found"),
        ("not-a-keras-name", {"model.h5": "x"}, ["sample", "{tmp}/model.h5", "--out", "{tmp}/out"],
         1, "not a .keras model file"),
        ("zero-samples", {}, ["sample", "{model}", "-n", "0", "--out", "{tmp}/out"], 2, "-n"),
    ]


@pytest.mark.parametrize("case", _bad_cases(), ids=[c[0] for c in _bad_cases()])
def test_bad_input_gives_one_line_and_writes_nothing(case, fitted, tmp_path, capsys):
    _, files, argv, status, expected = case
    for name, text in files.items():
        if text == "TRUNCATED":  # the first half of a real model file
            _truncated_copy(fitted / "model.keras", tmp_path / name)
            (tmp_path / "ok.csv").write_text("1,2\n")
        else:
            (tmp_path / name).write_text(text)
    before = _listing(tmp_path)
    argv = [a.format(tmp=tmp_path, model=fitted / "model.keras") for a in argv]
    assert main(argv) == status
    line = _one_error_line(capsys)
    assert expected in line
    assert _listing(tmp_path) == before   # no out, no temporary leftovers


def test_non_empty_out_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["fit", "--data", "moons", "--flow", "maf", *TINY, "--out", str(out)]) == 1
    assert "--overwrite" in _one_error_line(capsys)
    assert _listing(tmp_path) == ["out", "out/keep.txt"]


def test_failure_half_way_leaves_the_old_out_untouched(tmp_path, capsys, monkeypatch):
    from tfp_flows import plotting

    def broken(*args, **kwargs):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(plotting, "plot_flow_layers", broken)
    out = tmp_path / "deep" / "out"
    assert main(["fit", "--data", "moons", "--flow", "real_nvp", *TINY, "--out",
                 str(out)]) == 1
    assert "RuntimeError: drawing failed" in _one_error_line(capsys)
    assert _listing(tmp_path) == []   # not even the parent folder it created
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "keep.txt").write_text("mine")
    assert main(["fit", "--data", "moons", "--flow", "real_nvp", *TINY, "--out",
                 str(tmp_path / "old"), "--overwrite"]) == 1
    _one_error_line(capsys)
    assert _listing(tmp_path) == ["old", "old/keep.txt"]


def test_output_dir_commit_replaces_old_contents(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with OutputDir(out, overwrite=True) as staging:
        (staging.path / "new.txt").write_text("new")
        assert _listing(tmp_path)[0].startswith(".out.tmp-")
        staging.commit()
    assert _listing(tmp_path) == ["out", "out/new.txt"]


def test_demo_quick_shows_progress_and_a_second_run_replaces_its_output(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "KL(true two moons || flow)" in printed and str(out / "density.png") in printed
    assert "epoch 1/3" in printed and "elapsed" in printed and "left" in printed
    assert "epoch 3/3" in printed
    assert {p.name for p in out.iterdir()} == {"model.keras", "metrics.json", *PLOTS}
    first = json.loads((out / "metrics.json").read_text())
    assert first["written_by"] == "tfp-flows demo"
    # Again, as a user re-running the README's first command would: the demo's own output
    # is replaced (no --overwrite needed) and nothing else is left behind.
    assert main(["demo", "--quick", "--out", str(out), "-q", "--seed", "1"]) == 0
    assert json.loads((out / "metrics.json").read_text())["settings"]["seed"] == 1
    assert _listing(tmp_path) == sorted(["demo"] + [f"demo/{n}" for n in first["files"]])
    # A folder the demo did not write is refused.
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["demo", "--quick", "--out", str(out), "-q"]) == 1
    assert "--overwrite" in _one_error_line(capsys)
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("command", ["fit", "sample", "log-prob", "demo"])
def test_command_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert f"tfp-flows {command}" in capsys.readouterr().out


def test_demo_help_names_the_flow_it_fits(capsys):
    from tfp_flows_cli.fit import DEMO_SETTINGS

    assert DEMO_SETTINGS["flow"] == "nsf"
    assert main(["demo", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "neural spline flow (nsf" in text and "autoregressive" not in text
    assert "1 to 2 minutes" in text


def test_log_prob_far_rows_give_minus_inf_and_a_warning(tmp_path, capsys):
    # A Gaussian base underflows to -inf far away (the builders' default Student-t base does
    # not: its log-density falls only like log|x|), so this model asks for one.
    import tfp_flows
    flow = tfp_flows.maf(event_shape=2, num_layers=2, hidden_units=(8,), seed=0,
                         base_distribution="normal")
    flow.compile("adam")
    flow.fit(np.random.default_rng(0).normal(size=(200, 2)), epochs=1, verbose=0)
    flow.save(tmp_path / "model.keras")
    data = tmp_path / "far.csv"
    data.write_text("0,0\n1e30,1e30\n0.5,-0.5\n-1e30,1e30\n")
    assert main(["log-prob", str(tmp_path / "model.keras"), str(data), "-q"]) == 0
    captured = capsys.readouterr()
    values = [float(v) for v in captured.out.split()]
    assert np.isfinite(values[0]) and np.isfinite(values[2])
    assert values[1] == values[3] == -np.inf
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(WARNING_PREFIX), captured.err
    assert "2 of 4 rows" in lines[0] and "-inf" in lines[0] and "rows 2, 4" in lines[0]


def test_log_prob_nan_is_an_error():
    import argparse

    from tfp_flows_cli.predict import _check_finite

    with pytest.raises(CLIError, match="nan log-density for 1 of 3 rows"):
        _check_finite(np.array([0.0, np.nan, -np.inf]), argparse.Namespace(data="x.csv"))


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_outputs_get_the_usual_permissions(tmp_path, umask):
    old = os.umask(umask)
    try:
        with OutputDir(tmp_path / "out") as staging:
            (staging.path / "a.txt").write_text("a")
            staging.commit()
        write_text_atomically(tmp_path / "b.csv", "x\n")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o777 & ~umask
    assert (tmp_path / "b.csv").stat().st_mode & 0o777 == 0o666 & ~umask


def test_fit_output_honours_the_umask(fitted):
    umask = os.umask(0)
    os.umask(umask)
    assert fitted.stat().st_mode & 0o777 == 0o777 & ~umask


@pytest.mark.parametrize("overwrite", [False, True])
def test_commit_refuses_what_another_run_wrote_meanwhile(tmp_path, overwrite):
    out = tmp_path / "out"
    if overwrite:
        out.mkdir()
        (out / "old.txt").write_text("old")
    with OutputDir(out, overwrite=overwrite) as staging:
        (staging.path / "mine.txt").write_text("mine")
        # Another run finishes first (it replaced the old folder, or created a new one).
        other = tmp_path / ".other"
        other.mkdir()
        (other / "theirs.txt").write_text("theirs")
        if overwrite:
            shutil.rmtree(out)
        os.rename(other, out)
        with pytest.raises(CLIError, match="written by another process"):
            staging.commit()
    assert _listing(tmp_path) == ["out", "out/theirs.txt"]


def test_write_text_refuses_a_file_another_run_wrote(tmp_path):
    out = tmp_path / "s.csv"
    out.write_text("theirs")   # appeared after check_output_file
    with pytest.raises(CLIError, match="written by another process"):
        write_text_atomically(out, "mine")
    assert _listing(tmp_path) == ["s.csv"] and out.read_text() == "theirs"


def test_mistakes_are_reported_before_tensorflow_is_imported(fitted, tmp_path, run_cli):
    """In a fresh process: each mistake gives one error line while 'tensorflow' is still
    absent from sys.modules (so it is reported in a blink, not after TF's start-up)."""
    model = fitted / "model.keras"
    _truncated_copy(model, tmp_path / "cut.keras")
    (tmp_path / "ok.csv").write_text("1,2\n")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    (tmp_path / "nanhead.csv").write_text("nan,nan\n1,2\n")
    # Corrupt .npy files: cut short, random bytes, a header promising more than is there.
    np.save(tmp_path / "full.npy", np.zeros((50, 2)))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "full.npy").read_bytes()[:200])
    (tmp_path / "noise.npy").write_bytes(np.random.default_rng(0).bytes(300))
    corrupt = "not a valid .npy file (truncated or corrupt)"
    cases = {
        "data file not found": ["fit", "--data", "none.csv", "--flow", "maf", "--out", "o"],
        "line 1, column 1": ["fit", "--data", "nanhead.csv", "--flow", "maf", "--out", "o"],
        "unknown data": ["fit", "--data", "moonz", "--flow", "maf", "--out", "o"],
        "--out full exists": ["fit", "--data", "moons", "--flow", "maf", "--out", "full"],
        "--out full exists ": ["demo", "--out", "full"],
        "model file not found": ["sample", "none.keras"],
        "cut.keras is a corrupt or truncated": ["sample", "cut.keras"],
        "cut.keras is a corrupt or truncated ": ["log-prob", "cut.keras", "ok.csv"],
        "data file not found ": ["log-prob", str(model), "none.csv"],
        "--out nanhead.csv exists": ["log-prob", str(model), "ok.csv", "--out", "nanhead.csv"],
        "--out nanhead.csv exists ": ["sample", str(model), "--out", "nanhead.csv"],
        "--seed": ["fit", "--data", "moons", "--flow", "maf", "--out", "o", "--seed", "-1"],
        f"cannot read cut.npy: {corrupt}": ["fit", "--data", "cut.npy", "--flow", "maf",
                                            "--out", "o"],
        f"cannot read noise.npy: {corrupt}": ["fit", "--data", "noise.npy", "--flow", "glow",
                                              "--num-scales", "2", "--out", "o"],
        f"cannot read cut.npy: {corrupt} ": ["log-prob", str(model), "cut.npy"],
        f"cannot read noise.npy: {corrupt} ": ["log-prob", str(model), "noise.npy"],
    }
    results = run_cli(tmp_path, cases, timeout=120)
    for key, (status, err, tf_imported) in results.items():
        assert not tf_imported, key
        assert status in (1, 2), (key, status)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), (key, err)
        assert key.strip() in lines[0] and "pickle" not in lines[0], (key, err)
    assert not (tmp_path / "o").exists()


def test_two_fits_with_one_out_at_once_one_wins_one_fails(tmp_path, cli_env):
    """Two processes, started together with the same --out: both pass the start-up check,
    the first to finish writes --out, the second must fail and leave it alone."""
    argv = [sys.executable, "-m", "tfp_flows_cli", "fit", "--data", "moons", "--flow", "maf",
            *TINY, "--out", "run"]
    runs = [subprocess.Popen(argv + ["--seed", str(seed)], cwd=tmp_path, env=cli_env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for seed in (1, 2)]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        results.append((run.returncode, out, err))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [0, 1], results
    (status, out, err), = [r for r in results if r[0] == 1]
    assert err.startswith(ERROR_PREFIX) and len(err.strip().splitlines()) == 1, err
    assert "written by another process" in err, err
    winner = [r for r in results if r[0] == 0][0]
    seed = json.loads((tmp_path / "run" / "metrics.json").read_text())["settings"]["seed"]
    assert results.index(winner) + 1 == seed   # the folder holds the winner's results
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]   # no leftovers


def test_installed_entry_point_help():
    exe = Path(sys.executable).with_name("tfp-flows")
    exe = str(exe) if exe.is_file() else shutil.which("tfp-flows")
    if exe is None:
        pytest.skip("the tfp-flows entry point is not installed (pip install -e .)")
    done = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: tfp-flows" in done.stdout and "log-prob" in done.stdout


@pytest.mark.parametrize("base", ["normal", "student_t"])
def test_fit_base_option_reaches_the_model(tmp_path, base):
    out = tmp_path / "run"
    assert main(["fit", "--data", "moons", "--flow", "real_nvp", "--epochs", "1",
                 "--num-layers", "2", "--hidden-units", "8", "--base-distribution", base, "-q",
                 "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["settings"]["base_distribution"] == base
    assert keras.models.load_model(out / "model.keras").base_distribution_name == base


@pytest.mark.parametrize("command, old, new, value", [
    ("fit", "--layers", "--num-layers", "3"),
    ("fit", "--hidden", "--hidden-units", "32,16"),
    ("fit", "--lr", "--learning-rate", "2e-3"),
    ("fit", "--base", "--base-distribution", "normal"),
    ("log-prob", "--draws", "--num-draws", "7"),
])
def test_old_option_spellings_still_work_with_a_deprecation_note(command, old, new, value,
                                                                 capsys):
    start = {"fit": ["fit", "--data", "moons", "--flow", "maf", "--out", "o"],
             "log-prob": ["log-prob", "m.keras", "d.csv"]}[command]
    parser = build_parser()
    current = parser.parse_args(start + [new, value])
    assert capsys.readouterr().err == ""
    deprecated = parser.parse_args(start + [old, value])
    assert vars(deprecated) == vars(current)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"{WARNING_PREFIX}{old} is deprecated; use {new}"]
    assert main([command, "--help"]) == 0
    assert f"{old}: deprecated spelling" in " ".join(capsys.readouterr().out.split())


def test_options_left_out_are_not_passed_to_the_library():
    args = build_parser().parse_args(["fit", "--data", "moons", "--flow", "maf", "--out", "o"])
    for name in ("num_layers", "hidden_units", "base_distribution", "batch_size",
                 "learning_rate", "schedule", "patience", "validation_split"):
        assert getattr(args, name) is None, name


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1"])
def test_sample_temperature_must_be_finite_and_positive(value, capsys):
    assert main(["sample", "m.keras", "--temperature", value]) == 2
    assert "--temperature: expected a positive number" in _one_error_line(capsys)


def test_huge_temperatures_are_blamed_not_the_model():
    import argparse

    from tfp_flows_cli.predict import _check_samples

    samples = np.array([[1.0, np.inf]])
    with pytest.raises(CLIError, match="huge temperatures overflow") as caught:
        _check_samples(samples, argparse.Namespace(temperature=1e38, model="m.keras"))
    assert "diverged" not in str(caught.value)
    with pytest.raises(CLIError, match="diverged"):
        _check_samples(samples, argparse.Namespace(temperature=1.0, model="m.keras"))
