# Emulates the Q6_K path of q8_mmq_kernel: copy_stage (6 chunks per row), fetch/store_scales
# (sc4 word per thread, d per row), the fragment decode (ql nibble, qh 2 bits, minus 32 per
# byte) and the two k16 products per block with their own scales, against gguf-py.
import numpy as np
import emu_common  # noqa: F401 (puts gguf-py on the path)
from gguf.quants import Q6_K

rng = np.random.default_rng(7)
rows, cols, n = 130, 1280, 9
nsb = cols // 256
blk = rng.integers(0, 256, size=(rows, nsb, 210), dtype=np.uint8)
d = (rng.random((rows, nsb)) * 0.01 + 0.001).astype(np.float16)
blk[:, :, 208:210] = d.view(np.uint8).reshape(rows, nsb, 2)
W = Q6_K.dequantize_blocks(blk.reshape(-1, 210)).reshape(rows, cols).astype(np.float64)
dev = blk[:, :, :208].copy()          # the device's 208-byte blocks (d kept apart)
dscale = d.astype(np.float64)          # w.scales

xq = rng.integers(-127, 128, size=(n, cols)).astype(np.int64)
dx = rng.random((n, cols // 32)) * 0.02

S, WR = 4, 112
nb = cols // 32
flat = dev.reshape(-1)
acc = np.zeros((128, 64))
for s_idx in range(nb // S):
    kb0 = s_idx * S
    sb, half = kb0 // 8, (kb0 // 4) % 2
    smem = np.zeros((128, WR), dtype=np.uint8)
    for r in range(min(rows, 128)):
        for k in range(6):
            off = 64 * half + 16 * k if k < 4 else 128 + 32 * half + 16 * (k - 4)
            base = (r * (nb // 8) + sb) * 208 + off
            smem[r, k * 16:(k + 1) * 16] = flat[base:base + 16]
    dd = np.zeros(128); sc = np.zeros((128, 8), dtype=np.int64)
    for tid in range(256):
        r = tid // 2
        if r >= rows: continue
        sbi = r * (nb // 8) + kb0 // 8
        if tid % 2 == 0: dd[r] = dscale.reshape(-1)[sbi]
        o = sbi * 208 + 192 + 8 * ((kb0 // 4) % 2) + 4 * (tid % 2)
        sc[r, 4 * (tid % 2):4 * (tid % 2) + 4] = flat[o:o + 4].view(np.int8)
    for kb in range(S):
        lo_shift = 4 if kb >= 2 else 0
        A = np.zeros((128, 32), dtype=np.int64)
        for r in range(128):
            for col in range(0, 32, 4):
                lo = int.from_bytes(bytes(smem[r, 32 * (kb & 1) + col:][:4]), "little")
                hi = int.from_bytes(bytes(smem[r, 64 + col:][:4]), "little")
                v = ((lo >> lo_shift) & 0x0F0F0F0F) | (((hi >> (2 * kb)) & 0x03030303) << 4)
                for i in range(4):
                    byte = ((v >> (8 * i)) & 0xFF) - 0x20   # __vsub4 then int8
                    A[r, col + i] = byte if byte < 128 else byte - 256
        B = np.zeros((32, 64), dtype=np.int64)
        B[:, :n] = xq[:, (kb0 + kb) * 32:(kb0 + kb + 1) * 32].T
        lo_p = A[:, :16] @ B[:16]; hi_p = A[:, 16:] @ B[16:]
        xs = np.zeros(64); xs[:n] = dx[:, kb0 + kb]
        acc += dd[:, None] * xs[None, :] * (sc[:, 2 * kb][:, None] * lo_p + sc[:, 2 * kb + 1][:, None] * hi_p)

want = W[:128] @ (xq * np.repeat(dx, 32, axis=1)).T
err = np.linalg.norm(acc[:, :n] - want) / np.linalg.norm(want)
print("normalised error", err)
assert err < 1e-6
