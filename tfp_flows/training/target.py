r"""Fitting a flow to a density it can evaluate but not sample: variational inference.

:func:`fit_to_target` minimises the reverse KL divergence from the flow ``q`` to an
unnormalised target density :math:`\tilde p = Z p`,

.. math::
    \mathcal{L} = \mathbb{E}_{x \sim q}\left[\log q(x) - \log \tilde p(x)\right]
                = \mathrm{KL}(q \,\|\, p) - \log Z,

the negative evidence lower bound, with reparameterised draws
``x, log q(x) = flow.sample_and_log_prob(n)`` (one pass per layer for :func:`~tfp_flows.iaf`
and the coupling flows; ``D`` passes for :func:`~tfp_flows.maf`). It runs through Keras's
``fit`` on a small trainer model that shares the flow's weights and optimizer, so everything
``fit`` offers works: history, callbacks, the progress bar, ``EarlyStopping``,
``BackupAndRestore``, ``tf.distribute``; the trained flow is the same ``FlowModel``, saved
and loaded as any other.
"""
import warnings

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.model_training import (
    VECTOR_STEPS_PER_EXECUTION,
    StopOnNonFinite,
    apply_if_finite,
    step_logs,
    trains_distributed,
)
from tfp_flows.training.callbacks import Recipe, check_recipe, compile_with_adam
from tfp_flows.training.joint import is_joint_distribution
from tfp_flows.validation import check_flag, check_positive_int, check_seed
from tfp_flows.xla import XLADefault

__all__ = ["ReverseKL", "check_target", "fit_to_target", "resolve_target"]


def resolve_target(target, event_shape):
    """A target's log-density function: a callable as it is (the package's targets, a
    :class:`JointTarget`, a plain function), a TFP distribution's ``log_prob`` after checking
    its event shape; a joint distribution must come through :class:`JointTarget`.

    Args:
      target: what the user passed as the target.
      event_shape: the flow's event shape.

    Example:
        >>> import tensorflow_probability as tfp
        >>> fn = resolve_target(tfp.distributions.Normal([0.0, 0.0], 1.0), (2,))
        Traceback (most recent call last):
        ...
        ValueError: the target distribution has event shape (), the flow (2,)
    """
    if is_joint_distribution(target):
        raise ValueError("a joint distribution target goes through JointTarget, which maps "
                         "the flow's flat vectors to its structure: fit_to_target(flow, "
                         "JointTarget(pinned_model)) with a flow of event_shape "
                         "JointTarget(pinned_model).event_size")
    if isinstance(target, tfp.distributions.Distribution):
        shape = tuple(target.event_shape)
        if shape != tuple(event_shape):
            raise ValueError(f"the target distribution has event shape {shape}, the flow "
                             f"{tuple(event_shape)}")
        return target.log_prob
    if not callable(target):
        raise ValueError("target must be a function of [n, *event_shape] draws returning "
                         f"[n] log-densities, or a TFP distribution; got "
                         f"{type(target).__name__}")
    return target


def check_target(flow, target, num_draws=8, seed=0):
    """Checks a target against a flow before any training, on a few of the flow's draws:
    it returns one finite log-density per draw (shape ``[n]``) and traces inside
    ``tf.function``. Returns the target's log-density function.

    Args:
      flow: the :class:`~tfp_flows.FlowModel` to fit.
      target: a function of ``[n, *event_shape]`` draws returning ``[n]`` unnormalised
        log-densities (TensorFlow ops only), a TFP distribution over ``event_shape``, or a
        :class:`~tfp_flows.training.JointTarget`.
      num_draws: how many of the flow's draws to try it on.
      seed: the draws' seed.

    Example:
        >>> import tfp_flows
        >>> flow = tfp_flows.iaf(event_shape=2, num_layers=1, hidden_units=(4,))
        >>> check_target(flow, lambda x: tf.reduce_sum(x, -1))(tf.zeros([3, 2])).shape
        TensorShape([3])
        >>> check_target(flow, lambda x: x)
        Traceback (most recent call last):
        ...
        ValueError: the target must return one log-density per draw, shape [8], got shape (8, 2) for draws of shape (8, 2)
    """
    log_prob = resolve_target(target, flow.event_shape)
    x = flow.sample(num_draws, seed=seed)
    try:
        eager = tf.convert_to_tensor(log_prob(x))
    except Exception as error:   # the user's function: say what failed and where
        raise ValueError(f"the target failed on {num_draws} draws of shape {tuple(x.shape)} "
                         f"from the flow: {type(error).__name__}: {error}") from error
    if tuple(eager.shape) != (num_draws,):
        raise ValueError(f"the target must return one log-density per draw, shape "
                         f"[{num_draws}], got shape {tuple(eager.shape)} for draws of shape "
                         f"{tuple(x.shape)}")
    if not eager.dtype.is_floating:
        raise ValueError(f"the target must return floating-point log-densities, got "
                         f"{eager.dtype.name}")
    bad = np.flatnonzero(~np.isfinite(eager.numpy()))
    if bad.size:
        raise ValueError(
            f"the target's log-density is not finite at {bad.size} of {num_draws} draws of "
            f"the flow (draw {bad[0]}: {x[bad[0]].numpy().tolist()} gives "
            f"{eager[bad[0]].numpy()}); training would start from NaN. Give the target a "
            "finite log-density wherever the flow puts mass (a constrained support goes "
            "through a fixed bijector at the flow's data end, e.g. tfb.Exp() for positive "
            "values)")
    try:
        tf.function(log_prob)(x)
    except Exception as error:
        raise ValueError(
            "the target must be traceable by tf.function (TensorFlow ops only, no NumPy on "
            f"tensors or Python branches on their values): tracing it raised "
            f"{type(error).__name__}: {error}") from error
    return log_prob


@keras.saving.register_keras_serializable(package="tfp_flows")
class ReverseKL(XLADefault, keras.Model):
    r"""The trainer :func:`fit_to_target` fits: one step draws ``num_draws`` samples from
    the flow and takes a step on the negative ELBO :math:`\mathbb{E}_q[\log q - \log \tilde
    p]`. It shares the flow's weights and optimizer, and its XLA choice (the flow's
    ``jit_compile``, with :mod:`tfp_flows.xla`'s fallback where that was the default's
    choice); it is not meant to be saved (save the flow).

    Args:
      flow: the :class:`~tfp_flows.FlowModel` to train.
      log_prob_fn: the target's (traceable) log-density function.
      num_draws: draws per step (per replica under ``tf.distribute``).
      path_derivative: the "sticking the landing" gradient (Roeder et al. 2017): drop the
        score term :math:`\nabla_\theta \log q_\theta(x)|_x`, whose expectation is zero, so
        the gradient's variance vanishes as ``q`` reaches the target. Costs one density
        pass of the flow per step (``D`` passes per layer for ``iaf``).
    """

    def __init__(self, flow, log_prob_fn, num_draws, path_derivative=False, **kwargs):
        super().__init__(name=f"{flow.name}_reverse_kl", **kwargs)
        self.flow = flow
        self.log_prob_fn = log_prob_fn
        self.num_draws = num_draws
        self.path_derivative = path_derivative

    def call(self, inputs):
        return self.flow(inputs)

    def negative_elbo(self, seed):
        """The step's loss: the mean over ``num_draws`` draws of ``log q - log p~``."""
        x, log_q = self.flow.sample_and_log_prob(self.num_draws, seed=seed)
        if self.path_derivative:
            score = self.flow.log_prob(tf.stop_gradient(x))
            log_q = log_q - score + tf.stop_gradient(score)
        log_p = tf.cast(self.log_prob_fn(x), log_q.dtype)
        return tf.reduce_mean(log_q - log_p)

    def train_step(self, data):
        seed = tf.cast(tf.reshape(data, [-1, 2])[0], tf.int32)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            loss = self.negative_elbo(seed) / replicas
        reported = apply_if_finite(self.optimizer, tape, loss, self.trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(reported * replicas)
        return step_logs(self.metrics)


def _seeds(seed, replicas):
    """An endless dataset of stateless seeds ``[replicas, 2]``, one pair per replica and
    step, fresh every step."""
    return tf.data.Dataset.random(seed=seed).map(
        lambda s: s % (2**31 - 1)).batch(2).batch(replicas)


def _initialize(flow, init_draws):
    """Data-dependent layers (the builders' standardisation, ActNorm) get ``init_draws``, or
    the flow's own draws (they then start as the identity: there are no data)."""
    if not flow.needs_data_init:
        return
    if init_draws is None:
        init_draws = flow.sample(1024, seed=0)
    flow.initialize_from_data(init_draws)


def fit_to_target(flow, target, *, epochs, steps_per_epoch=100, num_draws=256,
                  learning_rate=None, schedule="plateau", patience=None, lr_patience=10,
                  lr_factor=0.5, min_learning_rate=1e-5, time_budget=None,
                  path_derivative=False, ema_momentum=None, init_draws=None, seed=None,
                  verbose=0, callbacks=None):
    r"""Fits ``flow`` to an unnormalised target density by minimising the reverse KL
    divergence (variational inference; see the module docstring for the objective).

    The logged ``loss`` is the negative ELBO estimate, :math:`\mathrm{KL}(q\|p) - \log Z`:
    for a normalised target it is the reverse KL itself, and it never falls below
    :math:`-\log Z`. Training follows :func:`fit_flow`'s recipe on that loss (Adam, or the
    flow's optimizer if it is compiled; the learning-rate schedule; early stopping with the
    best weights restored when ``patience`` is given; a time budget) and stops, with a
    ``RuntimeWarning`` and finite weights, at the first step whose loss or gradients are not
    finite (that step is not applied).

    Args:
      flow: a :class:`~tfp_flows.FlowModel` (e.g. :func:`~tfp_flows.iaf`, whose draws and
        their log-densities take one pass). Layers that initialise from data start as the
        identity, or from ``init_draws``.
      target: a function of draws ``[n, *event_shape]`` returning ``[n]`` unnormalised
        log-densities (TensorFlow ops, traceable by ``tf.function``), a TFP distribution over
        ``event_shape``, or a :class:`~tfp_flows.training.JointTarget` (a pinned joint
        distribution in its unconstrained space). Checked on a few draws before training
        (shape, finite values, tracing).
      epochs: the most epochs to run.
      steps_per_epoch: optimiser steps per epoch (an epoch is a bookkeeping unit here:
        callbacks and the history see one value per epoch, the mean loss of its steps).
      num_draws: draws from the flow per step (per replica under ``tf.distribute``).
      learning_rate: Adam's rate for a flow that is not compiled yet; ``None``: ``1e-3``. A
        compiled flow keeps its optimizer (as in :func:`fit_flow`).
      schedule: ``"plateau"`` (halve the rate after ``lr_patience`` epochs without a better
        loss), ``"cosine"`` or ``"constant"``.
      patience: ``None`` (default: run every epoch) or early-stopping patience in epochs.
      lr_patience, lr_factor, min_learning_rate: the plateau schedule's settings.
      time_budget: ``None``, or seconds of wall time after which training ends.
      path_derivative: use the "sticking the landing" gradient (:class:`ReverseKL`).
      ema_momentum: ``None``, or keep and end with Adam's moving average of the weights.
      init_draws: rows ``[m, *event_shape]`` for data-dependent initialisation (e.g. draws
        from the prior), or ``None``.
      seed: ``None`` or an integer >= 0 for the draws (the same seed, the same draws; a
        bit-for-bit repeatable run also needs ``tf.config.experimental.enable_op_determinism()``,
        as any multi-threaded TensorFlow training does).
      verbose: Keras's ``verbose``.
      callbacks: more Keras callbacks (they see the trainer, :class:`ReverseKL`, as
        ``self.model``; its ``flow`` attribute is the flow).

    Returns:
      Keras's ``History`` with ``seconds``, ``best_epoch`` and ``stopped_by`` as
      :func:`fit_flow` gives.

    Example:
        >>> import tensorflow_probability as tfp, tfp_flows
        >>> flow = tfp_flows.iaf(event_shape=2, num_layers=2, hidden_units=(16,), seed=0)
        >>> target = tfp.distributions.MultivariateNormalDiag([1.0, -1.0], [0.5, 2.0])
        >>> history = fit_to_target(flow, target, epochs=3, steps_per_epoch=50, seed=0)
        >>> bool(history.history["loss"][-1] < history.history["loss"][0])
        True
    """
    settings = check_recipe(epochs=epochs, schedule=schedule, learning_rate=learning_rate,
                            patience=patience, lr_patience=lr_patience, lr_factor=lr_factor,
                            min_learning_rate=min_learning_rate, ema_momentum=ema_momentum)
    steps_per_epoch = check_positive_int(steps_per_epoch, "steps_per_epoch")
    num_draws = check_positive_int(num_draws, "num_draws")
    check_flag(path_derivative, "path_derivative")
    seed = check_seed(seed)
    if seed is not None and not isinstance(seed, int):
        raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
    if init_draws is not None:
        init_draws = flow._as_data(init_draws)
    log_prob = check_target(flow, target)
    distributed = trains_distributed(flow)
    with flow.distribute_strategy.scope():
        _initialize(flow, init_draws)
        compile_with_adam(flow, schedule, settings["learning_rate"],
                          steps_per_epoch * settings["epochs"], settings["ema_momentum"])
        trainer = ReverseKL(flow, log_prob, num_draws, path_derivative)
        trainer.compile(optimizer=flow.optimizer, steps_per_execution=1 if distributed
                        else VECTOR_STEPS_PER_EXECUTION, jit_compile=flow.jit_compile)
        trainer._xla_by_default = flow._xla_by_default
        trainer.plan_xla(steps_per_epoch * settings["epochs"])
    recipe = Recipe(trainer, "loss", epochs=settings["epochs"], patience=settings["patience"],
                    schedule=schedule, lr_patience=settings["lr_patience"],
                    lr_factor=settings["lr_factor"],
                    min_learning_rate=settings["min_learning_rate"], time_budget=time_budget,
                    ema_momentum=settings["ema_momentum"])
    replicas = flow.distribute_strategy.num_replicas_in_sync
    with warnings.catch_warnings():
        # Keras warns that the optimizer was built for another model: it is the flow's,
        # with the same variables.
        warnings.filterwarnings("ignore", message=".*optimizer.*")
        history = trainer.fit(_seeds(seed, replicas), epochs=settings["epochs"],
                              steps_per_epoch=steps_per_epoch, verbose=verbose,
                              shuffle=False,
                              callbacks=recipe.callbacks + list(callbacks or []) +
                              [StopOnNonFinite()])
    return recipe.finish(history)
