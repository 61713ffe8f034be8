#!/usr/bin/python3
"""Independent reference forward passes in PyTorch (eager, CPU, float32) over a Hugging Face
model folder written as safetensors: Llama / Mistral / Qwen2 decoders and BERT encoders.

It follows Hugging Face transformers' modeling code (rotate_half RoPE, llama3 rope scaling,
repeat_kv for GQA, post-LayerNorm BERT with exact GELU), written from the equations, so it
shares no code with the C++ engine it checks.

Usage: torch_reference.py MODEL_DIR REQUEST_JSON  → prints a JSON result on stdout.
REQUEST_JSON: {"mode": "logits", "tokens": [...], "greedy": N}
              {"mode": "embed", "tokens": [...]}
              {"mode": "classify", "tokens": [...], "type_ids": [...]}
"""
import json
import math
import struct
import sys

import numpy as np
import torch

torch.set_grad_enabled(False)
torch.set_num_threads(1)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin : base + end]
        shape = info["shape"]
        if info["dtype"] == "F32":
            t = torch.from_numpy(np.frombuffer(raw, dtype=np.float32).copy())
        elif info["dtype"] == "F16":
            t = torch.from_numpy(np.frombuffer(raw, dtype=np.float16).astype(np.float32))
        elif info["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            t = torch.from_numpy(u.view(np.float32).copy())
        else:
            raise SystemExit(f"unsupported dtype {info['dtype']}")
        out[name] = t.reshape(shape)
    return out


def load_weights(folder):
    import os

    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    w = {}
    for f in files:
        w.update(load_safetensors(os.path.join(folder, f)))
    return w


def rope_inv_freq(cfg, head_dim):
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    scaling = cfg.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind == "llama3":
        factor = scaling["factor"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        old = scaling["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
        inv = torch.where(medium, smoothed, scaled)
    return inv


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return x * torch.rsqrt(var + eps) * w


def decoder_logits(cfg, w, tokens):
    """Logits [T, vocab] for a prompt, all positions, no cache (recomputed from scratch)."""
    h = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim", h // nh)
    eps = cfg["rms_norm_eps"]
    T = len(tokens)
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    inv = rope_inv_freq(cfg, hd)
    pos = torch.arange(T).float()
    freqs = torch.outer(pos, inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((T, T), float("-inf")).triu(1)
    bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        xn = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = xn @ w[p + "self_attn.q_proj.weight"].T
        k = xn @ w[p + "self_attn.k_proj.weight"].T
        v = xn @ w[p + "self_attn.v_proj.weight"].T
        if bias:
            q = q + w[p + "self_attn.q_proj.bias"]
            k = k + w[p + "self_attn.k_proj.bias"]
            v = v + w[p + "self_attn.v_proj.bias"]
        q = q.view(T, nh, hd).transpose(0, 1)
        k = k.view(T, nkv, hd).transpose(0, 1)
        v = v.view(T, nkv, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=0)
        v = v.repeat_interleave(nh // nkv, dim=0)
        att = (q @ k.transpose(1, 2)) / math.sqrt(hd) + mask
        o = torch.softmax(att, dim=-1) @ v
        o = o.transpose(0, 1).reshape(T, nh * hd)
        x = x + o @ w[p + "self_attn.o_proj.weight"].T
        xn = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = xn @ w[p + "mlp.gate_proj.weight"].T
        u = xn @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    out = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ out.T


def layer_norm(x, wt, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), wt, b, eps)


def bert_states(cfg, w, tokens, type_ids, prefix):
    h = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    hd = h // nh
    eps = cfg["layer_norm_eps"]
    T = len(tokens)
    e = prefix + "embeddings."
    x = (
        w[e + "word_embeddings.weight"][torch.tensor(tokens)]
        + w[e + "position_embeddings.weight"][:T]
        + w[e + "token_type_embeddings.weight"][torch.tensor(type_ids)]
    )
    x = layer_norm(x, w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{i}."
        q = (x @ w[p + "attention.self.query.weight"].T + w[p + "attention.self.query.bias"]).view(T, nh, hd).transpose(0, 1)
        k = (x @ w[p + "attention.self.key.weight"].T + w[p + "attention.self.key.bias"]).view(T, nh, hd).transpose(0, 1)
        v = (x @ w[p + "attention.self.value.weight"].T + w[p + "attention.self.value.bias"]).view(T, nh, hd).transpose(0, 1)
        a = torch.softmax((q @ k.transpose(1, 2)) / math.sqrt(hd), dim=-1) @ v
        a = a.transpose(0, 1).reshape(T, h)
        o = a @ w[p + "attention.output.dense.weight"].T + w[p + "attention.output.dense.bias"]
        x = layer_norm(o + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
        f = torch.nn.functional.gelu(x @ w[p + "intermediate.dense.weight"].T + w[p + "intermediate.dense.bias"])
        f = f @ w[p + "output.dense.weight"].T + w[p + "output.dense.bias"]
        x = layer_norm(f + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    return x


def main():
    folder, request = sys.argv[1], json.loads(sys.argv[2])
    import os

    cfg = json.load(open(os.path.join(folder, "config.json")))
    w = load_weights(folder)
    tokens = request["tokens"]
    mode = request["mode"]
    if mode == "logits":
        logits = decoder_logits(cfg, w, tokens)
        seq = list(tokens)
        greedy = []
        for _ in range(request.get("greedy", 0)):
            nxt = int(decoder_logits(cfg, w, seq)[-1].argmax())
            greedy.append(nxt)
            seq.append(nxt)
        print(json.dumps({"logits": logits.tolist(), "greedy": greedy}))
    elif mode == "embed":
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
        x = bert_states(cfg, w, tokens, [0] * len(tokens), prefix)
        pool = {"pooling_mode_mean_tokens": False}
        pool_file = os.path.join(folder, "1_Pooling", "config.json")
        if os.path.exists(pool_file):
            pool = json.load(open(pool_file))
        v = x.mean(0) if pool.get("pooling_mode_mean_tokens") else x[0]
        v = v / v.norm().clamp_min(1e-12)
        print(json.dumps({"embedding": v.tolist()}))
    elif mode == "classify":
        x = bert_states(cfg, w, tokens, request["type_ids"], "bert.")
        pooled = torch.tanh(x[0] @ w["bert.pooler.dense.weight"].T + w["bert.pooler.dense.bias"])
        logits = pooled @ w["classifier.weight"].T + w["classifier.bias"]
        print(json.dumps({"logits": logits.tolist()}))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
