"""Training script run on each site through the Client API (``import fljob.client as flare``).

It receives the global model, reports the global model's accuracy on the site's
validation data, trains it locally and sends the new weights back with the number of
steps taken (FedAvg weights each site by it). It also answers cross-site evaluation
tasks: ``validate`` (evaluate a received model) and ``submit_model`` (send the best
locally trained model).

One script for every PyTorch template of the library (FedAvg, deploy-map FedAvg, FedAvg
with cross-site evaluation, server- and client-controlled cyclic, swarm with cross-site
evaluation): they all send ``train``, and the CSE ones also ``validate`` and
``submit_model``. It is the library's shared scaffold ``_scaffolds/pt_cnn``.
"""

import argparse
import copy

import torch
from data import load_data
from net import Net
from torch import nn

import fljob.client as flare


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.02)
    return parser.parse_args()


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        predicted = model(images).argmax(dim=1)
    return float((predicted == labels).float().mean())


def train(model: nn.Module, images, labels, epochs: int, batch_size: int, lr: float):
    """Plain SGD; returns (steps, mean loss of the last epoch)."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    steps, total = 0, 0.0
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        total = 0.0
        for start in range(0, len(images), batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(images[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            steps += 1
            total += loss.item() * len(batch)
    return steps, total / len(images)


def as_state_dict(params) -> dict:
    return {name: torch.as_tensor(value) for name, value in params.items()}


def main():
    args = parse_args()
    torch.manual_seed(0)
    flare.init()
    site = flare.get_site_name()
    train_x, train_y, val_x, val_y = load_data(site)
    model = Net()
    best_state, best_accuracy = None, -1.0
    while flare.is_running():
        received = flare.receive()
        if received is None:
            break
        if flare.is_submit_model():
            state = best_state if best_state is not None else model.state_dict()
            flare.send(flare.FLModel(params={k: v.cpu() for k, v in state.items()}))
            continue
        model.load_state_dict(as_state_dict(received.params))
        accuracy = evaluate(model, val_x, val_y)
        if flare.is_evaluate():
            flare.send(flare.FLModel(metrics={"accuracy": accuracy}))
            continue
        steps, loss = train(model, train_x, train_y, args.epochs, args.batch_size, args.lr)
        # The site's own best model (after local training) is what cross-site
        # evaluation asks for with submit_model.
        local_accuracy = evaluate(model, val_x, val_y)
        if local_accuracy > best_accuracy:
            best_state, best_accuracy = copy.deepcopy(model.state_dict()), local_accuracy
        print(
            f"{site} round {received.current_round}: global model accuracy {accuracy:.3f}, "
            f"train loss {loss:.3f}",
            flush=True,
        )
        flare.send(
            flare.FLModel(
                params={k: v.cpu() for k, v in model.state_dict().items()},
                metrics={"accuracy": accuracy, "train_loss": loss},
                meta={"NUM_STEPS_CURRENT_ROUND": steps},
            )
        )


if __name__ == "__main__":
    main()
