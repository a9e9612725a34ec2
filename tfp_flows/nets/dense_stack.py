"""The weight stack of a dense conditioner network (MADE, coupling MLP)."""
import keras


def seeded_initializer(initializer, seed):
    """``initializer`` with the integer ``seed`` when it draws at random and has no seed of its
    own (so that the same seed gives the same network); otherwise ``initializer`` as it is.

    Example:
        >>> init = seeded_initializer("glorot_uniform", 3)
        >>> bool((init((2, 2)) == seeded_initializer("glorot_uniform", 3)((2, 2))).numpy().all())
        True
    """
    if seed is None:
        return initializer
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()
    if "seed" not in config or config["seed"] is not None:
        return initializer
    return type(initializer).from_config({**config, "seed": int(seed)})


def add_dense_stack(layer, sizes, kernel_initializer):
    """Adds the kernels and biases of a dense stack ``sizes[0] -> ... -> sizes[-1]`` to
    ``layer``; ``kernel_initializer(k, last)`` gives the initializer of layer ``k``. Biases
    start at zero. Returns ``(kernels, biases)`` lists."""
    kernels, biases = [], []
    n_layers = len(sizes) - 1
    for k in range(n_layers):
        last = k == n_layers - 1
        kernels.append(layer.add_weight(
            shape=(sizes[k], sizes[k + 1]), initializer=kernel_initializer(k, last),
            name="output_kernel" if last else f"hidden_kernel_{k}"))
        biases.append(layer.add_weight(
            shape=(sizes[k + 1],), initializer="zeros",
            name="output_bias" if last else f"hidden_bias_{k}"))
    return kernels, biases
