#!/usr/bin/python3
"""Converts a Hugging Face Llama folder (safetensors, tokenizer.json) to GGUF with llama.cpp's
own writer (gguf-py, from llama.cpp's public repository), the way convert_hf_to_gguf.py does
for LlamaForCausalLM: q/k rows permuted for adjacent-pair RoPE, ggml tensor names, the GPT-2
style tokenizer metadata. An independent GGUF producer for the engine's tests: it shares no
code with our writer.

Usage: gguf_py_convert.py GGUF_PY_DIR HF_DIR OUT.gguf
"""
import json
import struct
import sys

import numpy as np

sys.path.insert(0, sys.argv[1])
import gguf  # noqa: E402


def load_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[8 + n + b : 8 + n + e]
        if info["dtype"] == "F32":
            a = np.frombuffer(raw, dtype=np.float32)
        elif info["dtype"] == "F16":
            a = np.frombuffer(raw, dtype=np.float16).astype(np.float32)
        else:
            raise SystemExit("only F32/F16 test folders are converted here")
        out[name] = a.reshape(info["shape"]).copy()
    return out


def permute(w, n_head, n_head_kv):
    # convert_hf_to_gguf.py LlamaModel.permute
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main():
    hf, out = sys.argv[2], sys.argv[3]
    cfg = json.load(open(f"{hf}/config.json"))
    tok = json.load(open(f"{hf}/tokenizer.json"))
    tok_cfg = json.load(open(f"{hf}/tokenizer_config.json"))
    w = load_safetensors(f"{hf}/model.safetensors")
    nh, nkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])

    g = gguf.GGUFWriter(out, "llama")
    g.add_name("gguf-py converted test model")
    g.add_context_length(cfg["max_position_embeddings"])
    g.add_embedding_length(cfg["hidden_size"])
    g.add_block_count(cfg["num_hidden_layers"])
    g.add_feed_forward_length(cfg["intermediate_size"])
    g.add_head_count(nh)
    g.add_head_count_kv(nkv)
    g.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    g.add_rope_freq_base(cfg.get("rope_theta", 10000.0))
    g.add_rope_dimension_count(cfg["hidden_size"] // nh)
    g.add_vocab_size(cfg["vocab_size"])
    g.add_file_type(gguf.LlamaFileType.ALL_F32)

    vocab = tok["model"]["vocab"]
    added = {t["id"]: t for t in tok["added_tokens"]}
    tokens = [None] * len(vocab)
    for piece, i in vocab.items():
        tokens[i] = piece
    types = []
    for i in range(len(tokens)):
        if i in added:
            types.append(gguf.TokenType.CONTROL if added[i]["special"] else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    g.add_tokenizer_model("gpt2")
    g.add_tokenizer_pre("llama-bpe")
    g.add_token_list(tokens)
    g.add_token_types(types)
    g.add_token_merges(merges)
    ids = {t["content"]: t["id"] for t in tok["added_tokens"]}
    g.add_bos_token_id(ids[tok_cfg["bos_token"]])
    g.add_eos_token_id(ids[tok_cfg["eos_token"]])
    g.add_add_bos_token(True)
    g.add_chat_template(tok_cfg["chat_template"])

    names = {
        "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
        "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
    }
    g.add_tensor("token_embd.weight", w["model.embed_tokens.weight"])
    for i in range(cfg["num_hidden_layers"]):
        for hf_name, gg_name in names.items():
            t = w[f"model.layers.{i}.{hf_name}.weight"]
            if hf_name == "self_attn.q_proj":
                t = permute(t, nh, nh)
            elif hf_name == "self_attn.k_proj":
                t = permute(t, nh, nkv)
            g.add_tensor(f"blk.{i}.{gg_name}.weight", t)
    g.add_tensor("output_norm.weight", w["model.norm.weight"])
    if "lm_head.weight" in w:
        g.add_tensor("output.weight", w["lm_head.weight"])
    g.write_header_to_file()
    g.write_kv_data_to_file()
    g.write_tensors_to_file()
    g.close()


if __name__ == "__main__":
    main()
