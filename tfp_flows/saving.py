"""Loading a saved flow with errors that say what is wrong with the file."""
import os
import zipfile

import keras

__all__ = ["check_save_path", "load_model"]


def check_save_path(filepath):
    """Refuses the legacy HDF5 format before anything is written: a flow saved as ``.h5``
    cannot be loaded back (Keras 3 reads no custom model from it).

    Example:
        >>> check_save_path("flow.h5")
        Traceback (most recent call last):
        ...
        ValueError: cannot save a flow to 'flow.h5': the legacy HDF5 format (.h5) cannot hold a FlowModel's layers, so it would not load back; save to a .keras file, e.g. 'flow.keras'
    """
    path = os.fspath(filepath)
    root, ext = os.path.splitext(path)
    if ext.lower() in (".h5", ".hdf5"):
        raise ValueError(
            f"cannot save a flow to {path!r}: the legacy HDF5 format ({ext}) cannot hold a "
            f"FlowModel's layers, so it would not load back; save to a .keras file, e.g. "
            f"{os.path.basename(root) + '.keras'!r}")


def load_model(filepath, **kwargs):
    """``keras.models.load_model`` after checking the file: a missing, empty, truncated or
    non-Keras file gets an error that says which (Keras says "File not found" for all of
    them). Works in a fresh process: importing :mod:`tfp_flows` registers its classes.

    Args:
      filepath: path of a ``.keras`` file written by ``model.save``.
      **kwargs: ``keras.models.load_model``'s other arguments (``compile``, ``safe_mode``).

    Returns:
      The model (a :class:`~tfp_flows.FlowModel` for a saved flow).

    Example:
        >>> load_model("no_such_flow.keras")
        Traceback (most recent call last):
        ...
        ValueError: cannot load 'no_such_flow.keras': no such file
    """
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise ValueError(f"cannot load {path!r}: no such file")
    if os.path.isdir(path):
        raise ValueError(f"cannot load {path!r}: it is a directory, not a .keras file (a "
                         "SavedModel directory from flow.export is for serving; load it with "
                         "tf.saved_model.load)")
    if os.path.splitext(path)[1].lower() in (".h5", ".hdf5"):
        raise ValueError(f"cannot load {path!r}: flows are saved as .keras files; the legacy "
                         "HDF5 format cannot hold them")
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError(f"cannot load {path!r}: the file is empty (0 bytes)")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"cannot load {path!r}: not a .keras file (a zip archive); it is "
                         f"corrupt or truncated ({size:,} bytes)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ValueError(f"cannot load {path!r}: the archive is corrupt or truncated "
                         f"({error})") from None
    if broken is not None:
        raise ValueError(f"cannot load {path!r}: the archive is corrupt ({broken} fails its "
                         "checksum)")
    if "config.json" not in names:
        raise ValueError(f"cannot load {path!r}: a zip archive, but not a Keras model (no "
                         "config.json)")
    return keras.models.load_model(path, **kwargs)
