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
