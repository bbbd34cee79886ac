#!/usr/bin/env python3
"""Writes ROS 2 bags (MCAP, sensor_msgs/msg/Image in CDR) with known pixels, for Foresight's
MCAP tests, with the independent writer of the `mcap` and `mcap-ros2-support` packages:

    python3 -m pip install mcap mcap-ros2-support
    python3 Tests/Peers/write_bag.py OUT.mcap --encoding rgb8 --frames 4 --width 16 --height 12

Patterns (byte values, x and y the pixel, t the frame):
  index   value(x, y, t) = (7x + 13y + 29t) mod 256; rgb8/bgr8 pixels are (R, G, B) =
          (value, (value + 85) mod 256, (value + 170) mod 256); yuyv/uyvy luma is value and
          chroma U = 17, V = 230.
  moving  a smooth texture panning one pixel per frame to the right:
          128 + 100 sin(2 pi (x - t) / 16) cos(2 pi y / 24), rounded; grey in every channel.
Messages are logged at --rate frames per second from 1 s. Exit status 2 when the modules are
missing (the tests skip then).
"""
import argparse
import math
import sys

try:
    from mcap.writer import CompressionType
    from mcap.writer import Writer as McapWriter
    from mcap_ros2.writer import Writer as Ros2Writer
except ImportError as error:
    print(f"write_bag.py needs the mcap packages: python3 -m pip install mcap mcap-ros2-support ({error})", file=sys.stderr)
    sys.exit(2)

IMAGE = """std_msgs/Header header
uint32 height
uint32 width
string encoding
uint8 is_bigendian
uint32 step
uint8[] data
================================================================================
MSG: std_msgs/Header
builtin_interfaces/Time stamp
string frame_id
================================================================================
MSG: builtin_interfaces/Time
int32 sec
uint32 nanosec
"""
COMPRESSED = IMAGE.replace("""uint32 height
uint32 width
string encoding
uint8 is_bigendian
uint32 step
uint8[] data""", """string format
uint8[] data""")

ROS_ENCODING = {"mono8": "mono8", "rgb8": "rgb8", "bgr8": "bgr8", "yuyv": "yuv422_yuy2", "uyvy": "yuv422"}


class BagWriter(Ros2Writer):
    """The package's ROS 2 writer, with the data-section CRC switched on or off."""

    def __init__(self, output, chunk_size, compression, data_crc):
        self._writer = McapWriter(output=output, chunk_size=chunk_size, compression=compression,
                                  enable_crcs=True, enable_data_crcs=data_crc)
        self._encoders = {}
        self._channel_ids = {}
        self._writer.start(profile="ros2", library="foresight write_bag.py")
        self._finished = False


def value(pattern, x, y, t):
    if pattern == "index":
        return (7 * x + 13 * y + 29 * t) % 256
    return int(round(128 + 100 * math.sin(2 * math.pi * (x - t) / 16) * math.cos(2 * math.pi * y / 24)))


def pixels(encoding, pattern, width, height, t, padding):
    """Rows of the image, each followed by `padding` bytes of 0xEE; returns (data, step)."""
    rows = []
    for y in range(height):
        row = bytearray()
        for x in range(width):
            v = value(pattern, x, y, t)
            if encoding == "mono8":
                row.append(v)
            elif encoding in ("rgb8", "bgr8"):
                if pattern == "index":
                    r, g, b = v, (v + 85) % 256, (v + 170) % 256
                else:
                    r = g = b = v
                row += bytes((r, g, b) if encoding == "rgb8" else (b, g, r))
            elif encoding == "yuyv":
                row += bytes((v, 17) if x % 2 == 0 else (v, 230))
            elif encoding == "uyvy":
                row += bytes((17, v) if x % 2 == 0 else (230, v))
            else:
                row += bytes((v, v))  # --raw-encoding: two bytes per pixel, e.g. mono16
        rows.append(bytes(row) + b"\xee" * padding)
    return b"".join(rows), len(rows[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output")
    parser.add_argument("--encoding", default="mono8", choices=sorted(ROS_ENCODING) + ["compressed"])
    parser.add_argument("--raw-encoding", help="write this encoding string instead (two bytes a pixel)")
    parser.add_argument("--pattern", default="index", choices=["index", "moving"])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--height", type=int, default=12)
    parser.add_argument("--padding", type=int, default=0, help="bytes after each row (step > row)")
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--topic", default="/camera/image_raw")
    parser.add_argument("--other-topic", default="/camera/depth", help="a second image topic, one message per frame")
    parser.add_argument("--compression", default="none", choices=["none", "zstd", "lz4"])
    parser.add_argument("--chunk-size", type=int, default=4096)
    parser.add_argument("--data-crc", action="store_true", help="write the data section's CRC")
    arguments = parser.parse_args()

    compression = {"none": CompressionType.NONE, "zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4}[arguments.compression]
    with open(arguments.output, "wb") as stream:
        writer = BagWriter(stream, arguments.chunk_size, compression, arguments.data_crc)
        image = writer.register_msgdef("sensor_msgs/msg/Image", IMAGE)
        compressed = writer.register_msgdef("sensor_msgs/msg/CompressedImage", COMPRESSED)
        for t in range(arguments.frames):
            log_time = int(1e9 + t * 1e9 / arguments.rate)
            header = {"stamp": {"sec": log_time // 10**9, "nanosec": log_time % 10**9}, "frame_id": "camera"}
            if arguments.encoding == "compressed":
                writer.write_message(arguments.topic, compressed, {"header": header, "format": "jpeg", "data": b"\xff\xd8\xff\xd9"},
                                     log_time=log_time, sequence=t)
            else:
                kind = "raw" if arguments.raw_encoding else arguments.encoding
                data, step = pixels(kind, arguments.pattern, arguments.width, arguments.height, t, arguments.padding)
                writer.write_message(arguments.topic, image, {
                    "header": header, "height": arguments.height, "width": arguments.width,
                    "encoding": arguments.raw_encoding or ROS_ENCODING[arguments.encoding],
                    "is_bigendian": 0, "step": step, "data": data}, log_time=log_time, sequence=t)
            if arguments.other_topic:
                writer.write_message(arguments.other_topic, image, {
                    "header": header, "height": 2, "width": 2, "encoding": "mono8", "is_bigendian": 0, "step": 2,
                    "data": bytes((255, 255, 255, 255))}, log_time=log_time + 1, sequence=t)
        writer.finish()


if __name__ == "__main__":
    main()
