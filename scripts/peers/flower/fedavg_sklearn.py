#!/usr/bin/env python3
"""Flower FedAvg with a scikit-learn MLP: the PyPI peer of OncoFed's federated CNN.

Reads a partition written by the Rust side (crates/cnn/tests/flower_peer.rs,
crates/cnn/examples/flower_side_by_side.rs), runs a real Flower server in this
process and one real Flower client per site as separate processes, talking
gRPC over loopback, and prints one JSON object on stdout: per round the wall
time, loss, accuracy and macro-F1 per site and pooled (with the confusion
matrices, so the caller can recompute any metric with its own definition),
the CPU seconds per round (server process plus every client's fit and
evaluate: the machine may be shared), the total wall time and the versions of flwr, scikit-learn and numpy.

Partition format (a directory):

  partition.json  {"format": "oncofed-flower-partition/1", "image_size": S,
                   "channels": 3, "classes": [codes in output-index order],
                   "rounds": R, "local_epochs": E, "seed": u64,
                   "sites": [{"name": "site-1", "dir": "site-1",
                              "train": N, "test": M}, ...]}
  <dir>/train.bin         N*S*S*3 bytes: u8 RGB pixels, image-major, row-major, HWC
  <dir>/train-labels.bin  N bytes: the class index (into "classes") of each image
  <dir>/test.bin, <dir>/test-labels.bin  the site's held-out cells, same layout

The model is sklearn's MLPClassifier on the raw pixels (scaled as OncoFed's CNN
scales them: (v/255 - 0.5)/0.25);
its parameters are coefs_ and intercepts_. Every round each client starts from
the global parameters with a fresh Adam state, runs `local_epochs` passes of
partial_fit over its training cells, and returns the parameters with its
sample count; Flower's FedAvg strategy averages them weighted by sample count.
After every round each client evaluates the global model on its held-out
cells (federated evaluation) and returns its confusion matrix.

Usage: fedavg_sklearn.py PARTITION_DIR [--hidden 256] [--lr 0.0003]
       [--batch 32] [--alpha 0.0001] [--port 0]
The defaults are the best of a small sweep on the side-by-side's synthetic
cells (hidden 64/128/256, step 3e-4/1e-3/3e-3): the peer is given its best shot.
Errors go to stderr with a non-zero exit; Flower's own log goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

# No telemetry from the peer; one BLAS thread per client process (the clients
# run in parallel, one process per site).
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

FORMAT = "oncofed-flower-partition/1"


class PartitionError(Exception):
    """A partition file that does not match the format; the message names it."""


def load_partition(root: Path) -> dict:
    """partition.json, checked: the fields this peer needs, with their types."""
    path = root / "partition.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PartitionError(f"{path}: {e}") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise PartitionError(f"{path}: field format: expected {FORMAT!r}")
    for field in ("image_size", "channels", "rounds", "local_epochs", "seed"):
        if not isinstance(meta.get(field), int) or meta[field] < 0:
            raise PartitionError(f"{path}: field {field}: expected a non-negative integer")
    if meta["rounds"] < 1 or meta["image_size"] < 1 or meta["channels"] < 1:
        raise PartitionError(f"{path}: rounds, image_size and channels must be positive")
    classes = meta.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise PartitionError(f"{path}: field classes: expected at least two class codes")
    sites = meta.get("sites")
    if not isinstance(sites, list) or not sites:
        raise PartitionError(f"{path}: field sites: expected a non-empty list")
    for i, site in enumerate(sites):
        if not isinstance(site, dict):
            raise PartitionError(f"{path}: sites[{i}]: expected an object")
        for field in ("name", "dir"):
            if not isinstance(site.get(field), str) or not site[field]:
                raise PartitionError(f"{path}: sites[{i}].{field}: expected a string")
        if "/" in site["dir"] or site["dir"] in (".", ".."):
            raise PartitionError(f"{path}: sites[{i}].dir: expected a plain directory name")
        for field in ("train", "test"):
            if not isinstance(site.get(field), int) or site[field] < 1:
                raise PartitionError(f"{path}: sites[{i}].{field}: expected a positive count")
    return meta


def load_split(root: Path, meta: dict, site: dict, split: str):
    """The pixels (float32, (v/255 − 0.5)/0.25 as the CNN scales them, one row per image) and labels of a split."""
    import numpy as np

    n = site[split]
    size = meta["image_size"] * meta["image_size"] * meta["channels"]
    pixels_path = root / site["dir"] / f"{split}.bin"
    labels_path = root / site["dir"] / f"{split}-labels.bin"
    try:
        pixels = np.fromfile(pixels_path, dtype=np.uint8)
        labels = np.fromfile(labels_path, dtype=np.uint8)
    except OSError as e:
        raise PartitionError(f"{e.filename}: {e.strerror}") from e
    if pixels.size != n * size:
        raise PartitionError(f"{pixels_path}: {pixels.size} bytes, expected {n} images of {size} bytes")
    if labels.size != n:
        raise PartitionError(f"{labels_path}: {labels.size} labels, expected {n}")
    bad = np.flatnonzero(labels >= len(meta["classes"]))
    if bad.size:
        raise PartitionError(
            f"{labels_path}: record {int(bad[0])}: label {int(labels[bad[0]])} is not a class index"
        )
    x = (pixels.reshape(n, size).astype(np.float32) / np.float32(255.0) - np.float32(0.5)) / np.float32(0.25)
    return x, labels.astype(np.int64)


def layer_units(meta: dict, hidden: list[int]) -> list[int]:
    """Units per layer: inputs, the hidden layers, one output per class."""
    inputs = meta["image_size"] * meta["image_size"] * meta["channels"]
    return [inputs, *hidden, len(meta["classes"])]


def initial_parameters(units: list[int], seed: int):
    """Glorot-uniform weights and biases as scikit-learn's MLP draws them (ReLU factor 6)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(units[:-1], units[1:]):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        intercepts.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return coefs + intercepts


def confusion(truth, predicted, classes: int) -> list[list[int]]:
    """Rows truth, columns prediction."""
    import numpy as np

    m = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(m, (truth, predicted), 1)
    return m.tolist()


def scores(matrix: list[list[int]]) -> dict:
    """Accuracy and macro-F1 (mean F1 over the classes that occur in truth or prediction)."""
    k = len(matrix)
    total = sum(sum(row) for row in matrix)
    correct = sum(matrix[i][i] for i in range(k))
    f1s = []
    for c in range(k):
        tp = matrix[c][c]
        support = sum(matrix[c])
        predicted = sum(matrix[r][c] for r in range(k))
        if support == 0 and predicted == 0:
            continue
        f1s.append(2.0 * tp / (support + predicted))
    return {
        "n": total,
        "accuracy": correct / total if total else 0.0,
        "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
    }


# ---------------------------------------------------------------- client


def run_client(root: Path, site_index: int, address: str, args) -> None:
    """One site: a Flower NumPyClient over its own training and held-out cells."""
    import flwr
    import numpy as np
    from sklearn.neural_network import MLPClassifier

    meta = load_partition(root)
    if not 0 <= site_index < len(meta["sites"]):
        raise PartitionError(f"{root / 'partition.json'}: no site {site_index}")
    site = meta["sites"][site_index]
    x_train, y_train = load_split(root, meta, site, "train")
    x_test, y_test = load_split(root, meta, site, "test")
    k = len(meta["classes"])
    hidden = list(args.hidden)

    def fresh(params, seed: int) -> MLPClassifier:
        """A model holding `params`, its optimiser state fresh (FedAvg's local start)."""
        model = MLPClassifier(
            hidden_layer_sizes=hidden,
            solver="adam",
            learning_rate_init=args.lr,
            alpha=args.alpha,
            batch_size=min(args.batch, len(y_train)),
            shuffle=True,
            random_state=seed,
        )
        # One sample initialises sklearn's internal structures for all k classes;
        # its weights are then overwritten in place and the optimiser dropped.
        model.partial_fit(x_train[:1], y_train[:1], classes=np.arange(k))
        current = model.coefs_ + model.intercepts_
        if len(current) != len(params):
            raise ValueError(f"{len(params)} parameter arrays, the model has {len(current)}")
        for mine, theirs in zip(current, params):
            if mine.shape != theirs.shape:
                raise ValueError(f"parameter shape {theirs.shape}, the model has {mine.shape}")
            mine[...] = theirs
        del model._optimizer
        return model

    class Site(flwr.client.NumPyClient):
        def get_parameters(self, config):
            return initial_parameters(layer_units(meta, hidden), meta["seed"])

        def fit(self, parameters, config):
            cpu = time.process_time()
            rnd = int(config.get("round", 0))
            model = fresh(parameters, meta["seed"] + 1000 * rnd + site_index)
            for _ in range(meta["local_epochs"]):
                model.partial_fit(x_train, y_train)
            return model.coefs_ + model.intercepts_, len(y_train), {"cpu_seconds": time.process_time() - cpu}

        def evaluate(self, parameters, config):
            cpu = time.process_time()
            model = fresh(parameters, meta["seed"])
            proba = model.predict_proba(x_test)
            predicted = proba.argmax(axis=1)
            eps = 1e-12
            loss = float(-np.mean(np.log(proba[np.arange(len(y_test)), y_test] + eps)))
            matrix = confusion(y_test, predicted, k)
            metrics = {"site": site_index, "confusion": json.dumps(matrix), "cpu_seconds": time.process_time() - cpu}
            return loss, len(y_test), metrics

    flwr.client.start_client(
        server_address=address,
        client=Site().to_client(),
        insecure=True,
        max_wait_time=120.0,
    )


# ---------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_server(root: Path, args) -> dict:
    """The Flower server with FedAvg, N client processes; the report as a dict."""
    import flwr
    import numpy as np
    import sklearn
    from flwr.common import ndarrays_to_parameters
    from flwr.server.strategy import FedAvg

    started = time.perf_counter()
    meta = load_partition(root)
    n_sites = len(meta["sites"])
    k = len(meta["classes"])
    units = layer_units(meta, list(args.hidden))
    init = initial_parameters(units, meta["seed"])
    rounds: dict[int, dict] = {}

    class TimedFedAvg(FedAvg):
        """Flower's FedAvg, timing each round and keeping the per-site confusion matrices."""

        def configure_fit(self, server_round, parameters, client_manager):
            # Sampling waits until every client is connected: the round starts after it.
            instructions = super().configure_fit(server_round, parameters, client_manager)
            rounds[server_round] = {
                "round": server_round,
                "start": time.perf_counter(),
                "server_cpu": time.process_time(),
            }
            return instructions

        def aggregate_fit(self, server_round, results, failures):
            if failures:
                raise RuntimeError(f"round {server_round}: {len(failures)} client(s) failed to fit")
            out = super().aggregate_fit(server_round, results, failures)
            rounds[server_round]["fit_end"] = time.perf_counter()
            rounds[server_round]["client_cpu"] = sum(float(r.metrics.get("cpu_seconds", 0.0)) for _, r in results)
            return out

        def aggregate_evaluate(self, server_round, results, failures):
            if failures:
                raise RuntimeError(f"round {server_round}: {len(failures)} client(s) failed to evaluate")
            out = super().aggregate_evaluate(server_round, results, failures)
            entry = rounds[server_round]
            entry["end"] = time.perf_counter()
            entry["server_cpu"] = time.process_time() - entry["server_cpu"]
            entry["client_cpu"] += sum(float(r.metrics.get("cpu_seconds", 0.0)) for _, r in results)
            entry["loss"] = out[0]
            per_site = {}
            for _, res in results:
                per_site[int(res.metrics["site"])] = json.loads(str(res.metrics["confusion"]))
            entry["confusion"] = per_site
            return out

    strategy = TimedFedAvg(
        fraction_fit=1.0,
        fraction_evaluate=1.0,
        min_fit_clients=n_sites,
        min_evaluate_clients=n_sites,
        min_available_clients=n_sites,
        initial_parameters=ndarrays_to_parameters(init),
        on_fit_config_fn=lambda rnd: {"round": rnd},
        accept_failures=False,
    )

    port = args.port or free_port()
    address = f"127.0.0.1:{port}"
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    clients = []
    for i in range(n_sites):
        cmd = [sys.executable, str(Path(__file__).resolve()), str(root), "--client", str(i), "--address", address]
        cmd += ["--hidden", *map(str, args.hidden), "--lr", str(args.lr), "--batch", str(args.batch), "--alpha", str(args.alpha)]
        clients.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))

    # Clients' stderr is drained so a chatty client never blocks on a full pipe.
    tails: list[list[bytes]] = [[] for _ in clients]

    def drain(c: subprocess.Popen, tail: list[bytes]) -> None:
        for line in c.stderr:
            tail.append(line)
            del tail[:-50]

    done = threading.Event()

    def watch() -> None:
        # A client that dies (or gives up connecting) would leave the server
        # waiting for it for ever.
        while not all(c.poll() is not None for c in clients):
            for i, c in enumerate(clients):
                code = c.poll()
                if code not in (None, 0):
                    time.sleep(0.5)
                    err = b"".join(tails[i]).decode("utf-8", "replace")
                    print(f"fedavg_sklearn: client {i} exited with {code}:\n{err}", file=sys.stderr, flush=True)
                    os._exit(2)
            time.sleep(0.2)
        if not done.wait(timeout=30):
            print("fedavg_sklearn: every client has exited, the server is still waiting", file=sys.stderr, flush=True)
            os._exit(2)

    for c, tail in zip(clients, tails):
        threading.Thread(target=drain, args=(c, tail), daemon=True).start()
    threading.Thread(target=watch, daemon=True).start()

    server_started = time.perf_counter()
    flwr.server.start_server(
        server_address=address,
        config=flwr.server.ServerConfig(num_rounds=meta["rounds"]),
        strategy=strategy,
    )
    done.set()
    for c in clients:
        try:
            c.wait(timeout=30)
        except subprocess.TimeoutExpired:
            c.kill()
            c.wait()
    finished = time.perf_counter()

    report_rounds = []
    first_start = min(r["start"] for r in rounds.values())
    for rnd in sorted(rounds):
        r = rounds[rnd]
        if "end" not in r:
            raise RuntimeError(f"round {rnd} did not finish")
        pooled = np.zeros((k, k), dtype=np.int64)
        sites = []
        for i in range(n_sites):
            m = r["confusion"].get(i)
            if m is None:
                raise RuntimeError(f"round {rnd}: no evaluation from site {i}")
            pooled += np.array(m, dtype=np.int64)
            sites.append({"site": meta["sites"][i]["name"], **scores(m), "confusion": m})
        report_rounds.append(
            {
                "round": rnd,
                "seconds": r["end"] - r["start"],
                "fit_seconds": r["fit_end"] - r["start"],
                "evaluate_seconds": r["end"] - r["fit_end"],
                # CPU time of the round: the server process plus every client's fit and evaluate.
                "cpu_seconds": r["server_cpu"] + r["client_cpu"],
                "loss": r["loss"],
                **scores(pooled.tolist()),
                "confusion": pooled.tolist(),
                "sites": sites,
            }
        )
    return {
        "peer": "flwr FedAvg + scikit-learn MLPClassifier",
        "flwr_version": flwr.__version__,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "transport": "gRPC over loopback, 1 server + %d client processes" % n_sites,
        "model": {
            "kind": "MLPClassifier",
            "input": "raw pixels",
            "hidden": list(args.hidden),
            "solver": "adam",
            "learning_rate": args.lr,
            "batch_size": args.batch,
            "alpha": args.alpha,
            "parameters": int(sum(a.size for a in init)),
        },
        "classes": meta["classes"],
        "local_epochs": meta["local_epochs"],
        "rounds": report_rounds,
        # Process start, data loading and connection: before the first round.
        "setup_seconds": first_start - started,
        "training_seconds": rounds[max(rounds)]["end"] - first_start,
        "server_seconds": finished - server_started,
        "total_seconds": finished - started,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("partition", type=Path)
    p.add_argument("--hidden", type=int, nargs="+", default=[256])
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--alpha", type=float, default=1e-4)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--client", type=int, help=argparse.SUPPRESS)
    p.add_argument("--address", help=argparse.SUPPRESS)
    args = p.parse_args()
    if any(h < 1 for h in args.hidden) or args.batch < 1 or args.lr <= 0:
        p.error("--hidden and --batch must be positive, --lr above zero")
    try:
        if args.client is not None:
            run_client(args.partition, args.client, args.address, args)
            return 0
        report = run_server(args.partition, args)
    except PartitionError as e:
        print(f"fedavg_sklearn: {e}", file=sys.stderr)
        return 2
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
