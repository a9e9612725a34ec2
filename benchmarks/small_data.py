"""Quality on small data: what lowers KL(data || model) on 1,000 two-moons points (issue 12).

Every run trains one flow with the library's recipe (``tfp_flows.training.fit_flow``, the
settings of ``quality.py``: Adam(1e-3), batch 100, 10% validation split, best-validation
weights restored, the learning rate halved after 40 epochs without improvement) for a
wall-clock budget (``--budget``, default 60 s) or a fixed number of epochs (``--epochs``, which
factors out the machine's load), then scores

    KL(data || model) = mean NLL of 20,000 fresh draws of the truth - its exact entropy

with ``tfp_flows.training.kl_to_truth``. A *setting* is one line of a small language: a
builder (or ``stock_maf``, quality.py's stock TFP reference) and ``key=value`` changes to
quality.py's configuration of that builder or to the recipe:

    builder keys:  layers=4 hidden=64x64 act=tanh bins=8 bound=4 base=normal lsb=5
                   cfg=builder  start from the builder's own defaults, not quality.py's
                   df=30   degrees of freedom of the Student-t base (an experiment: patches
                           tfp_flows.base_distributions.STUDENT_T_DF, 5, for the run)
    recipe keys:   lr=1e-3 batch=100 val=0.1 patience=40 sched=plateau
                   wd=0.01     decoupled weight decay (AdamW: Adam(weight_decay=...))
                   ema=0.99    moving average of the weights (fit_flow's ema_momentum)
                   noise=0.05  Gaussian input noise (std, standardised units), fresh each
                               batch: fit_flow's input_noise
                   anneal=0.5  noise decays linearly to 0 over this fraction of the run (the
                               script's own tf.data pipeline)
                   ens=5       also score the mixture of the 5 best-validation checkpoints
                               (log-mean-exp of their log-densities; a measurement only,
                               made in every run: ens=0 turns it off)

Each setting runs for every seed (data ``load_toy(..., seed=s)``, initial weights ``seed=s``,
test draws ``seed=s + 1``), so settings are compared on the same data and test points; the
table gives the mean ± standard error over seeds and the mean paired difference to the
first setting. Runs can be appended to a JSON-lines file (``--out``) and summarised later
(``--table``), so a long sweep can be split over several invocations.

    python small_data.py --sweep regularisers --seeds 0,1,2 --out small_data.jsonl
    python small_data.py --sweep activation --epochs 400 --out activation.jsonl
    python small_data.py --settings "nsf; nsf wd=0.01; nsf ema=0.99 ens=5" --data moons:1000
    python small_data.py --table small_data.jsonl
    python small_data.py --quick                     # smoke test: seconds, not a result
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

import quality
from common import machine

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfp_flows  # noqa: E402
from tfp_flows.datasets import load_toy  # noqa: E402
from tfp_flows.training import fit_flow, kl_to_truth  # noqa: E402

N_TEST = 20000
PLATEAU = 40

# quality.py's configurations of the builders (the starting point of every setting).
BASE_CONFIGS = quality.CONFIGS
BUILDER_KEYS = {"layers": ("num_layers", int), "hidden": ("hidden_units", None),
                "act": ("activation", str), "bins": ("num_bins", int),
                "bound": ("bound", float), "base": ("base_distribution", str),
                "lsb": ("log_scale_bound", float)}
RECIPE_KEYS = {"df": float, "lr": float, "batch": int, "val": float, "patience": int, "sched": str,
               "wd": float, "ema": float, "noise": float, "anneal": float, "ens": int}
RECIPE_DEFAULTS = dict(df=None, lr=1e-3, batch=100, val=0.1, patience=None, sched="plateau", wd=0.0,
                       ema=None, noise=0.0, anneal=None, ens=5)

SWEEPS = {
    # Moons, 1,000 points: the candidates of issue 12 against quality.py's nsf and stock MAF.
    "regularisers": dict(data="moons:1000", settings=[
        "nsf",
        "stock_maf",
        "nsf base=normal",
        "nsf hidden=64x64",
        "nsf hidden=32x32",
        "nsf layers=2",
        "nsf bins=16",
        "nsf bound=3",
        "nsf bound=6",
        "nsf wd=0.01",
        "nsf wd=0.1",
        "nsf noise=0.03",
        "nsf noise=0.05",
        "nsf noise=0.1 anneal=0.5",
        "nsf ema=0.99",
        "nsf ema=0.995",
        "nsf ens=5",
        "nsf val=0.2",
        "nsf batch=32",
        "nsf batch=256",
        "nsf lr=3e-4",
        "nsf lr=3e-3",
    ]),
    # The activation question: relu vs tanh (vs silu) for maf, real_nvp and nsf.
    "activation": dict(
        data="moons:1000,banana:10000:50,eight_gaussians:1000,spirals:1000",
        settings=[f"{kind} act={act}" for kind in ("maf", "real_nvp", "nsf")
                  for act in ("relu", "tanh", "silu")]),
}


# ------------------------------------------------------------------ settings
def parse_setting(text):
    """``"nsf hidden=64x64 wd=0.01"`` -> (kind, builder kwargs, recipe dict, canonical text)."""
    words = text.split()
    if not words:
        raise ValueError("empty setting")
    kind, changes = words[0], words[1:]
    if kind != "stock_maf" and kind not in BASE_CONFIGS:
        raise ValueError(f"unknown builder {kind!r}; expected stock_maf or one of "
                         f"{sorted(BASE_CONFIGS)}")
    build = dict(BASE_CONFIGS.get(kind, {}))
    recipe = dict(RECIPE_DEFAULTS)
    for change in changes:
        key, _, value = change.partition("=")
        if key == "cfg":
            if value not in ("builder", "quality") or kind == "stock_maf":
                raise ValueError(f"cfg must be builder or quality (for a builder), got {value!r}")
            if value == "builder":
                build = {}
        elif key in BUILDER_KEYS:
            if kind == "stock_maf":
                raise ValueError("stock_maf takes recipe keys only")
            name, cast = BUILDER_KEYS[key]
            build[name] = (tuple(int(h) for h in value.split("x")) if cast is None
                           else cast(value))
        elif key in RECIPE_KEYS:
            recipe[key] = RECIPE_KEYS[key](value)
        else:
            raise ValueError(f"unknown key {key!r} in setting {text!r}; builder keys "
                             f"{sorted(BUILDER_KEYS)}, recipe keys {sorted(RECIPE_KEYS)}")
    if kind == "stock_maf" and any(recipe[k] != RECIPE_DEFAULTS[k] for k in recipe):
        raise ValueError("stock_maf runs quality.py's reference recipe unchanged")
    return kind, build, recipe, " ".join(words)


def parse_data(text):
    """``"moons:1000,banana:10000:50"`` -> [("moons", 1000, None), ("banana", 10000, 50)]:
    name, training points (default 1000) and, optionally, epochs for that set (overriding
    ``--epochs``, e.g. to give every set the same number of steps)."""
    out = []
    for item in text.split(","):
        name, n, epochs = (item.split(":") + [None, None])[:3]
        out.append((name, int(n) if n else 1000, int(epochs) if epochs else None))
    return out


# ------------------------------------------------------------------ training pieces
class NoiseSchedule(keras.callbacks.Callback):
    """Sets the input-noise std (a tf.Variable read by the data pipeline) before every
    epoch: ``sigma`` decaying linearly to 0 over ``anneal`` of the run (of the time budget,
    or of the epochs), or constant (``anneal=None``)."""

    def __init__(self, variable, sigma, anneal, budget, epochs):
        super().__init__()
        self.variable, self.sigma, self.anneal = variable, sigma, anneal
        self.budget, self.epochs = budget, epochs
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        if self.anneal is None:
            return
        if self.budget is not None:
            progress = (time.perf_counter() - self.start) / self.budget
        else:
            progress = epoch / self.epochs
        self.variable.assign(self.sigma * max(0.0, 1.0 - progress / self.anneal))


class BestCheckpoints(keras.callbacks.Callback):
    """Keeps the weights of the ``k`` epochs with the lowest validation loss (after any
    moving-average swap: this callback runs after the recipe's own)."""

    def __init__(self, k):
        super().__init__()
        self.k = k
        self.kept = []   # (val_loss, epoch, weights)

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss")
        if loss is None or not math.isfinite(loss):
            return
        if len(self.kept) < self.k or loss < self.kept[-1][0]:
            self.kept.append((loss, epoch, [w.numpy() for w in self.model.weights]))
            self.kept.sort(key=lambda item: item[0])
            del self.kept[self.k:]


def noisy_dataset(x, batch_size, variable, seed):
    """Shuffled batches of ``x + variable * N(0, 1)``, fresh noise every batch."""
    generator = tf.random.Generator.from_seed(seed)

    def add_noise(batch):
        return batch + variable * generator.normal(tf.shape(batch))

    data = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed,
                                                         reshuffle_each_iteration=True)
    return data.batch(batch_size).map(add_noise).prefetch(tf.data.AUTOTUNE)


def fit_ours(kind, build, recipe, x, budget, epochs, seed):
    """Builds and fits one flow; returns (flow, history, BestCheckpoints or None)."""
    keras.utils.set_random_seed(seed)
    flow = tfp_flows.build_flow(kind, event_shape=2, seed=seed, **build)
    lr = recipe["lr"]
    if recipe["wd"] or recipe["ema"] is not None:
        ema = {} if recipe["ema"] is None else dict(use_ema=True, ema_momentum=recipe["ema"])
        flow.compile(optimizer=keras.optimizers.Adam(lr, weight_decay=recipe["wd"] or None,
                                                     **ema))
    callbacks = []
    checkpoints = None
    if recipe["ens"]:
        checkpoints = BestCheckpoints(recipe["ens"])
        callbacks.append(checkpoints)
    data, validation = x, None
    split = recipe["val"]
    noise = None
    if recipe["noise"] and recipe["anneal"] is None:
        noise = recipe["noise"]   # the library's option: constant noise, clean validation rows
    elif recipe["noise"]:
        n_val = int(len(x) * split)
        train, validation = x[:len(x) - n_val], x[len(x) - n_val:]
        flow.initialize_from_data(train)          # the standardisation sees clean data
        sigma = tf.Variable(recipe["noise"], dtype=tf.float32, trainable=False)
        data = noisy_dataset(train, recipe["batch"], sigma, seed)
        callbacks.append(NoiseSchedule(sigma, recipe["noise"], recipe["anneal"], budget,
                                       epochs))
    history = fit_flow(flow, data, epochs=epochs or 10**6, batch_size=recipe["batch"],
                       learning_rate=lr, schedule=recipe["sched"], lr_patience=PLATEAU,
                       lr_factor=0.5, min_learning_rate=1e-5, patience=recipe["patience"],
                       validation_split=split, validation_data=validation,
                       time_budget=budget, ema_momentum=recipe["ema"], input_noise=noise,
                       callbacks=callbacks)
    return flow, history, checkpoints


def ensemble_kl(flow, checkpoints, truth, seed):
    """KL of the mixture (1/K) sum_k p_k of the kept checkpoints; the flow keeps its weights."""
    test = np.asarray(truth.sample(N_TEST, seed=seed + 1))
    current = [w.numpy() for w in flow.weights]
    logs = []
    for _, _, weights in checkpoints.kept:
        flow.set_weights(weights)
        logs.append(np.asarray(flow.log_prob(test), np.float64))
    flow.set_weights(current)
    logs = np.stack(logs)
    top = logs.max(axis=0)
    mixture = top + np.log(np.exp(logs - top).mean(axis=0))
    return float(-mixture.mean() - truth.entropy())


def run(setting, data, n_train, seed, budget, epochs):
    """One training run; returns its record (a dict)."""
    kind, build, recipe, text = parse_setting(setting)
    x, truth = load_toy(data, n_train=n_train, seed=seed)
    start = time.perf_counter()
    default_df = tfp_flows.base_distributions.STUDENT_T_DF
    if recipe["df"] is not None:
        tfp_flows.base_distributions.STUDENT_T_DF = recipe["df"]
    try:
        return _run(kind, build, recipe, text, x, truth, data, n_train, seed, budget, epochs,
                    start)
    finally:
        tfp_flows.base_distributions.STUDENT_T_DF = default_df


def _run(kind, build, recipe, text, x, truth, data, n_train, seed, budget, epochs, start):
    record = dict(setting=text, data=data, n_train=n_train, seed=seed, budget=budget,
                  epochs_asked=epochs, patience=recipe["patience"])
    if kind == "stock_maf":
        model, seconds, n_epochs = quality.fit_stock(x, budget, seed)
        record.update(epochs=n_epochs, seconds=round(seconds, 1))
    else:
        model, history, checkpoints = fit_ours(kind, build, recipe, x, budget, epochs, seed)
        losses = history.history["loss"]
        best = history.best_epoch
        record.update(epochs=len(losses), seconds=round(history.seconds, 1), best_epoch=best,
                      train_nll=None if best is None else round(losses[best - 1], 4),
                      val_nll=None if best is None else round(
                          history.history.get("val_loss", losses)[best - 1], 4),
                      stopped_by=history.stopped_by)
        if checkpoints is not None and checkpoints.kept:
            record["kl_ensemble"] = round(ensemble_kl(model, checkpoints, truth, seed), 4)
    divergence = kl_to_truth(model, truth, num_samples=N_TEST, seed=seed + 1)
    record.update(kl=round(divergence.value, 4), kl_se=round(divergence.std_error, 4),
                  entropy=round(float(truth.entropy()), 4), load=round(os.getloadavg()[0], 2),
                  wall=round(time.perf_counter() - start, 1))
    return record


def _run_key(record):
    return tuple(record.get(k) for k in ("setting", "data", "n_train", "seed", "budget",
                                         "epochs_asked", "patience"))


# ------------------------------------------------------------------ summary
def _mean_se(values):
    values = np.asarray(values, float)
    if len(values) < 2:
        return float(values.mean()), float("nan")
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(len(values)))


def _fmt(mean, se, digits=3):
    if not math.isfinite(mean):
        return "n/a"
    return f"{mean:.{digits}f}" + ("" if math.isnan(se) else f" ± {se:.{digits}f}")


def summarize(records, reference=None):
    """Markdown tables (one per data set): mean ± s.e. over seeds per setting, and the mean
    paired difference to ``reference`` (default: the first setting seen)."""
    lines = []
    by_data = {}
    for r in records:
        key = (r["data"], r["n_train"], r.get("budget"), r.get("epochs_asked"),
               r.get("patience"))
        by_data.setdefault(key, {}).setdefault(r["setting"], {})[r["seed"]] = r
    for (data, n_train, budget, epochs, patience), settings in by_data.items():
        ref = reference if reference in settings else next(iter(settings))
        length = f"{budget:g} s" if budget else f"up to {epochs} epochs"
        if patience:
            length += f", early stopping after {patience}"
        lines.append(f"\n### {data}, {n_train} points, {length} per run (reference: `{ref}`)\n")
        lines.append("| setting | seeds | KL (nats) | Δ vs reference (paired) | ensemble KL "
                     "| train NLL − H | epochs | load |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for setting, runs in settings.items():
            seeds = sorted(runs)
            kls = [runs[s]["kl"] for s in seeds]
            common = [s for s in seeds if s in settings[ref]]
            delta = _mean_se([runs[s]["kl"] - settings[ref][s]["kl"] for s in common]) \
                if setting != ref and common else (float("nan"), float("nan"))
            ens = [runs[s]["kl_ensemble"] for s in seeds if "kl_ensemble" in runs[s]]
            train = [runs[s]["train_nll"] - runs[s]["entropy"] for s in seeds
                     if runs[s].get("train_nll") is not None]
            lines.append(
                f"| `{setting}` | {len(seeds)} | {_fmt(*_mean_se(kls))} | "
                f"{_fmt(*delta)} | {_fmt(*_mean_se(ens)) if ens else ''} | "
                f"{_fmt(*_mean_se(train), 2) if train else ''} | "
                f"{np.mean([runs[s]['epochs'] for s in seeds]):.0f} | "
                f"{np.mean([runs[s]['load'] for s in seeds]):.1f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--sweep", choices=sorted(SWEEPS), help="a predefined sweep")
    parser.add_argument("--settings", help="settings separated by ';' (see above)")
    parser.add_argument("--data", help="data sets as name:n_train,... (default: the sweep's, "
                                       "else moons:1000)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--budget", type=float, default=60.0, help="training seconds per run")
    parser.add_argument("--epochs", type=int, help="fixed epochs per run instead of a budget")
    parser.add_argument("--patience", type=int,
                        help="early-stopping patience for every setting (default: none, as "
                             "quality.py; a setting's own patience= wins)")
    parser.add_argument("--reference", help="setting the paired differences are taken to")
    parser.add_argument("--out", help="append every run's record to this JSON-lines file "
                                      "(runs it records already are skipped: a sweep resumes)")
    parser.add_argument("--table", nargs="+", metavar="JSONL",
                        help="only summarise the records in these files")
    parser.add_argument("--threads", type=int, help="TensorFlow intra/inter-op threads")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 2 settings, 2 seeds, 3 s each")
    args = parser.parse_args()

    if args.table:
        records = [json.loads(line) for path in args.table for line in open(path)
                   if line.strip()]
        print(summarize(records, args.reference))
        return
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    sweep = SWEEPS.get(args.sweep, {})
    settings = [s.strip() for s in (args.settings or ";".join(sweep.get("settings", ["nsf"])))
                .split(";") if s.strip()]
    data = parse_data(args.data or sweep.get("data", "moons:1000"))
    seeds = [int(s) for s in args.seeds.split(",")]
    budget = None if args.epochs else args.budget
    if args.quick:
        settings = ["nsf", "nsf hidden=16 wd=0.01 noise=0.05 anneal=0.5 ema=0.9 ens=2"]
        data, seeds, budget, args.epochs = [("moons", 300, None)], [0, 1], 3.0, None
    if args.patience:
        RECIPE_DEFAULTS["patience"] = args.patience
    for setting in settings:   # fail before the first run, not after an hour
        if parse_setting(setting)[0] == "stock_maf" and (
                budget is None or any(epochs for _, _, epochs in data)):
            parser.error("stock_maf (quality.py's reference) trains for a time budget only")
    length = f"{budget:g} s" if budget else f"{args.epochs} epochs"
    print(f"# {machine()}; {length} per run; load at start "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    records, done = [], set()
    if args.out and os.path.exists(args.out):   # resume: skip runs the file records already
        with open(args.out) as f:
            done = {_run_key(json.loads(line)) for line in f if line.strip()}
    for name, n_train, epochs in data:
        for seed in seeds:
            for setting in settings:
                run_budget, run_epochs = (None if epochs else budget), (epochs or args.epochs)
                key = _run_key(dict(setting=parse_setting(setting)[3], data=name,
                                    n_train=n_train, seed=seed, budget=run_budget,
                                    epochs_asked=run_epochs,
                                    patience=parse_setting(setting)[2]["patience"]))
                if key in done:
                    continue
                record = run(setting, name, n_train, seed, run_budget, run_epochs)
                records.append(record)
                print(json.dumps(record), flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(record) + "\n")
    print(summarize(records, args.reference))


if __name__ == "__main__":
    sys.exit(main())
