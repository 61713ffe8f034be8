"""The reference for SentencePiece BPE: Debian's python3-sentencepiece.

Usage: /usr/bin/python3 spm_reference.py <work dir> <corpus> <vocab size>[:nodummy] ...

Trains a BPE model with byte fallback on the corpus for each vocabulary size (":nodummy" turns
off the "▁" put before the text), then prints for test_sentencepiece_bpe.cpp:
  M <vocab size> <add_dummy_prefix 0|1> <pieces>
  P <hex piece> <score> <type>   one per id; type as GGUF numbers it (1 normal, 2 unknown,
                                 3 control, 4 user-defined, 5 unused, 6 byte)
  L <ids>                        sentencepiece's ids for each line of the corpus
  W <ids>                        ... and for the whole corpus as one text
"""
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


def main():
    work_dir, corpus_path = sys.argv[1], sys.argv[2]
    with open(corpus_path, "rb") as f:
        corpus = f.read().decode("utf-8")
    lines = corpus.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for spec in sys.argv[3:]:
        size, _, option = spec.partition(":")
        dummy = option != "nodummy"
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
        for i in range(sp.get_piece_size()):
            piece = sp.id_to_piece(i).encode("utf-8").hex()
            out.append(f"P {piece} {sp.get_score(i)!r} {piece_type(sp, i)}")
        for line in lines:
            out.append("L " + " ".join(map(str, sp.encode(line))))
        out.append("W " + " ".join(map(str, sp.encode(corpus))))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
