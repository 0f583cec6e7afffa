"""Training script run on each site through the Client API (``import fljob.client as flare``).

Logistic regression in numpy on synthetic data generated deterministically from the
site name (every site shares the same true decision boundary). Each round it reports
the global model's accuracy on the site's validation data, takes a few SGD steps and
sends the new weights back with the number of steps (FedAvg weights each site by it).
"""

import argparse
import zlib

import numpy as np

import fljob.client as flare

NUM_FEATURES = 10


def load_data(site_name: str, n_train: int = 512, n_val: int = 256):
    """``(train_x, train_y, val_x, val_y)`` for ``site_name``; the same every time."""
    true_w = np.random.default_rng(7).normal(size=NUM_FEATURES)
    rng = np.random.default_rng(zlib.crc32(site_name.encode("utf-8")))
    # Features on very different scales make plain SGD take several rounds to converge.
    scales = np.geomspace(0.05, 2.0, NUM_FEATURES)
    x = rng.normal(size=(n_train + n_val, NUM_FEATURES)) * scales
    true_w = true_w / scales
    y = (x @ true_w + rng.normal(scale=0.5, size=len(x)) > 0).astype(np.float64)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def predict(params: dict, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x @ params["w"] + params["b"])))


def accuracy(params: dict, x: np.ndarray, y: np.ndarray) -> float:
    return float(((predict(params, x) > 0.5) == y).mean())


def train(params: dict, x, y, epochs: int, batch_size: int, lr: float):
    """Mini-batch SGD on the log loss; returns (new params, steps)."""
    w, b = params["w"].astype(np.float64).copy(), params["b"].astype(np.float64).copy()
    rng = np.random.default_rng(0)
    steps = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            error = predict({"w": w, "b": b}, x[batch]) - y[batch]
            w -= lr * x[batch].T @ error / len(batch)
            b -= lr * np.array([error.mean()])
            steps += 1
    return {"w": w, "b": b}, steps


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.2)
    args = parser.parse_args()
    flare.init()
    site = flare.get_site_name()
    train_x, train_y, val_x, val_y = load_data(site)
    while flare.is_running():
        received = flare.receive()
        if received is None:
            break
        params = {name: np.asarray(value, dtype=np.float64)
                  for name, value in received.params.items()}
        global_accuracy = accuracy(params, val_x, val_y)
        if flare.is_evaluate():
            flare.send(flare.FLModel(metrics={"accuracy": global_accuracy}))
            continue
        new_params, steps = train(params, train_x, train_y, args.epochs, args.batch_size,
                                  args.lr)
        print(f"{site} round {received.current_round}: global model accuracy "
              f"{global_accuracy:.3f}", flush=True)
        flare.send(flare.FLModel(params=new_params, metrics={"accuracy": global_accuracy},
                                 meta={"NUM_STEPS_CURRENT_ROUND": steps}))


if __name__ == "__main__":
    main()
