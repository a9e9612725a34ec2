"""normflows (PyTorch, CPU) fitted to variational.py's targets by its reverse KL, for a
wall-clock budget: the peer run of ``tfp_flows.training.fit_to_target`` in variational.py.

The targets (banana, funnel d = 10, mixture of 8 Gaussians) are tfp_flows.datasets'
``BananaTarget()``, ``FunnelTarget(dim=10)`` and ``MixtureTarget()`` written again in torch
(the same unnormalised log-densities and known log Z) as ``nf.distributions.Target``s;
variational.py hands 100 points and its TensorFlow log-densities on stdin
(``--check-stdin``) and this script refuses to train unless the torch densities agree
(float64, to 1e-4 relative).

Flows, of the size of variational.py's (``LAYERS`` = 4 layers, MADE / MLP conditioners with
two hidden layers of 64, a reversal between layers), on normflows' ``DiagGaussian`` base
(trainable loc and log-scale, its default and its examples' choice):

* iaf (default): ``nf.flows.MaskedAffineAutoregressive(D, 64, num_blocks=1,
  use_residual_blocks=False)``. normflows' forward (base to data, what ``sample`` and
  ``reverse_kld`` run) is the MADE's one-pass direction, ``x = z * scale(z) + shift(z)``
  with its ``sigmoid(. + 2) + 1e-3`` scale: an IAF, the flow a normflows user fits by
  reverse KL, and ours' counterpart (``tfp_flows.iaf``). Same weights as ours but the
  base's ``2 D``.
* maf: the same layers wrapped in ``nf.flows.Reverse``: sampling is the D-pass direction.
* real_nvp: normflows' README flow, ``AffineCouplingBlock(MLP([D/2, 64, 64, D],
  init_zeros=True))``.

Training is normflows' examples' loop, ``loss = model.reverse_kld(draws)`` (score-function
term kept, its default), backward and Adam step, skipping non-finite losses, with
``fit_to_target``'s defaults: Adam at 1e-3, halved after 10 epochs of 50 steps without an
epoch-mean loss better by 1e-4 (down to 1e-5), as Keras' ``ReduceLROnPlateau``. Steps/s is
50 / the median epoch time after the first (steps / seconds when there is none). The reverse
KL ``E_q[log q - log p~] + log Z``, the log Z estimate's error and the ESS fraction come
from 20,000 fresh draws (variational.py takes their log-weights, ``--log-weights``, and
computes its own diagnostics from them).

    /work/torch-venv/bin/python normflows_vi.py --target banana --seconds 60 [--flow iaf]

It prints one JSON line. variational.py ``--normflows-python`` runs it for you.
"""
import argparse
import json
import math
import sys
import time

import numpy as np

LOG_2PI = math.log(2.0 * math.pi)
STEPS_PER_EPOCH = 50


def targets():
    """Name -> (nf.distributions.Target, dimension), tfp_flows.datasets' parameters."""
    import normflows as nf
    import torch

    class Banana(nf.distributions.Target):
        """``BananaTarget(curvature=1, offset=-1)``: -(x1^2 + (x2 - c (x1^2 + o))^2) / 2."""

        def __init__(self, curvature=1.0, offset=-1.0):
            super().__init__()
            self.curvature, self.offset = curvature, offset
            self.log_normalizer = LOG_2PI

        def log_prob(self, x):
            x1 = x[..., 0]
            z2 = x[..., 1] - self.curvature * (x1**2 + self.offset)
            return -0.5 * (x1**2 + z2**2)

    class Funnel(nf.distributions.Target):
        """``FunnelTarget(dim=10, scale=3)``: v ~ N(0, scale^2), x_i | v ~ N(0, e^v)."""

        def __init__(self, dim=10, scale=3.0):
            super().__init__()
            self.dim, self.scale = dim, scale
            self.log_normalizer = (0.5 * (LOG_2PI + 2.0 * math.log(scale))
                                   + 0.5 * (dim - 1) * LOG_2PI)

        def log_prob(self, x):
            v = x[..., 0]
            rest = torch.sum(x[..., 1:] ** 2, dim=-1)
            return (-0.5 * v**2 / self.scale**2 - 0.5 * rest * torch.exp(-v)
                    - 0.5 * (self.dim - 1) * v)

    class Mixture(nf.distributions.Target):
        """``MixtureTarget(num_modes=8, radius=5, std=0.5)``: equal isotropic Gaussians on
        a circle, log p~ = log sum_k exp(-|x - c_k|^2 / (2 std^2))."""

        def __init__(self, num_modes=8, radius=5.0, std=0.5):
            super().__init__()
            angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
            self.centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=-1)
            self.num_modes, self.std = num_modes, std
            self.log_normalizer = math.log(num_modes) + LOG_2PI + 2.0 * math.log(std)

        def log_prob(self, x):
            c = torch.as_tensor(self.centres, dtype=x.dtype)
            d2 = torch.sum((x[..., None, :] - c) ** 2, dim=-1)
            mixture = (torch.logsumexp(-0.5 * d2 / self.std**2, dim=-1)
                       - 2 * (0.5 * LOG_2PI + math.log(self.std)))
            return mixture + self.log_normalizer - math.log(self.num_modes)

        def mode_masses(self, x, within=3.0):
            """As ``MixtureTarget.mode_masses``: the fraction of draws within 3 std of each
            centre."""
            d = np.linalg.norm(x[:, None, :] - self.centres[None], axis=-1)
            nearest = np.argmin(d, axis=1)
            near = d[np.arange(len(x)), nearest] < within * self.std
            return np.bincount(nearest[near], minlength=self.num_modes) / max(len(x), 1)

    return {"banana": (Banana(), 2), "funnel": (Funnel(dim=10), 10), "mixture": (Mixture(), 2)}


def flow_layers(kind, dim, layers, hidden):
    """normflows layers (base side first) with a reversal between consecutive layers."""
    import normflows as nf
    import torch

    flows = []
    for i in range(layers):
        if kind == "real_nvp":
            net = nf.nets.MLP([dim // 2, *hidden, 2 * (dim - dim // 2)], init_zeros=True)
            flows.append(nf.flows.AffineCouplingBlock(net))
        else:
            if len(set(hidden)) != 1:
                raise ValueError(f"normflows' MADE has equal hidden layers, got {hidden}")
            made = nf.flows.MaskedAffineAutoregressive(dim, hidden[0], num_blocks=len(hidden) - 1,
                                                       use_residual_blocks=False)
            flows.append(nf.flows.Reverse(made) if kind == "maf" else made)
        if i < layers - 1:
            reverse = nf.flows.Permute(dim, mode="shuffle")
            reverse.perm = reverse.inv_perm = torch.arange(dim - 1, -1, -1)
            flows.append(reverse)
    return flows


def check_densities(target, text):
    """Largest relative difference from the TensorFlow log-densities handed on stdin."""
    import torch

    given = json.loads(text)
    points = torch.tensor(given["points"], dtype=torch.float64)
    ours = target.log_prob(points).numpy()
    theirs = np.asarray(given["log_prob"], dtype=np.float64)
    return float(np.max(np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("banana", "funnel", "mixture"), required=True)
    parser.add_argument("--flow", choices=("iaf", "maf", "real_nvp"), default="iaf")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", default="64,64")
    parser.add_argument("--draws", type=int, default=256, help="draws per step")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--eval-draws", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check-stdin", action="store_true",
                        help="read {points, log_prob} JSON on stdin and check the densities")
    parser.add_argument("--log-weights", action="store_true",
                        help="add the evaluation draws' log p~ - log q to the JSON")
    args = parser.parse_args()

    import normflows as nf
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    target, dim = targets()[args.target]
    check = None
    if args.check_stdin:
        check = check_densities(target, sys.stdin.read())
        if not check <= 1e-4:
            sys.exit(f"torch {args.target} log-density differs from tfp_flows' by {check:g}")
    hidden = tuple(int(h) for h in args.hidden.split(","))
    model = nf.NormalizingFlow(nf.distributions.DiagGaussian(dim),
                               flow_layers(args.flow, dim, args.layers, hidden), p=target)
    weights = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.5, patience=10, threshold=1e-4, threshold_mode="abs", min_lr=1e-5)

    epochs, steps, skipped = [], 0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        began, losses = time.perf_counter(), []
        for _ in range(STEPS_PER_EPOCH):
            optimizer.zero_grad()
            loss = model.reverse_kld(args.draws)
            if torch.isfinite(loss):  # normflows' examples skip non-finite steps
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            else:
                skipped += 1
            steps += 1
            if time.perf_counter() - start > args.seconds:
                break
        else:
            epochs.append(time.perf_counter() - began)
            if losses:
                plateau.step(float(np.mean(losses)))
    train_seconds = time.perf_counter() - start
    rate = (STEPS_PER_EPOCH / float(np.median(epochs[1:])) if len(epochs) > 1
            else steps / train_seconds)  # the first epoch includes the warm-up

    torch.manual_seed(args.seed + 123)
    with torch.no_grad():
        x, log_q = model.sample(args.eval_draws)
        log_w = (target.log_prob(x) - log_q).double()
    n = log_w.numel()
    lse = float(torch.logsumexp(log_w, 0))
    out = {"library": "normflows", "flow": args.flow, "target": args.target,
           "weights": weights, "steps_per_s": rate, "steps": steps, "skipped_steps": skipped,
           "train_seconds": train_seconds,
           "kl": target.log_normalizer - float(log_w.mean()),
           "log_z_error": lse - math.log(n) - target.log_normalizer,
           "ess_fraction": math.exp(2 * lse - float(torch.logsumexp(2 * log_w, 0))) / n,
           "final_learning_rate": optimizer.param_groups[0]["lr"],
           "density_check_max_rel_diff": check, "threads": args.threads,
           "versions": {"torch": torch.__version__, "normflows": nf.__version__}}
    if hasattr(target, "mode_masses"):
        out["modes_with_mass"] = int((target.mode_masses(x.numpy()) > 0.02).sum())
    if args.log_weights:
        out["log_w"] = log_w.tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
