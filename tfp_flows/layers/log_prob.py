"""``LogProb``: the classic ``keras.Model(x, dist.log_prob(x))`` pattern, working in Keras 3."""
import functools
import re
import types

import keras
import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["LogProb", "negative_log_likelihood"]

# Modules whose functions are not searched through their globals for hidden weights.
_LIBRARIES = ("tensorflow", "tensorflow_probability", "keras", "tf_keras", "numpy", "tfp_flows")


def negative_log_likelihood(y_true, y_pred):
    """Keras loss for models whose output is ``log p(x)``: returns ``-y_pred`` (targets unused).

    Args:
        y_true: the targets Keras passes to every loss; ignored (pass ``np.zeros((n, 0))``
            to ``fit``).
        y_pred: the model's output, ``log p(x)`` per example.

    Returns:
        ``-y_pred``, the negative log-likelihood per example.

    Example:
        >>> import tensorflow as tf
        >>> negative_log_likelihood(None, tf.constant([-1.5, -2.0])).numpy()
        array([1.5, 2. ], dtype=float32)
    """
    del y_true
    return -y_pred


def _keras_name(variable, taken):
    """A readable Keras variable name for ``variable``, not in ``taken`` (which it joins).

    Keras names cannot contain ``/``. The last two parts of the name are kept (the outer ones
    are mostly TFP's method scopes): ``affine/shift:0`` becomes ``affine_shift``,
    ``.../log_prob/.../batch_normalization/gamma:0`` becomes ``batch_normalization_gamma``;
    a repeated name gets a suffix ``_1``, ``_2``, ...
    """
    parts = [part for part in re.sub(r":\d+$", "", variable.name).split("/") if part]
    base = "_".join(parts[-2:]) or "variable"
    name, i = base, 0
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name


def _keras_view(variable, name, trainable):
    """A Keras 3 variable that reads and writes the storage of the ``tf.Variable``.

    Keras 3 models only train Keras variables; TFP distributions hold ``tf.Variable`` s. On the
    TensorFlow backend a Keras variable wraps a ``tf.Variable`` in ``_value``; pointing it at
    the user's variable lets ``fit`` update the very variable the distribution reads.
    """
    view = keras.Variable(variable.numpy(), trainable=trainable, dtype=variable.dtype.name,
                          name=name)
    if not isinstance(getattr(view, "_value", None), tf.Variable):
        raise RuntimeError(
            "this Keras version stores variables differently; LogProb cannot track the "
            f"tf.Variable {variable.name!r}: put it in a Keras layer instead")
    view._value = variable
    return view


def _is_python_callable(value):
    return isinstance(value, (types.FunctionType, types.MethodType, functools.partial))


def _hidden_objects(distribution):
    """Keras 3 layers and ``tf.Module`` s reachable only through the distribution's Python
    callables: a lambda's closure cells, default arguments and the globals it names, a
    ``functools.partial`` 's arguments, a bound method's object."""
    stack = list(distribution._flatten(predicate=_is_python_callable, expand_composites=False))
    found, seen = [], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, (keras.layers.Layer, tf.Module)):
            found.append(obj)
        elif isinstance(obj, functools.partial):
            stack += [obj.func, *obj.args, *obj.keywords.values()]
        elif isinstance(obj, types.MethodType):
            stack += [obj.__self__, obj.__func__]
        elif isinstance(obj, types.FunctionType):
            for cell in obj.__closure__ or ():
                try:
                    stack.append(cell.cell_contents)
                except ValueError:  # an empty cell
                    pass
            stack += list(obj.__defaults__ or ()) + list((obj.__kwdefaults__ or {}).values())
            if not (obj.__module__ or "").startswith(_LIBRARIES):
                stack += [obj.__globals__[n] for n in obj.__code__.co_names
                          if n in obj.__globals__]
        elif isinstance(obj, (list, tuple)):
            stack += list(obj)
        elif isinstance(obj, dict):
            stack += list(obj.values())
    return found


def _call_without_side_effects(distribution, x):
    """Runs ``distribution.log_prob(x)`` once eagerly, so networks that TFP builds lazily
    (``tfb.AutoregressiveNetwork``, ``real_nvp_default_template``, ``tfb.BatchNormalization``)
    create their variables. Returns the trainable ``tf.Variable`` s the call read and the
    variables it created. Every variable is put back as it was (as created): running
    statistics are not moved by the zero batch."""
    created = []

    def creator(next_creator, **kwargs):
        variable = next_creator(**kwargs)
        created.append((variable, tf.identity(variable)))
        return variable

    before = [(v, tf.identity(v)) for v in distribution.variables]
    with tf.variable_creator_scope(creator), tf.GradientTape() as tape:
        distribution.log_prob(x)
    for variable, value in before + created:
        variable.assign(value)
    return list(tape.watched_variables()), [v for v, _ in created]


def _zero_batch(distribution):
    shape = distribution.event_shape
    if not shape.is_fully_defined():
        return None
    return tf.zeros([1] + shape.as_list(), distribution.dtype)


class LogProb(keras.layers.Layer):
    """A Keras 3 layer whose output is ``distribution.log_prob(x)``.

    Under Keras 3, ``keras.Model(x, dist.log_prob(x))`` fails ("A KerasTensor cannot be used as
    input to a TensorFlow function"). Wrap the distribution instead::

        x = keras.Input((2,))
        model = keras.Model(x, LogProb(dist)(x))
        model.compile("adam", loss=negative_log_likelihood)
        model.fit(data, np.zeros((len(data), 0)), epochs=...)

    The layer makes the distribution's parameters trainable by ``fit``. On construction it
    calls ``dist.log_prob`` once on a zero batch (or, if zero is outside the support, on one
    sample), restoring every variable afterwards, so that networks TFP builds lazily create
    their weights. Then:

    * Keras 3 layers inside the distribution (e.g. :class:`~tfp_flows.nets.MADE`
      conditioners), or held by the Python functions it calls (a lambda's closure, as in
      ``tfb.RealNVP(shift_and_log_scale_fn=lambda x, d: ...)``), are tracked as sub-layers;
    * every other ``tf.Variable`` (``dist.variables``, the weights of ``tf_keras`` layers such
      as ``tfb.AutoregressiveNetwork``, ``real_nvp_default_template`` weights, and any
      trainable variable the call reads) gets a Keras view that shares its storage, named
      after it with ``/`` replaced by ``_`` (``affine/shift`` becomes ``affine_shift``).
      Non-trainable ones (batch-norm running statistics) become non-trainable weights.

    A conditioner that creates new weights on every call cannot be trained and raises a
    ``ValueError``. Stock ``tfb.BatchNormalization`` keeps the ``training`` flag given to its
    constructor: Keras's ``training`` argument does not reach it.

    A distribution is not a Keras object, so a model holding ``LogProb`` saves its weights
    (``save_weights``) but not a ``.keras`` file; use :class:`tfp_flows.FlowModel` for that.

    Args:
        distribution: a ``tfp.distributions.Distribution`` (typically a
            ``TransformedDistribution``) with a fully defined event shape; the layer's input
            is a batch of its events, the output the log-density of each.
        **kwargs: passed to ``keras.layers.Layer`` (e.g. ``name``).

    Raises:
        TypeError: ``distribution`` is not a TFP distribution.
        ValueError: the distribution creates new variables on every call.

    Example:
        >>> import keras
        >>> import tensorflow as tf
        >>> import tensorflow_probability as tfp
        >>> with tf.name_scope("affine"):
        ...     shift = tf.Variable([0.0, 0.0], name="shift")
        >>> dist = tfp.distributions.TransformedDistribution(
        ...     tfp.distributions.MultivariateNormalDiag(tf.zeros(2)), tfp.bijectors.Shift(shift))
        >>> x = keras.Input((2,))
        >>> model = keras.Model(x, LogProb(dist)(x))
        >>> [w.name for w in model.trainable_weights]
        ['affine_shift']
    """

    def __init__(self, distribution, **kwargs):
        if not isinstance(distribution, tfp.distributions.Distribution):
            raise TypeError(
                "LogProb expects a tfp.distributions.Distribution, e.g. "
                "tfd.TransformedDistribution(base, bijector); got "
                f"{type(distribution).__name__}: {distribution!r:.80}")
        super().__init__(**kwargs)
        self.distribution = distribution
        watched = []
        x = _zero_batch(distribution)
        if x is not None:
            try:
                watched = _call_without_side_effects(distribution, x)[0]
            except (tf.errors.InvalidArgumentError, ValueError):
                # e.g. validate_args rejects 0: build on a point of the support instead.
                x = tf.identity(distribution.sample(1, seed=0))
                watched = _call_without_side_effects(distribution, x)[0]
            again = _call_without_side_effects(distribution, x)[1]
            if again:
                raise ValueError(
                    f"LogProb: the distribution created {len(again)} new variable(s) "
                    f"({again[0].name!r}, ...) on a second call to log_prob: a conditioner "
                    "makes new weights on every call (e.g. a layer constructed inside a lambda), "
                    "so no weight could be trained. Create the network once, outside the "
                    "function, or use tfp_flows.nets.MADE / a Keras layer as the conditioner")
        hidden = _hidden_objects(distribution)
        layers = list(distribution._flatten(
            predicate=lambda v: isinstance(v, keras.layers.Layer), expand_composites=False))
        layers += [obj for obj in hidden if isinstance(obj, keras.layers.Layer)
                   and all(obj is not layer for layer in layers)]
        self.inner_layers = layers

        owned = {id(v) for layer in layers for v in layer.weights}
        owned |= {id(getattr(v, "_value", v)) for layer in layers for v in layer.weights}
        modules = [distribution] + [obj for obj in hidden
                                    if not isinstance(obj, keras.layers.Layer)]
        candidates = [(v, True) for m in modules for v in m.trainable_variables]
        candidates += [(v, True) for v in watched]
        candidates += [(v, False) for m in modules for v in m.non_trainable_variables]
        names = set()
        for variable, trainable in candidates:
            if id(variable) in owned or not isinstance(variable, tf.Variable):
                continue
            owned.add(id(variable))
            name = _keras_name(variable, names)
            self._track_variable(_keras_view(variable, name, trainable and variable.trainable))

    def call(self, inputs):
        return self.distribution.log_prob(inputs)

    def compute_output_shape(self, input_shape):
        event_ndims = len(self.distribution.event_shape)
        return tuple(input_shape[: len(input_shape) - event_ndims])

    def get_config(self):
        raise NotImplementedError(
            "LogProb wraps a TFP distribution, which Keras cannot serialise: save the weights "
            "with model.save_weights(...), or build the flow as a tfp_flows.FlowModel to save "
            "a .keras file")
