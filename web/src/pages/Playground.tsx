import { useRef, useState } from 'preact/hooks';
import { api, apiStream, ApiError, type ListPage, type ServedModel } from '../api';
import { Async, Empty, Field, InlineError, PageHeader, Stat } from '../components/ui';
import { fmtMs, fmtNumber } from '../format';
import { useLoad } from '../hooks';
import { useLang } from '../i18n';
import { href } from '../router';

interface ToolCall {
  id?: string;
  type?: string;
  function: { name: string; arguments: string };
}

interface Message {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

interface RunStats {
  id?: string;
  ttftMs?: number;
  totalMs?: number;
  completionTokens?: number;
  promptTokens?: number;
  tokensPerSec?: number;
  finishReason?: string;
  route?: string;
}

type Format = 'text' | 'json_object' | 'json_schema' | 'gbnf';

const kRoleLabel = { system: 'role.msg.system', user: 'role.msg.user', assistant: 'role.msg.assistant', tool: 'role.msg.tool' } as const;

const kExampleTools = `[
  {
    "type": "function",
    "function": {
      "name": "get_weather",
      "description": "The current weather in a city",
      "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }
    }
  }
]`;

const kExampleGrammar = `root ::= answer " (" confidence "% sure)"
answer ::= "yes" | "no" | "maybe"
confidence ::= [1-9] [0-9]?`;

const kExampleSchema = `{
  "name": "answer",
  "schema": { "type": "object", "properties": { "answer": { "type": "string" } }, "required": ["answer"] }
}`;

export function Playground() {
  const { t } = useLang();
  const models = useLoad((signal) => api<ListPage<ServedModel>>('/v1/models', { signal }), []);
  return (
    <div>
      <PageHeader title={t('playground.title')} />
      <Async state={models}>
        {(page) => {
          const chat = page.data.filter((m) => {
            const kind = m.llmplatform?.kind;
            return !kind || kind === 'generate' || kind === 'route';
          });
          if (!chat.length) {
            return <Empty title={t('playground.no_models')} hint={t('playground.no_models_hint')} />;
          }
          return <ChatPanel models={chat} />;
        }}
      </Async>
    </div>
  );
}

function ChatPanel({ models }: { models: ServedModel[] }) {
  const { t, lang } = useLang();
  const [model, setModel] = useState(models[0].id);
  const [system, setSystem] = useState('');
  const [messages, setMessages] = useState<Message[]>([]);
  const [draft, setDraft] = useState('');
  const [stream, setStream] = useState(true);
  const [temperature, setTemperature] = useState('0.7');
  const [topP, setTopP] = useState('1');
  const [maxTokens, setMaxTokens] = useState('64');
  const [seed, setSeed] = useState('');
  const [stop, setStop] = useState('');
  const [useTools, setUseTools] = useState(false);
  const [tools, setTools] = useState(kExampleTools);
  const [format, setFormat] = useState<Format>('text');
  const [schema, setSchema] = useState(kExampleSchema);
  const [grammar, setGrammar] = useState(kExampleGrammar);
  const [running, setRunning] = useState(false);
  const [partial, setPartial] = useState<Message | null>(null);
  const [stats, setStats] = useState<RunStats | null>(null);
  const [error, setError] = useState<Error | undefined>();
  const abort = useRef<AbortController | null>(null);

  const buildBody = (history: Message[]): Record<string, unknown> => {
    const body: Record<string, unknown> = { model, messages: [...(system.trim() ? [{ role: 'system', content: system }] : []), ...history] };
    const num = (s: string) => (s.trim() === '' ? undefined : Number(s));
    if (num(temperature) !== undefined) body.temperature = num(temperature);
    if (num(topP) !== undefined) body.top_p = num(topP);
    if (num(maxTokens) !== undefined) body.max_tokens = num(maxTokens);
    if (num(seed) !== undefined) body.seed = num(seed);
    if (stop.trim()) body.stop = stop.split(',').map((s) => s.trim()).filter(Boolean);
    if (useTools) {
      try {
        body.tools = JSON.parse(tools);
      } catch (e) {
        throw new Error(t('playground.bad_tools', { message: (e as Error).message }));
      }
    }
    if (format === 'json_object') body.response_format = { type: 'json_object' };
    if (format === 'json_schema') {
      try {
        body.response_format = { type: 'json_schema', json_schema: JSON.parse(schema) };
      } catch (e) {
        throw new Error(t('playground.bad_schema', { message: (e as Error).message }));
      }
    }
    if (format === 'gbnf') body.grammar = grammar;
    if (stream) {
      body.stream = true;
      body.stream_options = { include_usage: true };
    }
    return body;
  };

  const send = async (e?: Event) => {
    e?.preventDefault();
    if (running) return;
    const text = draft.trim();
    if (!text) return;
    const history: Message[] = [...messages, { role: 'user', content: text }];
    let body: Record<string, unknown>;
    try {
      body = buildBody(history);
    } catch (err) {
      setError(err as Error);
      return;
    }
    setMessages(history);
    setDraft('');
    setError(undefined);
    setStats(null);
    setRunning(true);
    const ctl = new AbortController();
    abort.current = ctl;
    const started = performance.now();
    try {
      if (stream) {
        const reply = await runStream(body, ctl.signal, started, setPartial, setStats);
        setMessages([...history, reply]);
      } else {
        const res = await api<any>('/v1/chat/completions', { body, signal: ctl.signal });
        const totalMs = performance.now() - started;
        const choice = res.choices?.[0];
        const reply: Message = { role: 'assistant', content: choice?.message?.content ?? '', tool_calls: choice?.message?.tool_calls };
        const completion = res.usage?.completion_tokens;
        setMessages([...history, reply]);
        setStats({
          id: res.id,
          totalMs,
          completionTokens: completion,
          promptTokens: res.usage?.prompt_tokens,
          tokensPerSec: completion && totalMs > 0 ? completion / (totalMs / 1000) : undefined,
          finishReason: choice?.finish_reason,
        });
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setError(err as Error);
      setMessages(history);
    } finally {
      setPartial(null);
      setRunning(false);
      abort.current = null;
    }
  };

  const clear = () => {
    setMessages([]);
    setStats(null);
    setError(undefined);
  };

  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send();
  };

  const shown = partial ? [...messages, partial] : messages;
  return (
    <div class="playground">
      <form class="card pg-params" onSubmit={(e) => e.preventDefault()} aria-label={t('playground.parameters')}>
        <Field label={t('playground.model')}>
          <select value={model} onChange={(e) => setModel((e.target as HTMLSelectElement).value)} data-testid="pg-model">
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id}
                {m.llmplatform?.kind === 'route' ? ` (${t('playground.alias')})` : ''}
              </option>
            ))}
          </select>
        </Field>
        <Field label={t('playground.system')}>
          <textarea rows={3} value={system} onInput={(e) => setSystem((e.target as HTMLTextAreaElement).value)} />
        </Field>
        <div class="grid-2 tight">
          <Field label={t('playground.temperature')}>
            <input type="number" step="0.1" min="0" max="2" value={temperature} onInput={(e) => setTemperature((e.target as HTMLInputElement).value)} />
          </Field>
          <Field label="top_p">
            <input type="number" step="0.05" min="0" max="1" value={topP} onInput={(e) => setTopP((e.target as HTMLInputElement).value)} />
          </Field>
          <Field label={t('playground.max_tokens')}>
            <input type="number" min="1" value={maxTokens} onInput={(e) => setMaxTokens((e.target as HTMLInputElement).value)} data-testid="pg-max-tokens" />
          </Field>
          <Field label={t('playground.seed')}>
            <input type="number" value={seed} onInput={(e) => setSeed((e.target as HTMLInputElement).value)} data-testid="pg-seed" />
          </Field>
        </div>
        <Field label={t('playground.stop')} hint={t('playground.stop_hint')}>
          <input type="text" value={stop} onInput={(e) => setStop((e.target as HTMLInputElement).value)} />
        </Field>
        <label class="check">
          <input type="checkbox" checked={stream} onChange={(e) => setStream((e.target as HTMLInputElement).checked)} data-testid="pg-stream" />
          {t('playground.stream')}
        </label>
        <label class="check">
          <input type="checkbox" checked={useTools} onChange={(e) => setUseTools((e.target as HTMLInputElement).checked)} />
          {t('playground.tools')}
        </label>
        {useTools && (
          <Field label={t('playground.tools_json')}>
            <textarea rows={8} class="mono" value={tools} onInput={(e) => setTools((e.target as HTMLTextAreaElement).value)} />
          </Field>
        )}
        <Field label={t('playground.format')}>
          <select value={format} onChange={(e) => setFormat((e.target as HTMLSelectElement).value as Format)} data-testid="pg-format">
            <option value="text">{t('playground.format_text')}</option>
            <option value="json_object">{t('playground.format_json')}</option>
            <option value="json_schema">{t('playground.format_schema')}</option>
            <option value="gbnf">{t('playground.format_gbnf')}</option>
          </select>
        </Field>
        {format === 'gbnf' && (
          <Field label={t('playground.gbnf')}>
            <textarea rows={6} class="mono" value={grammar} onInput={(e) => setGrammar((e.target as HTMLTextAreaElement).value)} data-testid="pg-grammar" />
          </Field>
        )}
        {format === 'json_schema' && (
          <Field label={t('playground.schema')}>
            <textarea rows={6} class="mono" value={schema} onInput={(e) => setSchema((e.target as HTMLTextAreaElement).value)} />
          </Field>
        )}
      </form>

      <section class="card pg-chat">
        <div class="stats compact" data-testid="pg-stats">
          <Stat label={t('playground.ttft')} value={stats?.ttftMs !== undefined ? fmtMs(stats.ttftMs, lang) : '—'} testid="pg-ttft" />
          <Stat label={t('playground.tokens_per_sec')} value={stats?.tokensPerSec !== undefined ? fmtNumber(stats.tokensPerSec, lang, 1) : '—'} testid="pg-tps" />
          <Stat label={t('playground.latency')} value={stats?.totalMs !== undefined ? fmtMs(stats.totalMs, lang) : '—'} />
          <Stat label={t('playground.tokens')} value={stats?.completionTokens !== undefined ? `${stats.promptTokens ?? '—'} / ${stats.completionTokens}` : '—'} />
        </div>
        {stats?.id && (
          <p class="muted small">
            {t('playground.call')}: <a href={href('calls', stats.id)} data-testid="pg-call-link">{stats.id}</a>
            {stats.finishReason && <> · {t('playground.finish')}: <code>{stats.finishReason}</code></>}
          </p>
        )}
        <div class="messages" aria-live="polite" data-testid="pg-messages">
          {!shown.length && <Empty title={t('playground.empty')} hint={t('playground.empty_hint')} />}
          {shown.map((m, i) => (
            <div key={i} class={`msg msg-${m.role}`} data-testid={`msg-${m.role}`}>
              <div class="msg-role">{t(kRoleLabel[m.role])}</div>
              <div class="msg-content">{m.content || (m.tool_calls?.length ? '' : running && m === partial ? '…' : '')}</div>
              {m.tool_calls?.map((c, j) => (
                <pre key={j} class="tool-call">
                  {c.function.name}({c.function.arguments})
                </pre>
              ))}
            </div>
          ))}
        </div>
        <InlineError error={error} />
        <form class="composer" onSubmit={send}>
          <label class="sr-only" for="pg-input">
            {t('playground.message')}
          </label>
          <textarea id="pg-input" rows={3} value={draft} placeholder={t('playground.placeholder')}
                    onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)} onKeyDown={onKey} data-testid="pg-input" />
          <div class="row-end">
            <button type="button" class="btn" onClick={clear} disabled={running || !messages.length}>
              {t('playground.clear')}
            </button>
            {running ? (
              <button type="button" class="btn btn-danger" onClick={() => abort.current?.abort()}>
                {t('playground.stop_run')}
              </button>
            ) : (
              <button type="submit" class="btn btn-primary" disabled={!draft.trim()} data-testid="pg-send">
                {t('playground.send')}
              </button>
            )}
          </div>
        </form>
      </section>
    </div>
  );
}

// Reads the SSE answer of a streamed chat completion, showing the text as it comes, and times
// the first token and the rate of the rest.
async function runStream(
  body: Record<string, unknown>,
  signal: AbortSignal,
  started: number,
  onPartial: (m: Message) => void,
  onStats: (s: RunStats) => void,
): Promise<Message> {
  const res = await apiStream('/v1/chat/completions', { body, signal });
  const route = res.headers.get('x-llmp-route') ?? undefined;
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const reply: Message = { role: 'assistant', content: '' };
  const calls: ToolCall[] = [];
  let buffer = '';
  let firstAt: number | undefined;
  let chunks = 0;
  let id: string | undefined;
  let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
  let finish: string | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let sep: number;
    while ((sep = buffer.indexOf('\n\n')) !== -1) {
      const event = buffer.slice(0, sep);
      buffer = buffer.slice(sep + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') continue;
        const msg = JSON.parse(data);
        if (msg.error) throw new ApiError(200, msg.error.message ?? 'stream error', msg.error.code ?? null);
        id = msg.id ?? id;
        if (msg.usage) usage = msg.usage;
        for (const choice of msg.choices ?? []) {
          const delta = choice.delta ?? {};
          if (delta.content || delta.tool_calls) {
            if (firstAt === undefined) firstAt = performance.now();
            chunks++;
          }
          if (delta.content) reply.content += delta.content;
          for (const tc of delta.tool_calls ?? []) {
            const at = tc.index ?? 0;
            calls[at] ??= { id: tc.id, type: 'function', function: { name: '', arguments: '' } };
            if (tc.function?.name) calls[at].function.name += tc.function.name;
            if (tc.function?.arguments) calls[at].function.arguments += tc.function.arguments;
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
        if (calls.length) reply.tool_calls = calls.filter(Boolean);
        onPartial({ ...reply });
        onStats({ id, ttftMs: firstAt !== undefined ? firstAt - started : undefined, route });
      }
    }
  }
  const end = performance.now();
  const tokens = usage?.completion_tokens ?? chunks;
  const decodeSeconds = firstAt !== undefined ? (end - firstAt) / 1000 : 0;
  onStats({
    id,
    route,
    ttftMs: firstAt !== undefined ? firstAt - started : undefined,
    totalMs: end - started,
    completionTokens: usage?.completion_tokens,
    promptTokens: usage?.prompt_tokens,
    // The rate after the first token, as serving benchmarks quote it; one token has no rate.
    tokensPerSec: tokens > 1 && decodeSeconds > 0 ? (tokens - 1) / decodeSeconds : undefined,
    finishReason: finish,
  });
  return reply;
}

