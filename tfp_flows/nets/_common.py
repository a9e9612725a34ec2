"""Argument checks shared by the conditioner networks."""
from tfp_flows.validation import check_hidden_units, check_positive_int


def _check_positive_int(value, name):
    return check_positive_int(value, name)


def _check_hidden_units(hidden_units):
    return check_hidden_units(hidden_units, allow_empty=True)


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
