"""An independent WordPiece reference: Hugging Face's BertNormalizer, BertPreTokenizer and
WordPiece model as the Rust `tokenizers` crate defines them, written out plainly on Python's
unicodedata (not ICU, which the C++ code uses).

Usage: /usr/bin/python3 wordpiece_reference.py <vocab.txt> <text file> <options>
options: comma-separated key=value: lowercase, strip_accents, clean_text, chinese (0|1), max_chars
Prints "L <ids>" for each line of the file ("\\n"-separated; a final empty line dropped).
"""
import sys
import unicodedata

# Unicode's White_Space property (PropList.txt), which Rust's char::is_whitespace tests.
WHITE_SPACE = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000}
WHITE_SPACE.update(range(0x2000, 0x200B))


def is_whitespace(c):
    return ord(c) in WHITE_SPACE


def is_control(c):
    if c in "\t\n\r":
        return False
    return unicodedata.category(c) in ("Cc", "Cf", "Cn", "Co", "Cs")


def is_chinese(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B920 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def normalize(text, opts):
    if opts["clean_text"]:
        text = "".join(" " if is_whitespace(c) else c for c in text
                       if not (ord(c) == 0 or ord(c) == 0xFFFD or is_control(c)))
    if opts["chinese"]:
        text = "".join(f" {c} " if is_chinese(ord(c)) else c for c in text)
    if opts["strip_accents"]:
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    if opts["lowercase"]:
        # One character at a time, as Rust's char::to_lowercase: no final-sigma rule.
        text = "".join(c.lower() for c in text)
    return text


def pre_tokenize(text):
    words, word = [], ""
    for c in text:
        if is_whitespace(c):
            if word:
                words.append(word)
            word = ""
        elif is_punctuation(c):
            if word:
                words.append(word)
            words.append(c)
            word = ""
        else:
            word += c
    if word:
        words.append(word)
    return words


def wordpiece(word, vocab, unk, max_chars):
    if len(word) > max_chars:
        return [unk]
    ids, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = ("##" if start > 0 else "") + word[start:end]
            if piece in vocab:
                found = vocab[piece]
                break
            end -= 1
        if found is None:
            return [unk]
        ids.append(found)
        start = end
    return ids


def main():
    vocab_path, text_path, options = sys.argv[1], sys.argv[2], sys.argv[3]
    opts = {"lowercase": 1, "strip_accents": 1, "clean_text": 1, "chinese": 1, "max_chars": 100}
    for item in filter(None, options.split(",")):
        key, value = item.split("=")
        opts[key] = int(value)
    with open(vocab_path, encoding="utf-8") as f:
        tokens = f.read().split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    vocab = {}
    for i, token in enumerate(tokens):
        vocab.setdefault(token, i)
    unk = vocab["[UNK]"]
    with open(text_path, "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out = []
    for line in lines:
        ids = []
        for word in pre_tokenize(normalize(line, opts)):
            ids.extend(wordpiece(word, vocab, unk, opts["max_chars"]))
        out.append("L " + " ".join(map(str, ids)))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
