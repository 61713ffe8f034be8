# Emulates the Q4_K path of q8_mmq_kernel (kernels/quant_mmq.cu) per thread: copy_stage's
# shared-memory bytes, fetch/store_scales, the fragment decode and the accumulation, against
# gguf-py's dequantiser. One CTA tile: rows 0..127 of the matrix, tokens 0..63.
import os
import sys
import numpy as np
sys.path.insert(0, os.environ.get("GGUF_PY", "/work/peers/llama.cpp/gguf-py"))
from gguf.quants import Q4_K

rng = np.random.default_rng(5)
rows, cols, n = 130, 1280, 9           # rows past one tile are ignored below (tile 0 only)
nsb = cols // 256
raw = rng.integers(0, 256, size=(rows, nsb, 144), dtype=np.uint8)
# sane d, dmin (f16 small positive)
d = (rng.random((rows, nsb)) * 0.01 + 0.001).astype(np.float16)
dmin = (rng.random((rows, nsb)) * 0.01).astype(np.float16)
raw[:, :, 0:2] = d.view(np.uint8).reshape(rows, nsb, 2)
raw[:, :, 2:4] = dmin.view(np.uint8).reshape(rows, nsb, 2)
W = Q4_K.dequantize_blocks(raw.reshape(-1, 144)).reshape(rows, cols).astype(np.float64)

# activations quantised per 32 as q8_1: q int8, (dx, dx*sum q)
xq = rng.integers(-127, 128, size=(n, cols)).astype(np.int64)
dx = rng.random((n, cols // 32)) * 0.02
ds = np.stack([dx, dx * xq.reshape(n, -1, 32).sum(-1)], -1)

def scale_min(j, q):  # q4k_scale_min on the 12 scale bytes
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)

S, WR = 4, 80
nb = cols // 32
acc = np.zeros((128, 64))
for s_idx in range(nb // S):
    kb0 = s_idx * S
    # copy_stage: per row, 4 chunks of 16 bytes at (row*(nb/8)+sb)*144 + 16 + half*64 + c*16
    smem = np.zeros((128, WR), dtype=np.uint8)
    flat = raw.reshape(-1)
    for r in range(128):
        if r >= rows: continue
        sb, half = kb0 // 8, (kb0 // 4) % 2
        for c in range(4):
            off = (r * (nb // 8) + sb) * 144 + 16 + half * 64 + c * 16
            smem[r, c * 16:(c + 1) * 16] = flat[off:off + 16]
    # fetch/store_scales
    dm = np.zeros((128, 2)); sm = np.zeros((128, S, 2))
    for tid in range(256):
        r = tid // 2
        j0 = kb0 % 8 + 2 * (tid % 2)
        if r < rows:
            head = flat[(r * (nb // 8) + kb0 // 8) * 144:][:16]
            dd = head[0:2].view(np.float16)[0]; mm = head[2:4].view(np.float16)[0]
            if tid % 2 == 0: dm[r] = (float(dd), float(mm))
            for k in range(2):
                sm[r, 2 * (tid % 2) + k] = scale_min(j0 + k, head[4:16].astype(np.int64))
    # MMA per block: A fragment values per (row, col) from the lane formulas
    for kb in range(S):
        A = np.zeros((128, 32), dtype=np.int64)
        shift = 4 * (kb & 1)
        for r in range(128):
            for t in range(4):
                for part, base in ((0, 0), (1, 16)):
                    word = int.from_bytes(bytes(smem[r, (kb // 2) * 32 + base + 4 * t:][:4]), "little")
                    v = (word >> shift) & 0x0F0F0F0F
                    for i in range(4):
                        A[r, base + 4 * t + i] = (v >> (8 * i)) & 0xFF
        B = np.zeros((32, 64), dtype=np.int64)
        B[:, :n] = xq[:, (kb0 + kb) * 32:(kb0 + kb + 1) * 32].T
        D = A @ B
        dw = dm[:, 0:1] * sm[:, kb, 0:1]; mn = dm[:, 1:2] * sm[:, kb, 1:2]
        xs = np.zeros((64, 2)); xs[:n] = ds[:, kb0 + kb]
        acc += dw * xs[None, :, 0] * D - mn * xs[None, :, 1]

want = W[:128] @ (xq * np.repeat(dx, 32, axis=1)).T  # [128, n]
got = acc[:, :n]
err = np.linalg.norm(got - want) / np.linalg.norm(want)
print("normalised error", err)
# mutation: swap low/high nibble choice must be caught
assert err < 1e-6
