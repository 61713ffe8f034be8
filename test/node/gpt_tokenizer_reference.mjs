// The reference for tiktoken's encodings (cl100k_base, o200k_base): gpt-tokenizer.
// Usage: node gpt_tokenizer_reference.mjs <encoding> <text file>...
// Prints, for test/engine/tokenizer/test_reference_bpe.cpp:
//   R <hex>          the bytes of each rank, in rank order ("R" alone for a hole)
//   S <id> <hex>     each special token
//   then the ids of every line and whole file (see lines.mjs)
import { printEncodings, readTexts } from './lines.mjs';

const [encodingName, ...paths] = process.argv.slice(2);
const encoding = await import(`gpt-tokenizer/encoding/${encodingName}`);
const ranks = (await import(`gpt-tokenizer/bpeRanks/${encodingName}`)).default;

const out = [];
for (let rank = 0; rank < ranks.length; ++rank) {
  const value = ranks[rank];
  if (value === undefined) {
    out.push('R');
  } else {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    out.push(`R ${bytes.toString('hex')}`);
  }
}
const specialNames = ['EndOfText', 'EndOfPrompt', 'FimPrefix', 'FimMiddle', 'FimSuffix', 'ImStart', 'ImEnd', 'ImSep'];
for (const name of specialNames) {
  const text = encoding[name];
  if (typeof text !== 'string') continue;
  try {
    const ids = encoding.encode(text, { allowedSpecial: new Set([text]) });
    if (ids.length === 1) out.push(`S ${ids[0]} ${Buffer.from(text, 'utf8').toString('hex')}`);
  } catch {
    // not a special token of this encoding
  }
}
process.stdout.write(out.join('\n') + '\n');
printEncodings(readTexts(paths), (text) => encoding.encode(text));
