"""All-or-nothing output (no TensorFlow needed): a directory (:class:`OutputDir`) or a file
(:func:`write_text_atomically`) appears only when complete, with the usual permissions; a
run killed at any point leaves at most a hidden temporary entry."""
import io
import json
import os
import secrets
import shutil
import time
from pathlib import Path

import numpy as np

from tfp_flows_cli.errors import CLIError


def _make_unique(parent, prefix, make=Path.mkdir):
    """``(path, make(path))`` for a fresh ``parent/prefix<random>``: by default a directory
    with the usual permissions (``tempfile.mkdtemp``'s 0700 would end up on the output)."""
    for _ in range(100):
        path = Path(parent) / f"{prefix}{secrets.token_hex(4)}"
        try:
            return path, make(path)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name {prefix}* in {parent}")


def _identity(path):
    """``(device, inode)`` of ``path`` (not following a final symlink), or None if absent."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class OutputDir:
    """All-or-nothing output directory. Constructing it checks ``final`` (not a file, not a
    non-empty directory without ``overwrite``, holding none of ``protect``). Inside
    ``with``, files go into :attr:`path`, a fresh hidden directory next to ``final``;
    :meth:`commit` renames it into place, and leaving without a commit removes it (and the
    parent directories this object created). The commit never replaces what another process
    wrote meanwhile: without ``overwrite`` it is one ``rename``, which POSIX refuses onto a
    non-empty directory; with ``overwrite`` only the directory seen at the start (same
    inode) is replaced; else :meth:`commit` raises :class:`CLIError`."""

    def __init__(self, final, overwrite=False, protect=()):
        self.final = Path(final)
        self.path = None
        self._created = []
        self._replace = None   # identity of the non-empty directory --overwrite replaces
        if Path.cwd().resolve().is_relative_to(self.final.resolve()):
            raise CLIError(f"--out {final} is the current directory or one of its parents; "
                           "choose a new directory")
        if self.final.exists() or self.final.is_symlink():
            if not self.final.is_dir():
                raise CLIError(f"--out {final} exists and is not a directory")
            if any(self.final.iterdir()):
                if not overwrite:
                    raise CLIError(f"--out {final} exists and is not empty; pass --overwrite "
                                   "to replace it, or choose another directory")
                for item in filter(None, protect):
                    if Path(item).resolve().is_relative_to(self.final.resolve()):
                        raise CLIError(f"--out {final} holds the input {item}; --overwrite "
                                       "would delete it: choose another directory")
                self._replace = _identity(self.final)

    def __enter__(self):
        parent = self.final.absolute().parent
        missing = [folder for folder in (parent, *parent.parents) if not folder.exists()]
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self._created.append(folder)
            self.path = _make_unique(self.final.absolute().parent, f".{self.final.name}.tmp-")[0]
        except OSError as err:
            self._cleanup()
            raise CLIError(f"cannot create --out {self.final}: {err.strerror or err}") from None
        return self

    def _conflict(self):
        return CLIError(f"--out {self.final} was written by another process while this run "
                        "was working; it was left as it is and this run's results were "
                        "discarded (use another --out)")

    def commit(self):
        final = self.final
        now = _identity(final)
        try:
            if self._replace is not None and now is not None:
                if now != self._replace:
                    raise self._conflict()
                self._swap()
            else:
                os.rename(self.path, final)   # refused if final is a non-empty directory
        except OSError as err:
            if _identity(final) not in (None, self._replace):
                raise self._conflict() from None
            raise CLIError(f"cannot move the results into --out {final}: "
                           f"{err.strerror or err}") from None
        self.path = None
        self._created = []

    def _swap(self):
        """Replaces the directory found at the start by the finished one."""
        final = self.final
        backup = _make_unique(final.absolute().parent, f".{final.name}.old-")[0]
        old = backup / final.name
        os.rename(final, old)
        try:
            os.rename(self.path, final)
        except OSError:
            try:
                os.rename(old, final)       # put the old results back
            except OSError:
                raise CLIError(f"cannot move the results into --out {final}; its previous "
                               f"contents are in {old}") from None
            shutil.rmtree(backup, ignore_errors=True)
            raise
        shutil.rmtree(backup, ignore_errors=True)

    def _cleanup(self):
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                break
        self._created = []

    def __exit__(self, *exc):
        self._cleanup()
        return False


def write_run(out, model, metrics, figures, start):
    """Writes ``model.keras``, the ``figures`` (``{file name: figure}``) and ``metrics.json``
    (with ``files`` and ``wall_time_s`` since ``start``) into ``out``; returns ``metrics``."""
    import matplotlib.pyplot as plt

    try:
        with out:
            model.save(out.path / "model.keras")
            for name, fig in figures.items():
                fig.savefig(out.path / name, dpi=110, bbox_inches="tight")
            metrics["files"] = ["model.keras", "metrics.json", *figures]
            metrics["wall_time_s"] = round(time.perf_counter() - start, 3)
            text = json.dumps(metrics, indent=2, allow_nan=False) + "\n"
            (out.path / "metrics.json").write_text(text)
            out.commit()
    finally:
        for fig in figures.values():
            plt.close(fig)
    return metrics


def check_output_file(out, overwrite, protect=()):
    """Refuses an output file that exists (without ``overwrite``), is a directory, sits in a
    missing directory, or is one of the inputs ``protect`` (``None`` entries are skipped)."""
    if out is None:
        return
    out = Path(out)
    for item in filter(None, protect):
        if out.exists() and Path(item).exists() and out.resolve() == Path(item).resolve():
            raise CLIError(f"--out {out} is an input of this command; choose another file")
    if out.is_dir():
        raise CLIError(f"--out {out} is a directory, expected a file name")
    if out.exists() and not overwrite:
        raise CLIError(f"--out {out} exists; pass --overwrite to replace it")
    if not out.absolute().parent.is_dir():
        raise CLIError(f"cannot write --out {out}: directory {out.absolute().parent} "
                       "does not exist")


def write_text_atomically(out, data, overwrite=False):
    """Writes ``data`` (text or bytes) to a temporary file next to ``out``, then puts it in
    place: with ``overwrite`` by ``os.replace``; otherwise by a hard link, which fails if
    another process created ``out`` meanwhile (without links: a last check and a rename)."""
    out = Path(out)
    data = data.encode() if isinstance(data, str) else bytes(data)
    taken = CLIError(f"--out {out} was written by another process while this run was "
                     "working; it was left as it is")
    tmp = None
    try:
        tmp, fd = _make_unique(out.absolute().parent, f".{out.name}.tmp-", lambda path: os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if overwrite:
            os.replace(tmp, out)
        else:
            try:
                os.link(tmp, out)
            except FileExistsError:
                raise taken from None
            except OSError:   # no hard links on this file system
                if out.exists():
                    raise taken from None
                os.replace(tmp, out)
    except OSError as err:
        raise CLIError(f"cannot write --out {out}: {err.strerror or err}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def npy_bytes(array):
    """The contents of a ``.npy`` file holding ``array`` (no pickles)."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()
