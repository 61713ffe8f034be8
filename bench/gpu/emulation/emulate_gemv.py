# Thread-level emulation of kernels/quant_gemv.cu's Int8Unit<q4_k> / Int8Unit<q6_k> and the
# q6_k repack + load8_t, against gguf-py's dequantisers (llama.cpp's own reference).
import numpy as np
from emu_common import QT, dp4a, half, quant_x, quants, rand_blocks, rng, s8, u32, vsub4, xword

def k_scales(sb, pair):
    """A Q4_K / Q5_K unit's two (d·scale, dmin·min) from its super-block header, read as the
    kernel does: four words, the 6-bit fields picked out by byte shifts."""
    hx, hy, hz, hw = (u32(sb, 0), u32(sb, 4), u32(sb, 8), u32(sb, 12))
    d = half(hx & 0xFFFF); dmin = half(hx >> 16)
    high = pair >= 2
    dl, ml = [], []
    for i in range(2):
        shift = 8 * ((2*pair + i) % 4)
        by, bz, bw = (hy >> shift) & 0xFF, (hz >> shift) & 0xFF, (hw >> shift) & 0xFF
        sc = ((bw & 0xF) | ((by >> 6) << 4)) if high else by & 63
        m = ((bw >> 4) | ((bz >> 6) << 4)) if high else bz & 63
        dl.append(np.float32(d) * np.float32(sc)); ml.append(np.float32(dmin) * np.float32(m))
    return dl, ml

def q4k_unit(row_bytes, u, xq, ds):
    sb = row_bytes[(u // 4) * 144:(u // 4 + 1) * 144]
    pair = u % 4
    qa = [u32(sb, 16 + 32*pair + 4*i) for i in range(4)]
    qb = [u32(sb, 16 + 32*pair + 16 + 4*i) for i in range(4)]
    dl, ml = k_scales(sb, pair)
    L = 0x0F0F0F0F
    x = [xword(xq, u*64 + 4*i) for i in range(16)]
    s0 = s1 = 0
    for i in range(4): s0 = dp4a(qa[i] & L, x[i], s0)
    for i in range(4): s0 = dp4a(qb[i] & L, x[4+i], s0)
    for i in range(4): s1 = dp4a((qa[i] >> 4) & L, x[8+i], s1)
    for i in range(4): s1 = dp4a((qb[i] >> 4) & L, x[12+i], s1)
    ds0, ds1 = ds[2*u], ds[2*u+1]
    return dl[0]*ds0[0]*s0 - ml[0]*ds0[1] + dl[1]*ds1[0]*s1 - ml[1]*ds1[1]

def q5k_unit(row_bytes, u, xq, ds):
    sb = row_bytes[(u // 4) * 176:(u // 4 + 1) * 176]
    pair = u % 4
    qa = [u32(sb, 48 + 32*pair + 4*i) for i in range(4)]
    qb = [u32(sb, 48 + 32*pair + 16 + 4*i) for i in range(4)]
    hwords = [u32(sb, 16 + 4*i) for i in range(8)]
    dl, ml = k_scales(sb, pair)
    L = 0x0F0F0F0F
    nw = qa + qb
    x = [xword(xq, u*64 + 4*i) for i in range(16)]
    s0 = s1 = 0
    for i in range(8):
        v0 = (nw[i] & L) | (((hwords[i] >> (2*pair)) & 0x01010101) << 4)
        v1 = ((nw[i] >> 4) & L) | (((hwords[i] >> (2*pair + 1)) & 0x01010101) << 4)
        s0 = dp4a(v0, x[i], s0); s1 = dp4a(v1, x[8+i], s1)
    ds0, ds1 = ds[2*u], ds[2*u+1]
    return dl[0]*ds0[0]*s0 - ml[0]*ds0[1] + dl[1]*ds1[0]*s1 - ml[1]*ds1[1]

def load8_q5k(row_bytes, col8):
    sb = row_bytes[(col8 // 256) * 176:(col8 // 256 + 1) * 176]
    e = col8 % 256; sub = e // 32; off = e % 32
    hy, hz, hw = (u32(sb, 4), u32(sb, 8), u32(sb, 12))
    sc_bytes = sb[4:16]
    j = sub
    if j < 4: sc = sc_bytes[j] & 63; m = sc_bytes[j+4] & 63
    else: sc = (sc_bytes[j+4] & 0xF) | ((sc_bytes[j-4] >> 6) << 4); m = (sc_bytes[j+4] >> 4) | ((sc_bytes[j] >> 6) << 4)
    d = np.float32(half(u32(sb, 0) & 0xFFFF)) * np.float32(sc); mn = np.float32(half(u32(sb, 0) >> 16)) * np.float32(m)
    q = sb[48 + 32*(sub // 2) + off: 48 + 32*(sub // 2) + off + 8]; h = sb[16 + off: 16 + off + 8]
    sh = 4 if sub & 1 else 0
    return [d * np.float32(((int(q[i]) >> sh) & 0xF) | (((int(h[i]) >> sub) & 1) << 4)) - mn for i in range(8)]

def repack_q6k(blocks):  # [n, 210] -> values [n, 208], d [n] (launch_repack_ggml<105, false>)
    return blocks[:, :208].copy(), blocks[:, 208:210].copy().view(np.uint16).reshape(-1)

def q6k_unit(vals_row, d_row, u, xq, ds):
    b = vals_row[(u // 2) * 208:(u // 2 + 1) * 208]
    h = u % 2
    ql = [u32(b, 64*h + 4*i) for i in range(16)]   # 4 uint4 = 16 words
    qh = [u32(b, 128 + 32*h + 4*i) for i in range(8)]
    sc = [s8(int(v)) for v in b[192 + 8*h:192 + 8*h + 8]]
    d = np.float32(half(int(d_row[u // 2])))
    scale = [d * np.float32(s) for s in sc]
    total = np.float32(0)
    for k in range(4):
        lw = ql[8*(k & 1):8*(k & 1) + 8]
        xw = [xword(xq, u*128 + 32*k + 4*i) for i in range(8)]
        s = [0, 0]
        for i in range(8):
            low = ((lw[i] >> 4) if k >= 2 else lw[i]) & 0x0F0F0F0F
            high = ((qh[i] >> (2*k)) & 0x03030303) << 4
            q = vsub4(low | high, 0x20202020)
            s[i // 4] = dp4a(q, xw[i], s[i // 4])
        total += ds[4*u + k][0] * (scale[2*k] * np.float32(s[0]) + scale[2*k+1] * np.float32(s[1]))
    return total

def load8_q6k(vals_row, d_row, col8):
    sb = col8 // 256
    b = vals_row[sb*208:(sb+1)*208]
    e = col8 % 256; h = e // 128; k = (e % 128) // 32; l = e % 32
    lo = b[64*h + 32*(k & 1) + l: 64*h + 32*(k & 1) + l + 8]
    hi = b[128 + 32*h + l: 128 + 32*h + l + 8]
    dd = np.float32(half(int(d_row[sb]))) * np.float32(s8(int(b[192 + e // 16])))
    sh = 4 if k >= 2 else 0
    return [dd * np.float32((((int(lo[i]) >> sh) & 0xF) | (((int(hi[i]) >> (2*k)) & 3) << 4)) - 32) for i in range(8)]

def gemv(kind, rows, cols, nx):
    nsb = cols // 256
    if kind == 'q4_k':
        blocks = rand_blocks(rows * nsb, 144, [0, 2])
        ref_w = quants.dequantize(blocks.reshape(rows, nsb * 144), QT.Q4_K).reshape(rows, cols)
        unit_elems, fn = 64, None
    elif kind == 'q5_k':
        blocks = rand_blocks(rows * nsb, 176, [0, 2])
        ref_w = quants.dequantize(blocks.reshape(rows, nsb * 176), QT.Q5_K).reshape(rows, cols)
        unit_elems = 64
    else:
        blocks = rand_blocks(rows * nsb, 210, [208])
        ref_w = quants.dequantize(blocks.reshape(rows, nsb * 210), QT.Q6_K).reshape(rows, cols)
        vals, dvec = repack_q6k(blocks)
        vals = vals.reshape(rows, nsb * 208); dvec = dvec.reshape(rows, nsb)
        unit_elems = 128
    worst = 0
    for j in range(nx):
        x = rng.uniform(-2, 2, size=cols).astype(np.float32)
        xq, ds = quant_x(x)
        xdq = (xq.reshape(-1, 32).astype(np.float64) * ds[:, 0:1].astype(np.float64)).reshape(-1)
        want = ref_w.astype(np.float64) @ xdq
        got = np.zeros(rows)
        n_units = cols // unit_elems
        for o in range(rows):
            acc = [np.float32(0)] * 32
            for lane in range(32):
                for u in range(lane, n_units, 32):
                    if kind == 'q4_k':
                        acc[lane] += q4k_unit(blocks.reshape(rows, -1)[o], u, xq, ds)
                    elif kind == 'q5_k':
                        acc[lane] += q5k_unit(blocks.reshape(rows, -1)[o], u, xq, ds)
                    else:
                        acc[lane] += q6k_unit(vals[o], dvec[o], u, xq, ds)
            got[o] = float(sum(acc))
        err = np.linalg.norm(got - want) / np.linalg.norm(want)
        worst = max(worst, err)
    if kind == 'q5_k':
        o = rows - 1
        got = np.concatenate([load8_q5k(blocks.reshape(rows, -1)[o], c) for c in range(0, cols, 8)])
        assert np.allclose(got.astype(np.float32), ref_w[o].astype(np.float32), rtol=1e-6, atol=1e-6), "load8_t<q5_k> differs from gguf-py"
    if kind == 'q6_k':  # the dequantiser's path (load8_t) too
        o = rows - 1
        got = np.concatenate([load8_q6k(vals[o], dvec[o], c) for c in range(0, cols, 8)])
        assert np.array_equal(got.astype(np.float32), ref_w[o].astype(np.float32)), "load8_t<q6_k> differs from gguf-py"
    return worst

for kind in ['q4_k', 'q5_k', 'q6_k']:
    for rows, cols in [(3, 256), (5, 512), (2, 14336 // 4 * 4)]:
        if cols % 256: continue
        e = gemv(kind, rows, cols, 2)
        print(f"{kind} {rows}x{cols}: normalised error {e:.2e}")
        assert e < 1e-5, kind
print("ok")
