#!/usr/bin/env python3
"""A Foxglove WebSocket client (protocol foxglove.websocket.v1) written with the `websockets`
package from PyPI, independent of Foresight: connects to URL, reads serverInfo and advertise,
subscribes to every advertised channel, collects the message data frames for SECONDS and
prints one JSON object: the server's name, the channels advertised, per topic the messages
received, the first image's width, height, encoding and decoded byte count, the last metrics
message, and whether every frame was well formed. Exit status 2 when `websockets` is missing."""
import base64
import json
import struct
import sys
import time

try:
    from websockets.sync.client import connect
except ImportError:
    print("foxglove_client.py needs the websockets package: python3 -m pip install websockets", file=sys.stderr)
    sys.exit(2)


def main(url, seconds):
    result = {"well_formed": True, "topics": {}}
    with connect(url, subprotocols=["foxglove.websocket.v1"], max_size=1 << 24) as socket:
        result["subprotocol"] = socket.subprotocol
        info = json.loads(socket.recv(timeout=10))
        result["server_op"], result["server_name"] = info.get("op"), info.get("name")
        advertise = json.loads(socket.recv(timeout=10))
        result["advertise_op"] = advertise.get("op")
        channels = {channel["id"]: channel for channel in advertise.get("channels", [])}
        result["channels"] = {channel["topic"]: channel["schemaName"] for channel in channels.values()}
        topic_of = {}
        subscriptions = []
        for number, channel_id in enumerate(sorted(channels)):
            subscriptions.append({"id": 100 + number, "channelId": channel_id})
            topic_of[100 + number] = channels[channel_id]["topic"]
        socket.send(json.dumps({"op": "subscribe", "subscriptions": subscriptions}))
        socket.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": 999, "channelId": 12345}]}))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                message = socket.recv(timeout=max(0.05, end - time.monotonic()))
            except TimeoutError:
                break
            if isinstance(message, str):
                status = json.loads(message)
                result.setdefault("statuses", []).append(status.get("message"))
                continue
            if len(message) < 13 or message[0] != 1:
                result["well_formed"] = False
                continue
            subscription, stamp = struct.unpack_from("<IQ", message, 1)
            topic = topic_of.get(subscription)
            if topic is None:
                result["well_formed"] = False
                continue
            fields = json.loads(message[13:])
            entry = result["topics"].setdefault(topic, {"count": 0})
            entry["count"] += 1
            if "data" in fields:
                pixels = base64.b64decode(fields["data"])
                if len(pixels) != fields["step"] * fields["height"]:
                    result["well_formed"] = False
                if entry["count"] == 1:
                    entry.update(width=fields["width"], height=fields["height"], encoding=fields["encoding"], bytes=len(pixels))
            else:
                entry["last"] = fields
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 3)
