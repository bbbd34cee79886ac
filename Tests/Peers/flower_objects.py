#!/usr/bin/env python3
"""Object ids of a few records as Flower (flwr) itself computes them, for ForesightFleetTests.

Prints one JSON object: the ids of an Array of float32 [[0, 1, 2], [3, 4, 5]], of an ArrayRecord
{"w": that array, "b": float32 [0.5, -1.5, 2.25]}, of a MetricRecord {"num-examples": 3} and of a
RecordDict {"arrays": the ArrayRecord, "metrics": the MetricRecord}. Exits 2 without flwr.
"""
import json
import sys

try:
    import numpy as np
    from flwr.app import Array, ArrayRecord, MetricRecord, RecordDict
except ImportError:
    sys.exit(2)

w = Array(np.arange(6, dtype=np.float32).reshape(2, 3))
b = Array(np.array([0.5, -1.5, 2.25], dtype=np.float32))
arrays = ArrayRecord({"w": w, "b": b})
metrics = MetricRecord({"num-examples": 3})
content = RecordDict({"arrays": arrays, "metrics": metrics})
print(json.dumps({"array": w.object_id, "arrays": arrays.object_id, "metrics": metrics.object_id, "content": content.object_id,
                  "npy": w.data.hex()}))
