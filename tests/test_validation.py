"""validation: fractions as NumPy scalars; flows' dtypes refused up front when TensorFlow
cannot run a flow in them."""
import keras
import numpy as np
import pytest

from tfp_flows.validation import check_dtype_policy, check_float_dtype, check_fraction


@pytest.mark.parametrize("value", [0.9, np.float32(0.9), np.float64(0.9), np.float16(0.5)])
def test_check_fraction_takes_python_and_numpy_numbers(value):
    out = check_fraction(value, "ema_momentum")
    assert type(out) is float and out == pytest.approx(float(value))


@pytest.mark.parametrize("value", [0.0, 1.0, -0.1, float("nan"), True, "0.9", None,
                                   np.array([0.5])])
def test_check_fraction_refuses_what_is_not_a_number_inside(value):
    with pytest.raises(ValueError, match=r"ema_momentum must be a number in \(0, 1\), got "):
        check_fraction(value, "ema_momentum")


def test_check_fraction_closed_ends_and_other_intervals():
    assert check_fraction(0, "validation_split", low_open=False) == 0.0
    assert check_fraction(1.0, "p", high_open=False) == 1.0
    with pytest.raises(ValueError, match=r"alpha must be a number in \(0, 0\.5\), got 0\.5"):
        check_fraction(0.5, "alpha", high=0.5)
    with pytest.raises(ValueError, match=r"split must be a number in \[0, 1\), got 1"):
        check_fraction(1, "split", low_open=False)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", np.float16])
def test_16_bit_dtypes_are_refused_pointing_to_the_mixed_policies(dtype):
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    for check in (check_float_dtype, check_dtype_policy):
        with pytest.raises(ValueError, match=rf"dtype '{name}' is not supported by flows.*"
                                             rf"use 'mixed_{name}'"):
            check(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64", "mixed_float16", "mixed_bfloat16"])
def test_supported_dtypes_and_policies_pass(dtype):
    assert check_dtype_policy(dtype) == dtype


@pytest.mark.parametrize("dtype", ["int32", "complex64", "bogus"])
def test_other_dtypes_are_refused(dtype):
    with pytest.raises(ValueError, match=r"dtype must be a floating-point dtype such as "
                                         r"'float32', got '" + dtype):
        check_dtype_policy(dtype)


def test_a_16_bit_global_policy_is_refused_too():
    previous = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy("bfloat16")
        with pytest.raises(ValueError, match=r"Keras's global dtype policy 'bfloat16' is not "
                                             r"supported by flows.*'mixed_bfloat16'"):
            check_dtype_policy(None)
        keras.config.set_dtype_policy("mixed_bfloat16")
        assert check_dtype_policy(None) is None
    finally:
        keras.config.set_dtype_policy(previous)
