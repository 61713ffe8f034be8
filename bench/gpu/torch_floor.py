"""PyTorch eager as a floor for bench/gpu/run.sh: a plain Llama forward (RMSNorm, RoPE, GQA
through scaled_dot_product_attention, SwiGLU) with random bf16 weights of the same shapes as
the generated models and a preallocated KV cache, run op by op with no graphs or fusion.
Prints one JSON line per measurement; "not available" when this Python has no CUDA torch.

    python3 bench/gpu/torch_floor.py --shape 1b|8b [--batches 1,8,64,256] [--ctx 256] [--steps 32] [--prefill 2048]
"""
import argparse
import json
import sys
import time

SHAPES = {
    # hidden, layers, heads, kv heads, ffn, vocab
    "1b": (2048, 16, 32, 8, 8192, 128256),
    "8b": (4096, 32, 32, 8, 14336, 128256),
    "tiny": (256, 2, 4, 2, 512, 4096),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="1b")
    ap.add_argument("--batches", default="1,8,64,256")
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--prefill", type=int, default=2048)
    ap.add_argument("--device", default="cuda", help="cpu: a dry run of the script's logic")
    a = ap.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # noqa: BLE001 - any import failure means no floor
        print(json.dumps({"bench": "torch_floor", "shape": a.shape, "status": f"not available: {e}"}))
        return 0
    if a.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"bench": "torch_floor", "shape": a.shape, "status": f"not available: torch {torch.__version__} sees no CUDA device"}))
        return 0

    hidden, layers, heads, kvh, ffn, vocab = SHAPES[a.shape]
    hd = hidden // heads
    dev, dt = a.device, torch.bfloat16

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()

    torch.manual_seed(0)

    def w(*shape):
        return (torch.randn(*shape, device=dev, dtype=torch.float32) * shape[-1] ** -0.5).to(dt)

    emb = torch.randn(vocab, hidden, device=dev, dtype=torch.float32).to(dt)
    L = [dict(qkv=w((heads + 2 * kvh) * hd, hidden), o=w(hidden, heads * hd), gu=w(2 * ffn, hidden), down=w(hidden, ffn),
              n1=torch.ones(hidden, device=dev, dtype=dt), n2=torch.ones(hidden, device=dev, dtype=dt)) for _ in range(layers)]
    norm = torch.ones(hidden, device=dev, dtype=dt)
    out = emb if a.shape == "1b" else w(vocab, hidden)
    inv = 1.0 / (500000.0 ** (torch.arange(0, hd, 2, device=dev, dtype=torch.float32) / hd))

    def rms(x, g):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-5)).to(dt) * g

    def rope(x, pos):  # x [B, T, H, hd], rotate-half
        ang = pos[:, :, None].float() * inv[None, None, :]
        c, s = ang.cos()[:, :, None, :].to(dt), ang.sin()[:, :, None, :].to(dt)
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)

    def sdpa(q, k, v, causal):
        if hasattr(F, "scaled_dot_product_attention"):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        s = (q.float() @ k.float().transpose(-1, -2)) / hd ** 0.5  # old torch: the plain form
        if causal:
            s = s + torch.full(s.shape[-2:], float("-inf"), device=dev).triu(1)
        return (s.softmax(-1) @ v.float()).to(dt)

    def forward(tokens, start, kc, vc):  # tokens [B, T]; caches [layers, B, kvh, max_ctx, hd]
        B, T = tokens.shape
        pos = (torch.arange(T, device=dev) + start)[None, :].expand(B, T)
        x = emb[tokens]
        for i, p in enumerate(L):
            h = rms(x, p["n1"]) @ p["qkv"].t()
            q, k, v = h.split([heads * hd, kvh * hd, kvh * hd], dim=-1)
            q = rope(q.view(B, T, heads, hd), pos).transpose(1, 2)
            k = rope(k.view(B, T, kvh, hd), pos).transpose(1, 2)
            kc[i, :B, :, start:start + T] = k
            vc[i, :B, :, start:start + T] = v.view(B, T, kvh, hd).transpose(1, 2)
            kk = kc[i, :B, :, : start + T].repeat_interleave(heads // kvh, dim=1)
            vv = vc[i, :B, :, : start + T].repeat_interleave(heads // kvh, dim=1)
            att = sdpa(q, kk, vv, T > 1 and start == 0)
            x = x + att.transpose(1, 2).reshape(B, T, heads * hd) @ p["o"].t()
            g, u = (rms(x, p["n2"]) @ p["gu"].t()).split([ffn, ffn], dim=-1)
            x = x + (F.silu(g) * u) @ p["down"].t()
        return rms(x[:, -1], norm) @ out.t()

    batches = [int(b) for b in a.batches.split(",") if b]
    max_ctx = max(a.ctx + a.steps + 4, a.prefill)
    with torch.inference_mode():
        for B in batches:
            try:
                kc = torch.empty(layers, B, kvh, a.ctx + a.steps + 4, hd, device=dev, dtype=dt)
                vc = torch.empty_like(kc)
                toks = torch.randint(0, vocab - 300, (B, a.ctx + a.steps + 4), device=dev)
                for s in range(0, B, 8):  # prefill in slices to bound memory
                    forward(toks[s:s + 8, : a.ctx], 0, kc[:, s:s + 8], vc[:, s:s + 8])
                pos = a.ctx
                for _ in range(3):
                    forward(toks[:, pos:pos + 1], pos, kc, vc)
                    pos += 1
                sync()
                t0 = time.perf_counter()
                for _ in range(a.steps):
                    logits = forward(toks[:, pos:pos + 1], pos, kc, vc)
                    logits.float().cpu()  # the host sees the logits, as in our engine
                    pos += 1
                sync()
                sec = time.perf_counter() - t0
                print(json.dumps({"bench": "torch_floor", "shape": a.shape, "batch": B, "ctx": a.ctx,
                                  "ms_per_step": round(sec * 1000 / a.steps, 3), "tokens_per_s": round(B * a.steps / sec, 1)}))
                del kc, vc
                if dev == "cuda":
                    torch.cuda.empty_cache()
            except RuntimeError as e:  # torch.cuda.OutOfMemoryError is a RuntimeError
                if "out of memory" not in str(e):
                    raise
                print(json.dumps({"bench": "torch_floor", "shape": a.shape, "batch": B, "status": "out of memory"}))
                torch.cuda.empty_cache()
        kc = torch.empty(layers, 1, kvh, max_ctx, hd, device=dev, dtype=dt)
        vc = torch.empty_like(kc)
        toks = torch.randint(0, vocab - 300, (1, a.prefill), device=dev)
        forward(toks, 0, kc, vc)
        sync()
        t0 = time.perf_counter()
        for _ in range(3):
            forward(toks, 0, kc, vc).float().cpu()
        sync()
        sec = (time.perf_counter() - t0) / 3
        print(json.dumps({"bench": "torch_floor_prefill", "shape": a.shape, "tokens": a.prefill, "ms": round(sec * 1000, 2),
                          "tokens_per_s": round(a.prefill / sec, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
