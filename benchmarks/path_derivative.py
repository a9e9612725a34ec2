"""The path-derivative ("sticking the landing", Roeder et al. 2017) gradient of
``fit_to_target`` against the plain reparameterised one: reverse KL after the same number of
steps (15 epochs x 64 steps, 256 draws), iaf 4 x (64, 64), two seeds, banana and funnel d = 10.

    cd benchmarks && python path_derivative.py
"""
import sys, numpy as np, tfp_flows, keras
from tfp_flows.datasets import BananaTarget, FunnelTarget
from tfp_flows.training import fit_to_target, importance_log_weights, importance_diagnostics
for tname, target in (("banana", BananaTarget()), ("funnel", FunnelTarget(dim=10))):
    for stl in (False, True):
        kls = []
        for seed in (0, 1):
            keras.utils.set_random_seed(seed)
            flow = tfp_flows.iaf(event_shape=target.event_shape[0], num_layers=4, hidden_units=(64, 64), seed=seed)
            fit_to_target(flow, target, epochs=15, steps_per_epoch=64, num_draws=256, path_derivative=stl, seed=seed)
            _, lw = importance_log_weights(flow, target, num_samples=20000, seed=123)
            kls.append(target.log_normalizer - importance_diagnostics(lw).elbo)
        print(tname, "path_derivative" if stl else "plain", " ".join(f"{k:.4f}" for k in kls), flush=True)
