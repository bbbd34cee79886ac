#!/usr/bin/env python3
"""Load on a live view as viewers make it, for measuring what viewers cost the learner: for
SECONDS, PAGES simulated pages poll /status and /images every 0.25 s (as the page does) and one
Foxglove session subscribes to every channel and reads all it is sent; /metrics is scraped
every second. Prints one JSON object with the requests answered, failed or refused (503) and the
Foxglove messages received. Uses only the standard library and `websockets` (PyPI).

    python3 Tests/Peers/live_view_load.py http://127.0.0.1:8080/ 60 [PAGES]
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request

try:
    from websockets.sync.client import connect
except ImportError:
    print("live_view_load.py needs the websockets package: python3 -m pip install websockets", file=sys.stderr)
    sys.exit(2)

counts = {"answered": 0, "failed": 0, "busy": 0, "bytes": 0, "foxglove_messages": 0, "scrapes": 0}
lock = threading.Lock()


def count(key, amount=1):
    with lock:
        counts[key] += amount


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            count("bytes", len(response.read()))
            count("answered")
    except urllib.error.HTTPError as error:
        count("busy" if error.code == 503 else "failed")
    except OSError:
        count("failed")


def page(base, end):
    while time.monotonic() < end:
        fetch(base + "status")
        fetch(base + "images")
        time.sleep(0.25)


def scraper(base, end):
    while time.monotonic() < end:
        fetch(base + "metrics")
        count("scrapes")
        time.sleep(1)


def foxglove(base, end):
    with connect("ws" + base[len("http"):], subprotocols=["foxglove.websocket.v1"], max_size=1 << 24) as socket:
        socket.recv(timeout=10)
        advertise = json.loads(socket.recv(timeout=10))
        channels = [channel["id"] for channel in advertise["channels"]]
        socket.send(json.dumps({"op": "subscribe", "subscriptions": [{"id": n, "channelId": c} for n, c in enumerate(channels)]}))
        while time.monotonic() < end:
            try:
                socket.recv(timeout=1)
                count("foxglove_messages")
            except TimeoutError:
                pass


def main(base, seconds, pages):
    end = time.monotonic() + seconds
    threads = [threading.Thread(target=page, args=(base, end)) for _ in range(pages)]
    threads += [threading.Thread(target=scraper, args=(base, end)), threading.Thread(target=foxglove, args=(base, end))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(counts))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 2)
