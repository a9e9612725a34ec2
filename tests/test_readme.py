"""Every command in README.md runs: the Python example, the demo, the test command, and
the command-line chain (as separate processes, as a user runs it)."""
import os
import re
import shlex
import shutil
import subprocess
import sys
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


def test_demo_command_runs_twice(tmp_path, monkeypatch):
    """The README's main job, in its quick form (the full one takes minutes), run twice in
    one folder as a user would: the second run replaces the first one's demo_output."""
    from tfp_flows_cli import main

    demo = shlex.split(_commands()[0].split("&&")[1].split("#")[0])
    assert demo == ["tfp-flows", "demo"]
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(demo[1:] + ["--quick", "-q"]) == 0
    out = tmp_path / "demo_output"
    assert (out / "model.keras").is_file() and (out / "metrics.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo_output"]
    # The demo's model loads in a fresh process.
    done = subprocess.run(_tfp_flows_command() + ["sample", "demo_output/model.keras", "-n", "3"],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.splitlines()[0] == "x1,x2" and len(done.stdout.splitlines()) == 4


def test_setup_line_states_the_demo_duration_the_command_states():
    """The set-up comment and the demo's own help/banner give the same wall time."""
    from tfp_flows_cli.files import DEMO_DURATION

    found = re.search(r"\((\d+)-(\d+) min\)", _blocks("bash")[0].splitlines()[0])
    assert found, _blocks("bash")[0]
    assert f"{found[1]} to {found[2]} minutes" in DEMO_DURATION


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _blocks("python")[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "readme"})


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")


def _tfp_flows_command():
    """The installed ``tfp-flows`` of this environment, else ``python -m tfp_flows_cli``."""
    exe = Path(sys.executable).with_name("tfp-flows")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("tfp-flows")
    return [found] if found else [sys.executable, "-m", "tfp_flows_cli"]


def test_command_line_examples_run_as_separate_processes(tmp_path):
    """The README's Command line block, each line in its own fresh process exactly as
    written, except that the value of ``--epochs`` in ``fit`` is replaced by 2 (for speed;
    nothing else changes). The fresh processes are the point: ``sample`` and ``log-prob``
    must load the model that ``fit`` saved in another process."""
    commands = _commands(block=1)
    assert [shlex.split(c)[:2] for c in commands] == [
        ["tfp-flows", "fit"], ["tfp-flows", "sample"], ["tfp-flows", "log-prob"]]
    env = _env()
    for command in commands:
        argv = shlex.split(command)
        if "--epochs" in argv:
            argv[argv.index("--epochs") + 1] = "2"
        done = subprocess.run(_tfp_flows_command() + argv[1:], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert done.stderr == "", (command, done.stderr)
    assert (tmp_path / "runs" / "moons" / "metrics.json").is_file()
    lines = (tmp_path / "log_prob.csv").read_text().splitlines()
    assert lines[0] == "log_prob" and len(lines) == 1001   # header + one value per sample
    assert all(float(v) > -50 for v in lines[1:])   # its own samples: finite, plausible
