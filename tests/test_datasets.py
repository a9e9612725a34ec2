"""Tests for tfp_flows.datasets: exact toy densities, digits, dequantisation, file loading."""
import ast
import math
import pathlib

import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.preprocessing import StandardScaler

from tfp_flows import datasets
from tfp_flows.datasets import (
    TOY_NAMES,
    Banana,
    Checkerboard,
    Circles,
    EightGaussians,
    ToyDistribution,
    TwoMoons,
    TwoSpirals,
    dequantize,
    digits,
    load_array,
    load_toy,
)
from tfp_flows.datasets.toy2d import grid_points

# Raw distributions with a box holding all but ~1e-9 of the mass and a grid step that
# resolves the density (the noise scale); chosen here, independently of the package.
GRIDS = {
    "moons": (TwoMoons(), ((-1.6, 2.6), (-1.1, 1.6)), 0.05),
    "circles": (Circles(), ((-1.5, 1.5), (-1.5, 1.5)), 0.05),
    "banana": (Banana(), ((-6.5, 6.5), (-6.0, 180.0)), 0.1),
    "eight_gaussians": (EightGaussians(), ((-3.0, 3.0), (-3.0, 3.0)), 0.05),
    "checkerboard": (Checkerboard(), ((-2.5, 2.5), (-2.5, 2.5)), 0.05),
    "spirals": (TwoSpirals(), ((-4.2, 4.2), (-4.2, 4.2)), 0.1),
}


def test_every_toy_name_has_a_grid():
    assert set(GRIDS) == set(TOY_NAMES)
    for name, (dist, _, _) in GRIDS.items():
        assert isinstance(dist, ToyDistribution) and dist.name == name


@pytest.mark.parametrize("name", TOY_NAMES)
def test_density_integrates_to_one(name):
    dist, bounds, step = GRIDS[name]
    points, cell_area = grid_points(bounds, step)
    mass = np.sum(np.exp(dist.log_prob(points))) * cell_area
    assert abs(mass - 1.0) < 1e-3, mass


@pytest.mark.parametrize("name", TOY_NAMES)
def test_entropy_matches_monte_carlo_nll_in_standardised_coordinates(name):
    _, truth = load_toy(name, n_train=1000, seed=0)
    x = truth.sample(20000, seed=1)
    assert x.shape == (20000, 2) and x.dtype == np.float32
    nll = -truth.log_prob(x)
    assert nll.dtype == np.float64 and nll.shape == (20000,)
    assert np.all(np.isfinite(nll))
    std_err = nll.std() / math.sqrt(len(nll))
    assert abs(nll.mean() - truth.entropy()) < 4.0 * std_err + 1e-9


@pytest.mark.parametrize("name", ["moons", "banana", "checkerboard", "spirals"])
def test_standardisation_is_accounted_for(name):
    raw = GRIDS[name][0]
    loc, scale = np.array([0.3, -1.2]), np.array([0.7, 2.5])
    std = raw.with_standardization(loc, scale)
    assert type(std) is type(raw)
    y = std.sample(500, seed=3)
    np.testing.assert_allclose(
        std.log_prob(y), raw.log_prob(loc + scale * y.astype(np.float64)) + np.log(0.7 * 2.5),
        rtol=0, atol=1e-10,
    )
    assert std.entropy() == pytest.approx(raw.entropy() - math.log(0.7 * 2.5), abs=1e-12)
    # Same seed: the standardised sample is the raw sample pushed through (x - loc) / scale.
    np.testing.assert_allclose(y, (raw.sample(500, seed=3) - loc) / scale, atol=1e-5)
    (x0, x1), (y0, y1) = std.plot_bounds
    (r0, r1), (s0, s1) = raw.plot_bounds
    assert (x0, x1, y0, y1) == pytest.approx(
        ((r0 - 0.3) / 0.7, (r1 - 0.3) / 0.7, (s0 + 1.2) / 2.5, (s1 + 1.2) / 2.5)
    )


def test_log_prob_accepts_batch_shapes():
    dist = TwoMoons()
    x = dist.sample(6, seed=0).reshape(2, 3, 2)
    lp = dist.log_prob(x)
    assert lp.shape == (2, 3)
    np.testing.assert_allclose(lp.ravel(), dist.log_prob(x.reshape(6, 2)))
    assert dist.log_prob([1.0, 0.0]).shape == ()


@pytest.mark.parametrize("name", TOY_NAMES)
def test_sample_with_seed_is_reproducible(name):
    dist = GRIDS[name][0]
    a, b, c = dist.sample(50, seed=7), dist.sample(50, seed=7), dist.sample(50, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(dist.sample(50, seed=np.random.default_rng(7)), a)
    assert dist.sample(0).shape == (0, 2)


def test_two_moons_matches_sklearn_make_moons():
    ours = TwoMoons(noise=0.05).sample(20000, seed=0).astype(np.float64)
    theirs = make_moons(20000, noise=0.05, random_state=0)[0]
    np.testing.assert_allclose(ours.mean(0), theirs.mean(0), atol=0.02)
    np.testing.assert_allclose(ours.mean(0), [0.5, 0.25], atol=0.02)  # E[t-curve]
    np.testing.assert_allclose(np.cov(ours.T), np.cov(theirs.T), atol=0.02)
    # make_moons data are typical for the exact density: mean NLL ~ entropy.
    nll = -TwoMoons(noise=0.05).log_prob(theirs[:5000])
    assert abs(nll.mean() - TwoMoons().entropy()) < 0.05


def test_circles_geometry():
    x = Circles(noise=0.05, factor=0.5).sample(4000, seed=0).astype(np.float64)
    radius = np.linalg.norm(x, axis=1)
    outer = radius > 0.75
    assert 0.45 < outer.mean() < 0.55
    assert np.median(radius[outer]) == pytest.approx(1.0, abs=0.01)
    assert np.median(radius[~outer]) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("cls", [TwoMoons, Circles, TwoSpirals])
def test_curve_quadrature_is_converged(cls):
    coarse, fine = cls(), cls(panels_per_noise=2.0)
    assert len(fine.quadrature_nodes()[1]) > 1.9 * len(coarse.quadrature_nodes()[1])
    near = coarse.sample(1000, seed=0)
    lo, hi = np.array(coarse.plot_bounds).T
    box = np.random.default_rng(0).uniform(lo, hi, size=(1000, 2))
    x = np.concatenate([near, box])
    lp_coarse, lp_fine = coarse.log_prob(x), fine.log_prob(x)
    relevant = lp_fine > -20.0
    assert relevant.sum() > 1000
    np.testing.assert_allclose(lp_coarse[relevant], lp_fine[relevant], rtol=0, atol=1e-9)
    np.testing.assert_allclose(lp_coarse, lp_fine, rtol=1e-6)
    assert coarse.entropy() == pytest.approx(fine.entropy(), abs=1e-9)


def test_curve_entropy_grid_is_converged():
    dist = TwoMoons()
    points, cell_area = grid_points(((-1.5, 2.5), (-1.0, 1.5)), dist.noise / 4)
    log_p = dist.log_prob(points)
    finer = -np.sum(np.exp(log_p) * log_p) * cell_area
    assert dist.entropy() == pytest.approx(finer, abs=1e-8)


def test_moons_standardised_entropy_is_computed_and_about_1_13():
    raw = make_moons(1000, noise=0.05, random_state=0)[0]
    scaler = StandardScaler().fit(raw)
    truth = TwoMoons(noise=0.05, loc=scaler.mean_, scale=scaler.scale_)
    assert truth.entropy() == pytest.approx(1.13, abs=0.01)
    assert truth.entropy() == pytest.approx(
        TwoMoons().entropy() - np.log(scaler.scale_).sum(), abs=1e-12
    )
    # Another scaler gives another entropy: nothing is hard-coded.
    other = TwoMoons(loc=scaler.mean_, scale=2 * scaler.scale_)
    assert other.entropy() == pytest.approx(truth.entropy() - 2 * math.log(2), abs=1e-12)


def test_closed_form_entropies():
    assert Banana().entropy() == pytest.approx(math.log(2 * math.pi * math.e), abs=1e-12)
    assert Checkerboard().entropy() == pytest.approx(math.log(8), abs=1e-12)
    # Well-separated modes: H = log 8 + log(2 pi e std^2).
    separated = math.log(8) + math.log(2 * math.pi * math.e * 0.1**2)
    assert EightGaussians(radius=2.0, std=0.1).entropy() == pytest.approx(separated, abs=1e-4)
    # Overlapping modes still integrate: the entropy must be below the separated value.
    assert EightGaussians(radius=0.3, std=0.3).entropy() < math.log(8) + math.log(
        2 * math.pi * math.e * 0.09
    )


def test_banana_log_prob_formula():
    x = np.array([[0.5, 7.0], [-1.0, 2.0]])
    z2 = x[:, 1] - 4 * (x[:, 0] ** 2 + 1)
    expected = -0.5 * (x[:, 0] ** 2 + z2**2) - math.log(2 * math.pi)
    np.testing.assert_allclose(Banana().log_prob(x), expected, rtol=1e-14)


def test_checkerboard_support():
    dist = Checkerboard()
    x = dist.sample(8000, seed=0).astype(np.float64)
    cells = np.floor(x).astype(int)
    assert np.all((cells.sum(1) % 2) == 0) and np.all((x >= -2) & (x < 2))
    _, counts = np.unique(cells, axis=0, return_counts=True)
    assert len(counts) == 8 and counts.min() > 850
    assert dist.log_prob([[0.5, -0.5]])[0] == -np.inf
    assert dist.log_prob([[2.5, 0.5]])[0] == -np.inf


def test_load_toy_moons_is_standardised_make_moons():
    x, truth = load_toy("moons", n_train=1000, seed=0)
    raw = make_moons(1000, noise=0.05, random_state=0)[0]
    expected = StandardScaler().fit_transform(raw)
    assert x.dtype == np.float32 and x.shape == (1000, 2)
    np.testing.assert_allclose(x, expected, atol=1e-6)
    np.testing.assert_allclose(truth.loc, raw.mean(0))
    np.testing.assert_allclose(truth.scale, raw.std(0))
    assert isinstance(truth, TwoMoons)


@pytest.mark.parametrize("name", ["banana", "spirals"])
def test_load_toy_other_sets(name):
    x, truth = load_toy(name, n_train=500, seed=2)
    np.testing.assert_allclose(x.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x.std(0), 1.0, atol=1e-4)
    raw, raw_truth = load_toy(name, n_train=500, seed=2, standardize=False)
    np.testing.assert_array_equal(raw, GRIDS[name][0].sample(500, seed=2))
    np.testing.assert_array_equal(raw_truth.scale, [1.0, 1.0])
    np.testing.assert_allclose(x, (raw - truth.loc) / truth.scale, atol=1e-5)


def test_load_toy_errors():
    with pytest.raises(ValueError, match="unknown toy data set 'mooons'; known names: moons"):
        load_toy("mooons")
    with pytest.raises(ValueError, match="n_train"):
        load_toy("moons", n_train=1)


def test_toy_input_validation():
    with pytest.raises(ValueError, match=r"shape \[\.\.\., 2\], got shape \(4, 3\)"):
        TwoMoons().log_prob(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="`scale` > 0"):
        Banana(scale=[1.0, 0.0])
    with pytest.raises(ValueError, match="`loc` to be 2 finite numbers"):
        Banana(loc=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="`noise` to be a positive number"):
        TwoMoons(noise=0.0)
    with pytest.raises(ValueError, match="`factor` in"):
        Circles(factor=1.5)
    with pytest.raises(ValueError, match="non-negative integer"):
        Banana().sample(-1)


# ---- images ---------------------------------------------------------------------------


def test_digits():
    data = digits(test_size=0.2, seed=0)
    assert data.x_train.shape == (1437, 8, 8, 1) and data.x_test.shape == (360, 8, 8, 1)
    assert data.x_train.dtype == np.int32 and data.y_train.dtype == np.int32
    assert data.num_levels == 17
    both = np.concatenate([data.x_train, data.x_test])
    assert both.min() == 0 and both.max() == 16
    assert set(np.unique(data.y_test)) == set(range(10))
    again = digits(test_size=0.2, seed=0)
    np.testing.assert_array_equal(again.x_test, data.x_test)
    assert not np.array_equal(digits(test_size=0.2, seed=1).x_test, data.x_test)
    with pytest.raises(ValueError, match=r"fraction in \(0, 1\), got 1.5"):
        digits(test_size=1.5)


def test_dequantize():
    x = digits().x_train[:100]
    y = dequantize(x, seed=0, num_levels=17)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(np.floor(y), x)
    np.testing.assert_array_equal(dequantize(x, seed=0, num_levels=17), y)
    frac = (y - x).ravel()
    assert 0.4 < frac.mean() < 0.6 and frac.max() > 0.9
    # Whole-number floats are refused (datasets.check_pixels is the rule).
    with pytest.raises(ValueError, match=r"integer pixels stored as floats"):
        dequantize(np.array([0.0, 5.0]), num_levels=17)
    # float32 rounding never pushes x + u up to x + 1.
    big = np.full(2000, 2**24 - 1)
    assert np.all(np.floor(dequantize(big, seed=0, num_levels=2**24)) == big)


@pytest.mark.parametrize(
    "x, match",
    [
        (np.array([0.0, 1.5]), r"expected integer pixels in \[0, 17\), got float pixels that "
                               r"are already dequantised \(values in \[0, 1\.5\]\)"),
        (np.array([[0, -1]]), r"integers in \[0, 17\), got values down to -1 in image 0"),
        (np.array([3, 17]), r"integers in \[0, 17\), got values up to 17 in image 1"),
        (np.array([np.nan]), r"got a NaN or infinite value"),
        (np.array(["a"]), r"dtype <U1"),
    ],
)
def test_dequantize_rejects_bad_input(x, match):
    with pytest.raises(ValueError, match=match):
        dequantize(x, num_levels=17)


def test_dequantize_rejects_bad_num_levels():
    with pytest.raises(ValueError, match="`num_levels` to be an integer >= 2"):
        dequantize(np.zeros(3, int), num_levels=1)


# ---- files ----------------------------------------------------------------------------


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_csv(tmp_path):
    path = _write(tmp_path, "data.csv", "x,y,z\n1,2,3\n\n 4.5 , -6e-1,7\n")
    arr = load_array(path)
    assert arr.dtype == np.float32
    np.testing.assert_allclose(arr, [[1, 2, 3], [4.5, -0.6, 7]])
    np.testing.assert_array_equal(load_array(str(path), expected_width=3), arr)
    no_header = _write(tmp_path, "plain.csv", "1,2\n3,4")
    np.testing.assert_array_equal(load_array(no_header), [[1, 2], [3, 4]])


@pytest.mark.parametrize(
    "text, width, match",
    [
        ("a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,abc\n", None,
         r"data\.csv line 7, column 2: 'abc' is not a number$"),
        ("1,2\n3,nan\n", None, r"data\.csv line 2, column 2: 'nan' is not a finite number"),
        ("1,2\n\n-inf,4\n", None, r"data\.csv line 3, column 1: '-inf' is not a finite"),
        ("1,,3\n", None, r"data\.csv line 1, column 2: empty value"),
        ("1,2,3\n4,5\n", None,
         r"data\.csv line 2, column 3: missing value \(expected 3 columns as set by line 1, "
         r"got 2\)"),
        ("x,y\n1,2\n3,4,9\n", None,
         r"data\.csv line 3, column 3: extra value '9' \(expected 2 columns as set by the "
         r"header on line 1, got 3\)"),
        ("1,2,3\n", 2, r"data\.csv line 1, column 3: extra value '3' \(expected 2 columns"),
        ("x,y,z\n1,2,3\n", 2, r"data\.csv line 1: header has 3 columns, expected 2"),
        ("1,2\n\n3,1e300\n", None, r"data\.csv line 3, column 2: 1e\+300 is too large for float32"),
        ("x;y\n1;2\n", None, r"line 2, column 1: '1;2' is not a number \(values must be separated"),
        ("x,y\n\n", None, r"data\.csv has no data rows"),
        ("", None, r"data\.csv is empty"),
    ],
)
def test_load_csv_errors(tmp_path, text, width, match):
    path = _write(tmp_path, "data.csv", text)
    with pytest.raises(ValueError, match=match):
        load_array(path, expected_width=width)


def test_load_npy(tmp_path):
    arr = np.arange(12, dtype=np.int64).reshape(6, 2)
    np.save(tmp_path / "a.npy", arr)
    out = load_array(tmp_path / "a.npy", expected_width=2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, arr)
    np.save(tmp_path / "v.npy", np.arange(5.0))
    assert load_array(tmp_path / "v.npy").shape == (5, 1)
    assert load_array(tmp_path / "v.npy", expected_width=1).shape == (5, 1)


def test_load_npy_errors(tmp_path):
    bad = np.zeros((6, 2))
    bad[4, 1] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(ValueError, match=r"bad\.npy row 5, column 2: inf is not a finite"):
        load_array(tmp_path / "bad.npy")
    np.save(tmp_path / "big.npy", np.array([[1.0], [1e300]]))
    with pytest.raises(ValueError, match=r"big\.npy row 2, column 1: 1e\+300 is not a finite "
                                         r"number in float32"):
        load_array(tmp_path / "big.npy")
    np.save(tmp_path / "v.npy", np.arange(5.0))
    with pytest.raises(ValueError, match=r"v\.npy: expected a 2-D array with 2 columns, got "
                                         r"a 1-D array of shape \(5,\)"):
        load_array(tmp_path / "v.npy", expected_width=2)
    np.save(tmp_path / "c.npy", np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"c\.npy: expected a 2-D array \[n, d\], got shape"):
        load_array(tmp_path / "c.npy")
    np.save(tmp_path / "w.npy", np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"w\.npy: expected 2 columns, got 4"):
        load_array(tmp_path / "w.npy", expected_width=2)
    np.save(tmp_path / "s.npy", np.array([["a", "b"]]))
    with pytest.raises(ValueError, match=r"s\.npy: expected a numeric array, got dtype <U1"):
        load_array(tmp_path / "s.npy")
    np.save(tmp_path / "e.npy", np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"e\.npy has no data rows"):
        load_array(tmp_path / "e.npy")
    _write(tmp_path, "text.npy", "1,2\n")
    with pytest.raises(ValueError, match=r"text\.npy is not a readable \.npy file"):
        load_array(tmp_path / "text.npy")


def test_load_csv_binary_file(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"x,y\n1,\xff\xfe\n")
    with pytest.raises(ValueError, match=r"data\.csv is not a UTF-8 text file"):
        load_array(path)


def test_load_array_path_errors(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(FileNotFoundError, match=r"data file not found: .*nope\.csv"):
        load_array(missing)
    with pytest.raises(ValueError, match=r"unsupported file type '\.txt'; supported: \.csv, "
                                         r"\.npy"):
        load_array(_write(tmp_path, "data.txt", "1,2\n"))
    with pytest.raises(ValueError, match="expected_width"):
        load_array(_write(tmp_path, "ok.csv", "1,2\n"), expected_width=0)


def _outside_functions(tree):
    """Every node of a module except those inside function bodies (run at call time)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def test_datasets_package_does_not_import_tensorflow():
    """Importing tfp_flows.datasets imports no TensorFlow (module-level imports only: the
    target densities of targets.py import it when first evaluated, inside functions)."""
    package_dir = pathlib.Path(datasets.__file__).parent
    for source in package_dir.glob("*.py"):
        for node in _outside_functions(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert not name.startswith(("tensorflow", "keras")), (source.name, name)
                assert name.split(".")[0] in {
                    "csv", "dataclasses", "functools", "gzip", "importlib", "math", "os", "numpy",
                    "pickle", "scipy", "sklearn", "tfp_flows", "zipfile",
                }, (source.name, name)
                if name.startswith("tfp_flows"):
                    assert name.startswith("tfp_flows.datasets"), (source.name, name)


def test_a_first_line_of_nan_is_a_bad_data_row_not_a_header(tmp_path):
    from tfp_flows.datasets import load_array
    path = tmp_path / "nan_first.csv"
    path.write_text("nan,nan\n1.0,2.0\n")
    with pytest.raises(ValueError, match=r"line 1, column 1: 'nan' is not a finite number"):
        load_array(str(path))
    header = tmp_path / "header.csv"
    header.write_text("x1,x2\n1.0,2.0\n")
    np.testing.assert_array_equal(load_array(str(header)), [[1.0, 2.0]])


def test_datasets_modules_import_each_other_without_a_circle():
    """Every import between the modules of tfp_flows.datasets (at the top or inside a
    function) points one way: curves and toy2d share toy_base instead of each other."""
    package_dir = pathlib.Path(datasets.__file__).parent
    modules = {p.stem for p in package_dir.glob("*.py")} - {"__init__"}
    edges = {name: set() for name in modules}
    for name in modules:
        for node in ast.walk(ast.parse((package_dir / f"{name}.py").read_text())):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(
                    "tfp_flows.datasets"):
                continue
            target = node.module.removeprefix("tfp_flows.datasets").lstrip(".")
            if target:
                edges[name].add(target)
            else:  # from tfp_flows.datasets import curves (a module) or a name (the package)
                for alias in node.names:
                    edges[name].add(alias.name if alias.name in modules else "__init__")
    assert not any("__init__" in targets for targets in edges.values()), edges

    def reaches(start, goal, seen):
        return any(t == goal or (t not in seen and reaches(t, goal, seen | {t}))
                   for t in edges.get(start, ()))

    circles = sorted(name for name in modules if reaches(name, name, {name}))
    assert not circles, {name: sorted(edges[name]) for name in circles}
