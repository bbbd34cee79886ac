#!/usr/bin/env python3
"""Reads an MCAP recording of `foresight learn --record-mcap` with the independent `mcap`
reader from PyPI and prints what it holds as one JSON object: per topic the schema, the
message count, the first message's fields (images: width, height, encoding, step and the
decoded byte count; metrics: the field names) and the last one's (images: its distinct byte
values), and whether every image decodes to step x height bytes. Exit status 2 when the mcap
package is missing."""
import base64
import json
import sys

try:
    from mcap.reader import make_reader
except ImportError:
    print("read_recording.py needs the mcap package: python3 -m pip install mcap", file=sys.stderr)
    sys.exit(2)


def main(path):
    topics = {}
    images_ok = True
    with open(path, "rb") as stream:
        reader = make_reader(stream)
        summary = reader.get_summary()
        for schema, channel, message in reader.iter_messages():
            entry = topics.setdefault(channel.topic, {"schema": schema.name, "schema_encoding": schema.encoding,
                                                      "message_encoding": channel.message_encoding, "count": 0})
            entry["count"] += 1
            fields = json.loads(message.data)
            if "data" in fields:
                pixels = base64.b64decode(fields["data"])
                images_ok = images_ok and len(pixels) == fields["step"] * fields["height"]
                if entry["count"] == 1:
                    entry.update(width=fields["width"], height=fields["height"], encoding=fields["encoding"],
                                 step=fields["step"], bytes=len(pixels))
                entry["distinct_values"] = len(set(pixels))  # of the last image
            elif entry["count"] == 1:
                entry["fields"] = sorted(fields)
            entry["last"] = {key: value for key, value in fields.items() if key != "data"}
    print(json.dumps({"topics": topics, "images_ok": images_ok,
                      "summary_messages": summary.statistics.message_count if summary and summary.statistics else None}))


if __name__ == "__main__":
    main(sys.argv[1])
