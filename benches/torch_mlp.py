#!/usr/bin/env python3
"""The PyTorch side of the throughput comparison: the same MLP training step as
`traintop bench` (ReLU, sigmoid or tanh hidden layers, softmax cross-entropy, SGD/momentum/Adam,
forward + backward + update) on random data, timed the same way. Prints one
JSON object like `traintop bench --json`."""
import argparse
import json
import time

import torch


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--layers", default="784,256,10")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "momentum", "adam"])
    p.add_argument("--activation", default="relu", choices=["relu", "sigmoid", "tanh"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2, help="CPU threads (the CI machine has 2 cores)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    widths = [int(w) for w in a.layers.split(",")]
    mods = []
    for i in range(len(widths) - 1):
        mods.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            mods.append({"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}[a.activation]())
    model = torch.nn.Sequential(*mods).to(a.device)
    if a.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
    elif a.optimizer == "momentum":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = [
        (torch.rand(a.batch, widths[0], device=a.device) * 2 - 1, torch.randint(0, widths[-1], (a.batch,), device=a.device))
        for _ in range(4)
    ]

    def step(i):
        x, y = batches[i % 4]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        # traintop reads the loss back every step; so does this.
        return loss.item()

    for i in range(a.warmup):
        step(i)
    if a.device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(a.steps):
        last = step(i)
    if a.device.startswith("cuda"):
        torch.cuda.synchronize()
    secs = time.perf_counter() - start
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "layers": widths,
        "batch": a.batch,
        "steps": a.steps,
        "optimizer": a.optimizer,
        "device": a.device,
        "threads": a.threads,
        "samples_per_sec": a.steps * a.batch / secs,
        "ms_per_step": secs * 1e3 / a.steps,
        "final_loss": last,
    }))


if __name__ == "__main__":
    main()
