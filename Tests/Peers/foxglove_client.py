#!/usr/bin/env python3
"""A Foxglove WebSocket client (protocol foxglove.websocket.v1) written with the `websockets`
package from PyPI, independent of Foresight: connects to URL, reads serverInfo and advertise,
subscribes to every advertised channel, collects the message data frames for SECONDS and
prints one JSON object: the server's name, the channels advertised, per topic the messages
received, the first image's width, height, encoding and decoded byte count, the last metrics
message, and whether every frame was well formed. Exit status 2 when `websockets` is missing.

With `--hold N` it probes the server's session limit instead: opens N sessions at once, each
subscribed to every channel and then never read (slow viewers), tries one more (closed at once with 1013, try again later), closes one and
tries again, and reads the metrics on that new session; prints what each attempt got."""
import base64
import json
import struct
import sys
import time

try:
    from websockets.exceptions import ConnectionClosed, InvalidStatus
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


def open_session(url):
    """A session that has read serverInfo and advertise and subscribed to every channel, or the
    HTTP status and body it was refused with."""
    try:
        # No keepalive pings: a held session is deliberately never read, so it could not answer them.
        socket = connect(url, subprotocols=["foxglove.websocket.v1"], max_size=1 << 24, open_timeout=10,
                         ping_interval=None, close_timeout=1)
    except InvalidStatus as refusal:
        return None, {"status": refusal.response.status_code, "body": refusal.response.body.decode(errors="replace").strip()}
    try:
        json.loads(socket.recv(timeout=10))
    except ConnectionClosed as closed:
        return None, {"code": closed.rcvd.code if closed.rcvd else None, "reason": closed.rcvd.reason if closed.rcvd else ""}
    advertise = json.loads(socket.recv(timeout=10))
    channels = [channel["id"] for channel in advertise.get("channels", [])]
    socket.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": 100 + n, "channelId": c} for n, c in enumerate(channels)]}))
    return socket, None


def last_metrics(socket, seconds):
    """The newest metrics message that arrives on a subscribed session within SECONDS."""
    found, end = None, time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            message = socket.recv(timeout=max(0.05, end - time.monotonic()))
        except TimeoutError:
            break
        if isinstance(message, bytes) and len(message) > 13 and message[0] == 1:
            fields = json.loads(message[13:])
            if "steps" in fields:
                found = fields
    return found


def hold(url, count):
    result = {"opened": 0}
    held = []
    for _ in range(count):
        socket, refusal = open_session(url)
        if socket is None:
            result["refused_early"] = refusal
            break
        held.append(socket)
        result["opened"] += 1
    first = last_metrics(held[0], 1) if held else None
    time.sleep(2)
    extra, refusal = open_session(url)
    result["extra_refusal"] = refusal
    if extra is not None:
        extra.close()
    held.pop().close()
    time.sleep(0.5)
    again, refusal = open_session(url)
    result["after_close_refusal"] = refusal
    if again is not None:
        later = last_metrics(again, 2)
        result["steps_before"] = first.get("steps") if first else None
        result["steps_after"] = later.get("steps") if later else None
        again.close()
    for socket in held:
        # Dropped, not closed politely: their server side is stuck writing to a full buffer.
        socket.socket.shutdown(2)
        socket.close()
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[2] == "--hold":
        hold(sys.argv[1], int(sys.argv[3]))
    else:
        main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 3)
