"""The weight stack of a dense conditioner network (MADE, coupling MLP)."""


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
