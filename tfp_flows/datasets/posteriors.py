"""A realistic posterior without a known normaliser: Bayesian logistic regression on
scikit-learn's breast-cancer data, with a cached reference from a long NUTS run.

Model (569 patients, 30 features standardised to mean 0 and standard deviation 1 with
:class:`sklearn.preprocessing.StandardScaler`; label 1 = benign):

.. math:: w_j \\sim N(0, s^2)\\ (j = 1..30), \\quad b \\sim N(0, s^2), \\quad
          y_i \\sim \\mathrm{Bernoulli}(\\sigma(x_i^\\top w + b)),

with prior scale ``s = 1`` by default. The parameter vector is ``theta = (w_1..w_30, b)``
(event shape ``(31,)``). ``unnormalized_log_prob(theta)`` is the log joint
``log p(theta) + log p(y | X, theta)`` (the prior normalised), so its normaliser is the
log evidence ``log p(y | X)``: unknown (``log_normalizer = None``), and an importance
sampling estimate of ``log Z`` estimates it.

The reference (:func:`logistic_regression_reference`) comes from
``benchmarks/logistic_reference.py``: TFP's ``NoUTurnSampler`` with dual-averaging step
size adaptation, 4 chains; see that script for the settings and the file itself for the
measured R-hat and effective sample sizes.
"""
import dataclasses
import os

import numpy as np

from tfp_flows.datasets.targets import Target, _check_positive, _tf

__all__ = ["LogisticRegressionTarget", "PosteriorReference", "logistic_regression_reference"]

REFERENCE_FILE = os.path.join(os.path.dirname(__file__), "data",
                              "logistic_regression_reference.npz")


def breast_cancer_design():
    """``(X [569, 30] float64 standardised, y [569] float64 in {0, 1})``.

    Example:
        >>> X, y = breast_cancer_design()
        >>> X.shape, round(float(X.std(0).mean()), 6), float(y.mean().round(3))
        ((569, 30), 1.0, 0.627)
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(x.astype(np.float64)), y.astype(np.float64)


class LogisticRegressionTarget(Target):
    """Posterior of a Bayesian logistic regression on the breast-cancer data (see the
    module docstring); ``normalized`` is False, ``log_normalizer`` None, and ``sample``
    raises (use :meth:`reference` for posterior draws).

    .. math:: \\log \\tilde p(\\theta) = \\sum_i \\big(y_i \\eta_i - \\log(1 + e^{\\eta_i})
              \\big) + \\sum_{j=1}^{31} \\log N(\\theta_j; 0, s^2), \\quad
              \\eta = X w + b.

    The log evidence (this target's log Z, for ``prior_scale=1``) is estimated by
    importance sampling in the reference run: ``reference().info["log_evidence"]`` (about
    -55.22, standard error ``info["log_evidence_std_error"]``).

    Args:
        prior_scale: ``s``, the prior standard deviation of every weight and the bias.

    Example:
        >>> t = LogisticRegressionTarget()
        >>> t.event_shape, t.normalized
        ((31,), False)
        >>> round(float(t(np.zeros((1, 31)))[0]), 3)  # 569 log(1/2) + 31 log N(0; 0, 1)
        -422.88
    """

    name = "logistic_regression"
    event_shape = (31,)
    log_normalizer = None

    def __init__(self, prior_scale=1.0):
        self.prior_scale = _check_positive(prior_scale, "prior_scale")
        self.features, self.labels = breast_cancer_design()

    def _unnormalized_log_prob(self, theta):
        tf = _tf()
        dtype = theta.dtype
        x = tf.constant(self.features, dtype)
        y = tf.constant(self.labels, dtype)
        eta = tf.einsum("...d,nd->...n", theta[..., :-1], x) + theta[..., -1:]
        log_lik = tf.reduce_sum(y * eta - tf.math.softplus(eta), axis=-1)
        s = self.prior_scale
        log_prior = (-0.5 * tf.reduce_sum(tf.square(theta), axis=-1) / s**2
                     - 31.0 * (0.5 * np.log(2.0 * np.pi) + np.log(s)))
        return log_lik + log_prior

    def reference(self):
        """The cached NUTS reference (:func:`logistic_regression_reference`); only for
        ``prior_scale=1``."""
        if self.prior_scale != 1.0:
            raise ValueError("the cached reference is for prior_scale=1 only; got "
                             f"prior_scale={self.prior_scale}")
        return logistic_regression_reference()


@dataclasses.dataclass(frozen=True)
class PosteriorReference:
    """Reference posterior draws from a long MCMC run.

    Attributes:
        mean, std: float64 ``[d]``, posterior mean and standard deviation per coordinate
            over all post-warm-up draws of all chains.
        draws: float32 ``[m, d]``, thinned draws (all chains, evenly thinned).
        rhat: float64 ``[d]``, split R-hat per coordinate (< 1.01 is good).
        ess: float64 ``[d]``, effective sample size per coordinate (all chains).
        info: dict of the run's settings and measures (chains, draws, warm-up, seed,
            step size, mean tree size, divergences, seconds, versions).
    """

    mean: np.ndarray
    std: np.ndarray
    draws: np.ndarray
    rhat: np.ndarray
    ess: np.ndarray
    info: dict


def logistic_regression_reference(path=None):
    """Load the cached NUTS reference of :class:`LogisticRegressionTarget` (prior scale 1).

    Args:
        path: the ``.npz`` file; None for the one shipped with the package (written by
            ``benchmarks/logistic_reference.py``).

    Returns:
        A :class:`PosteriorReference`.

    Example:
        >>> ref = logistic_regression_reference()
        >>> ref.draws.shape, ref.mean.shape
        ((2000, 31), (31,))
        >>> bool(ref.rhat.max() < 1.01), bool(ref.ess.min() > 1000)
        (True, True)
    """
    path = REFERENCE_FILE if path is None else path
    with np.load(path, allow_pickle=False) as data:
        info = {k[5:]: data[k].item() for k in data.files if k.startswith("info_")}
        return PosteriorReference(mean=data["mean"], std=data["std"], draws=data["draws"],
                                  rhat=data["rhat"], ess=data["ess"], info=info)
