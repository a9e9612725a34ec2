"""Where an image flow's training step spends its time on CPU (issue 22): the step profiled op
by op, each convolution's forward and backward pass against PyTorch's, and the step under
TensorFlow's thread settings.

The flows are images_vs_normflows.py's (digits, 8x8x1, 17 levels, batch 64, default
``compile``). Three parts, each printing a table:

1. ``profile``: ``tf.profiler`` over 20 compiled ``train_step`` calls (with XLA where
   ``compile()``'s default uses it for a long fit: the image ``glow``); time per op type
   (op kernels only, summed over threads, so the total can exceed the wall time on 2 cores) and the share of the
   convolution kernels (``Conv2D`` forward, ``BackpropFilter``, ``BackpropInput``).
2. ``convs``: every distinct convolution of the flow (image size, channels in/out, kernel),
   forward + backward (``d/dx``, ``d/dW``, ``d/db``) of ``sum(relu(y) * y)`` at batch 64, 20 in
   sequence in one ``tf.function`` call (so that the call's overhead fades), against the same
   convolution in PyTorch (``--python``, NCHW, 2 threads, 200 in a loop); best of 5;
   ``count`` is how many of the flow's convolutions have that shape.
3. ``threads``: milliseconds per compiled ``train_step`` (best of 5 x 30) in a fresh process
   per setting of ``tf.config.threading`` (inter-op, intra-op; 0 is TensorFlow's default, the
   number of cores), for the two digits flows and a wider Real NVP (64 channels, 4 blocks).

    python benchmarks/image_step.py                      # all three parts
    python benchmarks/image_step.py --parts threads
"""
import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile

from common import compare_times, machine
from images_vs_normflows import OURS   # neither starts TensorFlow: threads can still be set

HERE = os.path.abspath(__file__)
FLOWS = {**OURS, "real_nvp_wide": dict(hidden_channels=64, num_blocks=4, num_scales=2)}
THREADS = ((0, 0), (2, 1), (1, 2), (1, 1))
WRAPPERS = ("Process", "Run", "Execute", "ExecuteAsyncOnStream")  # events around the kernels
REPEATS = 20  # convolutions per timed tf.function call, so that the call's overhead fades
TORCH_CONVS = """
import json, sys, time, torch
torch.set_num_threads(2)
out = []
for hw, cin, cout, k in json.loads(sys.argv[1]):
    conv = torch.nn.Conv2d(cin, cout, k, padding=k // 2)
    x = torch.randn(64, cin, hw, hw, requires_grad=True)
    def step():
        y = conv(x); (torch.relu(y) * y).sum().backward()
    for _ in range(20): step()
    best = 1e9
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(200): step()
        best = min(best, (time.perf_counter() - began) / 200)
    out.append(best * 1e3)
print(json.dumps(out))
"""


def trained_step(kind):
    """A digits flow after one short fit, its compiled train step and a batch."""
    import keras
    import tensorflow as tf

    import tfp_flows
    from tfp_flows import datasets
    from tfp_flows.xla import xla_wins

    data = datasets.digits()
    flow = tfp_flows.build_flow(kind.replace("_wide", ""), event_shape=(8, 8, 1),
                                num_levels=17, seed=0, **FLOWS[kind])
    flow.compile(keras.optimizers.Adam(1e-3))
    flow.fit(data.x_train[:128], epochs=1, batch_size=64, verbose=0)
    x = tf.constant(datasets.dequantize(data.x_train[:64], 0, 17), tf.float32)
    jit = xla_wins(flow)  # compile()'s default for a long fit (tfp_flows.xla)
    return flow, tf.function(flow.train_step, jit_compile=jit), x, jit


def best_ms(call, repeats=5, number=30):
    """Milliseconds per call: the best mean of ``number`` calls over ``repeats`` trials."""
    return compare_times({"call": call}, repeats=repeats, number=number)["call"] * 1e3


def profile(kind, calls=20):
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    flow, step, x, jit = trained_step(kind)
    wall = best_ms(lambda: step(x)["loss"])
    if jit:
        print(f"\n{kind} (XLA): {wall:.1f} ms per step (wall, best of 5 x 30); XLA fuses the "
              "step into clusters, no per-op profile")
        return
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(calls):
            loss = step(x)["loss"]
        loss.numpy()
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        with open(glob.glob(logdir + "/**/*.xplane.pb", recursive=True)[0], "rb") as f:
            space.ParseFromString(f.read())
    ms, count = collections.Counter(), collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                op_type = name.rsplit(":", 1)[-1]
                if ":" in name and op_type not in WRAPPERS and "__inference" not in name:
                    ms[op_type] += event.duration_ps / 1e9 / calls
                    count[op_type] += 1 / calls
    total = sum(ms.values())
    conv = sum(v for k, v in ms.items() if "Conv2D" in k)
    print(f"\n{kind}: {wall:.1f} ms per step (wall, best of 5 x 30); op time summed over "
          f"threads {total:.1f} ms, {sum(count.values()):.0f} ops per step; convolution "
          f"kernels {conv:.1f} ms = {conv / total:.0%}\n")
    print("| op type | ms per step | ops per step |\n|---|---:|---:|")
    for op_type, value in ms.most_common(12):
        print(f"| {op_type} | {value:.2f} | {count[op_type]:.0f} |")


def convs(kind, python):
    import keras
    import tensorflow as tf

    flow = trained_step(kind)[0]
    shapes = collections.Counter()
    for layer in flow._flatten_layers():
        if isinstance(layer, keras.layers.Conv2D):
            k, _, cin, cout = layer.kernel.shape
            shapes[(layer._build_shapes_dict["input_shape"][1], cin, cout, k)] += 1
    shapes = sorted(shapes.items(), key=lambda item: (-item[0][0], item[0]))
    ours = []
    for (hw, cin, cout, k), _ in shapes:
        x = tf.random.normal([64, hw, hw, cin])
        w = tf.Variable(tf.random.normal([k, k, cin, cout]) * 0.1)
        b = tf.Variable(tf.zeros([cout]))

        @tf.function
        def step(x=x, w=w, b=b):
            for _ in range(REPEATS):  # in sequence: each input depends on the last gradient
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = tf.nn.bias_add(tf.nn.conv2d(x, w, 1, "SAME"), b)
                    loss = tf.reduce_sum(tf.nn.relu(y) * y)
                dx, dw, db = tape.gradient(loss, [x, w, b])
                x = x + 0.0 * (dx + tf.reduce_sum(dw) + tf.reduce_sum(db))
            return x
        ours.append(best_ms(step, number=10) / REPEATS)
    theirs = [None] * len(shapes)
    if python:
        out = subprocess.run([python, "-c", TORCH_CONVS, json.dumps([s for s, _ in shapes])],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        theirs = json.loads(out.strip().splitlines()[-1])
    print(f"\n{kind}: forward + backward of each convolution, batch 64, ms\n")
    print("| image | in | out | kernel | count | TensorFlow | PyTorch | TF / torch |\n"
          "|---|---:|---:|---|---:|---:|---:|---:|")
    for ((hw, cin, cout, k), n), a, b in zip(shapes, ours, theirs):
        ratio = "" if b is None else f"{a / b:.2f}"
        print(f"| {hw}x{hw} | {cin} | {cout} | {k}x{k} | {n} | {a:.3f} | "
              f"{'' if b is None else f'{b:.3f}'} | {ratio} |")
    total = sum(a * n for ((_, n), a) in zip(shapes, ours))
    line = f"\nsum over the flow's convolutions: TensorFlow {total:.1f} ms"
    if python:
        line += f", PyTorch {sum(b * n for ((_, n), b) in zip(shapes, theirs)):.1f} ms"
    print(line)


def step_ms(kind, inter, intra):
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(inter)
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    _, step, x, _ = trained_step(kind)
    print(json.dumps(best_ms(lambda: step(x)["loss"])))


def threads(kinds):
    print("\nms per train step (fresh process per setting); inter-op / intra-op threads, "
          "0 = TensorFlow's default\n")
    print("| flow | " + " | ".join(f"{a} / {b}" for a, b in THREADS) + " | best / default |")
    print("|---|" + "---:|" * (len(THREADS) + 1))
    for kind in kinds:
        row = []
        for inter, intra in THREADS:
            out = subprocess.run([sys.executable, HERE, "--step-ms", kind, str(inter),
                                  str(intra)], check=True, stdout=subprocess.PIPE, text=True,
                                 stderr=subprocess.DEVNULL).stdout
            row.append(json.loads(out.strip().splitlines()[-1]))
        print(f"| {kind} | " + " | ".join(f"{v:.1f}" for v in row)
              + f" | {row[0] / min(row):.2f}x |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="profile,convs,threads")
    parser.add_argument("--flows", default="real_nvp,glow")
    parser.add_argument("--python", default="/work/torch-venv/bin/python",
                        help="a Python with torch for the convolution comparison ('' to skip)")
    parser.add_argument("--step-ms", nargs=3, metavar=("FLOW", "INTER", "INTRA"),
                        help=argparse.SUPPRESS)  # one setting, in a fresh process
    args = parser.parse_args()
    if args.step_ms:
        return step_ms(args.step_ms[0], int(args.step_ms[1]), int(args.step_ms[2]))
    print(f"# {machine()}")
    kinds = args.flows.split(",")
    parts = args.parts.split(",")
    for kind in kinds:
        if "profile" in parts:
            profile(kind)
        if "convs" in parts:
            convs(kind, args.python if args.python and os.path.exists(args.python) else None)
    if "threads" in parts:
        threads(kinds + ["real_nvp_wide"])


if __name__ == "__main__":
    main()
