#!/usr/bin/env python3
"""Ink statistics of a PNG image, standard library only (zlib).

    png_stats.py IMAGE.png [X0 Y0 X1 Y1] [--count RRGGBB]...

Prints one JSON object: the image's width and height, `ink` (pixels that are not white once
composited over white: some channel below 240), `colours` (distinct ink colours, capped at
1000), `bbox` ([x0, y0, x1, y1] of the ink, exclusive ends; null without ink), when a box is
given `ink_outside` (ink pixels outside [X0, X1) x [Y0, Y1)), and with `--count` a `counts`
object: for each colour, the pixels within 12 of it in every channel (inside the box, if
one is given).

The plot tests render lmtool's SVGs with rsvg-convert and read them with this script: a plot
must have ink, and nothing may be drawn outside its canvas. Reads 8-bit grey, grey+alpha, RGB,
RGBA and palette images, not interlaced (what rsvg-convert writes).
"""
import json
import struct
import sys
import zlib


def read_png(path):
    """(width, height, rows of (r, g, b) tuples composited over white; None for a blank row)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    pos, idat, palette, transparency = 8, b"", None, None
    width = height = depth = colour_type = interlace = None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = [tuple(body[i:i + 3]) for i in range(0, len(body), 3)]
        elif kind == b"tRNS":
            transparency = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if depth != 8 or interlace != 0:
        raise ValueError(f"{path}: bit depth {depth}, interlace {interlace}: only 8-bit, non-interlaced images are read")
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 255
        elif kind == 2:
            line = bytearray((x + y) & 255 for x, y in zip(line, previous))
        elif kind in (3, 4):
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                if kind == 3:
                    line[i] = (line[i] + (a + b) // 2) & 255
                else:
                    c = previous[i - channels] if i >= channels else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        previous = line
        # A row that is all white or all transparent has no ink: skip its pixels.
        if line.count(255) == stride or (colour_type == 6 and line[3::4].count(0) == width):
            rows.append(None)
            continue
        pixels = []
        for x in range(width):
            px = line[x * channels:(x + 1) * channels]
            if colour_type == 0:
                r = g = bl = px[0]; alpha = 255
            elif colour_type == 4:
                r = g = bl = px[0]; alpha = px[1]
            elif colour_type == 2:
                r, g, bl = px; alpha = 255
            elif colour_type == 6:
                r, g, bl, alpha = px
            else:
                r, g, bl = palette[px[0]]
                alpha = transparency[px[0]] if transparency and px[0] < len(transparency) else 255
            over = lambda v: (v * alpha + 255 * (255 - alpha)) // 255
            pixels.append((over(r), over(g), over(bl)))
        rows.append(pixels)
    return width, height, rows


def main():
    args, wanted = sys.argv[1:], []
    while len(args) >= 2 and args[-2] == "--count":
        wanted.insert(0, args[-1].lstrip("#").lower())
        args = args[:-2]
    if len(args) not in (1, 5) or any(len(c) != 6 for c in wanted):
        sys.exit("usage: png_stats.py IMAGE.png [X0 Y0 X1 Y1] [--count RRGGBB]...")
    width, height, rows = read_png(args[0])
    box = [int(v) for v in args[1:]] if len(args) == 5 else None
    targets = [tuple(int(c[i:i + 2], 16) for i in (0, 2, 4)) for c in wanted]
    counts = [0] * len(targets)
    ink = outside = 0
    colours = set()
    x0 = y0 = None
    x1 = y1 = -1
    for y, row in enumerate(rows):
        for x, p in enumerate(row or ()):
            if min(p) >= 240:
                continue
            ink += 1
            inside = not box or (box[0] <= x < box[2] and box[1] <= y < box[3])
            for k, t in enumerate(targets):
                if inside and all(abs(p[i] - t[i]) <= 12 for i in range(3)):
                    counts[k] += 1
            if len(colours) < 1000:
                colours.add(p)
            x0 = x if x0 is None else min(x0, x)
            y0 = y if y0 is None else min(y0, y)
            x1, y1 = max(x1, x), max(y1, y)
            if not inside:
                outside += 1
    result = {"width": width, "height": height, "ink": ink, "colours": len(colours),
              "bbox": None if x0 is None else [x0, y0, x1 + 1, y1 + 1]}
    if box:
        result["ink_outside"] = outside
    if wanted:
        result["counts"] = dict(zip(wanted, counts))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
