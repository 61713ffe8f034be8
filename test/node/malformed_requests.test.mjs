// Malformed requests never take the server down. Seeded structural mutations of valid OpenAI
// and admin requests (a field replaced by a value of another type or an extreme one, a field
// dropped, an id in the path replaced, the body cut short) go to the real binary; every answer
// must be a success or a 4xx with an OpenAI error body, and the server must still answer and
// exit cleanly afterwards. A release build once died on a chat request without "messages".
//
// Run: LLMP_BINARY=build/<preset>/llmplatform node --test test/node/malformed_requests.test.mjs
// (CTest: "node: malformed requests"). LLMP_FUZZ_REQUESTS (default 3000) and LLMP_FUZZ_SEED
// (default 1) widen or vary the run; a failure names the seed, the request and the answer.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launch, recentLog, stop } from '../support/llmplatform_process.mjs';

const BINARY = process.env.LLMP_BINARY;
if (!BINARY || !existsSync(BINARY)) {
  throw new Error(`LLMP_BINARY must name the llmplatform binary (got ${JSON.stringify(BINARY)})`);
}
const REQUESTS = Number(process.env.LLMP_FUZZ_REQUESTS || 3000);
const SEED = Number(process.env.LLMP_FUZZ_SEED || 1);
const ADMIN_KEY = 'malformed-admin-key-0123456789abc';  // 32+ characters
const T = { timeout: 300_000 };

const state = { dir: null, child: null, log: [], exit: null };
let root = '';

function createModels(dir) {
  const common = ['--layers', '2', '--hidden', '64', '--heads', '4', '--kv-heads', '2', '--ffn', '128'];
  const models = {
    chat: path.join(dir, 'chat.gguf'),
    embed: path.join(dir, 'embed.gguf'),
    rerank: path.join(dir, 'rerank.gguf'),
  };
  const create = (args) => execFileSync(BINARY, ['model', 'create-test', ...common, ...args], { stdio: 'pipe', timeout: 60_000 });
  create(['--arch', 'llama', '--format', 'gguf', '--vocab', '600', '--context', '512', '--out', models.chat]);
  create(['--arch', 'bert', '--format', 'gguf', '--pooling', 'mean', '--out', models.embed]);
  create(['--arch', 'bert', '--format', 'gguf', '--cross-encoder', '--out', models.rerank]);
  models['chat-canary'] = models.chat;  // a second served name, for a release's canary
  return models;
}

// mulberry32: a small seeded generator, so a failing run can be replayed with its seed.
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CHAT = [
  { model: 'chat', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }], max_tokens: 4 },
  { model: 'chat', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Well,' }], max_tokens: 3,
    continue_final_message: true, add_generation_prompt: false, parallel_tool_calls: false },
  { model: 'chat', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], max_tokens: 3, stream: true,
    stream_options: { include_usage: true } },
  { model: 'chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, logprobs: true, top_logprobs: 3, n: 2,
    temperature: 0.7, top_p: 0.9, seed: 5, stop: ['a', 'b'], presence_penalty: 0.5, frequency_penalty: 0.5,
    logit_bias: { 5: 10 }, min_p: 0.1, top_k: 5, repetition_penalty: 1.1, min_tokens: 1, stop_token_ids: [3] },
  { model: 'chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 6,
    response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {
      type: 'object', properties: { a: { type: 'integer', minimum: 0 }, b: { enum: ['x', 'y'] } }, required: ['a'] } } } },
  { model: 'chat', max_tokens: 6, tool_choice: 'required',
    messages: [{ role: 'user', content: 'hi' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: '42' }],
    tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }] },
];
const COMPLETIONS = [
  { model: 'chat', prompt: 'hello', max_tokens: 4, echo: true, logprobs: 2 },
  { model: 'chat', prompt: ['a', 'b'], max_tokens: 2, stream: true, n: 2 },
  { model: 'chat', prompt: [1, 2, 3], max_tokens: 2, guided_json: { type: 'array', items: { type: 'boolean' } } },
  { model: 'chat', prompt: 'Is it?', max_tokens: 8, guided_choice: ['yes', 'no', 'maybe not'] },
  { model: 'chat', prompt: 'Code:', max_tokens: 12, guided_regex: '[A-Z]{2}-\\d{3}' },
  { model: 'chat', prompt: 'Code:', max_tokens: 12, structured_outputs: { regex: '[a-z]{2,4}', disable_any_whitespace: true } },
  { model: 'chat', prompt: 'JSON:', max_tokens: 12, structured_outputs: { json: { type: 'object', properties: { a: { type: 'string', pattern: '^x+$', maxLength: 3 } } } } },
  { model: 'chat', prompt: 'JSON:', max_tokens: 12, json_schema: { type: 'array', items: { enum: [1, 'two', null] } } },
  { model: 'chat', prompt: 'a b c d e', max_tokens: 6, stop: ['a'], include_stop_str_in_output: true, skip_special_tokens: false, truncate_prompt_tokens: 2 },
  { model: 'chat', prompt: 'a b', max_tokens: 4, allowed_token_ids: [1, 2, 3, 4, 5], bad_words: ['a', 'b c'] },
  { model: 'chat', prompt: 'List:', max_tokens: 12, grammar: 'root ::= ("- " item "\\n"){1,3}\nitem ::= [a-z]+ (" " [a-z]+)?\n' },
  { model: 'chat', prompt: 'Nest:', max_tokens: 12, structured_outputs: { grammar: 'root ::= "(" in ")"\nin ::= ([a-c] | "(" in ")")*' } },
];
const INFERENCE = [
  ...CHAT.map((body) => ['POST', '/v1/chat/completions', body]),
  ...COMPLETIONS.map((body) => ['POST', '/v1/completions', body]),
  ['POST', '/v1/embeddings', { model: 'embed', input: ['hello', 'world'], encoding_format: 'base64', dimensions: 8 }],
  ['POST', '/v1/embeddings', { model: 'embed', input: [[1, 2, 3]] }],
  ['POST', '/v1/rerank', { model: 'rerank', query: 'q', documents: ['a', 'b'], top_n: 1, return_documents: true }],
  ['POST', '/tokenize', { model: 'chat', content: 'hello', add_special: true }],
  ['POST', '/detokenize', { model: 'chat', tokens: [5, 6, 7] }],
];
function adminSeeds(tenant, call) {
  return [
    ['POST', '/admin/v1/tenants', { name: 'acme' }],
    ['POST', `/admin/v1/tenants/${tenant}/projects`, { name: 'web' }],
    ['POST', `/admin/v1/tenants/${tenant}/keys`, { name: 'app', role: 'tenant_admin', models: ['chat'] }],
    ['PUT', '/admin/v1/limits', { subject: `tenant:${tenant}`, kind: 'requests_per_minute', limit: 1000 }],
    ['PUT', '/admin/v1/prices', { model: 'chat', input_per_million: 1.5, output_per_million: 2 }],
    ['PUT', '/admin/v1/releases/tiny', { stable: 'chat', canary: 'chat-canary', canary_weight: 50, auto_rollback: true, min_requests: 10 }],
    ['POST', '/admin/v1/releases/tiny/weight', { canary_weight: 20 }],
    ['PUT', `/admin/v1/tenants/${tenant}/capture`, { mode: 'redacted' }],
    ['POST', `/admin/v1/calls/${call}/scores`, { name: 'accuracy', value: 0.9, comment: 'ok' }],
    ['POST', `/v1/calls/${call}/feedback`, { score: true, comment: 'thanks' }],
  ];
}
// Values of every JSON type, empty and extreme ones.
const VALUES = [0, -1, 1, 2 ** 31, 2 ** 53, -(2 ** 63), 1e308, -1e308, 0.5, '', 'x'.repeat(3000), '\u0000\ud7ff', null, [], {},
  true, false, [1], [[]], { a: { b: [] } }, Array(50).fill('x'), 'chat'];
const PATH_VALUES = ['', 'x', '%2e%2e', '..', 'a'.repeat(300), '%ff', '0', '-1', '%00', 'a%2Fb', '%C3%A9', '%'];

// Every [parent, key] pair under `node`.
function slots(node, out = []) {
  if (node && typeof node === 'object') {
    for (const key of Object.keys(node)) {
      out.push([node, key]);
      slots(node[key], out);
    }
  }
  return out;
}

function mutate(seed, random) {
  const pick = (list) => list[Math.floor(random() * list.length)];
  let [method, url, body] = seed;
  body = structuredClone(body);
  if (url.includes('_') && random() < 0.15) {  // an id in the path
    const parts = url.split('/');
    const i = parts.findIndex((p) => p.includes('_'));
    parts[i] = pick(PATH_VALUES);
    url = parts.join('/');
  } else {
    for (let n = random() < 0.3 ? 2 : 1; n > 0; --n) {
      const all = slots(body);
      if (all.length === 0) break;
      const [parent, key] = pick(all);
      const r = random();
      if (r < 0.75) parent[key] = structuredClone(pick(VALUES));
      else if (Array.isArray(parent)) parent.push(structuredClone(pick(VALUES)));
      else delete parent[key];
    }
  }
  let text = JSON.stringify(body);
  const r = random();
  if (r < 0.04) text = text.slice(0, Math.floor(random() * text.length));  // cut short
  else if (r < 0.05) text = 'not json';
  return [method, url, text];
}

async function send(method, url, text, key = ADMIN_KEY) {
  const res = await fetch(root + url, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: method === 'GET' ? undefined : text,
    signal: AbortSignal.timeout(60_000),
  });
  return { status: res.status, text: await res.text() };
}

// Why an answer is not acceptable, or '' when it is.
function badAnswer({ status, text }) {
  if (status >= 500) return `status ${status}`;
  if (status >= 400) {
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      return `a ${status} whose body is not JSON`;
    }
    if (typeof body?.error?.message !== 'string' || typeof body?.error?.type !== 'string') {
      return `a ${status} without an OpenAI error body`;
    }
    return '';
  }
  if (text.startsWith('data: ') || text.startsWith('event: ')) {  // a stream
    const events = text.split('\n\n').filter((e) => e.startsWith('data: '));
    for (const e of events) {
      const data = e.slice(6);
      if (data === '[DONE]') continue;
      try {
        JSON.parse(data);
      } catch {
        return `a stream event that is not JSON: ${data.slice(0, 200)}`;
      }
    }
    if (events.at(-1) !== 'data: [DONE]' && !text.includes('"error"')) return 'a stream that ends without [DONE] or an error';
    return '';
  }
  try {
    JSON.parse(text);
  } catch {
    return `a ${status} whose body is not JSON`;
  }
  return '';
}

function describeRequest(index, method, url, text) {
  return `seed ${SEED}, request ${index}: ${method} ${url} ${text.slice(0, 600)}`;
}

describe('malformed requests', () => {
  let tenant = '';
  let call = '';

  before(async () => {
    state.dir = mkdtempSync(path.join(tmpdir(), 'llmp-malformed-'));
    const models = createModels(state.dir);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LLMP_')));
    Object.assign(env, { LLMP_ADMIN_KEY: ADMIN_KEY, LLMP_ENGINE_KV_CACHE_MB: '32', LLMP_SERVER_DRAIN_TIMEOUT_MS: '5000' });
    const args = ['--host', '127.0.0.1', '--port', '0', '--data-dir', path.join(state.dir, 'data'), '--log-level', 'info'];
    for (const [name, file] of Object.entries(models)) args.push('--model', `${name}=${file}`);
    root = `http://127.0.0.1:${await launch(state, BINARY, args, env)}`;
    const made = await send('POST', '/admin/v1/tenants', JSON.stringify({ name: 'fuzz' }));
    assert.equal(made.status, 201, made.text);
    tenant = JSON.parse(made.text).id;
    const answered = await send('POST', '/v1/chat/completions', JSON.stringify(CHAT[0]));
    assert.equal(answered.status, 200, answered.text);
    call = JSON.parse(answered.text).id;
    // Call records are written in batches: wait until this one can be scored.
    for (let tries = 0; (await send('GET', `/admin/v1/calls/${call}`)).status !== 200; ++tries) {
      assert.ok(tries < 100, `the call record ${call} did not appear within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  after(async () => {
    const exit = await stop(state, 15_000);
    if (state.dir) rmSync(state.dir, { recursive: true, force: true });
    if (exit && exit.code !== 0) assert.fail(`the server did not exit cleanly on SIGTERM: ${JSON.stringify(exit)}\n${recentLog(state)}`);
  });

  test('every seed request is served as it is', T, async () => {
    for (const [method, url, body] of [...INFERENCE, ...adminSeeds(tenant, call)]) {
      const res = await send(method, url, JSON.stringify(body));
      assert.ok(res.status < 300, `${method} ${url} ${JSON.stringify(body)}: ${res.status} ${res.text.slice(0, 400)}`);
    }
  });

  test('requests missing what they need are 400s naming it', T, async () => {
    const cases = [
      ['/v1/chat/completions', { model: 'chat', max_tokens: 4 }, 'messages'],
      ['/v1/chat/completions', { model: 'chat', messages: null }, 'messages'],
      ['/v1/chat/completions', { model: 'chat', messages: [] }, 'messages'],
      ['/v1/completions', { model: 'chat', max_tokens: 4 }, 'prompt'],
      ['/v1/embeddings', { model: 'embed' }, 'input'],
      ['/v1/rerank', { model: 'rerank', query: 'q' }, 'documents'],
    ];
    for (const [url, body, param] of cases) {
      const res = await send('POST', url, JSON.stringify(body));
      assert.equal(res.status, 400, `${url} ${JSON.stringify(body)}: ${res.text}`);
      assert.equal(JSON.parse(res.text).error.param, param, res.text);
    }
  });

  test('vLLM and OpenAI fields this server does not honour are refused, not ignored', T, async () => {
    const cases = [
      ['/v1/completions', { structural_tag: '<f>' }, 'structural_tag'],
      ['/v1/completions', { structured_outputs: { structural_tag: '<f>' } }, 'structured_outputs.structural_tag'],
      ['/v1/completions', { best_of: 3 }, 'best_of'],
      ['/v1/completions', { suffix: 'def' }, 'suffix'],
    ];
    for (const [url, extra, param] of cases) {
      const base = url.includes('chat') ? CHAT[0] : COMPLETIONS[0];
      const res = await send('POST', url, JSON.stringify({ ...base, ...extra }));
      assert.equal(res.status, 400, `${url} ${JSON.stringify(extra)}: ${res.text}`);
      assert.equal(JSON.parse(res.text).error.param, param, res.text);
    }
    const defaults = await send('POST', '/v1/completions', JSON.stringify({ ...COMPLETIONS[0], best_of: 1, suffix: null }));
    assert.equal(defaults.status, 200, defaults.text);
  });

  test(`${REQUESTS} mutated requests get a success or an OpenAI error, and the server stays up`, T, async (t) => {
    const random = generator(SEED);
    const seeds = [...INFERENCE, ...adminSeeds(tenant, call)];
    const requests = Array.from({ length: REQUESTS }, () => mutate(seeds[Math.floor(random() * seeds.length)], random));
    const statuses = {};
    let next = 0;
    // Four at a time, so mutated requests also share engine steps.
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < requests.length) {
        const index = next++;
        const [method, url, text] = requests[index];
        let res;
        try {
          res = await send(method, url, text);
        } catch (e) {
          assert.fail(`no answer (${e.message}) to ${describeRequest(index, method, url, text)}\n${recentLog(state)}`);
        }
        const why = badAnswer(res);
        if (why) assert.fail(`${why} for ${describeRequest(index, method, url, text)}\nanswer: ${res.text.slice(0, 600)}`);
        statuses[res.status] = (statuses[res.status] || 0) + 1;
      }
    }));
    // Mutations that keep a request valid must still be served: a run of only 4xx would mean
    // the seeds themselves are refused and nothing deeper is reached.
    t.diagnostic(`statuses: ${JSON.stringify(statuses)}`);
    assert.ok((statuses[200] || 0) + (statuses[201] || 0) > REQUESTS / 10, `statuses: ${JSON.stringify(statuses)}`);
    const health = await fetch(`${root}/healthz`);
    assert.equal(health.status, 200);
  });
});
