// Acceptance: the official `openai` npm package against the real binary. If the SDK cannot
// tell this server from OpenAI's (shapes, streaming, tools, n, logprobs, errors as its
// APIError subclasses), clients built on it work unchanged.
//
// Run: LLMP_BINARY=build/<preset>/llmplatform node --test test/node/openai_acceptance.test.mjs
// (CTest: "node: openai acceptance"). Needs test/node/node_modules (npm ci --prefix test/node).
//
// The models are generated here with seeded random weights, so their text is noise: the tests
// check shapes, counts, determinism (temperature 0, seeds), finish reasons, usage arithmetic,
// and outputs forced through logit_bias onto an added token (a tool call, say).
//
// Extra (vLLM-style) request fields such as `ignore_eos` go in the same params object: the
// SDK sends that object as the JSON body as it is.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launch, recentLog as logTail, stop } from '../support/llmplatform_process.mjs';

let sdk;
try {
  sdk = await import('openai');
} catch (e) {
  throw new Error(`the openai package is missing from test/node/node_modules (${e.message}): ` +
                  'run `npm ci --prefix test/node` (scripts/install-deps.sh --test does)');
}
const {
  default: OpenAI, APIError, APIUserAbortError, AuthenticationError, BadRequestError, ConflictError, InternalServerError,
  NotFoundError, PermissionDeniedError,
} = sdk;

const BINARY = process.env.LLMP_BINARY;
if (!BINARY || !existsSync(BINARY)) {
  throw new Error(`LLMP_BINARY must name the llmplatform binary (got ${JSON.stringify(BINARY)})`);
}

const ADMIN_KEY = 'acceptance-admin-key-0123456789a';  // 32 characters
const QWEN = 'qwen-test';     // chatml template; its added token is a Hermes <tool_call>
const LLAMA = 'llama-test';   // Llama 3 template (bos <|begin_of_text|>); its added token is a JSON call
const EMBED = 'bert-embed';
const RERANK = 'bert-rerank';
const VOCAB = 600;
const CONTEXT = 1024;
const MAX_BODY = 1024 * 1024;
const HIDDEN = 64;
const QWEN_TOOL_TEXT = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>';
const LLAMA_TOOL_TEXT = '{"name": "get_weather", "parameters": {"city": "Paris"}}';
const TOOLS = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}];
const ASK = [{ role: 'user', content: 'What is the capital of France?' }];
const T = { timeout: 60_000 };  // per test: a hung server fails one test, not the whole run

// ---------------------------------------------------------------------------------------------
// The server: started once with every model, stopped by its PID.

const state = { dir: null, child: null, port: 0, log: [], exit: null };

function runBinary(args) {
  execFileSync(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

function createModels(dir) {
  const common = ['--layers', '2', '--hidden', String(HIDDEN), '--heads', '4', '--kv-heads', '2', '--ffn', '128'];
  const decoder = [...common, '--vocab', String(VOCAB), '--context', String(CONTEXT)];
  const models = {
    [QWEN]: path.join(dir, 'qwen.gguf'),
    [LLAMA]: path.join(dir, 'llama-hf'),
    [EMBED]: path.join(dir, 'embed.gguf'),
    [RERANK]: path.join(dir, 'rerank-hf'),
  };
  const create = ['model', 'create-test'];
  runBinary([...create, '--arch', 'qwen2', '--format', 'gguf', ...decoder, '--added-token', QWEN_TOOL_TEXT, '--out', models[QWEN]]);
  runBinary([...create, '--arch', 'llama', '--format', 'hf', ...decoder, '--added-token', LLAMA_TOOL_TEXT, '--out', models[LLAMA]]);
  runBinary([...create, '--arch', 'bert', '--format', 'gguf', ...common, '--pooling', 'mean', '--out', models[EMBED]]);
  runBinary([...create, '--arch', 'bert', '--format', 'hf', ...common, '--cross-encoder', '--out', models[RERANK]]);
  return models;
}

function recentLog() {
  return logTail(state);
}

// Starts the server; resolves with its port once it logs "ready".
function startServer(models) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LLMP_')));
  Object.assign(env, {
    LLMP_ADMIN_KEY: ADMIN_KEY,
    LLMP_ENGINE_KV_CACHE_MB: '32',
    LLMP_SERVER_DRAIN_TIMEOUT_MS: '5000',
    LLMP_SERVER_MAX_BODY_BYTES: String(MAX_BODY),
  });
  const args = ['--host', '127.0.0.1', '--port', '0', '--data-dir', path.join(state.dir, 'data'), '--log-level', 'info'];
  for (const [name, file] of Object.entries(models)) args.push('--model', `${name}=${file}`);
  return launch(state, BINARY, args, env);
}

function stopServer() {
  return stop(state, 15_000);
}

process.on('exit', () => {
  if (state.child && !state.exit && state.child.exitCode === null) {
    try {
      process.kill(state.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Helpers

let client;   // the SDK, as an application would construct it
let root;     // http://127.0.0.1:PORT
const toolToken = {};  // model -> id of its added tool-call token

async function post(route, body, raw = false) {
  const res = await fetch(`${root}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: raw ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // left null: the caller asserts on it
  }
  return { status: res.status, json, text };
}

async function tokenize(model, content, addSpecial = true) {
  const r = await post('/tokenize', { model, content, add_special: addSpecial });
  assert.equal(r.status, 200, r.text);
  return r.json.tokens;
}

// Asserts that `promise` rejects with an SDK error of class `cls` and the given fields.
async function rejectsWith(promise, cls, fields = {}) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e?.constructor?.name}: ${e?.message}`);
    assert.ok(e instanceof APIError);
    for (const [k, v] of Object.entries(fields)) {
      if (v instanceof RegExp) assert.match(String(e[k]), v, `error.${k}`);
      else assert.equal(e[k], v, `error.${k} (message: ${e.message})`);
    }
    assert.equal(typeof e.error?.message, 'string', 'the body carries error.message');
    return true;
  });
}

function checkUsage(usage, { prompt, completion } = {}) {
  assert.equal(typeof usage.prompt_tokens, 'number');
  assert.equal(typeof usage.completion_tokens, 'number');
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens, 'total = prompt + completion');
  if (prompt !== undefined) assert.equal(usage.prompt_tokens, prompt, 'prompt_tokens');
  if (completion !== undefined) assert.equal(usage.completion_tokens, completion, 'completion_tokens');
  assert.equal(typeof usage.prompt_tokens_details?.cached_tokens, 'number', 'prompt_tokens_details.cached_tokens');
}

async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

// The chunks of one choice, its text, tool-call deltas, finish reason.
function choiceParts(chunks, index) {
  const mine = chunks.filter((c) => c.choices.length > 0 && c.choices[0].index === index).map((c) => c.choices[0]);
  return {
    choices: mine,
    content: mine.map((c) => c.delta?.content ?? '').join(''),
    text: mine.map((c) => c.text ?? '').join(''),
    toolDeltas: mine.flatMap((c) => c.delta?.tool_calls ?? []),
    finishes: mine.filter((c) => c.finish_reason !== null && c.finish_reason !== undefined).map((c) => c.finish_reason),
    logprobs: mine.flatMap((c) => c.logprobs?.content ?? []),
  };
}

// Tool-call deltas as OpenAI streams them (index; id, type and name once; arguments in pieces).
function assembleToolCalls(deltas) {
  const calls = [];
  for (const d of deltas) {
    assert.equal(typeof d.index, 'number', 'tool_calls[].index');
    calls[d.index] ??= { id: '', type: '', name: '', arguments: '' };
    const c = calls[d.index];
    if (d.id) c.id = d.id;
    if (d.type) c.type = d.type;
    if (d.function?.name) c.name += d.function.name;
    if (d.function?.arguments) c.arguments += d.function.arguments;
  }
  return calls;
}

async function metricsText() {
  const res = await fetch(`${root}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

// A sample of a Prometheus family for one model; undefined when the family is absent.
function metric(text, family, model) {
  const re = new RegExp(`^${family}\\{model="${model}"\\}\\s+(\\S+)$`, 'm');
  const m = text.match(re);
  return m ? Number(m[1]) : undefined;
}

async function sleep(ms) {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

// Polls (bounded) until the model has no running or waiting sequence; returns the metrics then.
async function engineIdle(model, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = await metricsText();
    const running = metric(text, 'llmp_engine_requests_running', model);
    const waiting = metric(text, 'llmp_engine_requests_waiting', model);
    if (running === 0 && (waiting ?? 0) === 0) return text;
    if (Date.now() > deadline) assert.fail(`${model} still has ${running} running / ${waiting} waiting after ${ms} ms`);
    await sleep(25);
  }
}

function isValidUtf8(bytes) {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------

describe('openai SDK acceptance', () => {
  before(async () => {
    state.dir = mkdtempSync(path.join(tmpdir(), 'llmp-openai-acceptance-'));
    const models = createModels(state.dir);
    state.port = await startServer(models);
    root = `http://127.0.0.1:${state.port}`;
    // The server runs with its default auth.mode ("keys"): the platform admin key may use the
    // inference API.
    client = new OpenAI({ baseURL: `${root}/v1`, apiKey: ADMIN_KEY, maxRetries: 0, timeout: 60_000 });
    for (const [model, text] of [[QWEN, QWEN_TOOL_TEXT], [LLAMA, LLAMA_TOOL_TEXT]]) {
      const ids = await tokenize(model, text, false);
      assert.equal(ids.length, 1, `${model}: the added tool-call text is one token`);
      assert.equal(ids[0], VOCAB - 1, `${model}: the only added token is the last id`);
      toolToken[model] = ids[0];
    }
  });

  after(async () => {
    const exit = await stopServer();
    if (state.dir) rmSync(state.dir, { recursive: true, force: true });
    if (exit && exit.code !== 0) assert.fail(`the server did not exit cleanly on SIGTERM: ${JSON.stringify(exit)}\n${recentLog()}`);
  });

  describe('models', () => {
    test('models.list names every served model', T, async () => {
      const ids = [];
      for await (const m of client.models.list()) {
        assert.equal(m.object, 'model');
        assert.equal(typeof m.created, 'number');
        assert.equal(typeof m.owned_by, 'string');
        ids.push(m.id);
      }
      assert.deepEqual(ids.sort(), [EMBED, RERANK, LLAMA, QWEN].sort());
    });

    test('models.retrieve returns one model', T, async () => {
      const m = await client.models.retrieve(QWEN);
      assert.equal(m.id, QWEN);
      assert.equal(m.object, 'model');
    });

    test('models.retrieve of a missing model is NotFoundError model_not_found', T, async () => {
      await rejectsWith(client.models.retrieve('no-such-model'), NotFoundError, { status: 404, code: 'model_not_found' });
    });
  });

  describe('chat completions', () => {
    test('non-streaming: shape, usage arithmetic, prompt count equals /tokenize of the messages', T, async () => {
      const { data: r, request_id: requestId } = await client.chat.completions
        .create({ model: QWEN, messages: ASK, max_tokens: 8, temperature: 0 }).withResponse();
      assert.match(r.id, /^chatcmpl-/);
      assert.equal(r.object, 'chat.completion');
      assert.equal(r.model, QWEN);
      assert.equal(typeof r.created, 'number');
      assert.equal(typeof requestId, 'string', 'x-request-id reaches the SDK');
      assert.equal(r.choices.length, 1);
      const c = r.choices[0];
      assert.equal(c.index, 0);
      assert.equal(c.message.role, 'assistant');
      assert.equal(typeof c.message.content, 'string');
      assert.equal(c.logprobs, null);
      assert.ok(['stop', 'length'].includes(c.finish_reason), c.finish_reason);
      const counted = await post('/tokenize', { model: QWEN, messages: ASK });
      checkUsage(r.usage, { prompt: counted.json.count });
      assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 8);
      if (c.finish_reason === 'length') assert.equal(r.usage.completion_tokens, 8);
    });

    test('streaming: role first, content deltas, finish_reason last, usage chunk; same text as non-streaming', T, async () => {
      const params = { model: QWEN, messages: ASK, max_tokens: 12, temperature: 0, ignore_eos: true };
      const whole = await client.chat.completions.create(params);
      const chunks = await collect(await client.chat.completions.create({
        ...params, stream: true, stream_options: { include_usage: true },
      }));
      assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
      const id = chunks[0].id;
      for (const c of chunks) {
        assert.equal(c.object, 'chat.completion.chunk');
        assert.equal(c.id, id, 'one id for every chunk');
        assert.equal(c.model, QWEN);
      }
      const usageChunk = chunks.at(-1);
      assert.deepEqual(usageChunk.choices, [], 'the usage chunk has no choices');
      checkUsage(usageChunk.usage, { prompt: whole.usage.prompt_tokens, completion: 12 });
      for (const c of chunks.slice(0, -1)) assert.equal(c.usage ?? null, null, 'usage only on the last chunk');
      const parts = choiceParts(chunks, 0);
      assert.equal(parts.choices[0].delta.role, 'assistant', 'the first delta carries the role');
      assert.ok(parts.choices.slice(1).every((c) => c.delta.role === undefined), 'the role is sent once');
      assert.deepEqual(parts.finishes, ['length']);
      assert.equal(parts.choices.at(-1).finish_reason, 'length', 'finish_reason on the last choice chunk');
      assert.equal(parts.content, whole.choices[0].message.content);
    });

    test('predicted outputs (prediction): the same message, streamed or whole; usage counts the prediction', T, async () => {
      const params = { model: QWEN, messages: ASK, max_tokens: 16, temperature: 0, ignore_eos: true };
      const plain = await client.chat.completions.create(params);
      assert.equal(plain.usage.completion_tokens_details, undefined, 'no prediction, no details');
      const prediction = { type: 'content', content: plain.choices[0].message.content };
      const predicted = await client.chat.completions.create({ ...params, prediction });
      assert.equal(predicted.choices[0].message.content, plain.choices[0].message.content);
      checkUsage(predicted.usage, { prompt: plain.usage.prompt_tokens, completion: 16 });
      const details = predicted.usage.completion_tokens_details;
      assert.ok(details.accepted_prediction_tokens > 0, JSON.stringify(details));
      assert.equal(typeof details.rejected_prediction_tokens, 'number');
      const chunks = await collect(await client.chat.completions.create({
        ...params, prediction, stream: true, stream_options: { include_usage: true },
      }));
      assert.equal(choiceParts(chunks, 0).content, plain.choices[0].message.content);
      assert.deepEqual(chunks.at(-1).usage.completion_tokens_details, details);
      await assert.rejects(client.chat.completions.create({ ...params, prediction: { type: 'content', content: 5 } }),
        (e) => e.status === 400 && e.param === 'prediction');
    });

    test('streaming without stream_options sends no usage', T, async () => {
      const chunks = await collect(await client.chat.completions.create({ model: QWEN, messages: ASK, max_tokens: 3, stream: true }));
      assert.ok(chunks.every((c) => c.choices.length === 1 && c.usage == null));
    });

    test('the SDK stream helper assembles the same message (chat.completions.stream)', T, async () => {
      const params = { model: LLAMA, messages: ASK, max_tokens: 10, temperature: 0, ignore_eos: true };
      const whole = await client.chat.completions.create(params);
      const stream = client.chat.completions.stream(params);
      const final = await stream.finalChatCompletion();
      assert.equal(final.choices[0].message.content, whole.choices[0].message.content);
      assert.equal(final.choices[0].finish_reason, 'length');
    });

    test('a repeated long prompt reports cached_tokens > 0', T, async () => {
      const long = Array.from({ length: 8 }, (_, i) => `Sentence number ${i} of a long shared prefix.`).join(' ');
      const messages = [{ role: 'system', content: long }, { role: 'user', content: 'Go on.' }];
      const first = await client.chat.completions.create({ model: LLAMA, messages, max_tokens: 2 });
      const second = await client.chat.completions.create({ model: LLAMA, messages, max_tokens: 2 });
      checkUsage(first.usage);
      checkUsage(second.usage, { prompt: first.usage.prompt_tokens });
      assert.ok(first.usage.prompt_tokens > 64, `a long prompt (${first.usage.prompt_tokens} tokens)`);
      const cached = second.usage.prompt_tokens_details.cached_tokens;
      assert.ok(cached > 0, 'the second request hits the prefix cache');
      assert.ok(cached < second.usage.prompt_tokens, 'at least the last prompt token is computed');
    });

    test('n = 3 gives three choices with distinct indices; usage counts the prompt once', T, async () => {
      const r = await client.chat.completions.create({
        model: QWEN, messages: ASK, n: 3, max_tokens: 5, temperature: 1, seed: 7, ignore_eos: true,
      });
      assert.deepEqual(r.choices.map((c) => c.index).sort(), [0, 1, 2]);
      for (const c of r.choices) {
        assert.equal(c.finish_reason, 'length');
        assert.equal(typeof c.message.content, 'string');
      }
      const counted = await post('/tokenize', { model: QWEN, messages: ASK });
      checkUsage(r.usage, { prompt: counted.json.count, completion: 15 });
    });

    test('n = 3 streaming: every index gets its role first and one finish_reason', T, async () => {
      const chunks = await collect(await client.chat.completions.create({
        model: QWEN, messages: ASK, n: 3, max_tokens: 4, temperature: 1, seed: 3, ignore_eos: true,
        stream: true, stream_options: { include_usage: true },
      }));
      for (const i of [0, 1, 2]) {
        const parts = choiceParts(chunks, i);
        assert.equal(parts.choices[0].delta.role, 'assistant', `choice ${i}: role first`);
        assert.deepEqual(parts.finishes, ['length'], `choice ${i}: one finish_reason`);
      }
      assert.deepEqual(new Set(chunks.filter((c) => c.choices.length).map((c) => c.choices[0].index)), new Set([0, 1, 2]));
      checkUsage(chunks.at(-1).usage, { completion: 12 });
    });

    test('seed + temperature 0.8 reproduces exactly; other seeds vary', T, async () => {
      const ask = (seed) => client.chat.completions.create({
        model: QWEN, messages: ASK, max_tokens: 16, temperature: 0.8, seed, ignore_eos: true,
      }).then((r) => r.choices[0].message.content);
      const a = await ask(42);
      const b = await ask(42);
      assert.equal(a, b, 'the same seed gives the same text');
      const others = new Set([a]);
      for (const seed of [1, 2, 3, 4]) others.add(await ask(seed));
      assert.ok(others.size >= 2, 'different seeds give different samples');
    });

    test('temperature 0 is deterministic (both templates)', T, async () => {
      for (const model of [QWEN, LLAMA]) {
        const params = { model, messages: ASK, max_tokens: 16, temperature: 0, ignore_eos: true };
        const a = await client.chat.completions.create(params);
        const b = await client.chat.completions.create(params);
        assert.equal(a.choices[0].message.content, b.choices[0].message.content, model);
      }
    });

    // A greedy output, and a stop string from its middle, of plain characters.
    const stopInGreedyOutput = async (params) => {
      const full = (await client.chat.completions.create(params)).choices[0].message.content;
      const chars = Array.from(full);
      let at = Math.floor(chars.length / 3);
      while (at < chars.length - 2 && !/^[\p{L}\p{N}\p{P} ]{2}$/u.test(chars.slice(at, at + 2).join(''))) ++at;
      assert.ok(at < chars.length - 2, `no usable stop string in ${JSON.stringify(full)}`);
      return { full, stop: chars.slice(at, at + 2).join('') };
    };

    test('stop strings end the output before the stop text, finish_reason stop (streaming too)', T, async () => {
      const params = { model: LLAMA, messages: ASK, max_tokens: 24, temperature: 0, ignore_eos: true };
      const { full, stop } = await stopInGreedyOutput(params);
      const expected = full.slice(0, full.indexOf(stop));
      const r = await client.chat.completions.create({ ...params, stop: [stop, 'never-appears'] });
      assert.equal(r.choices[0].message.content, expected, `stop ${JSON.stringify(stop)}`);
      assert.equal(r.choices[0].finish_reason, 'stop');
      assert.equal(r.choices[0].stop_reason, stop, "vLLM's stop_reason: the stop string");
      assert.ok(r.usage.completion_tokens < 24);
      const parts = choiceParts(await collect(await client.chat.completions.create({ ...params, stop, stream: true })), 0);
      assert.equal(parts.content, expected);
      assert.deepEqual(parts.finishes, ['stop']);
      assert.equal(parts.choices.at(-1).stop_reason, stop);
    });

    test("vLLM's include_stop_str_in_output keeps the stop string; skip_special_tokens false writes control tokens", T, async () => {
      const params = { model: LLAMA, messages: ASK, max_tokens: 24, temperature: 0, ignore_eos: true };
      const { full, stop } = await stopInGreedyOutput(params);
      const r = await client.chat.completions.create({ ...params, stop, include_stop_str_in_output: true });
      assert.equal(r.choices[0].message.content, full.slice(0, full.indexOf(stop) + stop.length));
      assert.equal(r.choices[0].finish_reason, 'stop');
      const parts = choiceParts(await collect(await client.chat.completions.create(
        { ...params, stop, include_stop_str_in_output: true, stream: true })), 0);
      assert.equal(parts.content, r.choices[0].message.content);

      // The bos token, forced: written only when special tokens are not skipped.
      const t = await post('/tokenize', { model: LLAMA, content: 'Hi', add_special: true, with_pieces: true });
      const bos = t.json.tokens[0];
      const forced = { model: LLAMA, prompt: 'x', max_tokens: 2, temperature: 0, ignore_eos: true, logit_bias: { [bos.id]: 100 } };
      const skipped = (await client.completions.create(forced)).choices[0].text;
      const written = (await client.completions.create({ ...forced, skip_special_tokens: false })).choices[0].text;
      assert.equal(skipped, '');
      assert.equal(written, bos.piece.repeat(2));
      await rejectsWith(client.completions.create({ ...forced, skip_special_tokens: 'no' }), BadRequestError,
        { param: 'skip_special_tokens' });
    });

    test("vLLM's allowed_token_ids and bad_words narrow what is sampled", T, async () => {
      const t = await post('/tokenize', { model: QWEN, content: 'Hello world', add_special: false, with_pieces: true });
      const [a, b] = t.json.tokens;
      const only = await client.completions.create({ model: QWEN, prompt: 'x', max_tokens: 6, temperature: 1, seed: 3, ignore_eos: true,
        allowed_token_ids: [a.id, b.id] });
      assert.match(only.choices[0].text, new RegExp(`^(?:${[a.piece, b.piece].map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})+$`),
        JSON.stringify(only.choices[0].text));
      // Of those two, one barred as a word: only the other is left.
      const greedy = { model: QWEN, prompt: 'x', max_tokens: 4, temperature: 0, ignore_eos: true };
      const barred = await client.completions.create({ ...greedy, allowed_token_ids: [a.id, b.id], bad_words: [a.piece] });
      assert.equal(barred.choices[0].text, b.piece.repeat(4));
      for (const [extra, param] of [[{ allowed_token_ids: 'x' }, 'allowed_token_ids'], [{ allowed_token_ids: [-1] }, 'allowed_token_ids'],
                                    [{ bad_words: [''] }, 'bad_words'], [{ bad_words: 'word' }, 'bad_words'],
                                    [{ allowed_token_ids: [a.id], bad_words: [a.piece] }, 'bad_words']]) {
        await rejectsWith(client.completions.create({ ...greedy, ...extra }), BadRequestError, { param });
      }
      // A two-token bad word made of the one allowed token leaves nothing after the first: the
      // stream ends with an OpenAI error event, which the SDK raises with its message.
      const pair = await tokenize(QWEN, a.piece + a.piece, false);
      assert.deepEqual(pair, [a.id, a.id], `"${a.piece}" twice tokenises as itself twice`);
      const stuck = { ...greedy, allowed_token_ids: [a.id], bad_words: [a.piece + a.piece] };
      await rejectsWith(client.completions.create(stuck), BadRequestError, { status: 400, message: /leave no token to sample/ });
      await assert.rejects(collect(await client.completions.create({ ...stuck, stream: true })), (e) => {
        assert.ok(e instanceof APIError, `${e?.constructor?.name}: ${e?.message}`);
        assert.match(e.message, /leave no token to sample/);
        return true;
      });
    });

    test("vLLM's continue_final_message goes on writing the last message; truncate_prompt_tokens keeps a prompt's end", T, async () => {
      const messages = [{ role: 'user', content: 'Finish my sentence.' }, { role: 'assistant', content: 'The answer is' }];
      const open = await post('/apply-template', { model: LLAMA, messages, continue_final_message: true });
      assert.equal(open.status, 200, open.text);
      assert.ok(open.json.prompt.endsWith('The answer is'), JSON.stringify(open.json.prompt));
      const closed = await post('/apply-template', { model: LLAMA, messages, add_generation_prompt: false });
      assert.ok(closed.json.prompt.startsWith(open.json.prompt) && closed.json.prompt.length > open.json.prompt.length);
      const r = await client.chat.completions.create({ model: LLAMA, messages, continue_final_message: true, max_tokens: 4,
        add_generation_prompt: false });
      assert.equal(r.choices[0].finish_reason, 'length');
      for (const [extra, param] of [[{ add_generation_prompt: true }, 'continue_final_message'],
                                    [{ messages: [{ role: 'user', content: '' }] }, 'continue_final_message'],
                                    [{ continue_final_message: 1 }, 'continue_final_message']]) {
        await rejectsWith(client.chat.completions.create({ model: LLAMA, messages, continue_final_message: true, max_tokens: 2, ...extra }),
          BadRequestError, { param });
      }

      const ids = (await post('/tokenize', { model: QWEN, content: 'one two three four five six seven', add_special: false })).json.tokens;
      const c = await client.completions.create({ model: QWEN, prompt: ids, max_tokens: 1, echo: true, truncate_prompt_tokens: 3 });
      assert.equal(c.usage.prompt_tokens, 3);
      const tail = (await post('/detokenize', { model: QWEN, tokens: ids.slice(-3) })).json.prompt;
      assert.ok(c.choices[0].text.startsWith(tail), `${JSON.stringify(c.choices[0].text)} after ${JSON.stringify(tail)}`);
      for (const bad of [0, -2, 'x']) {
        await rejectsWith(client.completions.create({ model: QWEN, prompt: 'x', max_tokens: 1, truncate_prompt_tokens: bad }),
          BadRequestError, { param: 'truncate_prompt_tokens' });
      }
    });

    test('max_tokens and max_completion_tokens end with finish_reason length at exactly that count', T, async () => {
      for (const field of ['max_tokens', 'max_completion_tokens']) {
        const r = await client.chat.completions.create({ model: QWEN, messages: ASK, [field]: 7, ignore_eos: true });
        assert.equal(r.choices[0].finish_reason, 'length', field);
        assert.equal(r.choices[0].stop_reason, null, field);
        assert.equal(r.usage.completion_tokens, 7, field);
      }
    });

    test('logprobs + top_logprobs: one entry per token, sorted alternatives, greedy picks the best', T, async () => {
      const r = await client.chat.completions.create({
        model: QWEN, messages: ASK, max_tokens: 6, temperature: 0, ignore_eos: true, logprobs: true, top_logprobs: 3,
      });
      const content = r.choices[0].logprobs.content;
      assert.equal(content.length, r.usage.completion_tokens);
      assert.equal(content.length, 6);
      for (const lp of content) {
        assert.equal(typeof lp.token, 'string');
        assert.ok(Number.isFinite(lp.logprob) && lp.logprob <= 0, `logprob ${lp.logprob}`);
        assert.ok(Array.isArray(lp.bytes) && lp.bytes.length > 0 && lp.bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256));
        if (isValidUtf8(lp.bytes)) assert.equal(Buffer.from(lp.bytes).toString('utf8'), lp.token, 'bytes spell the token');
        assert.equal(lp.top_logprobs.length, 3);
        for (let k = 1; k < 3; ++k) assert.ok(lp.top_logprobs[k - 1].logprob >= lp.top_logprobs[k].logprob, 'sorted');
        assert.deepEqual(lp.top_logprobs[0].bytes, lp.bytes, 'temperature 0 samples the most likely token');
        assert.ok(Math.abs(lp.top_logprobs[0].logprob - lp.logprob) < 1e-6);
      }
      const plain = await client.chat.completions.create({ model: QWEN, messages: ASK, max_tokens: 2 });
      assert.equal(plain.choices[0].logprobs, null, 'no logprobs unless asked');
    });

    test('logprobs streaming: the chunks carry one entry per generated token', T, async () => {
      const chunks = await collect(await client.chat.completions.create({
        model: QWEN, messages: ASK, max_tokens: 5, temperature: 0, ignore_eos: true, logprobs: true, top_logprobs: 2,
        stream: true,
      }));
      const lps = choiceParts(chunks, 0).logprobs;
      assert.equal(lps.length, 5);
      for (const lp of lps) assert.equal(lp.top_logprobs.length, 2);
    });

    test('response_format of an unknown type is BadRequestError naming response_format', T, async () => {
      await rejectsWith(client.chat.completions.create({ model: QWEN, messages: ASK, response_format: { type: 'yaml' } }),
                         BadRequestError, { status: 400, param: 'response_format' });
    });

    test('response_format json_object gives a JSON object', T, async () => {
      const r = await client.chat.completions.create({
        model: QWEN, messages: [{ role: 'user', content: 'Answer in JSON.' }], max_tokens: 200, temperature: 0,
        response_format: { type: 'json_object' },
      });
      const c = r.choices[0];
      // Noise under a JSON grammar may not close the object within max_tokens; it must still
      // be JSON from its first character.
      if (c.finish_reason === 'length') {
        assert.match(c.message.content, /^\s*\{/, JSON.stringify(c.message.content));
      } else {
        assert.equal(c.finish_reason, 'stop');
        const value = JSON.parse(c.message.content);
        assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), c.message.content);
      }
    });

    const CITY_SCHEMA = {
      type: 'json_schema',
      json_schema: {
        name: 'city', strict: true,
        schema: {
          type: 'object', additionalProperties: false, required: ['city'],
          properties: { city: { type: 'string', enum: ['Paris', 'Berlin'] } },
        },
      },
    };

    test('response_format json_schema gives an instance of the schema', T, async () => {
      const r = await client.chat.completions.create({
        model: LLAMA, messages: ASK, max_tokens: 100, temperature: 0, response_format: CITY_SCHEMA,
      });
      assert.equal(r.choices[0].finish_reason, 'stop', JSON.stringify(r.choices[0].message.content));
      const value = JSON.parse(r.choices[0].message.content);
      assert.deepEqual(Object.keys(value), ['city']);
      assert.ok(['Paris', 'Berlin'].includes(value.city));
    });

    test('response_format json_schema streaming: the deltas join into an instance', T, async () => {
      const parts = choiceParts(await collect(await client.chat.completions.create({
        model: QWEN, messages: ASK, max_tokens: 100, temperature: 0.7, seed: 5, response_format: CITY_SCHEMA, stream: true,
      })), 0);
      assert.deepEqual(parts.finishes, ['stop']);
      assert.ok(['Paris', 'Berlin'].includes(JSON.parse(parts.content).city));
    });
    test('json_schema with n = 2 and seeded sampling: every choice is an instance', T, async () => {
      const r = await client.chat.completions.create({
        model: LLAMA, messages: ASK, max_tokens: 100, temperature: 1, seed: 11, n: 2, response_format: CITY_SCHEMA,
      });
      assert.equal(r.choices.length, 2);
      for (const c of r.choices) {
        assert.equal(c.finish_reason, 'stop', c.message.content);
        assert.ok(['Paris', 'Berlin'].includes(JSON.parse(c.message.content).city), c.message.content);
      }
    });

    test('completions accept response_format and guided_json (vLLM) too', T, async () => {
      const schema = { type: 'object', properties: { n: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['n'], additionalProperties: false };
      for (const extra of [{ response_format: { type: 'json_schema', json_schema: { name: 'n', schema } } }, { guided_json: schema }]) {
        const r = await client.completions.create({ model: QWEN, prompt: 'A number:', max_tokens: 60, temperature: 0.8, seed: 3, ...extra });
        assert.equal(r.choices[0].finish_reason, 'stop', r.choices[0].text);
        const n = JSON.parse(r.choices[0].text).n;
        assert.ok(Number.isInteger(n) && n >= 1 && n <= 9, r.choices[0].text);
      }
    });

    test('a schema with pattern, and lengths beside it: every string matches, at an allowed length (JavaScript as the judge)', T, async () => {
      const fields = {
        sku: { pattern: '^[A-Z]{2}-\\d{3}$' },
        tag: { pattern: '^#[a-z]+(?:-[a-z]+)?$' },
        note: { pattern: '^[^\\d]{1,6}!$' },
        slug: { pattern: '^[a-z]+(-[a-z]+)*$', minLength: 3, maxLength: 10 },
        ref: { pattern: '\\d', minLength: 4 },
        mail: { format: 'email', maxLength: 12 },
      };
      const schema = { type: 'object', additionalProperties: false, required: Object.keys(fields),
        properties: Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, { type: 'string', ...f }])) };
      for (const seed of [1, 2, 3]) {
        const r = await client.chat.completions.create({ model: LLAMA, messages: ASK, max_tokens: 900, temperature: 1, seed,
          response_format: { type: 'json_schema', json_schema: { name: 'p', schema } } });
        assert.equal(r.choices[0].finish_reason, 'stop', r.choices[0].message.content);
        const value = JSON.parse(r.choices[0].message.content);
        for (const [k, f] of Object.entries(fields)) {
          const length = [...value[k]].length;  // code points, as JSON Schema counts
          if (f.pattern) assert.match(value[k], new RegExp(f.pattern), `${k}: ${value[k]}`);
          if (f.format) assert.match(value[k], /^[^@\s]+@[^@\s]+\.[^@\s]+$/, `${k}: ${value[k]}`);
          assert.ok(length >= (f.minLength ?? 0) && length <= (f.maxLength ?? Infinity), `${k}: ${value[k]} (${length} characters)`);
        }
      }
    });

    test('guided_choice (vLLM): every choice is exactly one of the strings, chat and completions, streaming too', T, async () => {
      const choices = ['positive', 'negative', 'neutral', 'not sure', 'pos'];  // 'pos' is a prefix of one
      const seen = new Set();
      for (const seed of [1, 2, 3]) {
        const common = { max_tokens: 40, temperature: 1, seed, n: 3, guided_choice: choices };
        const completion = await client.completions.create({ model: QWEN, prompt: 'Sentiment:', ...common });
        const chat = await client.chat.completions.create({ model: LLAMA, messages: ASK, ...common });
        const texts = [...completion.choices.map((c) => c.text), ...chat.choices.map((c) => c.message.content)];
        for (const c of [...completion.choices, ...chat.choices]) assert.equal(c.finish_reason, 'stop');
        for (const text of texts) {
          assert.ok(choices.includes(text), JSON.stringify(text));
          seen.add(text);
        }
      }
      assert.ok(seen.size >= 2, `a random model picks more than one choice: ${[...seen]}`);
      const chunks = await collect(await client.chat.completions.create(
        { model: LLAMA, messages: ASK, max_tokens: 40, seed: 4, guided_choice: choices, stream: true }));
      assert.ok(choices.includes(choiceParts(chunks, 0).content), choiceParts(chunks, 0).content);
    });

    test('guided_regex (vLLM): the whole output matches, chat and completions, streaming too; bad regexes are BadRequestError', T, async () => {
      const regex = '(?:SKU|REF)-\\d{3}( "[a-z]{1,4}")?\\n?';
      const whole = new RegExp(`^(?:${regex})$`);
      for (const seed of [1, 2, 3]) {
        const common = { max_tokens: 60, temperature: 1, seed, n: 2, guided_regex: regex };
        const completion = await client.completions.create({ model: QWEN, prompt: 'Code:', ...common });
        const chat = await client.chat.completions.create({ model: LLAMA, messages: ASK, ...common });
        for (const c of completion.choices) assert.match(c.text, whole, JSON.stringify(c.text));
        for (const c of chat.choices) assert.match(c.message.content, whole, JSON.stringify(c.message.content));
      }
      const chunks = await collect(await client.chat.completions.create(
        { model: LLAMA, messages: ASK, max_tokens: 60, seed: 4, guided_regex: regex, stream: true }));
      assert.match(choiceParts(chunks, 0).content, whole);
      for (const bad of ['(?=a)b', 'a{0}', 5]) {
        await rejectsWith(client.completions.create({ model: QWEN, prompt: 'x', guided_regex: bad }), BadRequestError,
          { param: 'guided_regex' });
      }
    });

    test('guided_choice that is not a non-empty array of strings, or beside response_format, is BadRequestError', T, async () => {
      for (const guided of [[], ['a', 3], 'yes', ['a', '']]) {
        await rejectsWith(client.completions.create({ model: QWEN, prompt: 'x', guided_choice: guided }), BadRequestError,
          { param: 'guided_choice' });
      }
      await rejectsWith(client.completions.create({ model: QWEN, prompt: 'x', guided_choice: ['a'], guided_json: { type: 'object' } }),
        BadRequestError, { param: 'guided_choice', message: /give one of 'guided_json' and 'guided_choice'/ });
    });

    test("vLLM's structured_outputs and llama-server's json_schema and response_format schema constrain the output", T, async () => {
      const schema = { type: 'object', properties: { city: { type: 'string', maxLength: 12 }, days: { type: 'integer', minimum: 1, maximum: 9 } },
                       required: ['city', 'days'], additionalProperties: false };
      const valid = (text) => {
        const v = JSON.parse(text);
        assert.deepEqual(Object.keys(v), ['city', 'days'], text);
        assert.ok(typeof v.city === 'string' && [...v.city].length <= 12 && Number.isInteger(v.days) && v.days >= 1 && v.days <= 9, text);
      };
      // Whitespace outside strings, in a JSON text.
      const looseWhitespace = (text) => text.replace(/"(?:[^"\\]|\\.)*"/g, '""').match(/\s/) !== null;
      for (const seed of [1, 2]) {
        const ask = { model: LLAMA, messages: ASK, max_tokens: 200, temperature: 1, seed };
        for (const extra of [{ structured_outputs: { json: schema } }, { structured_outputs: { json: JSON.stringify(schema) } },
                             { json_schema: schema }, { response_format: { type: 'json_object', schema } }]) {
          const r = await client.chat.completions.create({ ...ask, ...extra });
          assert.equal(r.choices[0].finish_reason, 'stop', JSON.stringify(extra));
          valid(r.choices[0].message.content);
        }
        // Options apply to whichever JSON constraint is given (vLLM folds response_format in).
        for (const extra of [{ structured_outputs: { json: schema, disable_any_whitespace: true } },
                             { response_format: { type: 'json_schema', json_schema: { name: 'p', schema } },
                               structured_outputs: { disable_any_whitespace: true, structural_tag: {} } }]) {
          const compact = await client.chat.completions.create({ ...ask, ...extra });
          valid(compact.choices[0].message.content);
          assert.ok(!looseWhitespace(compact.choices[0].message.content), compact.choices[0].message.content);
        }
        const object = await client.completions.create({ model: QWEN, prompt: 'x', max_tokens: 200, temperature: 1, seed,
          structured_outputs: { json_object: true, disable_any_whitespace: true } });
        if (object.choices[0].finish_reason === 'stop') {
          assert.equal(typeof JSON.parse(object.choices[0].text), 'object');
          assert.ok(!looseWhitespace(object.choices[0].text), object.choices[0].text);
        }
        const choice = await client.completions.create({ model: QWEN, prompt: 'x', max_tokens: 20, temperature: 1, seed,
          structured_outputs: { choice: ['red', 'green', 'blue'] } });
        assert.ok(['red', 'green', 'blue'].includes(choice.choices[0].text), choice.choices[0].text);
        const regex = await client.completions.create({ model: QWEN, prompt: 'x', max_tokens: 20, temperature: 1, seed,
          structured_outputs: { regex: '[A-Z]{2}-\\d{3}' } });
        assert.match(regex.choices[0].text, /^[A-Z]{2}-\d{3}$/);
      }
      // Options alone constrain nothing.
      const free = await client.completions.create({ model: QWEN, prompt: 'x', max_tokens: 4, structured_outputs: { disable_fallback: true } });
      assert.equal(free.choices.length, 1);
      for (const [extra, param] of [
        [{ structured_outputs: { structural_tag: { type: 'structural_tag' } } }, 'structured_outputs.structural_tag'],
        [{ structured_outputs: { regex: 'a', choice: ['a'] } }, 'structured_outputs'],
        [{ structured_outputs: { json: 5 } }, 'structured_outputs.json'],
        [{ structured_outputs: { choice: ['a'], disable_any_whitespace: 'yes' } }, 'structured_outputs.disable_any_whitespace'],
        [{ structured_outputs: 'json' }, 'structured_outputs'],
        [{ structured_outputs: { regex: 'a' }, guided_regex: 'b' }, 'guided_regex'],
        [{ json_schema: { type: 'object', properties: { x: { not: {} } } } }, 'json_schema'],
        [{ guided_whitespace_pattern: ' ?' }, 'guided_whitespace_pattern'],
      ]) {
        await rejectsWith(client.completions.create({ model: QWEN, prompt: 'x', max_tokens: 4, ...extra }), BadRequestError, { param });
      }
    });

    test("GBNF grammars: llama-server's grammar, vLLM's guided_grammar and structured_outputs.grammar", T, async () => {
      // A reading with a unit, then an optional note: text the grammar, and only it, matches.
      const gbnf = 'root ::= reading (" # " note)?\n' +
                   'reading ::= "{\\"temp\\": " "-"? [0-9]{1,2} ", \\"unit\\": \\"" ("C" | "F") "\\"}"\n' +
                   'note ::= [a-z ]{1,12} "."\n';
      const sentence = /^\{"temp": -?\d{1,2}, "unit": "[CF]"\}(?: # [a-z ]{1,12}\.)?$/;
      const maskBytes = async () => Number((await metricsText()).match(/^llmp_grammar_mask_bytes (\d+)$/m)?.[1]);
      const masksBefore = await maskBytes();
      for (const seed of [1, 2, 3]) {
        for (const extra of [{ grammar: gbnf }, { guided_grammar: gbnf }, { structured_outputs: { grammar: gbnf } }]) {
          const r = await client.completions.create({ model: QWEN, prompt: 'x', max_tokens: 60, temperature: 1, seed, ...extra });
          assert.equal(r.choices[0].finish_reason, 'stop', JSON.stringify(r.choices[0]));
          assert.match(r.choices[0].text, sentence);
          const reading = JSON.parse(r.choices[0].text.split(' # ')[0]);
          assert.ok(['C', 'F'].includes(reading.unit));
        }
        // Chat, streamed: the pieces make the same kind of sentence.
        const chunks = await collect(await client.chat.completions.create({ model: LLAMA, messages: ASK, max_tokens: 60,
          temperature: 1, seed, stream: true, grammar: gbnf }));
        const parts = choiceParts(chunks, 0);
        assert.match(parts.content, sentence);
        assert.equal(parts.choices.at(-1).finish_reason, 'stop');
      }
      // The masks this grammar cached show in /metrics (well under the budget, nothing dropped).
      const masksAfter = await maskBytes();
      assert.ok(masksAfter > masksBefore, `llmp_grammar_mask_bytes ${masksBefore} -> ${masksAfter}`);
      // llama-server's empty grammar is none.
      const free = await client.completions.create({ model: QWEN, prompt: 'x', max_tokens: 4, grammar: '' });
      assert.equal(free.choices[0].finish_reason, 'length');
      for (const [extra, param, message] of [
        [{ grammar: 'root ::= ("a" "b"\n' }, 'grammar', /line 1, column 10 \(byte 9\): unclosed '\('/],
        [{ guided_grammar: 'root ::= x\n' }, 'guided_grammar', /rule 'x' is used but never defined/],
        [{ structured_outputs: { grammar: 'root ::= root "a" | "b"' } }, 'structured_outputs.grammar', /left-recursive/],
        [{ grammar: 5 }, 'grammar', /must be a GBNF grammar/],
        [{ grammar: 'root ::= "a"', guided_regex: 'a' }, 'grammar', /give one of/],
      ]) {
        await rejectsWith(client.completions.create({ model: QWEN, prompt: 'x', max_tokens: 4, ...extra }), BadRequestError,
                          { status: 400, param, message });
      }
    });

    test('a schema that cannot be enforced is BadRequestError naming the feature and the parameter', T, async () => {
      const bad = { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { x: { type: 'string', pattern: '^(?=a)' } } } } };
      await rejectsWith(client.chat.completions.create({ model: QWEN, messages: ASK, response_format: bad }), BadRequestError,
                        { status: 400, param: 'response_format.json_schema.schema', message: /#\/properties\/x\/pattern: lookahead/ });
      await rejectsWith(client.chat.completions.create({ model: QWEN, messages: ASK, response_format: { type: 'json_schema' } }),
                        BadRequestError, { status: 400, param: 'response_format.json_schema' });
      await rejectsWith(client.chat.completions.create({ model: QWEN, messages: ASK, response_format: { type: 'yaml' } }),
                        BadRequestError, { status: 400, param: 'response_format' });
    });
  });

  describe('tool calls', () => {
    const forced = (model) => ({
      model, messages: [{ role: 'user', content: 'What is the weather in Paris?' }], tools: TOOLS,
      logit_bias: { [toolToken[model]]: 100 }, max_tokens: 1, temperature: 0,
    });

    for (const model of [QWEN, LLAMA]) {
      test(`${model}: non-streaming tool_calls with name and JSON arguments, no markup in content`, T, async () => {
        const r = await client.chat.completions.create(forced(model));
        const c = r.choices[0];
        assert.equal(c.finish_reason, 'tool_calls');
        assert.equal(c.message.content, null, 'content is null beside tool calls, as OpenAI sends it');
        assert.equal(c.message.tool_calls.length, 1);
        const call = c.message.tool_calls[0];
        assert.equal(typeof call.id, 'string');
        assert.ok(call.id.length > 0);
        assert.equal(call.type, 'function');
        assert.equal(call.function.name, 'get_weather');
        assert.equal(typeof call.function.arguments, 'string', 'arguments is JSON text');
        assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
      });

      test(`${model}: streaming tool_calls deltas assemble into the call; finish_reason tool_calls`, T, async () => {
        const chunks = await collect(await client.chat.completions.create({ ...forced(model), stream: true }));
        const parts = choiceParts(chunks, 0);
        assert.equal(parts.choices[0].delta.role, 'assistant');
        assert.equal(parts.content, '', 'no markup in the content deltas');
        const calls = assembleToolCalls(parts.toolDeltas);
        assert.equal(calls.length, 1);
        assert.ok(calls[0].id.length > 0);
        assert.equal(calls[0].type, 'function');
        assert.equal(calls[0].name, 'get_weather');
        assert.deepEqual(JSON.parse(calls[0].arguments), { city: 'Paris' });
        assert.deepEqual(parts.finishes, ['tool_calls']);
      });
    }

    test("stop_token_ids: the token ends the choice unwritten, and vLLM's stop_reason names its id", T, async () => {
      const params = { ...forced(QWEN), max_tokens: 3, stop_token_ids: [toolToken[QWEN]] };
      const c = (await client.chat.completions.create(params)).choices[0];
      assert.equal(c.finish_reason, 'stop');
      assert.equal(c.stop_reason, toolToken[QWEN]);
      assert.equal(c.message.content, '');
      const parts = choiceParts(await collect(await client.chat.completions.create({ ...params, stream: true })), 0);
      assert.equal(parts.choices.at(-1).stop_reason, toolToken[QWEN]);
    });

    test('the SDK stream helper (finalChatCompletion) assembles the streamed tool call', T, async () => {
      const final = await client.chat.completions.stream(forced(QWEN)).finalChatCompletion();
      const c = final.choices[0];
      assert.equal(c.finish_reason, 'tool_calls');
      assert.equal(c.message.tool_calls.length, 1);
      assert.equal(c.message.tool_calls[0].function.name, 'get_weather');
      assert.deepEqual(JSON.parse(c.message.tool_calls[0].function.arguments), { city: 'Paris' });
    });

    test('without tools (or tool_choice none) the same output stays text', T, async () => {
      const { tools, ...noTools } = forced(QWEN);
      for (const params of [noTools, { ...forced(QWEN), tool_choice: 'none' }]) {
        const c = (await client.chat.completions.create(params)).choices[0];
        assert.equal(c.message.content, QWEN_TOOL_TEXT);
        assert.equal(c.message.tool_calls ?? undefined, undefined);
        assert.equal(c.finish_reason, 'length');
      }
    });

    test('a tool round trip (assistant tool_calls with null content, then a tool message) is accepted', T, async () => {
      // Llama's test template; the qwen2 test model's short chatml template cannot render a
      // null content (the server's built-in chatml fallback can).
      const first = await client.chat.completions.create(forced(LLAMA));
      const message = first.choices[0].message;
      const r = await client.chat.completions.create({
        model: LLAMA, tools: TOOLS, max_tokens: 3,
        messages: [...forced(LLAMA).messages, message,
                   { role: 'tool', tool_call_id: message.tool_calls[0].id, content: '{"temperature": 21}' }],
      });
      assert.equal(r.choices[0].message.role, 'assistant');
      checkUsage(r.usage);
    });
  });

  describe('tool_choice required and named (enforced by grammar, as vLLM does)', () => {
    // Bounded strings, so a random model's calls end well inside max_tokens.
    const BOUNDED_TOOLS = [
      { type: 'function', function: { name: 'get_weather', parameters: {
        type: 'object', properties: { city: { type: 'string', maxLength: 12 } }, required: ['city'] } } },
      // Pydantic-style: the property's schema behind a local $ref.
      { type: 'function', function: { name: 'get_time', parameters: {
        type: 'object', properties: { zone: { $ref: '#/$defs/Zone' } }, required: ['zone'],
        $defs: { Zone: { type: 'string', maxLength: 6 } } } } },
    ];
    const ask = (toolChoice, extra = {}) => ({
      model: LLAMA, messages: ASK, tools: BOUNDED_TOOLS, tool_choice: toolChoice, max_tokens: 300, temperature: 0, ...extra,
    });
    // The model's added token is a whole call, which greedy decoding takes at once: barred, the
    // call is written token by token, as the streaming and cut-short cases need.
    const piecewise = (toolChoice, extra = {}) => ask(toolChoice, { logit_bias: { [toolToken[LLAMA]]: -100 }, ...extra });
    const checkCall = (call) => {
      const tool = BOUNDED_TOOLS.find((t) => t.function.name === call.function.name);
      assert.ok(tool, `a call of an offered tool: ${call.function.name}`);
      const args = JSON.parse(call.function.arguments);
      const key = Object.keys(tool.function.parameters.properties)[0];
      assert.deepEqual(Object.keys(args), [key]);
      assert.equal(typeof args[key], 'string');
    };
    // The streamed tool_calls deltas of one choice, assembled. A call's first delta carries its
    // id, type and name; the arguments come in pieces as the model writes them (`pieces`: the
    // chunks that carried some).
    const assemble = async (params) => {
      const calls = [];
      let finish = null, pieces = 0;
      for await (const chunk of await client.chat.completions.create({ ...params, stream: true })) {
        const choice = chunk.choices[0];
        if (!choice) continue;
        for (const d of choice.delta.tool_calls ?? []) {
          if (!calls[d.index]) {
            assert.ok(d.id && d.type === 'function' && d.function?.name, JSON.stringify(d));
            calls[d.index] = { id: d.id, type: 'function', function: { name: '', arguments: '' } };
          } else {
            assert.equal(d.id, undefined, 'the id comes once');
          }
          if (d.function?.name) calls[d.index].function.name += d.function.name;
          if (d.function?.arguments) {
            calls[d.index].function.arguments += d.function.arguments;
            ++pieces;
          }
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      return { calls, finish, pieces };
    };

    test('required: the output is one or more calls of the offered tools, arguments valid under their schemas; streaming the same', T, async () => {
      const c = (await client.chat.completions.create(ask('required'))).choices[0];
      assert.equal(c.finish_reason, 'tool_calls');
      assert.equal(c.message.content, null);
      assert.ok(c.message.tool_calls.length >= 1);
      c.message.tool_calls.forEach(checkCall);
      const streamed = await assemble(ask('required'));
      assert.equal(streamed.finish, 'tool_calls');
      assert.deepEqual(streamed.calls.map((x) => x.function), c.message.tool_calls.map((x) => x.function));
      const written = (await client.chat.completions.create(piecewise('required'))).choices[0];
      written.message.tool_calls.forEach(checkCall);
      const pieces = await assemble(piecewise('required'));
      assert.deepEqual(pieces.calls.map((x) => x.function), written.message.tool_calls.map((x) => x.function));
      assert.ok(pieces.pieces > 2 * pieces.calls.length, `arguments streamed in ${pieces.pieces} pieces`);
    });

    test('a call cut short by max_tokens finishes with length, streamed or not', T, async () => {
      const params = piecewise('required', { max_tokens: 6 });
      const c = (await client.chat.completions.create(params)).choices[0];
      assert.equal(c.finish_reason, 'length');
      const streamed = await assemble(params);
      assert.equal(streamed.finish, 'length');
      assert.deepEqual(streamed.calls.map((x) => x.function), (c.message.tool_calls ?? []).map((x) => x.function));
    });

    test('parallel_tool_calls false: required gives exactly one call; a non-boolean is BadRequestError', T, async () => {
      for (const seed of [1, 2, 3]) {
        const params = ask('required', { parallel_tool_calls: false, temperature: 1, seed });
        const c = (await client.chat.completions.create(params)).choices[0];
        assert.equal(c.message.tool_calls.length, 1);
        checkCall(c.message.tool_calls[0]);
        assert.equal((await assemble(params)).calls.length, 1);
      }
      await rejectsWith(client.chat.completions.create(ask('auto', { parallel_tool_calls: 'no' })), BadRequestError,
        { param: 'parallel_tool_calls' });
    });

    test('a named function: exactly that call, whatever the model would rather write; streaming the same', T, async () => {
      for (const name of ['get_weather', 'get_time']) {
        const params = ask({ type: 'function', function: { name } });
        const c = (await client.chat.completions.create(params)).choices[0];
        assert.equal(c.finish_reason, 'stop');  // OpenAI's, for a function named by tool_choice
        assert.equal(c.message.tool_calls.length, 1);
        assert.equal(c.message.tool_calls[0].function.name, name);
        checkCall(c.message.tool_calls[0]);
        const streamed = await assemble(params);
        assert.deepEqual(streamed.calls.map((x) => x.function), c.message.tool_calls.map((x) => x.function));
        assert.ok(streamed.pieces > 2, `arguments streamed in ${streamed.pieces} pieces`);
      }
    });

    test('a tool with empty parameters gets an object of arguments', T, async () => {
      const tools = [{ type: 'function', function: { name: 'ping', parameters: {} } }];
      for (const choice of ['required', { type: 'function', function: { name: 'ping' } }]) {
        const c = (await client.chat.completions.create({ ...ask(choice), tools })).choices[0];
        assert.notEqual(c.finish_reason, 'length', JSON.stringify(c.message));
        assert.equal(c.message.tool_calls[0].function.name, 'ping');
        const args = JSON.parse(c.message.tool_calls[0].function.arguments);
        assert.ok(args && typeof args === 'object' && !Array.isArray(args), c.message.tool_calls[0].function.arguments);
      }
    });

    test('an unknown name, no tools, or response_format alongside is BadRequestError naming tool_choice', T, async () => {
      const bad = [
        ask({ type: 'function', function: { name: 'nope' } }),
        { ...ask('required'), tools: undefined },
        ask('required', { response_format: { type: 'json_object' } }),
      ];
      for (const params of bad) {
        await assert.rejects(client.chat.completions.create(params),
          (e) => e instanceof BadRequestError && e.param === 'tool_choice', JSON.stringify(params.tool_choice));
      }
    });
  });

  describe('completions', () => {
    const PROMPT = 'The quick brown fox';
    const greedy = { model: QWEN, max_tokens: 6, temperature: 0, ignore_eos: true };

    test('string prompt: shape and usage; prompt count equals /tokenize', T, async () => {
      const r = await client.completions.create({ ...greedy, prompt: PROMPT });
      assert.match(r.id, /^cmpl-/);
      assert.equal(r.object, 'text_completion');
      assert.equal(r.model, QWEN);
      assert.equal(r.choices.length, 1);
      assert.equal(r.choices[0].index, 0);
      assert.equal(typeof r.choices[0].text, 'string');
      assert.equal(r.choices[0].finish_reason, 'length');
      assert.equal(r.choices[0].logprobs, null);
      checkUsage(r.usage, { prompt: (await tokenize(QWEN, PROMPT)).length, completion: 6 });
    });

    test('a token-id prompt gives what the same text gives', T, async () => {
      const ids = await tokenize(QWEN, PROMPT);
      const byText = await client.completions.create({ ...greedy, prompt: PROMPT });
      const byIds = await client.completions.create({ ...greedy, prompt: ids });
      assert.equal(byIds.choices[0].text, byText.choices[0].text);
      checkUsage(byIds.usage, { prompt: ids.length, completion: 6 });
    });

    test('several prompts (strings and token arrays) with n = 2: choices in prompt order', T, async () => {
      const other = 'Numbers: 0 1 2 3';
      const single = {};
      for (const p of [PROMPT, other]) single[p] = (await client.completions.create({ ...greedy, prompt: p })).choices[0].text;
      const ids = [await tokenize(QWEN, PROMPT), await tokenize(QWEN, other)];
      for (const prompt of [[PROMPT, other], ids]) {
        const r = await client.completions.create({ ...greedy, prompt, n: 2 });
        assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2, 3]);
        assert.equal(r.choices[0].text, single[PROMPT]);
        assert.equal(r.choices[1].text, single[PROMPT]);
        assert.equal(r.choices[2].text, single[other]);
        assert.equal(r.choices[3].text, single[other]);
        checkUsage(r.usage, { prompt: ids[0].length + ids[1].length, completion: 4 * 6 });
      }
    });

    test('echo puts the prompt before the output', T, async () => {
      const plain = await client.completions.create({ ...greedy, prompt: PROMPT });
      const echoed = await client.completions.create({ ...greedy, prompt: PROMPT, echo: true });
      assert.equal(echoed.choices[0].text, PROMPT + plain.choices[0].text);
      const streamed = choiceParts(await collect(await client.completions.create({ ...greedy, prompt: PROMPT, echo: true, stream: true })), 0);
      assert.equal(streamed.text, echoed.choices[0].text);
    });

    test('streaming: text_completion chunks join into the non-streaming text; usage chunk', T, async () => {
      const whole = await client.completions.create({ ...greedy, prompt: PROMPT });
      const chunks = await collect(await client.completions.create({
        ...greedy, prompt: PROMPT, stream: true, stream_options: { include_usage: true },
      }));
      for (const c of chunks) {
        assert.equal(c.object, 'text_completion');
        assert.equal(c.id, chunks[0].id);
      }
      const parts = choiceParts(chunks, 0);
      assert.equal(parts.text, whole.choices[0].text);
      assert.deepEqual(parts.finishes, ['length']);
      assert.deepEqual(chunks.at(-1).choices, []);
      checkUsage(chunks.at(-1).usage, { prompt: whole.usage.prompt_tokens, completion: 6 });
    });

    test('logprobs (int): tokens, token_logprobs, top_logprobs, text_offset line up', T, async () => {
      const r = await client.completions.create({ ...greedy, prompt: PROMPT, logprobs: 2 });
      const lp = r.choices[0].logprobs;
      assert.equal(lp.tokens.length, 6);
      assert.equal(lp.token_logprobs.length, 6);
      assert.equal(lp.top_logprobs.length, 6);
      assert.equal(lp.text_offset.length, 6);
      for (let i = 0; i < 6; ++i) {
        assert.equal(typeof lp.tokens[i], 'string');
        assert.ok(lp.token_logprobs[i] <= 0);
        const alternatives = Object.entries(lp.top_logprobs[i]);
        assert.ok(alternatives.length >= 1 && alternatives.length <= 2, `top_logprobs[${i}] has ${alternatives.length} entries`);
        const best = Math.max(...alternatives.map(([, v]) => v));
        assert.ok(Math.abs(best - lp.token_logprobs[i]) < 1e-6, 'temperature 0 samples the most likely token');
        if (i > 0) assert.ok(lp.text_offset[i] >= lp.text_offset[i - 1], 'text_offset never decreases');
      }
      assert.equal(lp.text_offset[0], 0);
    });

    test('logprobs text_offset points into the returned text', T, async () => {
      // OpenAI: text_offset[i] is where tokens[i] starts in `text`. Tokens the text leaves
      // out (special tokens) must not move the later offsets past it.
      for (const prompt of [PROMPT, 'Hello', 'Numbers: 0 1 2 3', 'def fibonacci(n):']) {
        const r = await client.completions.create({ ...greedy, max_tokens: 12, prompt, logprobs: 1 });
        const { text, logprobs: lp } = r.choices[0];
        const size = Buffer.byteLength(text);
        for (const [i, offset] of lp.text_offset.entries()) {
          assert.ok(offset <= size, `prompt ${JSON.stringify(prompt)}: text_offset[${i}] = ${offset} is past the end of ` +
                                    `the text (${size} bytes): text ${JSON.stringify(text)}, tokens ${JSON.stringify(lp.tokens)}, ` +
                                    `offsets ${JSON.stringify(lp.text_offset)}`);
        }
      }
    });

    test('echo with logprobs covers the prompt tokens too (the first logprob null), as OpenAI does', T, async () => {
      const ids = await tokenize(QWEN, PROMPT);
      const r = await client.completions.create({ ...greedy, prompt: PROMPT, echo: true, logprobs: 1 });
      const lp = r.choices[0].logprobs;
      assert.equal(lp.tokens.length, ids.length + 6, `tokens ${JSON.stringify(lp.tokens)}`);
      assert.equal(lp.token_logprobs[0], null);
      assert.equal(lp.text_offset[0], 0);
    });
  });

  describe('embeddings', () => {
    const TEXTS = ['The capital of France is Paris.', 'Spiders have eight legs.', 'Grüße aus München'];

    test('float: one unit-length vector of the hidden size; usage', T, async () => {
      const r = await client.embeddings.create({ model: EMBED, input: TEXTS[0], encoding_format: 'float' });
      assert.equal(r.object, 'list');
      assert.equal(r.model, EMBED);
      assert.equal(r.data.length, 1);
      assert.equal(r.data[0].object, 'embedding');
      assert.equal(r.data[0].index, 0);
      assert.equal(r.data[0].embedding.length, HIDDEN);
      assert.ok(r.data[0].embedding.every(Number.isFinite));
      assert.equal(r.usage.prompt_tokens, (await tokenize(EMBED, TEXTS[0])).length);
      assert.equal(r.usage.total_tokens, r.usage.prompt_tokens);
    });

    test('base64 decodes to the float vector (explicit, and the SDK default which asks for base64)', T, async () => {
      const float = (await client.embeddings.create({ model: EMBED, input: TEXTS[0], encoding_format: 'float' })).data[0].embedding;
      const b64 = (await client.embeddings.create({ model: EMBED, input: TEXTS[0], encoding_format: 'base64' })).data[0].embedding;
      assert.equal(typeof b64, 'string');
      const buf = Buffer.from(b64, 'base64');
      assert.equal(buf.length, HIDDEN * 4);
      const decoded = new Float32Array(buf.buffer, buf.byteOffset, HIDDEN);
      assert.deepEqual(Array.from(decoded), float.map(Math.fround), 'base64 holds the same float32 values');
      const sdkDefault = (await client.embeddings.create({ model: EMBED, input: TEXTS[0] })).data[0].embedding;
      assert.deepEqual(Array.from(sdkDefault), float.map(Math.fround));
    });

    test('dimensions truncates and renormalises to unit length', T, async () => {
      const full = (await client.embeddings.create({ model: EMBED, input: TEXTS[1], encoding_format: 'float' })).data[0].embedding;
      const r = await client.embeddings.create({ model: EMBED, input: TEXTS[1], dimensions: 16, encoding_format: 'float' });
      const v = r.data[0].embedding;
      assert.equal(v.length, 16);
      const norm = Math.hypot(...v);
      assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
      const head = full.slice(0, 16);
      const headNorm = Math.hypot(...head);
      for (let i = 0; i < 16; ++i) assert.ok(Math.abs(v[i] - head[i] / headNorm) < 1e-5, `component ${i}`);
      await rejectsWith(client.embeddings.create({ model: EMBED, input: 'x', dimensions: HIDDEN + 1 }), BadRequestError,
                         { status: 400, param: 'dimensions' });
    });

    test('batch input: one vector per input, in order, each as computed alone', T, async () => {
      const r = await client.embeddings.create({ model: EMBED, input: TEXTS, encoding_format: 'float' });
      assert.deepEqual(r.data.map((d) => d.index), [0, 1, 2]);
      let tokens = 0;
      for (const [i, text] of TEXTS.entries()) {
        const alone = (await client.embeddings.create({ model: EMBED, input: text, encoding_format: 'float' })).data[0].embedding;
        for (let k = 0; k < HIDDEN; ++k) assert.ok(Math.abs(r.data[i].embedding[k] - alone[k]) < 1e-5, `input ${i}, component ${k}`);
        tokens += (await tokenize(EMBED, text)).length;
      }
      assert.equal(r.usage.prompt_tokens, tokens);
      const ids = await tokenize(EMBED, TEXTS[0]);
      const byIds = await client.embeddings.create({ model: EMBED, input: [ids], encoding_format: 'float' });
      for (let k = 0; k < HIDDEN; ++k) assert.ok(Math.abs(byIds.data[0].embedding[k] - r.data[0].embedding[k]) < 1e-5);
    });

    test('the wrong kind of model is a BadRequestError naming model', T, async () => {
      await rejectsWith(client.embeddings.create({ model: QWEN, input: 'x' }), BadRequestError, { status: 400, param: 'model' });
      await rejectsWith(client.chat.completions.create({ model: EMBED, messages: ASK }), BadRequestError, { status: 400, param: 'model' });
    });
  });

  describe('rerank', () => {
    const DOCS = ['Paris is the capital of France.', 'The quick brown fox.', 'Spiders have eight legs.', 'Bonjour, le monde.'];
    const rerank = (body) => client.post('/rerank', { body: { model: RERANK, query: 'the capital of France', ...body } });

    test('results are ordered by relevance_score, each document once', T, async () => {
      const r = await rerank({ documents: DOCS });
      assert.equal(r.model, RERANK);
      assert.equal(r.results.length, DOCS.length);
      assert.deepEqual(r.results.map((x) => x.index).sort(), [0, 1, 2, 3]);
      for (let k = 0; k < r.results.length; ++k) {
        const s = r.results[k].relevance_score;
        assert.ok(s > 0 && s < 1, `score ${s}`);
        if (k > 0) assert.ok(r.results[k - 1].relevance_score >= s, 'descending');
      }
      assert.ok(r.usage.total_tokens > 0);
    });

    test('top_n keeps the best n; return_documents returns their text', T, async () => {
      const all = await rerank({ documents: DOCS });
      const top = await rerank({ documents: DOCS, top_n: 2, return_documents: true });
      assert.equal(top.results.length, 2);
      assert.deepEqual(top.results.map((x) => x.index), all.results.slice(0, 2).map((x) => x.index));
      for (const x of top.results) assert.equal(x.document.text, DOCS[x.index]);
    });

    test('a generative model is refused (BadRequestError)', T, async () => {
      await rejectsWith(client.post('/rerank', { body: { model: QWEN, query: 'q', documents: ['d'] } }), BadRequestError,
                         { status: 400, param: 'model' });
    });
  });

  describe('tokenize / detokenize', () => {
    test('round trip through /tokenize and /detokenize', T, async () => {
      for (const model of [QWEN, LLAMA]) {
        const text = 'Hello, world! Grüße aus München. 12345';
        const t = await post('/tokenize', { model, content: text, add_special: false });
        assert.equal(t.status, 200);
        assert.equal(t.json.count, t.json.tokens.length);
        assert.equal(t.json.max_model_len, CONTEXT);
        const d = await post('/detokenize', { model, tokens: t.json.tokens });
        assert.equal(d.status, 200);
        assert.equal(d.json.content, text, model);
      }
      const pieces = await post('/tokenize', { model: QWEN, content: 'Hello world', add_special: false, with_pieces: true });
      assert.equal(pieces.json.tokens.map((p) => p.piece).join(''), 'Hello world');
    });

    test('llama adds <|begin_of_text|> as BOS when asked', T, async () => {
      const t = await post('/tokenize', { model: LLAMA, content: 'Hi', add_special: true, with_pieces: true });
      assert.equal(t.json.tokens[0].piece, '<|begin_of_text|>');
    });
  });

  describe('errors', () => {
    test('a bad temperature is BadRequestError with param temperature', T, async () => {
      await rejectsWith(client.chat.completions.create({ model: QWEN, messages: ASK, temperature: 3 }), BadRequestError,
                         { status: 400, param: 'temperature', type: 'invalid_request_error' });
    });

    test('a bad logit_bias is BadRequestError with param logit_bias', T, async () => {
      for (const bias of [{ abc: 1 }, { [VOCAB + 5]: 1 }, { 5: 500 }]) {
        await rejectsWith(client.chat.completions.create({ model: QWEN, messages: ASK, logit_bias: bias }), BadRequestError,
                           { status: 400, param: 'logit_bias' });
      }
    });

    test('n out of range is BadRequestError with param n', T, async () => {
      for (const n of [0, 1000]) {
        await rejectsWith(client.chat.completions.create({ model: QWEN, messages: ASK, n }), BadRequestError, { status: 400, param: 'n' });
      }
    });

    test('top_logprobs without logprobs is BadRequestError with param top_logprobs', T, async () => {
      await rejectsWith(client.chat.completions.create({ model: QWEN, messages: ASK, top_logprobs: 2 }), BadRequestError,
                         { status: 400, param: 'top_logprobs' });
    });

    test('an unknown model is NotFoundError with code model_not_found (chat, completions, embeddings)', T, async () => {
      const missing = { status: 404, code: 'model_not_found', param: 'model' };
      await rejectsWith(client.chat.completions.create({ model: 'gpt-nope', messages: ASK }), NotFoundError, missing);
      await rejectsWith(client.completions.create({ model: 'gpt-nope', prompt: 'x' }), NotFoundError, missing);
      await rejectsWith(client.embeddings.create({ model: 'gpt-nope', input: 'x' }), NotFoundError, missing);
    });

    test('prompt + max_tokens over the context is 400 context_length_exceeded', T, async () => {
      await rejectsWith(client.chat.completions.create({ model: QWEN, messages: ASK, max_tokens: CONTEXT }), BadRequestError,
                         { status: 400, code: 'context_length_exceeded', param: 'messages', message: /1024/ });
      await rejectsWith(client.completions.create({ model: QWEN, prompt: 'x', max_tokens: CONTEXT + 1 }), BadRequestError,
                         { status: 400, code: 'context_length_exceeded', param: 'prompt' });
      const tooLong = Array.from({ length: CONTEXT + 10 }, (_, i) => 100 + (i % 50));
      await rejectsWith(client.completions.create({ model: QWEN, prompt: tooLong }), BadRequestError,
                         { status: 400, code: 'context_length_exceeded' });
    });

    test('a malformed JSON body is 400 naming the byte offset', T, async () => {
      const body = '{"model": "qwen-test", "messages": [}';
      const r = await post('/v1/chat/completions', body, true);
      assert.equal(r.status, 400);
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.match(r.json.error.message, new RegExp(`byte ${body.indexOf('}')}\\b`), r.json.error.message);
      const notObject = await post('/v1/chat/completions', '[1, 2]', true);
      assert.equal(notObject.status, 400);
      assert.equal(typeof notObject.json.error.message, 'string');
    });

    test('an unknown route is NotFoundError', T, async () => {
      await rejectsWith(client.get('/no-such-route'), NotFoundError, { status: 404 });
    });

    test('a wrong admin key is AuthenticationError; a duplicate tenant is ConflictError', T, async () => {
      const wrong = new OpenAI({ baseURL: `${root}/admin/v1`, apiKey: 'not-the-admin-key', maxRetries: 0 });
      await rejectsWith(wrong.get('/tenants'), AuthenticationError, { status: 401, type: 'authentication_error' });
      const admin = new OpenAI({ baseURL: `${root}/admin/v1`, apiKey: ADMIN_KEY, maxRetries: 0 });
      const tenant = await admin.post('/tenants', { body: { name: 'acceptance' } });
      assert.equal(tenant.name, 'acceptance');
      await rejectsWith(admin.post('/tenants', { body: { name: 'acceptance' } }), ConflictError, { status: 409 });
    });

    test('the inference API takes API keys: a wrong one is AuthenticationError, a model outside a key is PermissionDeniedError', T, async () => {
      const bare = await fetch(`${root}/v1/models`);
      assert.equal(bare.status, 401);
      assert.equal(bare.headers.get('www-authenticate'), 'Bearer');
      const wrong = new OpenAI({ baseURL: `${root}/v1`, apiKey: 'not-a-key', maxRetries: 0 });
      await rejectsWith(wrong.models.list(), AuthenticationError, { status: 401, code: 'invalid_api_key' });
      const admin = new OpenAI({ baseURL: `${root}/admin/v1`, apiKey: ADMIN_KEY, maxRetries: 0 });
      const tenant = await admin.post('/tenants', { body: { name: 'acceptance-keys' } });
      const key = await admin.post(`/tenants/${tenant.id}/keys`, { body: { name: 'llama-only', models: [LLAMA] } });
      const app = new OpenAI({ baseURL: `${root}/v1`, apiKey: key.value, maxRetries: 0, timeout: 60_000 });
      const listed = [];
      for await (const m of app.models.list()) listed.push(m.id);
      assert.deepEqual(listed, [LLAMA]);
      const done = await app.completions.create({ model: LLAMA, prompt: 'hi', max_tokens: 2 });
      assert.equal(done.model, LLAMA);
      await rejectsWith(app.completions.create({ model: QWEN, prompt: 'hi', max_tokens: 2 }), PermissionDeniedError,
                        { status: 403, code: 'model_not_allowed', param: 'model' });
    });

    test('a body over server.max_body_bytes is APIError 413 body_too_large', T, async () => {
      const content = 'x'.repeat(MAX_BODY + 1024);
      await rejectsWith(client.chat.completions.create({ model: QWEN, messages: [{ role: 'user', content }] }), APIError,
                         { status: 413, code: 'body_too_large' });
    });

    test('a 5xx is surfaced as InternalServerError (an OpenAI API that is not served: 501)', T, async () => {
      await rejectsWith(client.moderations.create({ model: QWEN, input: 'hello' }), InternalServerError,
                         { status: 501, code: 'unsupported_endpoint' });
    });
  });

  describe('client aborts', () => {
    test('an abort mid-stream stops the generation and leaves the server healthy', T, async (t) => {
      const beforeText = await engineIdle(QWEN);
      const generatedBefore = metric(beforeText, 'llmp_generation_tokens_total', QWEN);
      assert.notEqual(generatedBefore, undefined, 'llmp_generation_tokens_total is on /metrics');
      const maxTokens = CONTEXT - 64;
      const controller = new AbortController();
      const stream = await client.chat.completions.create(
        { model: QWEN, messages: ASK, max_tokens: maxTokens, ignore_eos: true, stream: true }, { signal: controller.signal });
      let seen = 0;
      const started = Date.now();
      try {
        for await (const chunk of stream) {
          if (chunk.choices[0]?.delta?.content && ++seen === 3) {
            controller.abort();
            break;
          }
        }
      } catch (e) {
        assert.ok(e instanceof APIUserAbortError || e.name === 'AbortError', `${e?.constructor?.name}: ${e?.message}`);
      }
      assert.equal(seen, 3, 'the stream ended at the abort');
      const afterText = await engineIdle(QWEN);
      const generated = metric(afterText, 'llmp_generation_tokens_total', QWEN) - generatedBefore;
      assert.ok(generated < maxTokens, `the aborted request generated ${generated} of its ${maxTokens} tokens ` +
                                        `(${Date.now() - started} ms after it started)`);
      t.diagnostic(`the aborted stream generated ${generated} of ${maxTokens} tokens`);
      const r = await client.chat.completions.create({ model: QWEN, messages: ASK, max_tokens: 2, ignore_eos: true });
      assert.equal(r.usage.completion_tokens, 2, 'a following request succeeds');
    });

    test('an aborted non-streaming request stops generating too', T, async () => {
      const beforeText = await engineIdle(LLAMA);
      const generatedBefore = metric(beforeText, 'llmp_generation_tokens_total', LLAMA);
      const maxTokens = CONTEXT - 64;
      const controller = new AbortController();
      const pending = client.chat.completions.create({ model: LLAMA, messages: ASK, max_tokens: maxTokens, ignore_eos: true },
                                                     { signal: controller.signal });
      // Abort once the engine has started on it.
      const deadline = Date.now() + 10_000;
      while ((metric(await metricsText(), 'llmp_generation_tokens_total', LLAMA) ?? 0) <= generatedBefore) {
        assert.ok(Date.now() < deadline, 'the request started generating');
        await sleep(5);
      }
      controller.abort();
      await assert.rejects(pending, (e) => e instanceof APIUserAbortError || e.name === 'AbortError');
      const afterText = await engineIdle(LLAMA);
      const generated = metric(afterText, 'llmp_generation_tokens_total', LLAMA) - generatedBefore;
      assert.ok(generated < maxTokens, `the aborted request generated all ${generated} of its ${maxTokens} tokens`);
      const r = await client.chat.completions.create({ model: LLAMA, messages: ASK, max_tokens: 2, ignore_eos: true });
      assert.equal(r.usage.completion_tokens, 2, 'a following request succeeds');
    });
  });
});
