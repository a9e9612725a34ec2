"""``nsf``'s spline: the one-pass ``RationalQuadratic.forward``/``inverse`` against the same
spline through ``tfb.RationalQuadraticSpline`` (what the library used before), in one process.

For each variant and ``compile(jit_compile=False)`` / the default (XLA for ``nsf``; the timed
fits are forced to use it), a fresh ``nsf(event_shape=2)`` with the builder's defaults fits
the standardised two moons (20,000 points, batches of 256): ``first epoch`` is the wall time of
a 40-step first ``fit`` (tracing, and for XLA compiling, included), the rate is steps per
CPU-second of a 2-epoch ``fit`` after one more warm-up epoch, with TensorFlow on one thread.
Variants alternate for ``--rounds`` rounds; medians.

    cd benchmarks && python spline_speed.py [--rounds 3]
"""
import argparse
import collections
import time

import numpy as np
import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

from common import machine  # noqa: E402

import tfp_flows  # noqa: E402
from tfp_flows.bijectors import transforms  # noqa: E402
from tfp_flows.datasets import load_toy  # noqa: E402

ONE_PASS = transforms.RationalQuadratic.forward, transforms.RationalQuadratic.inverse


def _tfp_forward(self, x, params):
    spline = self.spline(params)
    return spline.forward(x), spline.forward_log_det_jacobian(x, event_ndims=0)


def _tfp_inverse(self, y, params):
    spline = self.spline(params)
    return spline.inverse(y), spline.inverse_log_det_jacobian(y, event_ndims=0)


VARIANTS = {"tfp_spline": (_tfp_forward, _tfp_inverse), "one_pass": ONE_PASS}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine(), "| TF threads 1", flush=True)
    x = load_toy("moons", 20000, seed=0)[0].astype("float32")
    tfp_flows.xla.XLA_MIN_STEPS = 0   # the step of a long fit
    results = collections.defaultdict(list)
    for _ in range(args.rounds):
        for variant, (forward, inverse) in VARIANTS.items():
            transforms.RationalQuadratic.forward = forward
            transforms.RationalQuadratic.inverse = inverse
            for jit in (False, "auto"):
                flow = tfp_flows.nsf(event_shape=2, seed=0)
                flow.compile(jit_compile=jit)
                start = time.perf_counter()
                flow.fit(x[:256 * 40], epochs=1, batch_size=256, verbose=0)
                first = time.perf_counter() - start
                flow.fit(x, epochs=1, batch_size=256, verbose=0)   # the last batch's shape
                start = time.process_time()
                flow.fit(x, epochs=2, batch_size=256, verbose=0)
                rate = 2 * np.ceil(len(x) / 256) / (time.process_time() - start)
                results[variant, "xla" if jit else "no_xla"].append((first, rate))
    transforms.RationalQuadratic.forward, transforms.RationalQuadratic.inverse = ONE_PASS
    for (variant, mode), runs in results.items():
        first, rate = np.median(runs, axis=0)
        print(f"{variant:>10} {mode:>6}: first epoch {first:5.1f} s, {rate:6.0f} steps per "
              "CPU-second", flush=True)


if __name__ == "__main__":
    main()
