# Shared by the emulation scripts: gguf-py (llama.cpp's Python reference, GGUF_PY), byte and
# int8 helpers as the kernels use them, the activation quantiser (launch_quantize_q8_rows),
# the Q4_K/Q5_K 6-bit scale decode, and one warp's int8 GEMV over a row of units.
import os
import sys

import numpy as np

sys.path.insert(0, os.environ.get("GGUF_PY", "/work/peers/llama.cpp/gguf-py"))
from gguf import quants  # noqa: E402
from gguf.constants import GGMLQuantizationType as QT  # noqa: E402

rng = np.random.default_rng(1)


def rand_blocks(n, size, d_offsets):
    """n random blocks of `size` bytes, with small positive f16 scales at `d_offsets`."""
    b = rng.integers(0, 256, size=(n, size), dtype=np.uint8)
    for off in d_offsets:
        d = (rng.uniform(0.001, 0.02, size=n)).astype(np.float16)
        b[:, off:off + 2] = d.view(np.uint8).reshape(n, 2)
    return b


def u32(b, off):  # little-endian word at byte offset
    return int(b[off]) | int(b[off + 1]) << 8 | int(b[off + 2]) << 16 | int(b[off + 3]) << 24


def s8(v):
    return v - 256 if v >= 128 else v


def dp4a(a, b, c):
    for i in range(4):
        c += s8((a >> (8 * i)) & 0xFF) * s8((b >> (8 * i)) & 0xFF)
    return c


def vsub4(a, b):  # per-byte subtraction modulo 256 (__vsub4)
    r = 0
    for i in range(4):
        r |= ((((a >> 8 * i) & 0xFF) - ((b >> 8 * i) & 0xFF)) & 0xFF) << 8 * i
    return r


def half(bits):
    return float(np.array([bits], dtype=np.uint16).view(np.float16)[0])


def quant_x(x):  # launch_quantize_q8_rows: per 32, d = amax/127, q = rint(x/d); ds = (d, d*sum q)
    x = x.astype(np.float32).reshape(-1, 32)
    amax = np.abs(x).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    q = np.where(amax[:, None] == 0, 0, np.rint(x / np.where(d == 0, 1, d)[:, None])).astype(np.int8)
    ds = np.stack([d, d * q.sum(axis=1).astype(np.float32)], axis=1)
    return q.reshape(-1), ds


def xword(xq, byte_off):  # int32 word of 4 int8 activations
    return int(np.frombuffer(xq[byte_off:byte_off + 4].tobytes(), dtype=np.uint32)[0])


def scale_min(j, q):
    """q4k_scale_min: the 6-bit (scale, min) of sub-block j from a Q4_K/Q5_K header's 12 bytes."""
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)


def warp_gemv_error(ref, n_units, unit):
    """One warp's int8 GEMV over a weight row `ref` (f32 values): random activations quantised
    as the kernels do, lane l summing unit(u, xq, ds) for units l, l + 32, ... in f32, as the
    kernel's lanes do. Returns the error against the float64 product of the quantised
    activations, normalised by sum |w x|."""
    x = rng.uniform(-2, 2, size=ref.size).astype(np.float32)
    xq, ds = quant_x(x)
    xdq = (xq.reshape(-1, 32).astype(np.float64) * ds[:, 0:1].astype(np.float64)).reshape(-1)
    want = float(ref.astype(np.float64) @ xdq)
    acc = [np.float32(0)] * 32
    for lane in range(32):
        for u in range(lane, n_units, 32):
            acc[lane] += unit(u, xq, ds)
    return abs(float(sum(acc)) - want) / max(1e-9, np.abs(ref.astype(np.float64) * xdq).sum())
