"""One seed stream: every random choice a builder, layer or network makes derives its seed
from the user's ``seed`` by one rule, NumPy's ``SeedSequence(seed).spawn``.

Sub-seeds of different parents never coincide by construction (``seed + i`` schemes made
layer ``k + 1`` of ``seed=0`` start as layer ``k`` of ``seed=1``). ``None`` stays ``None``
all the way down: an unseeded builder draws fresh weights.
"""
import numpy as np

__all__ = ["SeedStream", "spawn_seeds"]

_MAX = 2**31 - 1   # Keras initialisers and NumPy generators take seeds below this


def _child_seed(child):
    return int(child.generate_state(1, np.uint32)[0] % _MAX)


def spawn_seeds(seed, count):
    """``count`` independent integer seeds derived from ``seed`` (``count`` ``None`` s for
    ``seed=None``).

    Args:
      seed: ``None`` or an integer ``>= 0``.
      count: how many seeds, an integer ``>= 0``.

    Example:
        >>> a, b = spawn_seeds(0, 2)
        >>> a != b and spawn_seeds(0, 2) == [a, b] and spawn_seeds(1, 2)[0] not in (a, b)
        True
        >>> spawn_seeds(None, 2)
        [None, None]
    """
    if seed is None:
        return [None] * count
    return [_child_seed(child) for child in np.random.SeedSequence(seed).spawn(count)]


class SeedStream:
    """An endless stream of independent seeds derived from one ``seed``: ``next(stream)``
    gives the next (``None`` forever for ``seed=None``). For builders that do not know in
    advance how many seeds they need (the multiscale image flows).

    Args:
      seed: ``None`` or an integer ``>= 0``.

    Example:
        >>> stream = SeedStream(3)
        >>> first, second = next(stream), next(stream)
        >>> first != second and first == next(SeedStream(3))
        True
    """

    def __init__(self, seed):
        self._sequence = None if seed is None else np.random.SeedSequence(seed)

    def __iter__(self):
        return self

    def __next__(self):
        if self._sequence is None:
            return None
        return _child_seed(self._sequence.spawn(1)[0])
