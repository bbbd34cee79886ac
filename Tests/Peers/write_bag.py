#!/usr/bin/env python3
"""Writes ROS 2 bags (MCAP, sensor_msgs/msg/Image or CompressedImage in CDR) with known pixels,
for Foresight's MCAP tests, with the independent writer of the `mcap` and `mcap-ros2-support`
packages; chunks compressed with zstd or lz4 by the `zstandard` and `lz4` packages, JPEG
and PNG images encoded by Pillow:

    python3 -m pip install mcap mcap-ros2-support zstandard lz4 Pillow
    python3 Tests/Peers/write_bag.py OUT.mcap --encoding rgb8 --frames 4 --width 16 --height 12

Patterns (byte values, x and y the pixel, t the frame):
  index   value(x, y, t) = (7x + 13y + 29t) mod 256; rgb8/bgr8 pixels are (R, G, B) =
          (value, (value + 85) mod 256, (value + 170) mod 256); yuyv/uyvy luma is value and
          chroma U = 17, V = 230.
  moving  a smooth texture panning one pixel per frame to the right:
          128 + 100 sin(2 pi (x - t) / 16) cos(2 pi y / 24), rounded; grey in every channel.
mono16 pixels are the 16-bit value 256 value + (255 - value), little-endian unless
--big-endian. jpeg and png are CompressedImages of format --format ("jpeg" or "png"):
Pillow's JPEG (quality --jpeg-quality) or PNG of the grey pattern, or with --jpeg-colour of
(R, G, B) = (value, 255 - value, 128); --jpeg-damage writes its first half (truncated) or
bytes that are no image (garbage).
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

ROS_ENCODING = {"mono8": "mono8", "mono16": "mono16", "rgb8": "rgb8", "bgr8": "bgr8", "yuyv": "yuv422_yuy2", "uyvy": "yuv422"}


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


def pixels(encoding, pattern, width, height, t, padding, big_endian=False):
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
            elif encoding == "mono16":
                row += (256 * v + 255 - v).to_bytes(2, "big" if big_endian else "little")
            else:
                row += bytes((v, v))  # --raw-encoding: two bytes per pixel, e.g. mono16
        rows.append(bytes(row) + b"\xee" * padding)
    return b"".join(rows), len(rows[0])


def jpeg(arguments, t):
    """Frame t of the pattern as Pillow's JPEG (or PNG), damaged as --jpeg-damage asks."""
    import io
    from PIL import Image
    grey = bytes(value(arguments.pattern, x, y, t) for y in range(arguments.height) for x in range(arguments.width))
    if arguments.jpeg_colour:
        picture = Image.frombytes("RGB", (arguments.width, arguments.height), b"".join(bytes((v, 255 - v, 128)) for v in grey))
    else:
        picture = Image.frombytes("L", (arguments.width, arguments.height), grey)
    stream = io.BytesIO()
    if arguments.encoding == "png":
        picture.save(stream, format="PNG")
    else:
        picture.save(stream, format="JPEG", quality=arguments.jpeg_quality)
    data = stream.getvalue()
    if arguments.jpeg_damage == "truncated":
        return data[: len(data) // 2]
    if arguments.jpeg_damage == "garbage":
        return b"this is not a JPEG image" * 4
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output")
    parser.add_argument("--encoding", default="mono8", choices=sorted(ROS_ENCODING) + ["jpeg", "png"])
    parser.add_argument("--big-endian", action="store_true", help="mono16 pixels big-endian")
    parser.add_argument("--format", help="the CompressedImage format string (default: the --encoding, jpeg or png)")
    parser.add_argument("--jpeg-quality", type=int, default=95)
    parser.add_argument("--jpeg-colour", action="store_true", help="a colour JPEG: (value, 255 - value, 128)")
    parser.add_argument("--jpeg-damage", default="none", choices=["none", "truncated", "garbage"])
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

    needed = {"zstd": "zstandard", "lz4": "lz4"}.get(arguments.compression)
    if arguments.encoding in ("jpeg", "png"):
        needed = "PIL"
    arguments.format = arguments.format or arguments.encoding
    if needed:
        try:
            __import__(needed)
        except ImportError as error:
            print(f"write_bag.py needs the mcap packages and {needed}: python3 -m pip install mcap mcap-ros2-support zstandard lz4 Pillow ({error})",
                  file=sys.stderr)
            sys.exit(2)
    compression = {"none": CompressionType.NONE, "zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4}[arguments.compression]
    with open(arguments.output, "wb") as stream:
        writer = BagWriter(stream, arguments.chunk_size, compression, arguments.data_crc)
        image = writer.register_msgdef("sensor_msgs/msg/Image", IMAGE)
        compressed = writer.register_msgdef("sensor_msgs/msg/CompressedImage", COMPRESSED)
        for t in range(arguments.frames):
            log_time = int(1e9 + t * 1e9 / arguments.rate)
            header = {"stamp": {"sec": log_time // 10**9, "nanosec": log_time % 10**9}, "frame_id": "camera"}
            if arguments.encoding in ("jpeg", "png"):
                writer.write_message(arguments.topic, compressed, {"header": header, "format": arguments.format,
                                                                   "data": jpeg(arguments, t)}, log_time=log_time, sequence=t)
            else:
                kind = "raw" if arguments.raw_encoding else arguments.encoding
                data, step = pixels(kind, arguments.pattern, arguments.width, arguments.height, t, arguments.padding, arguments.big_endian)
                writer.write_message(arguments.topic, image, {
                    "header": header, "height": arguments.height, "width": arguments.width,
                    "encoding": arguments.raw_encoding or ROS_ENCODING[arguments.encoding],
                    "is_bigendian": int(arguments.big_endian), "step": step, "data": data}, log_time=log_time, sequence=t)
            if arguments.other_topic:
                writer.write_message(arguments.other_topic, image, {
                    "header": header, "height": 2, "width": 2, "encoding": "mono8", "is_bigendian": 0, "step": 2,
                    "data": bytes((255, 255, 255, 255))}, log_time=log_time + 1, sequence=t)
        writer.finish()


if __name__ == "__main__":
    main()
