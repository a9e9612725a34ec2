"""The tutorials' sources: every notebook is paired with a jupytext percent-format script,
the two hold the same cells, and no file under tutorials/ writes notebook cells from Python
strings. Running the notebooks themselves is nbmake's job (``--nbmake`` in setup.cfg)."""
import re
from pathlib import Path

import jupytext
import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))
SCRIPTS = sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def _cells(path):
    """(cell type, source) of the code and markdown cells, in order; outputs and metadata
    are not compared."""
    nb = jupytext.read(path)
    return [(cell.cell_type, cell.source.strip("\n")) for cell in nb.cells
            if cell.cell_type in ("code", "markdown")]


def _first_line(source):
    line = source.lstrip("\n").split("\n", 1)[0]
    return _short(line)


def _short(line):
    return line if len(line) <= 80 else line[:77] + "..."


def _describe_difference(a, b):
    """Where two (cell type, source) pairs first differ, in words."""
    if a[0] != b[0]:
        return (f"a {a[0]} cell starting {_first_line(a[1])!r} in the notebook, a {b[0]} cell "
                f"starting {_first_line(b[1])!r} in the script")
    lines_a, lines_b = a[1].split("\n"), b[1].split("\n")
    for number, (line_a, line_b) in enumerate(zip(lines_a, lines_b), 1):
        if line_a != line_b:
            break
    else:
        number = min(len(lines_a), len(lines_b)) + 1
    line_a, line_b = (_short(lines[number - 1]) if number <= len(lines) else "<end of cell>"
                      for lines in (lines_a, lines_b))
    return (f"{a[0]} cell starting {_first_line(a[1])!r}, line {number}: {line_a!r} in "
            f"the notebook, {line_b!r} in the script")


def test_there_are_tutorials():
    assert len(NOTEBOOKS) >= 4, f"expected the tutorial notebooks in {TUTORIALS}, found {NOTEBOOKS}"


def test_every_notebook_has_its_script_and_back():
    notebooks = {path.stem for path in NOTEBOOKS}
    scripts = {path.stem for path in SCRIPTS}
    assert notebooks - scripts == set(), (
        f"notebooks without a percent-format script: {sorted(notebooks - scripts)}; create it "
        f"with `jupytext --to py:percent tutorials/<name>.ipynb`")
    assert scripts - notebooks == set(), (
        f"scripts without a notebook: {sorted(scripts - notebooks)}; create it with "
        f"`jupytext --sync tutorials/<name>.py` and execute it")


def test_pairing_is_configured():
    config = (TUTORIALS / "jupytext.toml").read_text()
    assert re.search(r'^formats\s*=\s*"ipynb,py:percent"', config, flags=re.MULTILINE), config


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
def test_script_is_percent_format(script):
    text = script.read_text()
    assert "format_name: percent" in text and "\n# %%" in text, (
        f"{script.name} is not a jupytext percent-format script")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_and_script_hold_the_same_cells(notebook):
    script = notebook.with_suffix(".py")
    if not script.exists():
        pytest.skip(f"{script.name} missing (reported by the pairing test)")
    in_notebook, in_script = _cells(notebook), _cells(script)
    fix = (f"edit {script.name} (the source) and run `jupytext --sync tutorials/{script.name}`, "
           f"then re-execute the notebook (tutorials/README.md)")
    for index, (a, b) in enumerate(zip(in_notebook, in_script)):
        if a != b:
            pytest.fail(
                f"{notebook.name} and {script.name} differ first at cell {index} "
                f"({_describe_difference(a, b)}); {fix}",
                pytrace=False)
    if len(in_notebook) != len(in_script):
        index = min(len(in_notebook), len(in_script))
        longer, cells = ((notebook.name, in_notebook) if len(in_notebook) > len(in_script)
                         else (script.name, in_script))
        pytest.fail(
            f"{notebook.name} has {len(in_notebook)} cells and {script.name} "
            f"{len(in_script)}; the first differing cell is cell {index}, only in {longer} "
            f"({cells[index][0]} cell starting {_first_line(cells[index][1])!r}); {fix}",
            pytrace=False)


_CELLS_FROM_STRINGS = re.compile(
    r"new_(code|markdown|raw)_cell|new_notebook|nbformat\.v4|from\s+nbformat|import\s+nbformat")


def test_no_notebook_cells_inside_python_strings():
    offenders = []
    for path in sorted(TUTORIALS.rglob("*")):
        if not path.is_file() or path.suffix == ".ipynb" or "__pycache__" in path.parts:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:  # images and other binary files
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if _CELLS_FROM_STRINGS.search(line):
                offenders.append(f"{path.relative_to(TUTORIALS.parent)}:{number}: {line.strip()}")
    assert not offenders, (
        "tutorials are notebooks paired with percent-format scripts, not cells built from "
        "Python strings with nbformat:\n" + "\n".join(offenders))


def test_comparison_catches_an_edit_on_one_side(tmp_path):
    """The sync check is not vacuous: a script edited without its notebook differs."""
    notebook = NOTEBOOKS[0]
    edited = tmp_path / notebook.with_suffix(".py").name
    text = notebook.with_suffix(".py").read_text()
    edited.write_text(text.replace("\n# %%\n", "\n# %%\nprint('edited')\n", 1))
    assert _cells(edited) != _cells(notebook)
