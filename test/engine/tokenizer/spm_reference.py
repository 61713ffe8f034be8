"""The reference for SentencePiece BPE: Debian's python3-sentencepiece.

Usage: /usr/bin/python3 spm_reference.py <work dir> <corpus> <vocab size>[:nodummy][:json] ...

Trains a BPE model with byte fallback on the corpus for each vocabulary size (":nodummy" turns
off the "▁" put before the text; ":json" also writes the model as a Hugging Face tokenizer.json,
converted the way transformers' LlamaConverter does it), then prints for
test_sentencepiece_bpe.cpp:
  M <vocab size> <add_dummy_prefix 0|1> <pieces>
  J <path of tokenizer.json>     with ":json"
  P <hex piece> <score> <type>   one per id; type as GGUF numbers it (1 normal, 2 unknown,
                                 3 control, 4 user-defined, 5 unused, 6 byte)
  L <ids>                        sentencepiece's ids for each line of the corpus
  W <ids>                        ... and for the whole corpus as one text
"""
import json
import os
import sys

import sentencepiece as spm


def piece_type(sp, i):
    if sp.is_unknown(i):
        return 2
    if sp.is_control(i):
        return 3
    if sp.is_byte(i):
        return 6
    if sp.is_unused(i):
        return 5
    return 1


def write_tokenizer_json(sp, path):
    """transformers' LlamaConverter (legacy): every split of a piece into two pieces is a merge,
    the merges ordered by the score of the piece they make (SentencePieceExtractor)."""
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    merges = []
    for piece, piece_id in vocab.items():
        local = []
        for index in range(1, len(piece)):
            left, right = piece[:index], piece[index:]
            if left in vocab and right in vocab:
                local.append((left, right, sp.get_score(piece_id)))
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2], reverse=True)
    added = [{"id": i, "content": sp.id_to_piece(i), "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True}
             for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)]
    doc = {
        "version": "1.0",
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": sp.id_to_piece(sp.unk_id()), "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "vocab": vocab,
                  "merges": [f"{left} {right}" for left, right, _ in merges]},
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)


def main():
    work_dir, corpus_path = sys.argv[1], sys.argv[2]
    with open(corpus_path, "rb") as f:
        corpus = f.read().decode("utf-8")
    lines = corpus.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for spec in sys.argv[3:]:
        size, *options = spec.split(":")
        dummy = "nodummy" not in options
        prefix = os.path.join(work_dir, f"spm_{size}_{int(dummy)}")
        spm.SentencePieceTrainer.train(
            input=corpus_path,
            model_prefix=prefix,
            model_type="bpe",
            vocab_size=int(size),
            byte_fallback=True,
            character_coverage=0.995,  # leaves rare characters to the byte fallback
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            add_dummy_prefix=dummy,
            split_digits=True,
            hard_vocab_limit=False,
            minloglevel=2,
        )
        sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
        out.append(f"M {size} {int(dummy)} {sp.get_piece_size()}")
        if "json" in options:
            write_tokenizer_json(sp, prefix + ".tokenizer.json")
            out.append(f"J {prefix}.tokenizer.json")
        for i in range(sp.get_piece_size()):
            piece = sp.id_to_piece(i).encode("utf-8").hex()
            out.append(f"P {piece} {sp.get_score(i)!r} {piece_type(sp, i)}")
        for line in lines:
            out.append("L " + " ".join(map(str, sp.encode(line))))
        out.append("W " + " ".join(map(str, sp.encode(corpus))))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
