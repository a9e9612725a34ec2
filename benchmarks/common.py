"""Shared pieces of the benchmarks: stock-TFP references (under tf_keras), data, timing.

The references are the classic tutorial code: ``tfb.AutoregressiveNetwork`` (a Keras 2 /
``tf_keras`` layer) inside ``tfb.MaskedAutoregressiveFlow``, trained with ``tf_keras``
``Model.fit`` on ``Model(x_, dist.log_prob(x_))``. They run in the same process as our Keras 3
flows, so every comparison is a ratio measured in one run on one machine.
"""
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
import tf_keras  # noqa: E402

tfb = tfp.bijectors
tfd = tfp.distributions


def machine():
    """A one-line description of where the numbers come from (with TensorFlow's thread
    environment variables, where set: they change its threading for the whole process)."""
    threads = [f"{k}={os.environ[k]}" for k in ("TF_NUM_INTEROP_THREADS",
                                                 "TF_NUM_INTRAOP_THREADS") if k in os.environ]
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"TF {tf.__version__}, TFP {tfp.__version__}" + "".join(f", {t}" for t in threads))


# ------------------------------------------------------------------ stock TFP references
def stock_maf_bijector(event_size, num_layers, hidden_units, activation="relu", inverse=False):
    """``num_layers`` x stock MAF (or IAF) with ``tfb.Permute`` (reverse) between them."""
    bijectors = []
    for i in range(num_layers):
        made = tfb.AutoregressiveNetwork(params=2, event_shape=[event_size],
                                         hidden_units=list(hidden_units), activation=activation)
        maf = tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made)
        bijectors.append(tfb.Invert(maf) if inverse else maf)
        if i < num_layers - 1:
            bijectors.append(tfb.Permute(list(range(event_size))[::-1]))
    return tfb.Chain(list(reversed(bijectors)))


class _StockCouplingNet(tf_keras.layers.Layer):
    """A tf_keras MLP giving (shift, log_scale) for stock ``tfb.RealNVP``."""

    def __init__(self, output_units, hidden_units, activation):
        super().__init__()
        self.hidden = [tf_keras.layers.Dense(h, activation=activation) for h in hidden_units]
        self.out = tf_keras.layers.Dense(2 * output_units, kernel_initializer="zeros")

    def call(self, x):
        for layer in self.hidden:
            x = layer(x)
        shift, log_scale = tf.split(self.out(x), 2, axis=-1)
        return shift, log_scale


def stock_real_nvp_bijector(event_size, num_layers, hidden_units, activation="relu"):
    """``num_layers`` x stock ``tfb.RealNVP`` (half masked) with reverse permutations."""
    bijectors = []
    nets = []
    for i in range(num_layers):
        net = _StockCouplingNet(event_size - event_size // 2, hidden_units, activation)
        nets.append(net)
        bijectors.append(tfb.RealNVP(num_masked=event_size // 2,
                                     shift_and_log_scale_fn=lambda x, d, net=net: net(x)))
        if i < num_layers - 1:
            bijectors.append(tfb.Permute(list(range(event_size))[::-1]))
    chain = tfb.Chain(list(reversed(bijectors)))
    chain._nets = nets  # keep the tf_keras layers reachable for tracking
    return chain


def stock_distribution(bijector, event_size):
    base = tfd.Sample(tfd.Normal(0.0, 1.0), [event_size])
    return tfd.TransformedDistribution(base, bijector)


def stock_keras_model(dist, event_size, learning_rate=1e-3):
    """The classic tutorial pattern, which only works under tf_keras (Keras 2)."""
    x_ = tf_keras.layers.Input(shape=(event_size,), dtype=tf.float32)
    model = tf_keras.Model(x_, dist.log_prob(x_))
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate),
                  loss=lambda _, log_prob: -log_prob)
    return model


# ------------------------------------------------------------------ timing
class _StepTimerMixin:
    """Records the time at the end of every training batch."""

    def on_train_begin(self, logs=None):
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


class _TimeBudgetMixin:
    """Stops training after ``self.seconds`` of wall time (checked after every batch): the
    tf_keras twin of :class:`tfp_flows.training.TimeBudget`, for the stock references."""

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True


def _callback(mixin, stock, **attributes):
    """An instance of ``mixin`` as a Keras 3 callback, or a tf_keras one (``stock=True``)."""
    import keras

    base = tf_keras.callbacks.Callback if stock else keras.callbacks.Callback
    callback = type(mixin.__name__.strip("_").replace("Mixin", ""), (mixin, base), {})()
    callback.__dict__.update(attributes)
    return callback


def step_timer(stock=False):
    """A StepTimer callback for Keras 3 (default) or tf_keras (``stock=True``)."""
    return _callback(_StepTimerMixin, stock)


def time_budget(seconds, stock=False):
    """A callback that ends ``fit`` after ``seconds``: the library's
    :class:`tfp_flows.training.TimeBudget` for Keras 3, its tf_keras twin (``stock=True``)."""
    if not stock:
        from tfp_flows.training import TimeBudget

        return TimeBudget(seconds)
    return _callback(_TimeBudgetMixin, True, seconds=seconds)


def steps_per_second(timer, warmup=20):
    """Median-based steps/s from a StepTimer, skipping the first ``warmup`` (tracing) steps."""
    t = np.asarray(timer.times[warmup:])
    if len(t) < 10:
        raise RuntimeError(f"too few timed steps ({len(t)}) for a rate")
    return 1.0 / float(np.median(np.diff(t)))


def compare_times(fns, repeats=7, number=3):
    """Best mean time of ``number`` calls for each function in ``fns`` (a dict), with the
    trials interleaved (a, b, a, b, ...) so background load affects all alike."""
    for fn in fns.values():
        fn()
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / number)
    return best


# ------------------------------------------------------------------ fitting to a density
def epoch_timer(clock=time.perf_counter, base=None):
    """A callback recording each epoch's duration on ``clock`` in ``.times``: a Keras 3 one,
    or a subclass of ``base`` (``tf_keras.callbacks.Callback`` for the stock models)."""
    if base is None:
        import keras

        base = keras.callbacks.Callback

    class EpochTimer(base):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = clock()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(clock() - self.start)

    return EpochTimer()


def stock_iaf_vi(target, num_layers, hidden_units, num_draws):
    """TFP's VI tutorial surrogate, ``tfb.Invert(tfb.MaskedAutoregressiveFlow(
    tfb.AutoregressiveNetwork))``, and the step ``tfp.vi.fit_surrogate_posterior`` runs
    (``monte_carlo_variational_loss``, its gradient, a tf_keras ``Adam``) in one
    ``tf.function``: ``(surrogate, step)``."""
    size = target.event_shape[0]
    surrogate = tfd.TransformedDistribution(
        tfd.Sample(tfd.Normal(0.0, 1.0), [size]),
        stock_maf_bijector(size, num_layers, hidden_units, inverse=True))
    surrogate.sample(2)   # builds the tf_keras networks, so their variables exist
    optimizer = tf_keras.optimizers.Adam(1e-3)
    variables = surrogate.trainable_variables

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tfp.vi.monte_carlo_variational_loss(
                target.unnormalized_log_prob, surrogate, sample_size=num_draws)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return surrogate, step
