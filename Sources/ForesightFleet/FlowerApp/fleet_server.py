"""The ServerApp of a Foresight federation: Flower's FedAvg (or FedAvgM) over the robots' arrays.

The robots start it: one of them is asked (a query message) for its arrays, which become the
first global model, so the server needs no copy of the model. Each round then sends the global
arrays with a train message (and "local-steps", the steps each robot learns before it replies),
averages the replies weighted by their "num-examples"; the next round's train message carries
the average, and after the last round an evaluate message hands the final average to every
robot. (Flower's Grid looks for replies every 3 s, so a round with its own evaluate step would
take twice as long.) A robot that does not answer within
"round-timeout" seconds is left out of that round; the run starts once "clients" robots are
connected, and each later round needs at least "min-clients" of them (a robot that stops sending
heartbeats is dropped after about twice its heartbeat interval). With "result-file", the rounds and the final
arrays are written there as JSON.
"""

import json
import time

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg, FedAvgM

app = ServerApp()
client = ClientApp()  # The robots run Foresight, not a Python ClientApp.


def wait_for_nodes(grid: Grid, count: int, seconds: float) -> list[int]:
    """The ids of at least `count` connected nodes, waiting up to `seconds` for them."""
    deadline = time.time() + seconds
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= count or time.time() > deadline:
            return nodes
        time.sleep(0.5)


def starting_arrays(grid: Grid, nodes: list[int], timeout: float) -> ArrayRecord:
    """The arrays of the first node that answers a query message."""
    for node in nodes:
        question = Message(RecordDict({"config": ConfigRecord({"want": "arrays"})}), dst_node_id=node, message_type=MessageType.QUERY)
        for reply in grid.send_and_receive([question], timeout=timeout):
            if reply.has_content() and reply.content.array_records:
                return next(iter(reply.content.array_records.values()))
            print(f"node {node} gave no arrays: {reply.error.reason if reply.has_error() else 'no content'}", flush=True)
    raise RuntimeError("no node answered with its arrays")


@app.main()
def main(grid: Grid, context: Context) -> None:
    config = context.run_config
    rounds = int(config["num-server-rounds"])
    clients = int(config["clients"])
    minimum = min(int(config["min-clients"]) or clients, clients)
    timeout = float(config["round-timeout"])
    nodes = wait_for_nodes(grid, clients, seconds=max(timeout, 60.0))
    if len(nodes) < clients:
        raise RuntimeError(f"only {len(nodes)} of {clients} robots connected")
    arrays = starting_arrays(grid, nodes, timeout)
    shapes = {name: list(array.shape) for name, array in arrays.items()}
    print(f"starting from {len(shapes)} arrays, {sum(int(np.prod(s)) for s in shapes.values())} values, of node {nodes[0]}", flush=True)

    # Every connected robot trains each round; a round needs `minimum` of them connected.
    settings = dict(fraction_evaluate=0.0, min_train_nodes=minimum, min_available_nodes=minimum)
    if config["strategy"] == "fedavgm":
        strategy = FedAvgM(server_momentum=float(config["server-momentum"]), **settings)
    else:
        strategy = FedAvg(**settings)
    started = time.time()
    result = strategy.start(
        grid=grid,
        initial_arrays=arrays,
        num_rounds=rounds,
        timeout=timeout,
        train_config=ConfigRecord({"local-steps": int(config["local-steps"])}),
    )
    seconds = time.time() - started
    print(f"{rounds} rounds in {seconds:.1f} s ({60 * rounds / max(seconds, 1e-9):.1f} rounds/min)", flush=True)
    final = RecordDict({"arrays": result.arrays, "config": ConfigRecord({"server-round": rounds})})
    handed = [Message(final, dst_node_id=node, message_type=MessageType.EVALUATE) for node in grid.get_node_ids()]
    answers = grid.send_and_receive(handed, timeout=min(timeout, 30.0))
    print(f"the final average went to {sum(1 for a in answers if a.has_content())} of {len(handed)} robot(s)", flush=True)
    if config["result-file"]:
        final = {name: array.numpy() for name, array in result.arrays.items()}
        with open(str(config["result-file"]), "w", encoding="utf-8") as file:
            json.dump({
                "rounds": rounds,
                "seconds": seconds,
                "train_metrics": {str(k): dict(v) for k, v in result.train_metrics_clientapp.items()},
                "arrays": {name: {"shape": list(value.shape), "dtype": str(value.dtype),
                                  "values": value.astype(float).ravel().tolist() if value.size <= 4096 else None,
                                  "mean": float(value.mean())} for name, value in final.items()},
            }, file)
