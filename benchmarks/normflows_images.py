"""normflows (PyTorch, CPU) image flows on the digits split that images_vs_normflows.py writes:
Glow (a ``MultiscaleFlow`` of ``GlowBlock``s, as in normflows' Glow example) or a Real
NVP-style ``MultiscaleFlow`` of ``AffineCouplingBlock``s, in the layout of tfp_flows'
``glow``/``real_nvp`` image builders, trained with Adam for a wall-clock budget.

Layout (listed from the data side; normflows lists each level from the base side):

* glow, per level: squeeze, ``--steps`` GlowBlocks (ActNorm, LU 1x1 convolution, affine
  channel coupling with normflows' sigmoid scale and its conv 3x3 / conv 1x1 / zero conv 3x3
  net), then factor out half of the channels (except at the last level).
* real_nvp: 3 checkerboard couplings, squeeze, 3 channel couplings, factor out half; last
  level: 4 checkerboard couplings. Masks alternate; each conditioner is normflows'
  ``ConvResidualNet`` (1x1 convolution in, ``--blocks`` residual blocks of two 3x3
  convolutions, 1x1 out, the last set to zero so that each coupling starts as the identity),
  with the ``exp`` scale.

Every factored-out half and the last level's output get normflows' ``DiagGaussian`` (a
learned mean and scale per dimension). Preprocessing as tfp_flows': pixels ``x + u`` in
``[0, K)`` are divided by ``K``, then normflows' ``Logit(alpha)``, whose log-det matches
tfp_flows' ``Logit``; so ``bits/dim = (-log p(x/K) + D log K) / (D ln 2)``, a density over
pixel units. Training dequantises the images afresh each epoch. With ``--validation N`` the
last N training images are held out, scored after every full epoch (one fixed draw of the
dequantisation noise) and the model ends with the weights of its best epoch.

Run with a Python that has torch and normflows (they are not tfp_flows dependencies), e.g.

    python -m venv /work/torch-venv
    /work/torch-venv/bin/pip install torch==2.13.0+cpu normflows numpy
    /work/torch-venv/bin/python normflows_images.py --data digits.npz --flow glow --seconds 600

The npz holds ``x_train``, ``x_test`` (integer images, NHWC) and ``num_levels``. It prints
one JSON line (images/s, bits/dim, weights, versions). images_vs_normflows.py runs it for
you.
"""
import argparse
import copy
import json
import math
import time
import warnings

import numpy as np


def _level_shapes(shape, num_levels):
    """The (C, H, W) at which each level's couplings act, data side first."""
    c, h, w = shape
    out = []
    for _ in range(num_levels):
        h, w, c = h // 2, w // 2, 4 * c
        out.append((c, h, w))
        c //= 2
    return out


def glow(shape, num_levels, num_steps, hidden):
    """normflows' Glow example, unconditional: MultiscaleFlow of GlowBlocks."""
    import normflows as nf

    q0, flows, merges = [], [], []
    levels = _level_shapes(shape, num_levels)
    for index in reversed(range(num_levels)):  # normflows lists levels from the base side
        c, h, w = levels[index]
        flows.append([nf.flows.GlowBlock(c, hidden, split_mode="channel", scale=True)
                      for _ in range(num_steps)] + [nf.flows.Squeeze()])
        latent = (c, h, w) if index == num_levels - 1 else (c // 2, h, w)
        q0.append(nf.distributions.DiagGaussian(latent))
        if index < num_levels - 1:
            merges.append(nf.flows.Merge())
    return q0, flows, merges


def real_nvp(shape, num_levels, hidden, num_blocks):
    """Real NVP's multiscale layout from normflows' AffineCouplingBlocks."""
    import normflows as nf
    import torch

    def coupling(channels, mode):
        split = channels if "checkerboard" in mode else channels // 2
        net = nf.nets.ConvResidualNet(split, 2 * split, hidden, num_blocks=num_blocks)
        torch.nn.init.zeros_(net.final_layer.weight)
        torch.nn.init.zeros_(net.final_layer.bias)
        return nf.flows.AffineCouplingBlock(net, scale=True, scale_map="exp", split_mode=mode)

    def alternating(channels, mode, count):  # data-side order
        return [coupling(channels, mode + ("_inv" if i % 2 else "")) for i in range(count)]

    q0, flows, merges = [], [], []
    c, h, w = shape
    for index in range(num_levels):  # data side first; reversed for normflows below
        if index == num_levels - 1:
            flows.append(alternating(c, "checkerboard", 4))
            q0.append(nf.distributions.DiagGaussian((c, h, w)))
            break
        steps = alternating(c, "checkerboard", 3) + [nf.flows.Squeeze()]
        c, h, w = 4 * c, h // 2, w // 2
        steps += alternating(c, "channel", 3)
        flows.append(steps)
        q0.append(nf.distributions.DiagGaussian((c // 2, h, w)))
        merges.append(nf.flows.Merge())
        c //= 2
    flows = [list(reversed(steps)) for steps in reversed(flows)]
    return list(reversed(q0)), flows, merges


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="npz with x_train, x_test, num_levels")
    parser.add_argument("--flow", choices=("glow", "real_nvp"), default="glow")
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--levels", type=int, default=2, help="scales")
    parser.add_argument("--hidden", type=int, default=None, help="32 for glow, 24 for real_nvp")
    parser.add_argument("--steps", type=int, default=4, help="glow: steps per level")
    parser.add_argument("--blocks", type=int, default=1, help="real_nvp: residual blocks")
    parser.add_argument("--alpha", type=float, default=1e-6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--sample-size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validation", type=int, default=0,
                        help="hold out the last N training images; keep the weights of the "
                             "epoch with the best validation bits/dim")
    args = parser.parse_args()

    import normflows as nf
    import torch

    warnings.filterwarnings("ignore", message="torch.lu is deprecated")  # in normflows' LU
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = np.load(args.data)
    levels = int(data["num_levels"])
    to_torch = lambda a: torch.tensor(a.transpose(0, 3, 1, 2), dtype=torch.float32)  # NCHW
    x_train, x_test = to_torch(data["x_train"]), to_torch(data["x_test"])
    x_val = x_train[len(x_train) - args.validation:] if args.validation else None
    x_train = x_train[:len(x_train) - args.validation]
    shape = tuple(x_train.shape[1:])
    dims = int(np.prod(shape))
    if args.flow == "glow":
        parts = glow(shape, args.levels, args.steps, args.hidden or 32)
    else:
        parts = real_nvp(shape, args.levels, args.hidden or 24, args.blocks)
    model = nf.MultiscaleFlow(*parts, transform=nf.transforms.Logit(args.alpha),
                              class_cond=False)
    weights = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    log_k = dims * math.log(levels)  # x/K: the log-det of the division by K

    def mean_bits(images, generator):
        x = (images + torch.rand(images.shape, generator=generator)) / levels
        nll = -torch.cat([model.log_prob(b, None) for b in x.split(256)]).double()
        return (nll + log_k) / (dims * math.log(2))

    epochs, start, steps, skipped = [], time.perf_counter(), 0, 0
    best = (math.inf, None, 0)  # validation bits/dim, weights, epoch
    model.train()
    while time.perf_counter() - start < args.seconds:
        began, n = time.perf_counter(), 0
        x = (x_train + torch.rand_like(x_train)) / levels
        for batch in x[torch.randperm(len(x))].split(args.batch_size):
            loss = -model.log_prob(batch, None).mean()
            if torch.isfinite(loss):  # normflows' examples skip non-finite steps
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            else:
                skipped += 1
            n, steps = n + len(batch), steps + 1
            if time.perf_counter() - start > args.seconds:
                break
        epochs.append((n, time.perf_counter() - began))
        if x_val is not None and n == len(x_train):  # a full epoch: validate it
            model.eval()
            with torch.no_grad():
                value = float(mean_bits(x_val, torch.Generator().manual_seed(args.seed)).mean())
            model.train()
            if value < best[0]:
                best = (value, copy.deepcopy(model.state_dict()), len(epochs))
    if best[1] is not None:
        model.load_state_dict(best[1])
    train_seconds = time.perf_counter() - start
    full = [n / s for n, s in epochs[1:] if n == len(x_train)]  # the first: reported alone

    model.eval()
    with torch.no_grad():
        gen = torch.Generator().manual_seed(args.seed)
        per_image = sum(mean_bits(x_test, gen) for _ in range(args.draws)) / args.draws
        model.sample(16)  # warm-up
        rates = []
        for _ in range(3):
            began = time.perf_counter()
            images, _ = model.sample(args.sample_size)
            rates.append(args.sample_size / (time.perf_counter() - began))
        finite = bool(torch.isfinite(images).all())

    print(json.dumps({
        "library": "normflows", "flow": args.flow, "weights": weights,
        "train_images_per_s": float(np.median(full)) if full else None,
        "first_epoch_s": epochs[0][1], "epochs": len(epochs), "steps": steps,
        "skipped_steps": skipped, "train_seconds": train_seconds,
        "overall_images_per_s": sum(n for n, _ in epochs) / train_seconds,
        "sample_images_per_s": float(np.median(rates)), "samples_finite": finite,
        "test_bits_per_dim": float(per_image.mean()),
        "std_error": float(per_image.std() / math.sqrt(len(per_image))),
        "validation_images": args.validation, "best_epoch": best[2] or None,
        "threads": args.threads, "batch_size": args.batch_size,
        "versions": {"torch": torch.__version__, "normflows": nf.__version__,
                     "numpy": np.__version__}}))


if __name__ == "__main__":
    main()
