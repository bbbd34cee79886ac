#!/usr/bin/env python3
# Writes digits.bin: the UCI optical handwritten digits (8x8, 1797 images, 10 classes) from
# scikit-learn's bundled copy. Not run in CI; the output is committed.
#
# Format (little-endian): magic "DIGITS01", uint32 count, uint32 height, uint32 width,
# then count records of height*width pixel bytes (0...16) followed by one label byte (0...9).
import struct
from pathlib import Path

from sklearn.datasets import load_digits

digits = load_digits()
images = digits.images.astype("uint8")  # [1797, 8, 8], values 0...16
labels = digits.target.astype("uint8")
count, height, width = images.shape
out = bytearray(b"DIGITS01" + struct.pack("<III", count, height, width))
for image, label in zip(images, labels):
    out += image.tobytes() + bytes([label])
Path(__file__).with_name("digits.bin").write_bytes(out)
print(f"wrote {count} images of {height}x{width}, {len(out)} bytes")
