"""What ``tfp-flows fit`` prints and records besides the numbers (no TensorFlow needed):
package versions, JSON-safe floats and the summary at the end of a run."""
import math
import platform
from importlib import metadata

from tfp_flows_cli.files import shape_text


def package_version(name):
    """The installed version of the distribution ``name``, or ``None``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions():
    names = ("tfp_flows", "tensorflow", "keras", "tensorflow-probability", "numpy",
             "matplotlib")
    return {"python": platform.python_version(), **{n: package_version(n) for n in names}}


def finite_or_none(value):
    return value if value is not None and math.isfinite(value) else None


def summary(metrics, out):
    """What ``tfp-flows fit`` (and ``demo``) print at the end of a run."""
    s = metrics["settings"]
    best = f", best {metrics['best_epoch']}" if metrics["best_epoch"] else ""
    took = f"{metrics['epochs_run']} epochs{best}, {metrics['wall_time_s']:.1f} s"
    m = {k: "n/a" if v is None else f"{v:.4f}" if isinstance(v, float) else v
         for k, v in metrics.items()}
    if metrics["data_kind"] == "images":
        n = metrics["n_images"]
        lines = [f"fitted {s['flow']} to {m['data']} ({shape_text(metrics['event_shape'])} "
                 f"images, {m['num_levels']} levels; {n['train']} train, {n['validation']} "
                 f"validation, {n['test']} test): {took}",
                 f"bits/dim ({m['bits_per_dim_num_draws']} dequantisation draws): train "
                 f"{m['train_bits_per_dim']}  validation {m['validation_bits_per_dim']}  "
                 f"test {m['test_bits_per_dim']} +/- {m['test_bits_per_dim_std_error']}  "
                 f"(uniform {m['uniform_bits_per_dim']})"]
        if metrics.get("condition_on_labels"):
            lines.append(f"conditional on the label ({m['num_classes']} classes): test "
                         f"bits/dim given shuffled labels "
                         f"{m['test_bits_per_dim_shuffled_labels']}")
    else:
        what = f"{s['flow']} ({s['num_layers']} layers, hidden " \
               f"{','.join(map(str, s['hidden_units']))})"
        given = ""
        if "context_columns" in metrics:   # p(x names | context names), or their indices
            x, c = (", ".join(map(str, metrics[k]["names"] or metrics[k]["indices"]))
                    for k in ("x_columns", "context_columns"))
            what, given = f"a conditional {what}", f" p({x} | {c})"
        lines = [f"fitted {what} to {m['data']}{given}: {took}",
                 f"NLL (nats per point, data units): train {m['train_nll_nats']}  validation "
                 f"{m['validation_nll_nats']}  test {m['test_nll_nats']}"]
        if "test_nll_shuffled_context_nats" in metrics:
            lines[-1] += f"  (test with shuffled contexts " \
                         f"{m['test_nll_shuffled_context_nats']})"
        if "kl_to_truth_nats" in metrics:
            lines.append(f"KL to the true density: {m['kl_to_truth_nats']} nats (test NLL "
                         f"{m['test_nll_nats']} - true entropy {m['true_entropy_nats']})")
    if metrics["stopped_on_nan"]:
        lines.append("warning: the loss became NaN; the best weights before that were kept")
    lines.append(f"wrote {out}/: " + ", ".join(metrics["files"]))
    return "\n".join(lines)
