"""Training and evaluation: one home for the default recipe and the metrics, used by the
``tfp-flows`` command, the benchmarks and the tutorials alike.

- :func:`fit_flow`: Adam, a learning-rate schedule (``"plateau"``, ``"cosine"``,
  ``"constant"``), early stopping on the validation loss with the best weights restored,
  an optional wall-clock budget (:class:`TimeBudget`), an optional moving average of the
  weights (:class:`AveragedWeights`).
- :func:`mean_nll`, :func:`kl_to_truth`, :func:`bits_per_dim`: mean negative
  log-likelihood, KL divergence to an exact density, bits per dimension of integer images;
  each an :class:`Estimate` ``(value, std_error)``; :func:`bits_per_image` per image; each
  takes ``context=`` for conditional flows. :func:`conditional_kl`: mean KL to an exact
  conditional density over contexts; :func:`context_gain`: how much a conditional flow uses
  its context (NLL given shuffled contexts minus NLL given the right ones).
- :func:`fit_to_target`: variational inference, the reverse KL from the flow to an
  unnormalised density (a function, a TFP distribution, or a pinned joint distribution
  through :class:`JointTarget`); :class:`ReverseKL` is its trainer.
- :func:`importance_log_weights`, :func:`importance_diagnostics`: importance weights of a
  flow's draws against a target, and from them Kish's ESS, the Pareto k-hat, ``log Z`` with
  its standard error and the ELBO (:class:`ImportanceDiagnostics`); :func:`pareto_khat`.
- :class:`ProgressPrinter`: a callback printing the losses, the time so far and the time
  left, about 20 lines per run (:func:`format_duration` writes the times).
- :func:`dequantized_dataset`: integer images as a ``tf.data`` pipeline with fresh uniform
  dequantisation every epoch (what ``FlowModel.fit`` does with integer images).

Example:
    >>> import numpy as np, tfp_flows
    >>> from tfp_flows.datasets import load_toy
    >>> x, truth = load_toy("banana", n_train=500, seed=0)
    >>> flow = tfp_flows.maf(event_shape=2, num_layers=2, hidden_units=(16,), seed=0)
    >>> history = fit_flow(flow, x, epochs=2)
    >>> kl = kl_to_truth(flow, truth, num_samples=2000, seed=1)
    >>> bool(kl.value > 0), bool(kl.std_error > 0)
    (True, True)
"""
from tfp_flows.fit_data import dequantized_dataset
from tfp_flows.training.averaging import AveragedWeights
from tfp_flows.training.metrics import (
    Estimate,
    bits_per_dim,
    bits_per_image,
    conditional_kl,
    context_gain,
    kl_to_truth,
    mean_nll,
    negative_log_likelihoods,
)
from tfp_flows.training.diagnostics import (
    ImportanceDiagnostics,
    importance_diagnostics,
    importance_log_weights,
    pareto_khat,
)
from tfp_flows.training.joint import JointTarget
from tfp_flows.training.progress import ProgressPrinter, format_duration
from tfp_flows.training.callbacks import DEFAULT_LEARNING_RATE
from tfp_flows.training.recipe import (
    DEFAULT_VALIDATION_SPLIT,
    SCHEDULES,
    SMALL_DATA,
    TimeBudget,
    fit_flow,
)
from tfp_flows.training.target import ReverseKL, check_target, fit_to_target

__all__ = ["DEFAULT_LEARNING_RATE", "DEFAULT_VALIDATION_SPLIT", "SCHEDULES", "SMALL_DATA", "AveragedWeights", "Estimate", "JointTarget", "ProgressPrinter",
           "ReverseKL",
           "TimeBudget", "check_target", "fit_to_target",
           "ImportanceDiagnostics", "importance_diagnostics", "importance_log_weights",
           "pareto_khat",
           "bits_per_dim", "bits_per_image", "conditional_kl", "context_gain",
           "dequantized_dataset", "fit_flow",
           "format_duration",
           "kl_to_truth", "mean_nll", "negative_log_likelihoods"]
