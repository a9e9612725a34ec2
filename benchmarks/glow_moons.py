"""Glow on small 2-D data (issue 12 section 4): why the vector ``glow`` underfitted the moons,
and the fix. Prints KL(data || model) in nats per variant and seed, then a summary.

Every variant is Glow's vector flow with 6 steps (coupling, invertible linear map, ActNorm,
then the builders' fixed standardisation) differing in one thing, next to the library's
``glow`` and reference builders, all trained the same way: ``tfp_flows.training.fit_flow``
with quality.py's settings (Adam 1e-3, batch 100, 10 % validation split, best validation
weights restored, the rate halved after 40 epochs without improvement, no early stop) for a
fixed number of epochs (fixed epochs, not seconds: the machine is shared). KL is measured on
20,000 fresh draws (``kl_to_truth``); moons: 1,000 training points.

Variants (``mask``: which half the data-side coupling conditions on; ``linear``: the
invertible linear maps' start; ``actnorm``: trainable, frozen at its data init, or absent):

    glow_before          mask last, linear random rotation (seed + i), actnorm trainable:
                         the vector glow before the fix
    no_linear            glow_before without the linear maps
    linear_frozen        glow_before with the linear maps frozen at their rotations
    actnorm_frozen_no_linear   glow_before without linear maps, ActNorm frozen
    couplings_only       mask last, no linear maps, no ActNorm
    rotation_first       mask first, random rotations, ActNorm trainable (only the mask fixed)
    identity_last        mask last, identity start, ActNorm trainable (only the start fixed)
    glow                 the library's glow: mask first, identity start, ActNorm trainable
    glow_no_actnorm      glow without ActNorm
    real_nvp, nsf, maf   the builders, for reference

For the rotation variants the script also prints how far the learned maps turned during
training (mean |change of angle| of the matrix's first column, degrees).

    python benchmarks/glow_moons.py                               # builder defaults
    python benchmarks/glow_moons.py --config quality              # quality.py's CONFIGS
    python benchmarks/glow_moons.py --variants glow,real_nvp --data banana --epochs 60
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from common import machine  # noqa: E402

import keras  # noqa: E402

import tfp_flows  # noqa: E402
from tfp_flows.bijectors import Affine  # noqa: E402
from tfp_flows.datasets import load_toy  # noqa: E402
from tfp_flows.layers import ActNormLayer, CouplingLayer, InvertibleLinearLayer  # noqa: E402
from tfp_flows.training import fit_flow, kl_to_truth  # noqa: E402

N_TRAIN = {"moons": 1000, "banana": 10000}
N_TEST = 20000
# quality.py's CONFIGS (tanh for the affine flows) or the builders' defaults (relu, 64 x 64).
CONFIGS = {
    "quality": {"glow": dict(num_layers=6, hidden_units=(128, 128), activation="tanh"),
                "real_nvp": dict(num_layers=8, hidden_units=(128, 128), activation="tanh"),
                "maf": dict(num_layers=6, hidden_units=(128, 128), activation="tanh"),
                "nsf": dict(num_layers=4, hidden_units=(128, 128), num_bins=8,
                            activation="relu")},
    "defaults": {"glow": {}, "real_nvp": {}, "maf": {}, "nsf": {}},
}
# variant: (data-side mask conditions on "first"/"last" half, linear start, ActNorm)
VARIANTS = {
    "glow_before": ("last", "rotation", "train"),
    "no_linear": ("last", None, "train"),
    "linear_frozen": ("last", "rotation_frozen", "train"),
    "actnorm_frozen_no_linear": ("last", None, "frozen"),
    "couplings_only": ("last", None, None),
    "rotation_first": ("first", "rotation", "train"),
    "identity_last": ("last", "identity", "train"),
    "glow_no_actnorm": ("first", "identity", None),
}
DEFAULT_VARIANTS = ("glow_before,no_linear,linear_frozen,actnorm_frozen_no_linear,"
                    "couplings_only,rotation_first,identity_last,glow,real_nvp,nsf")


def glow_variant(mask, linear, actnorm, seed, num_layers=6, hidden_units=(64, 64),
                 activation="relu"):
    """The vector glow's layers (as ``tfp_flows.glow`` builds them) with one thing changed."""
    layers = []
    for i in range(num_layers):
        last = i % 2 == 1 if mask == "last" else (num_layers - 1 - i) % 2 == 1
        layers.append(CouplingLayer((2,), transform=Affine(5.0), reverse_mask=last,
                                    hidden_units=hidden_units, activation=activation,
                                    seed=seed + i))
        if linear is not None:
            start = "identity" if linear == "identity" else "rotation"
            layers.append(InvertibleLinearLayer((2,), seed=seed + i, initializer=start,
                                                trainable=linear != "rotation_frozen"))
        if actnorm is not None:
            layers.append(ActNormLayer((2,), trainable=actnorm == "train"))
    layers.append(ActNormLayer((2,), trainable=False, name="standardize"))
    return tfp_flows.FlowModel(layers, event_shape=(2,), base_distribution="student_t")


def build(name, seed, config):
    if name in VARIANTS:
        return glow_variant(*VARIANTS[name], seed=seed, **config["glow"])
    return tfp_flows.build_flow(name, event_shape=2, seed=seed, **config[name])


def angles(flow):
    """Angle (degrees) of the first column of every invertible linear map."""
    out = []
    for layer in flow.flow_layers:
        if isinstance(layer, InvertibleLinearLayer):
            w = layer.bijector().matrix().numpy()
            out.append(float(np.degrees(np.arctan2(w[1, 0], w[0, 0]))))
    return np.array(out)


def run(name, data, seed, epochs, config):
    keras.utils.set_random_seed(seed)
    x, truth = load_toy(data, n_train=N_TRAIN[data], seed=seed)
    flow = build(name, seed, config)
    start = angles(flow)
    history = fit_flow(flow, x, epochs=epochs, batch_size=100, learning_rate=1e-3,
                       schedule="plateau", lr_patience=40, lr_factor=0.5,
                       min_learning_rate=1e-5, patience=None, validation_split=0.1)
    turned = float(np.mean(np.abs(angles(flow) - start))) if len(start) else None
    kl = kl_to_truth(flow, truth, num_samples=N_TEST, seed=seed + 1).value
    return dict(variant=name, data=data, seed=seed, kl=round(kl, 4),
                best_epoch=history.best_epoch, train_loss=round(min(history.history["loss"]), 4),
                turned_degrees=None if turned is None else round(turned, 1),
                seconds=round(history.seconds, 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument("--data", default="moons", choices=sorted(N_TRAIN))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--config", default="defaults", choices=sorted(CONFIGS))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"# {machine()}\n# python benchmarks/glow_moons.py --variants {args.variants} "
          f"--data {args.data} --seeds {args.seeds} --epochs {args.epochs} "
          f"--config {args.config}", flush=True)
    rows = []
    for name in args.variants.split(","):
        for seed in seeds:
            row = run(name, args.data, seed, args.epochs, CONFIGS[args.config])
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n| variant | KL per seed ({args.data}, {args.epochs} epochs) | mean |\n|---|---|---:|")
    for name in args.variants.split(","):
        kls = [r["kl"] for r in rows if r["variant"] == name]
        print(f"| {name} | {', '.join(f'{k:.3f}' for k in kls)} | {np.mean(kls):.3f} |")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"# {time.perf_counter() - started:.0f} s")
