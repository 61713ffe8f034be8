# Thread-level emulation of the IQ4_NL/IQ4_XS table lookup (__byte_perm), GEMV unit, repack and
# load8_t against gguf-py.
import numpy as np
from emu_common import QT, dp4a, half, quants, rand_blocks, s8, u32, vsub4, warp_gemv_error, xword  # noqa: F401
vals = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]
words = [sum(((vals[4*w + i] & 0xFF) << (8*i)) for i in range(4)) for w in range(4)]
assert words == [0xBFAD9881, 0xF6EADDCF, 0x26190D01, 0x71594535], [hex(x) for x in words]
def byte_perm(x, y, s):
    b = [(x >> 8*i) & 0xFF for i in range(4)] + [(y >> 8*i) & 0xFF for i in range(4)]
    return sum(b[(s >> 4*n) & 7] << 8*n for n in range(4))
def lookup(idx):
    sel = (idx & 0x7) | ((idx >> 4) & 0x70) | ((idx >> 8) & 0x700) | ((idx >> 12) & 0x7000)
    lo = byte_perm(words[0], words[1], sel); hi = byte_perm(words[2], words[3], sel)
    use_hi = ((idx >> 3) & 0x01010101) * 0xFF
    return (lo & ~use_hi & 0xFFFFFFFF) | (hi & use_hi)
for idx in range(0, 65536, 7):
    w = (idx & 0xF) | ((idx >> 4) & 0xF) << 8 | ((idx >> 8) & 0xF) << 16 | ((idx >> 12) & 0xF) << 24
    r = lookup(w)
    for i in range(4): assert s8((r >> 8*i) & 0xFF) == vals[(w >> 8*i) & 0xF]
def repack_xs(blocks):
    n = blocks.shape[0]; w = blocks.view(np.uint16).reshape(n, -1)
    nib = blocks[:, 8:136].copy()
    d = np.array([half(int(v)) for v in w[:, 0]], np.float32)
    sh = w[:, 1].astype(np.uint32); sl = w[:, 2].astype(np.uint32) | (w[:, 3].astype(np.uint32) << 16)
    sc = np.zeros((n, 8), np.float32)
    for i in range(8):
        ls = ((sl >> (4*i)) & 0xF) | (((sh >> (2*i)) & 3) << 4)
        sc[:, i] = d * (ls.astype(np.float32) - 32)
    return nib.reshape(-1, 16), sc.reshape(-1)
def unit(nib, sc, u, xq, ds):
    q = [u32(nib[u], 4*i) for i in range(4)]
    xa = [xword(xq, u*32 + 4*i) for i in range(4)]; xb = [xword(xq, u*32 + 16 + 4*i) for i in range(4)]
    s = 0
    for i in range(4):
        s = dp4a(lookup(q[i] & 0x0F0F0F0F), xa[i], s); s = dp4a(lookup((q[i] >> 4) & 0x0F0F0F0F), xb[i], s)
    return np.float32(sc[u]) * ds[u][0] * np.float32(s)
for kind in ['iq4_nl', 'iq4_xs']:
    for cols in [256, 2048, 14336]:
        if kind == 'iq4_nl':
            blocks = rand_blocks(cols // 32, 18, [0]); ref = quants.dequantize(blocks.reshape(1, -1), QT.IQ4_NL).reshape(-1)
            nib = blocks[:, 2:18].copy(); sc = np.array([half(int(v)) for v in blocks[:, 0:2].copy().view(np.uint16).reshape(-1)], np.float32)
        else:
            blocks = rand_blocks(cols // 256, 136, [0]); ref = quants.dequantize(blocks.reshape(1, -1), QT.IQ4_XS).reshape(-1)
            nib, sc = repack_xs(blocks)
        # load8_t
        got_w = []
        for c in range(0, cols, 8):
            blk = c // 32; ib = c % 32; v = nib[blk][ib % 16: ib % 16 + 8]; sh = 4 if ib >= 16 else 0
            a = lookup(u32(v, 0) >> sh & 0x0F0F0F0F); b = lookup(u32(v, 4) >> sh & 0x0F0F0F0F)
            got_w += [np.float32(sc[blk]) * np.float32(s8((a >> 8*i) & 0xFF)) for i in range(4)] + [np.float32(sc[blk]) * np.float32(s8((b >> 8*i) & 0xFF)) for i in range(4)]
        assert np.allclose(np.array(got_w, np.float32), ref.astype(np.float32), rtol=1e-6, atol=1e-8), kind
        err = warp_gemv_error(ref, cols // 32, lambda u, xq, ds: unit(nib, sc, u, xq, ds))
        print(kind, cols, f"{err:.2e}"); assert err < 1e-5
print('ok')
