"""Source map `mappings`: base64 VLQ decoding and encoding, and shifting by inserted text.

A segment is `(gen_col, source, orig_line, orig_col[, name])` with absolute values; a decoded
mapping is one list of segments per generated line.
"""

from __future__ import annotations

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_VALUES = {c: i for i, c in enumerate(B64)}
Segment = tuple[int, ...]
MAX_SHIFT = 60  # the 13th digit's; rust-sourcemap's `checked_shl` fails from 64 on


def decode_vlq(text: str) -> list[int]:
    """The signed integers of one segment; a VLQ of more than 13 digits overflows 64 bits
    (rust-sourcemap `vlq.rs`: VlqOverflow), one whose last digit continues is cut short."""
    values: list[int] = []
    shift = value = 0
    for char in text:
        digit = _VALUES.get(char, -1)
        if digit < 0:
            raise ValueError(f"{char!r} is not a base64 VLQ digit")
        if shift > MAX_SHIFT:
            raise ValueError("VLQ value overflows 64 bits (more than 13 digits)")
        value += (digit & 31) << shift
        if digit & 32:
            shift += 5
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        shift = value = 0
    if shift:
        raise ValueError("truncated VLQ sequence")
    return values


def encode_vlq(values: list[int] | tuple[int, ...]) -> str:
    """One segment's integers as base64 VLQ."""
    out: list[str] = []
    for number in values:
        value = (-number << 1) | 1 if number < 0 else number << 1
        while True:
            digit = value & 31
            value >>= 5
            out.append(B64[digit | 32] if value else B64[digit])
            if not value:
                break
    return "".join(out)


def decode_mappings(mappings: str) -> list[list[Segment]]:
    """Absolute segments per generated line."""
    lines: list[list[Segment]] = []
    source = orig_line = orig_col = name = 0
    for line_text in mappings.split(";"):
        line: list[Segment] = []
        col = 0
        for seg_text in line_text.split(","):
            if not seg_text:
                continue
            fields = decode_vlq(seg_text)
            col += fields[0]
            if len(fields) == 1:
                line.append((col,))
                continue
            source += fields[1]
            orig_line += fields[2]
            orig_col += fields[3]
            if len(fields) >= 5:
                name += fields[4]
                line.append((col, source, orig_line, orig_col, name))
            else:
                line.append((col, source, orig_line, orig_col))
        lines.append(line)
    return lines


def encode_mappings(lines: list[list[Segment]]) -> str:
    """Inverse of `decode_mappings`."""
    prev = [0, 0, 0, 0]  # source, orig line, orig col, name carry across lines
    out: list[str] = []
    for line in lines:
        col = 0
        parts: list[str] = []
        for seg in line:
            fields = [seg[0] - col]
            col = seg[0]
            for i, value in enumerate(seg[1:]):
                fields.append(value - prev[i])
                prev[i] = value
            parts.append(encode_vlq(fields))
        out.append(",".join(parts))
    return ";".join(out)


def shift_mappings(mappings: str, line: int, column: int, new_lines: int) -> str:
    """Mappings after `new_lines` line breaks were inserted at generated `(line, column)`.

    Text before the insertion point keeps its position; the rest of that line moves to line
    `line + new_lines` starting at column 0; later lines move down by `new_lines`.
    """
    if new_lines <= 0:
        return mappings
    if line == 0 and column == 0:
        return ";" * new_lines + mappings  # the common case needs no decoding
    decoded = decode_mappings(mappings)
    while len(decoded) <= line:
        decoded.append([])
    head = [s for s in decoded[line] if s[0] < column]
    tail = [(s[0] - column, *s[1:]) for s in decoded[line] if s[0] >= column]
    shifted = decoded[:line] + [head] + [[] for _ in range(new_lines - 1)] + [tail]
    shifted += decoded[line + 1 :]
    return encode_mappings(shifted)
