# Emulates the Q4_K and Q5_K paths of q8_mmq_kernel (kernels/quant_mmq.cu) per thread for one
# CTA tile (rows 0..127, tokens 0..63): copy_stage's shared-memory bytes (a stage is half a
# super-block: Q4_K its 64 bytes of qs past the header; Q5_K those plus all 32 bytes of qh),
# fetch/store_scales (one row's header per thread pair, two blocks' 6-bit scale and min), the
# fragment decode (nibbles, and Q5_K's fifth bit at bit 4 half + kb of qh) and the accumulation
# d·sc·dx·dot - dmin·m·dx·Σq, against gguf-py's dequantisers.
import numpy as np
from emu_common import scale_min
from gguf.quants import Q4_K, Q5_K


def emulate(kind, rng, rows=130, cols=1280, n=9):
    block = 144 if kind == "q4_k" else 176
    nsb = cols // 256
    raw = rng.integers(0, 256, size=(rows, nsb, block), dtype=np.uint8)
    raw[:, :, 0:2] = (rng.random((rows, nsb)) * 0.01 + 0.001).astype(np.float16).view(np.uint8).reshape(rows, nsb, 2)
    raw[:, :, 2:4] = (rng.random((rows, nsb)) * 0.01).astype(np.float16).view(np.uint8).reshape(rows, nsb, 2)
    W = (Q4_K if kind == "q4_k" else Q5_K).dequantize_blocks(raw.reshape(-1, block)).reshape(rows, cols).astype(np.float64)
    xq = rng.integers(-127, 128, size=(n, cols)).astype(np.int64)  # activations as q8_1: q, (dx, dx·Σq)
    dx = rng.random((n, cols // 32)) * 0.02
    ds = np.stack([dx, dx * xq.reshape(n, -1, 32).sum(-1)], -1)

    S, WR, chunks = (4, 80, 4) if kind == "q4_k" else (4, 112, 6)
    nb = cols // 32
    flat = raw.reshape(-1)
    acc = np.zeros((128, 64))
    for kb0 in range(0, nb, S):
        half = (kb0 // 4) % 2
        smem = np.zeros((128, WR), dtype=np.uint8)
        for r in range(min(rows, 128)):
            sb = r * (nb // 8) + kb0 // 8
            for k in range(chunks):
                if kind == "q4_k":
                    off = sb * 144 + 16 + 64 * half + 16 * k
                else:
                    off = sb * 176 + (48 + 64 * half + 16 * k if k < 4 else 16 + 16 * (k - 4))
                smem[r, k * 16:(k + 1) * 16] = flat[off:off + 16]
        dm = np.zeros((128, 2))
        sm = np.zeros((128, S, 2))
        for tid in range(256):
            r = tid // 2
            if r >= rows:
                continue
            head = flat[(r * (nb // 8) + kb0 // 8) * block:][:16]
            if tid % 2 == 0:
                dm[r] = (float(head[0:2].view(np.float16)[0]), float(head[2:4].view(np.float16)[0]))
            for k in range(2):
                sm[r, 2 * (tid % 2) + k] = scale_min(kb0 % 8 + 2 * (tid % 2) + k, head[4:16].astype(np.int64))
        for kb in range(S):
            A = np.zeros((128, 32), dtype=np.int64)
            for r in range(128):
                for col in range(0, 32, 4):
                    q = int.from_bytes(bytes(smem[r, (kb // 2) * 32 + col:][:4]), "little")
                    v = (q >> (4 * (kb & 1))) & 0x0F0F0F0F
                    if kind == "q5_k":
                        h = int.from_bytes(bytes(smem[r, 64 + col:][:4]), "little")
                        v |= ((h >> (4 * half + kb)) & 0x01010101) << 4
                    for i in range(4):
                        A[r, col + i] = (v >> (8 * i)) & 0xFF
            B = np.zeros((32, 64), dtype=np.int64)
            B[:, :n] = xq[:, (kb0 + kb) * 32:(kb0 + kb + 1) * 32].T
            dw = dm[:, 0:1] * sm[:, kb, 0:1]
            mn = dm[:, 1:2] * sm[:, kb, 1:2]
            xs = np.zeros((64, 2))
            xs[:n] = ds[:, kb0 + kb]
            acc += dw * xs[None, :, 0] * (A @ B) - mn * xs[None, :, 1]
    want = W[:128] @ (xq * np.repeat(dx, 32, axis=1)).T
    return np.linalg.norm(acc[:, :n] - want) / np.linalg.norm(want)


rng = np.random.default_rng(5)
for kind in ("q4_k", "q5_k"):
    err = emulate(kind, rng)
    print(kind, "normalised error", err)
    assert err < 1e-6, kind
print("ok")
