# Thread-level emulation of the Q3_K int8 GEMV unit, its repack and load8_t against gguf-py.
import numpy as np
from emu_common import QT, dp4a, half, quants, rand_blocks, s8, u32, vsub4, warp_gemv_error, xword  # noqa: F401
def repack(blocks):  # [n,110] -> [n,112], d[n]
    n = blocks.shape[0]
    out = np.zeros((n, 112), np.uint8)
    out[:, :96] = blocks[:, :96]
    packed = blocks[:, 96:108]
    for i in range(16):
        low = (packed[:, i % 8] >> (0 if i < 8 else 4)) & 0xF
        high = (packed[:, 8 + i % 4] >> (2 * (i // 4))) & 3
        out[:, 96 + i] = ((low | (high << 4)).astype(np.int16) - 32).astype(np.int8).view(np.uint8)
    return out, blocks[:, 108:110].copy().view(np.uint16).reshape(-1)
def unit(vals, dv, u, xq, ds):
    b = vals[u // 2]; half_ = u % 2
    qw = [u32(b, 32 + 32 * half_ + 4 * i) for i in range(8)]
    hw = [u32(b, 4 * i) for i in range(8)]
    d = np.float32(half(int(dv[u // 2])))
    scale = [d * np.float32(s8(int(v))) for v in b[96 + 8 * half_: 104 + 8 * half_]]
    total = np.float32(0)
    for j in range(4):
        xw = [xword(xq, u * 128 + 32 * j + 4 * i) for i in range(8)]
        s = [0, 0]
        for i in range(8):
            low = (qw[i] >> (2 * j)) & 0x03030303
            high = ((hw[i] >> (4 * half_ + j)) & 0x01010101) << 2
            s[i // 4] = dp4a(vsub4(low | high, 0x04040404), xw[i], s[i // 4])
        total += ds[4 * u + j][0] * (scale[2 * j] * np.float32(s[0]) + scale[2 * j + 1] * np.float32(s[1]))
    return total
def load8(vals, dv, col8):
    b = vals[col8 // 256]; e = col8 % 256; h = e // 128; j = (e % 128) // 32; s = (e % 32) // 16; l = e % 16
    lo = b[32 + 32 * h + 16 * s + l: 32 + 32 * h + 16 * s + l + 8]; hi = b[16 * s + l: 16 * s + l + 8]
    dd = np.float32(half(int(dv[col8 // 256]))) * np.float32(s8(int(b[96 + e // 16])))
    return [dd * np.float32((((int(lo[i]) >> (2 * j)) & 3) | (((int(hi[i]) >> (4 * h + j)) & 1) << 2)) - 4) for i in range(8)]
for cols in [256, 1024, 14336]:
    nb = cols // 256
    blocks = rand_blocks(nb, 110, [108])
    ref = quants.dequantize(blocks.reshape(1, -1), QT.Q3_K).reshape(-1)
    vals, dv = repack(blocks)
    got_w = np.concatenate([load8(vals, dv, c) for c in range(0, cols, 8)])
    assert np.array_equal(got_w.astype(np.float32), ref.astype(np.float32)), 'load8'
    err = warp_gemv_error(ref, cols // 128, lambda u, xq, ds: unit(vals, dv, u, xq, ds))
    print('q3_k', cols, f"{err:.2e}"); assert err < 1e-5
print('ok')
