"""Logistic regression on synthetic data, trained through the fljob Client API."""

import argparse

import numpy as np

import fljob.client as flare


def make_data(site: str, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(sum(map(ord, site)))
    x = rng.normal(size=(n, 4))
    true_w = np.array([1.5, -2.0, 0.5, 1.0])
    y = (x @ true_w + 0.25 * rng.normal(size=n) > 0).astype(np.float64)
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--site", default=None)
    args = parser.parse_args()

    flare.init()
    x, y = make_data(args.site or flare.get_site_name())
    while flare.is_running():
        model = flare.receive()
        if model is None:
            break
        w = np.asarray(model.params["weights"], dtype=np.float64)
        b = np.asarray(model.params["bias"], dtype=np.float64)
        for _ in range(args.steps):
            p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
            w = w - args.lr * x.T @ (p - y) / len(y)
            b = b - args.lr * np.array([np.mean(p - y)])
        accuracy = float(np.mean(((x @ w + b) > 0) == (y > 0.5)))
        flare.send(
            flare.FLModel(
                params={"weights": w, "bias": b},
                metrics={"accuracy": accuracy},
                meta={"NUM_STEPS_CURRENT_ROUND": args.steps},
            )
        )


if __name__ == "__main__":
    main()
