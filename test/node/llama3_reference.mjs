// The reference for Llama 3's tokenizer: llama3-tokenizer-js.
// Usage: node llama3_reference.mjs <tokenizer.json to write> <text file>...
// Writes the package's vocabulary and merges as a Hugging Face tokenizer.json (as Meta's own
// file has them: Split with Llama 3's regex, then ByteLevel; ignore_merges), then prints the ids
// of every line and whole file (see lines.mjs), without bos/eos.
import { writeFileSync } from 'node:fs';
import llama3Tokenizer from 'llama3-tokenizer-js';
import { printEncodings, readTexts } from './lines.mjs';

const [jsonPath, ...paths] = process.argv.slice(2);
const tokenizer = llama3Tokenizer;
const kBpeVocabSize = 128000;  // ids from here on are special tokens

const vocab = {};
for (let id = 0; id < kBpeVocabSize; ++id) vocab[tokenizer.vocabById[id]] = id;
const added = [];
for (let id = kBpeVocabSize; id < tokenizer.vocabById.length; ++id) {
  added.push({ id, content: tokenizer.vocabById[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
}
// The package keys merges by "left right" with their priority as value, in priority order.
const merges = [...tokenizer.merges.entries()].sort((a, b) => a[1] - b[1]).map(([key]) => key.split(' '));

const json = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: added,
  normalizer: null,
  pre_tokenizer: {
    type: 'Sequence',
    pretokenizers: [
      {
        type: 'Split',
        pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" },
        behavior: 'Isolated',
        invert: false,
      },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  },
  post_processor: {
    type: 'Sequence',
    processors: [
      { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [],
        special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } },
      },
    ],
  },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: true,
    vocab,
    merges,
  },
};
writeFileSync(jsonPath, JSON.stringify(json));
printEncodings(readTexts(paths), (text) => tokenizer.encode(text, { bos: false, eos: false }));
