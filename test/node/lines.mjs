// Reading test texts the way the C++ tests do: lines are cut at "\n" (a final empty one is
// dropped) and a line that is not valid UTF-8 is marked, since these references take strings.
import { readFileSync } from 'node:fs';

const strict = new TextDecoder('utf-8', { fatal: true });

export function decodeOrNull(bytes) {
  try {
    return strict.decode(bytes);
  } catch {
    return null;
  }
}

// [{ lines: [string|null], whole: string|null }] for each path.
export function readTexts(paths) {
  return paths.map((path) => {
    const bytes = readFileSync(path);
    const lines = [];
    let start = 0;
    while (start < bytes.length) {
      let end = bytes.indexOf(0x0a, start);
      if (end < 0) end = bytes.length;
      lines.push(decodeOrNull(bytes.subarray(start, end)));
      start = end + 1;
    }
    return { path, lines, whole: decodeOrNull(bytes) };
  });
}

// Prints "F path", then "L ids" per line and "W ids" for the whole file (SKIP for invalid text).
export function printEncodings(texts, encode) {
  const out = [];
  for (const { path, lines, whole } of texts) {
    out.push(`F ${path}`);
    for (const line of lines) out.push(line === null ? 'L SKIP' : `L ${encode(line).join(' ')}`);
    out.push(whole === null ? 'W SKIP' : `W ${encode(whole).join(' ')}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}
