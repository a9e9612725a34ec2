"""Every command in README.md runs: the Python example, the demo, the test command."""
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _commands(block=0):
    lines = [line.split("#")[0].strip() for line in _blocks("bash")[block].splitlines()]
    return [line for line in lines if line]


def test_readme_has_exactly_two_setup_commands():
    commands = _commands()
    assert len(commands) == 2, commands
    assert commands[0].startswith('pip install -e ".[test]"') and "tfp-flows demo" in commands[0]
    assert commands[1] == "python -m pytest"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _commands()[1] in [line.strip() for line in ci]


def test_install_command_names_the_test_extra():
    setup = (ROOT / "setup.cfg").read_text()
    assert re.search(r"^test =\n(\s+\S.*\n)+", setup, flags=re.M), "setup.cfg has no test extra"
    assert "tfp-flows = tfp_flows_cli:main" in setup


def test_demo_command_runs(tmp_path):
    """The README's main job, in its quick form (the full one takes about two minutes)."""
    from tfp_flows_cli import main

    demo = shlex.split(_commands()[0].split("&&")[1])
    assert demo == ["tfp-flows", "demo"]
    out = tmp_path / "demo"
    assert main(demo[1:] + ["--quick", "--out", str(out)]) == 0
    assert (out / "model.keras").is_file() and (out / "metrics.json").is_file()


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _blocks("python")[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "readme"})


def test_command_line_examples_run(tmp_path, monkeypatch):
    """The command-line block runs as written, with only the epochs cut down for speed."""
    from tfp_flows_cli import main

    monkeypatch.chdir(tmp_path)
    for command in _commands(block=1):
        argv = shlex.split(command)
        assert argv[0] == "tfp-flows"
        if argv[1] == "fit":
            argv += ["--epochs", "2", "--layers", "2", "--hidden", "8"]
        assert main(argv[1:]) == 0, command
    assert (tmp_path / "runs" / "moons" / "metrics.json").is_file()
    assert len((tmp_path / "log_prob.csv").read_text().splitlines()) == 1001  # header + rows
