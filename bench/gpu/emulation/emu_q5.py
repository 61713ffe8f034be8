# Thread-level emulation of the Q5_0/Q5_1/Q4_1 int8 GEMV unit, repack and load8_t against gguf-py.
import numpy as np
from emu_common import QT, dp4a, half, quants, rand_blocks, s8, u32, vsub4, warp_gemv_error, xword  # noqa: F401
def repack(blocks, has_min, has_qh=True):
    n = blocks.shape[0]
    w = blocks.view(np.uint16).reshape(n, -1)
    qh = 2 if has_min else 1
    qs = qh + (2 if has_qh else 0)
    z = np.zeros(n, np.uint16)
    meta = np.stack([w[:, 0], w[:, 1] if has_min else z, w[:, qh] if has_qh else z, w[:, qh + 1] if has_qh else z], axis=1)
    vals = w[:, qs: qs + 8].copy().view(np.uint8).reshape(n, 16)
    return vals, meta
def spread(bits, i):
    t = (bits >> (4 * i)) & 0xF
    return ((t & 1) << 4) | ((t & 2) << 11) | ((t & 4) << 18) | ((t & 8) << 25)
def unit(vals, meta, u, xq, ds, kind):
    q = [u32(vals[u], 4 * i) for i in range(4)]
    d = np.float32(half(int(meta[u][0]))); m = np.float32(half(int(meta[u][1])))
    qh = int(meta[u][2]) | int(meta[u][3]) << 16
    xa = [xword(xq, u * 32 + 4 * i) for i in range(4)]; xb = [xword(xq, u * 32 + 16 + 4 * i) for i in range(4)]
    s = 0
    for i in range(4):
        s = dp4a((q[i] & 0x0F0F0F0F) | spread(qh, i), xa[i], s)
        s = dp4a(((q[i] >> 4) & 0x0F0F0F0F) | spread(qh, 4 + i), xb[i], s)
    dsx, dsy = ds[u]
    return d * (dsx * np.float32(s) - np.float32(16) * dsy) if kind == 'q5_0' else d * dsx * np.float32(s) + m * dsy
def load8(vals, meta, blk, in_blk, kind):
    d = np.float32(half(int(meta[blk][0]))); m = np.float32(half(int(meta[blk][1])))
    qh = int(meta[blk][2]) | int(meta[blk][3]) << 16
    v = vals[blk][in_blk % 16: in_blk % 16 + 8]; sh = 4 if in_blk >= 16 else 0
    out = []
    for i in range(8):
        val = ((int(v[i]) >> sh) & 0xF) | (((qh >> (in_blk + i)) & 1) << 4)
        out.append(np.float32(val - 16) * d if kind == 'q5_0' else np.float32(val) * d + m)
    return out
for kind, size, qt, has_min in [('q5_0', 22, QT.Q5_0, False), ('q5_1', 24, QT.Q5_1, True), ('q4_1', 20, QT.Q4_1, True)]:
    for cols in [32, 512, 4096]:
        nb = cols // 32
        blocks = rand_blocks(nb, size, [0, 2] if has_min else [0])
        ref = quants.dequantize(blocks.reshape(1, -1), qt).reshape(-1)
        vals, meta = repack(blocks, has_min, kind != 'q4_1')
        got_w = np.concatenate([load8(vals, meta, c // 32, c % 32, kind) for c in range(0, cols, 8)])
        assert np.array_equal(got_w.astype(np.float32), ref.astype(np.float32)), (kind, 'load8')
        err = warp_gemv_error(ref, nb, lambda u, xq, ds: unit(vals, meta, u, xq, ds, kind))
        print(kind, cols, f"{err:.2e}"); assert err < 1e-5
print("ok")
