# Emulates the Q5_K path of q8_mmq_kernel (copy_stage: qs of the half in chunks 0-3, all of qh in
# 4-5; Q4_K's header scales; the fifth bit from qh at bit 4 half + kb) against gguf-py.
import os
import sys
import numpy as np
sys.path.insert(0, os.environ.get("GGUF_PY", "/work/peers/llama.cpp/gguf-py"))
from gguf.quants import Q5_K

rng = np.random.default_rng(9)
rows, cols, n = 130, 1280, 9
nsb = cols // 256
raw = rng.integers(0, 256, size=(rows, nsb, 176), dtype=np.uint8)
d = (rng.random((rows, nsb)) * 0.01 + 0.001).astype(np.float16)
dmin = (rng.random((rows, nsb)) * 0.01).astype(np.float16)
raw[:, :, 0:2] = d.view(np.uint8).reshape(rows, nsb, 2)
raw[:, :, 2:4] = dmin.view(np.uint8).reshape(rows, nsb, 2)
W = Q5_K.dequantize_blocks(raw.reshape(-1, 176)).reshape(rows, cols).astype(np.float64)
xq = rng.integers(-127, 128, size=(n, cols)).astype(np.int64)
dx = rng.random((n, cols // 32)) * 0.02
ds = np.stack([dx, dx * xq.reshape(n, -1, 32).sum(-1)], -1)

def scale_min(j, q):
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)

S, WR = 4, 112
nb = cols // 32
flat = raw.reshape(-1)
acc = np.zeros((128, 64))
for s_idx in range(nb // S):
    kb0 = s_idx * S
    half = (kb0 // 4) % 2
    smem = np.zeros((128, WR), dtype=np.uint8)
    for r in range(min(rows, 128)):
        sb = r * (nb // 8) + kb0 // 8
        for k in range(6):
            off = sb * 176 + (48 + 64 * half + 16 * k if k < 4 else 16 + 16 * (k - 4))
            smem[r, k * 16:(k + 1) * 16] = flat[off:off + 16]
    dm = np.zeros((128, 2)); sm = np.zeros((128, S, 2))
    for tid in range(256):
        r = tid // 2
        if r >= rows: continue
        j0 = kb0 % 8 + 2 * (tid % 2)
        head = flat[(r * (nb // 8) + kb0 // 8) * 176:][:16]
        if tid % 2 == 0: dm[r] = (float(head[0:2].view(np.float16)[0]), float(head[2:4].view(np.float16)[0]))
        for k in range(2):
            sm[r, 2 * (tid % 2) + k] = scale_min(j0 + k, head[4:16].astype(np.int64))
    for kb in range(S):
        shift = 4 * (kb & 1)
        A = np.zeros((128, 32), dtype=np.int64)
        for r in range(128):
            for col in range(0, 32, 4):
                q = int.from_bytes(bytes(smem[r, (kb // 2) * 32 + col:][:4]), "little")
                h = int.from_bytes(bytes(smem[r, 64 + col:][:4]), "little")
                v = ((q >> shift) & 0x0F0F0F0F) | (((h >> (4 * half + kb)) & 0x01010101) << 4)
                for i in range(4):
                    A[r, col + i] = (v >> (8 * i)) & 0xFF
        B = np.zeros((32, 64), dtype=np.int64)
        B[:, :n] = xq[:, (kb0 + kb) * 32:(kb0 + kb + 1) * 32].T
        D = A @ B
        dw = dm[:, 0:1] * sm[:, kb, 0:1]; mn = dm[:, 1:2] * sm[:, kb, 1:2]
        xs = np.zeros((64, 2)); xs[:n] = ds[:, kb0 + kb]
        acc += dw * xs[None, :, 0] * D - mn * xs[None, :, 1]
want = W[:128] @ (xq * np.repeat(dx, 32, axis=1)).T
err = np.linalg.norm(acc[:, :n] - want) / np.linalg.norm(want)
print("normalised error", err)
assert err < 1e-6
