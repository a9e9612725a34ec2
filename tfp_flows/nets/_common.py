"""Argument checks shared by the conditioner networks."""
import numbers


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def _check_hidden_units(hidden_units):
    if isinstance(hidden_units, numbers.Integral):
        hidden_units = (hidden_units,)
    try:
        units = tuple(hidden_units)
    except TypeError:
        raise ValueError(
            "`hidden_units` must be a sequence of positive integers; "
            f"got {hidden_units!r}."
        ) from None
    for u in units:
        if isinstance(u, bool) or not isinstance(u, numbers.Integral) or u < 1:
            raise ValueError(
                "`hidden_units` must be a sequence of positive integers; "
                f"got {hidden_units!r}."
            )
    return tuple(int(u) for u in units)


def _add_dense_stack(layer, sizes, kernel_initializer):
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
