# Thread-level emulation of the Q2_K int8 GEMV unit, its repack and load8_t (kernels/quant_gemv.cu,
# quant_device.cuh) against gguf-py.
import numpy as np
from emu_common import QT, dp4a, half, quants, rand_blocks, s8, u32, vsub4, warp_gemv_error, xword  # noqa: F401
def repack(blocks):
    return blocks[:, :80].copy(), blocks[:, 80:84].copy().view(np.uint16).reshape(-1, 2)
def unit(vals, dm, u, xq, ds):
    b = vals[u // 2]; h = u % 2
    qw = [u32(b, 16 + 32 * h + 4 * i) for i in range(8)]
    d = np.float32(half(int(dm[u // 2][0]))); dmin = np.float32(half(int(dm[u // 2][1])))
    scb = b[8 * h: 8 * h + 8]
    scale = [d * np.float32(int(v) & 0xF) for v in scb]; mn = [dmin * np.float32(int(v) >> 4) for v in scb]
    total = np.float32(0)
    for j in range(4):
        xw = [xword(xq, u * 128 + 32 * j + 4 * i) for i in range(8)]
        s = [0, 0]; xs = [0, 0]
        for i in range(8):
            s[i // 4] = dp4a((qw[i] >> (2 * j)) & 0x03030303, xw[i], s[i // 4])
            xs[i // 4] = dp4a(0x01010101, xw[i], xs[i // 4])
        terms = np.float32(0)
        for g in range(2): terms += scale[2 * j + g] * np.float32(s[g]) - mn[2 * j + g] * np.float32(xs[g])
        total += ds[4 * u + j][0] * terms
    return total
def load8(vals, dm, col8):
    b = vals[col8 // 256]; e = col8 % 256; h = e // 128; j = (e % 128) // 32; s = (e % 32) // 16; l = e % 16
    q = b[16 + 32 * h + 16 * s + l: 16 + 32 * h + 16 * s + l + 8]; sc = int(b[e // 16])
    d = np.float32(half(int(dm[col8 // 256][0]))) * np.float32(sc & 0xF); m = np.float32(half(int(dm[col8 // 256][1]))) * np.float32(sc >> 4)
    return [d * np.float32((int(q[i]) >> (2 * j)) & 3) - m for i in range(8)]
for cols in [256, 1024, 14336]:
    blocks = rand_blocks(cols // 256, 84, [80, 82])
    ref = quants.dequantize(blocks.reshape(1, -1), QT.Q2_K).reshape(-1)
    vals, dm = repack(blocks)
    got_w = np.concatenate([load8(vals, dm, c) for c in range(0, cols, 8)])
    assert np.allclose(got_w.astype(np.float32), ref.astype(np.float32), rtol=1e-6, atol=1e-7), 'load8'
    err = warp_gemv_error(ref, cols // 128, lambda u, xq, ds: unit(vals, dm, u, xq, ds))
    print('q2_k', cols, f"{err:.2e}"); assert err < 1e-5
print('ok')
