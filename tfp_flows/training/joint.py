"""A TFP joint distribution (pinned to its observations) as a target for a flow over flat
vectors: the flow lives in the joint's unconstrained space, and its draws come back in the
joint distribution's structure and constrained space."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

__all__ = ["JointTarget", "is_joint_distribution"]


def is_joint_distribution(value):
    """Whether ``value`` is a TFP joint distribution, pinned or not."""
    return isinstance(value, (tfp.distributions.JointDistribution,
                              tfp.experimental.distributions.JointDistributionPinned))


class JointTarget:
    r"""A ``tfd.JointDistribution`` (usually pinned: ``model.experimental_pin(y=...)``) as an
    unnormalised density over flat unconstrained vectors ``u`` of size :attr:`event_size`.

    With ``b`` the joint's ``experimental_default_event_space_bijector()`` (unconstrained to
    the support: ``exp`` for scales, ...) and ``split`` the map from a flat vector to the
    joint's structure,

    .. math::
        \log \tilde p(u) = \log \tilde p_{joint}(b(split(u)))
                           + \log\left|\det \frac{\partial b}{\partial u}\right|,

    so a flow fitted to :meth:`log_prob` with ``event_shape=event_size`` is a distribution
    over the constrained parameters through :meth:`constrain`.

    Args:
      model: a ``tfd.JointDistribution`` whose remaining (unpinned) parts are the
        parameters to infer.

    Example:
        >>> import tensorflow_probability as tfp
        >>> tfd = tfp.distributions
        >>> joint = tfd.JointDistributionNamed(dict(
        ...     scale=tfd.LogNormal(0.0, 1.0),
        ...     y=lambda scale: tfd.Normal(0.0, scale)))
        >>> target = JointTarget(joint.experimental_pin(y=1.5))
        >>> target.event_size, target.log_prob(tf.zeros([4, 1])).shape
        (1, TensorShape([4]))
        >>> float(target.constrain(tf.zeros([1, 1]))["scale"][0])   # exp(0)
        1.0
    """

    def __init__(self, model):
        if not is_joint_distribution(model):
            raise ValueError(f"JointTarget takes a tfd.JointDistribution (pinned to its "
                             f"observations), got {type(model).__name__}")
        self.model = model
        self.bijector = model.experimental_default_event_space_bijector()
        shapes = self.bijector.inverse_event_shape(model.event_shape)
        self._structure = shapes
        self._shapes = [tuple(int(d) for d in s) for s in tf.nest.flatten(shapes)]
        self._sizes = [int(np.prod(s)) for s in self._shapes]
        self._event_ndims = tf.nest.map_structure(lambda s: len(s), shapes)
        self.event_size = sum(self._sizes)
        self._log_prob = getattr(model, "unnormalized_log_prob", model.log_prob)

    @property
    def event_shape(self):
        """``(event_size,)``: the shape a flow for this target takes."""
        return (self.event_size,)

    def unflatten(self, u):
        """Flat vectors ``[n, event_size]`` as the joint's structure of unconstrained
        ``[n, *shape]`` parts."""
        u = tf.convert_to_tensor(u)
        batch = tf.shape(u)[:-1]
        parts = tf.split(u, self._sizes, axis=-1)
        parts = [tf.reshape(p, tf.concat([batch, list(s)], 0)) for p, s in
                 zip(parts, self._shapes)]
        return tf.nest.pack_sequence_as(self._structure, parts)

    def constrain(self, u):
        """Flat unconstrained vectors ``[n, event_size]`` (a flow's draws) as the joint's
        structure in its constrained space (what its ``sample`` gives)."""
        return self.bijector.forward(self.unflatten(u))

    def log_prob(self, u):
        """The unnormalised log-density of flat unconstrained vectors ``[n, event_size]``,
        Jacobian of the constraining map included; ``[n]``."""
        parts = self.unflatten(u)
        return self._log_prob(self.bijector.forward(parts)) + \
            self.bijector.forward_log_det_jacobian(parts, event_ndims=self._event_ndims)

    def __call__(self, u):
        return self.log_prob(u)
