"""Running code in a fresh Python process, as a user's next script does (saving in one
process and loading in another is what the saving tests check)."""
import os
import subprocess
import sys
import textwrap


def run_python(code, cwd, timeout=600):
    """Runs ``code`` (dedented) with this interpreter in ``cwd``, TensorFlow's C++ logs
    quiet; fails the test with the end of stderr if it does not exit with status 0."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result
