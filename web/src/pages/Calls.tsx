import { useMemo, useState } from 'preact/hooks';
import { api, qs, type CallRecord, type ListPage, type OtlpValue, type ServedModel, type Span, type Tenant } from '../api';
import { Async, Badge, Empty, ErrorBox, Field, InlineError, Loading, PageHeader } from '../components/ui';
import { fmtCost, fmtMs, fmtNumber, fmtTime, pretty } from '../format';
import { useAction, useLoad } from '../hooks';
import { useLang } from '../i18n';
import { href, navigate, type Route } from '../router';
import { isPlatform, useSession } from '../session';

const kRoleLabel = { system: 'role.msg.system', user: 'role.msg.user', assistant: 'role.msg.assistant', tool: 'role.msg.tool' } as const;

export function Calls({ route }: { route: Route }) {
  return route.rest[0] ? <CallDetail id={route.rest[0]} /> : <CallList route={route} />;
}

interface Filters {
  tenant_id: string;
  model: string;
  status: string;
  q: string;
  since: string; // datetime-local text
  until: string;
  session_id: string;
  user: string;
}

const kEmptyFilters: Filters = { tenant_id: '', model: '', status: '', q: '', since: '', until: '', session_id: '', user: '' };

function filtersFromQuery(q: URLSearchParams): Filters {
  const f = { ...kEmptyFilters };
  for (const k of Object.keys(f) as (keyof Filters)[]) f[k] = q.get(k) ?? '';
  return f;
}

function toMs(local: string): number | undefined {
  if (!local) return undefined;
  const ms = new Date(local).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

function statusTone(status: number): 'ok' | 'warn' | 'bad' {
  return status < 400 ? 'ok' : status < 500 ? 'warn' : 'bad';
}

function CallList({ route }: { route: Route }) {
  const { t, lang } = useLang();
  const { session } = useSession();
  const applied = useMemo(() => filtersFromQuery(route.query), [route.query.toString()]);
  const [form, setForm] = useState<Filters>(applied);
  const [pages, setPages] = useState<CallRecord[][]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [more, setMore] = useState<{ has_more: boolean; after?: string }>({ has_more: false });
  const tenants = useLoad(
    (signal) => (isPlatform(session) ? api<ListPage<Tenant>>('/admin/v1/tenants?limit=1000', { signal }) : Promise.resolve(null)),
    [],
  );

  const query = (after?: string) =>
    `/admin/v1/calls${qs({
      limit: 50,
      after,
      tenant_id: applied.tenant_id,
      model: applied.model,
      status: applied.status,
      q: applied.q,
      since: toMs(applied.since),
      until: toMs(applied.until),
      session_id: applied.session_id,
      user: applied.user,
    })}`;

  const first = useLoad(
    async (signal) => {
      const page = await api<ListPage<CallRecord>>(query(), { signal });
      setPages([]);
      setCursor(undefined);
      setMore({ has_more: page.has_more, after: page.resume_after ?? page.data[page.data.length - 1]?.id });
      return page;
    },
    [route.query.toString()],
  );
  const loadMore = useAction(async () => {
    const after = more.after;
    const page = await api<ListPage<CallRecord>>(query(after));
    setPages((p) => [...p, page.data]);
    setCursor(after);
    setMore({ has_more: page.has_more, after: page.resume_after ?? page.data[page.data.length - 1]?.id ?? after });
  });

  const apply = (e: Event) => {
    e.preventDefault();
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) if (v) params.set(k, v);
    const q = params.toString();
    navigate(`/calls${q ? `?${q}` : ''}`);
  };
  const reset = () => {
    setForm(kEmptyFilters);
    navigate('/calls');
  };
  const set = (k: keyof Filters) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const filtered = Object.values(applied).some(Boolean);

  return (
    <div>
      <PageHeader title={t('calls.title')}>
        <button type="button" class="btn" onClick={first.reload}>
          {t('common.refresh')}
        </button>
      </PageHeader>
      <form class="card filters" onSubmit={apply} aria-label={t('calls.filters')}>
        {isPlatform(session) && (
          <Field label={t('common.tenant')}>
            <select value={form.tenant_id} onChange={set('tenant_id')} data-testid="calls-tenant">
              <option value="">{t('common.all')}</option>
              {(tenants.data?.data ?? []).map((x) => (
                <option key={x.id} value={x.id}>
                  {x.name}
                </option>
              ))}
            </select>
          </Field>
        )}
        <Field label={t('common.model')}>
          <input type="text" value={form.model} onInput={set('model')} data-testid="calls-model" />
        </Field>
        <Field label={t('calls.status')}>
          <select value={form.status} onChange={set('status')}>
            <option value="">{t('common.all')}</option>
            <option value="ok">{t('calls.status_ok')}</option>
            <option value="error">{t('calls.status_error')}</option>
            <option value="429">429</option>
            <option value="403">403</option>
            <option value="500">500</option>
          </select>
        </Field>
        <Field label={t('calls.text')}>
          <input type="search" value={form.q} onInput={set('q')} data-testid="calls-q" />
        </Field>
        <Field label={t('calls.since')}>
          <input type="datetime-local" value={form.since} onInput={set('since')} />
        </Field>
        <Field label={t('calls.until')}>
          <input type="datetime-local" value={form.until} onInput={set('until')} />
        </Field>
        <Field label={t('calls.session')}>
          <input type="text" value={form.session_id} onInput={set('session_id')} />
        </Field>
        <Field label={t('calls.user')}>
          <input type="text" value={form.user} onInput={set('user')} />
        </Field>
        <div class="row-end filters-actions">
          <button type="button" class="btn" onClick={reset}>
            {t('common.reset')}
          </button>
          <button type="submit" class="btn btn-primary" data-testid="calls-search">
            {t('common.search')}
          </button>
        </div>
      </form>
      <Async state={first}>
        {(page) => {
          const rows = [...page.data, ...pages.flat()];
          if (!rows.length) {
            return filtered ? (
              <Empty title={t('calls.empty_filtered')} hint={t('calls.empty_filtered_hint')} />
            ) : (
              <Empty title={t('calls.empty')} hint={t('calls.empty_hint')}>
                <a href={href('playground')}>{t('nav.playground')}</a>
              </Empty>
            );
          }
          return (
            <section class="card">
              <div class="table-wrap">
                <table data-testid="calls-table">
                  <thead>
                    <tr>
                      <th>{t('calls.time')}</th>
                      <th>{t('common.model')}</th>
                      <th>{t('calls.status')}</th>
                      <th class="num">{t('calls.tokens')}</th>
                      <th class="num">{t('calls.ttft')}</th>
                      <th class="num">{t('calls.latency')}</th>
                      {isPlatform(session) && <th>{t('common.tenant')}</th>}
                      <th>{t('calls.preview')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((c) => (
                      <tr key={c.id}>
                        <td>
                          <a href={href('calls', c.id)} data-testid="call-link">
                            {fmtTime(c.started_at_ms, lang)}
                          </a>
                        </td>
                        <td>
                          <code>{c.model}</code>
                          {c.served_by && c.served_by !== c.model && <div class="muted small">→ {c.served_by}</div>}
                        </td>
                        <td>
                          <Badge tone={statusTone(c.status)}>{c.status}</Badge>
                        </td>
                        <td class="num">{c.usage ? `${c.usage.prompt_tokens} / ${c.usage.completion_tokens}` : '—'}</td>
                        <td class="num">{fmtMs(c.ttft_ms, lang)}</td>
                        <td class="num">{fmtMs(c.latency_ms, lang)}</td>
                        {isPlatform(session) && <td class="muted small">{c.tenant_id || t('calls.platform')}</td>}
                        <td class="preview">{preview(c)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <InlineError error={loadMore.error} />
              {more.has_more && (
                <div class="row-end">
                  <span class="muted small">{cursor ? t('calls.more_after', { id: cursor }) : ''}</span>
                  <button type="button" class="btn" onClick={() => loadMore.run()} disabled={loadMore.busy}>
                    {loadMore.busy ? t('common.loading') : t('calls.load_more')}
                  </button>
                </div>
              )}
            </section>
          );
        }}
      </Async>
    </div>
  );
}

function preview(c: CallRecord): string {
  const out = c.output ?? '';
  if (out) return out.length > 80 ? out.slice(0, 80) + '…' : out;
  if (c.error) return typeof c.error === 'object' ? String((c.error as any).message ?? '') : String(c.error);
  return '';
}

// ---------------------------------------------------------------------------------------------

function CallDetail({ id }: { id: string }) {
  const { t } = useLang();
  const call = useLoad((signal) => api<CallRecord>(`/admin/v1/calls/${encodeURIComponent(id)}`, { signal }), [id]);
  return (
    <div>
      <PageHeader title={t('calls.detail_title')}>
        <a class="btn" href={href('calls')}>
          {t('calls.back')}
        </a>
      </PageHeader>
      <Async state={call}>{(c) => <CallBody call={c} reload={call.reload} />}</Async>
    </div>
  );
}

function CallBody({ call: c, reload }: { call: CallRecord; reload: () => void }) {
  const { t, lang } = useLang();
  const messages = Array.isArray(c.input) ? (c.input as { role: string; content: unknown; tool_calls?: unknown }[]) : null;
  return (
    <>
      <section class="card">
        <h2 class="mono" data-testid="call-id">{c.id}</h2>
        <dl class="kv">
          <dt>{t('calls.time')}</dt>
          <dd>{fmtTime(c.started_at_ms, lang)}</dd>
          <dt>{t('calls.status')}</dt>
          <dd>
            <Badge tone={statusTone(c.status)}>{c.status}</Badge> {c.finish_reason && <code>{c.finish_reason}</code>}
          </dd>
          <dt>{t('common.model')}</dt>
          <dd>
            <code>{c.model}</code>
            {c.served_by && <> → <code>{c.served_by}</code></>} {c.model_version && <code>{c.model_version}</code>}
          </dd>
          <dt>{t('calls.operation')}</dt>
          <dd>{c.operation}{c.stream ? ` · ${t('calls.streamed')}` : ''}</dd>
          <dt>{t('calls.tokens')}</dt>
          <dd>{c.usage ? t('calls.tokens_detail', { prompt: c.usage.prompt_tokens, completion: c.usage.completion_tokens, cached: c.usage.cached_tokens }) : '—'}</dd>
          <dt>{t('calls.ttft')}</dt>
          <dd>{fmtMs(c.ttft_ms, lang)}</dd>
          <dt>{t('calls.latency')}</dt>
          <dd>{fmtMs(c.latency_ms, lang)}</dd>
          <dt>{t('usage.cost')}</dt>
          <dd>{fmtCost(c.cost, lang)}</dd>
          <dt>{t('common.tenant')}</dt>
          <dd>{c.tenant_id || '—'} {c.project_id && <span class="muted">/ {c.project_id}</span>}</dd>
          <dt>{t('calls.key')}</dt>
          <dd><code>{c.key_id}</code></dd>
          {c.user && (<><dt>{t('calls.user')}</dt><dd>{c.user}</dd></>)}
          {c.session_id && (<><dt>{t('calls.session')}</dt><dd>{c.session_id}</dd></>)}
          <dt>{t('calls.trace')}</dt>
          <dd><code>{c.trace_id || '—'}</code></dd>
          <dt>{t('calls.capture')}</dt>
          <dd>{c.capture}</dd>
        </dl>
      </section>
      <div class="grid-2">
        <section class="card">
          <h2>{t('calls.input')}</h2>
          {messages ? (
            <div class="messages">
              {messages.map((m, i) => (
                <div key={i} class={`msg msg-${m.role}`}>
                  <div class="msg-role">{m.role in kRoleLabel ? t(kRoleLabel[m.role as keyof typeof kRoleLabel]) : m.role}</div>
                  <div class="msg-content">{pretty(m.content ?? '')}</div>
                  {m.tool_calls ? <pre class="tool-call">{pretty(m.tool_calls)}</pre> : null}
                </div>
              ))}
            </div>
          ) : c.input ? (
            <pre class="code">{pretty(c.input)}</pre>
          ) : (
            <p class="muted">{t('calls.not_captured')}</p>
          )}
          <h3>{t('calls.params')}</h3>
          <pre class="code" data-testid="call-params">{pretty(c.params ?? {})}</pre>
        </section>
        <section class="card">
          <h2>{t('calls.output')}</h2>
          {c.output !== null && c.output !== undefined ? <pre class="code wrap" data-testid="call-output">{c.output}</pre> : <p class="muted">{t('calls.not_captured')}</p>}
          {c.tool_calls ? (
            <>
              <h3>{t('calls.tool_calls')}</h3>
              <pre class="code">{pretty(c.tool_calls)}</pre>
            </>
          ) : null}
          {c.error ? (
            <>
              <h3>{t('calls.error')}</h3>
              <pre class="code">{pretty(c.error)}</pre>
            </>
          ) : null}
        </section>
      </div>
      <Scores call={c} reload={reload} />
      <section class="card">
        <h2>{t('calls.trace')}</h2>
        {c.trace_id ? <Waterfall traceId={c.trace_id} /> : <Empty title={t('calls.no_trace')} hint={t('calls.no_trace_hint')} />}
      </section>
      <Replay call={c} />
    </>
  );
}

function Scores({ call: c, reload }: { call: CallRecord; reload: () => void }) {
  const { t, lang } = useLang();
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [comment, setComment] = useState('');
  const add = useAction(async () => {
    let v: number | boolean | string = value.trim();
    if (v === 'true' || v === 'false') v = v === 'true';
    else if (v !== '' && Number.isFinite(Number(v))) v = Number(v);
    await api(`/admin/v1/calls/${encodeURIComponent(c.id)}/scores`, { body: { name: name.trim(), value: v, comment } });
    setName('');
    setValue('');
    setComment('');
    reload();
  });
  const scores = c.scores ?? [];
  return (
    <section class="card">
      <h2>{t('calls.scores')}</h2>
      {scores.length ? (
        <table>
          <thead>
            <tr>
              <th>{t('common.name')}</th>
              <th>{t('calls.score_value')}</th>
              <th>{t('calls.comment')}</th>
              <th>{t('calls.author')}</th>
              <th>{t('calls.time')}</th>
            </tr>
          </thead>
          <tbody>
            {scores.map((s) => (
              <tr key={s.id}>
                <td>{s.name}</td>
                <td><code>{String(s.value)}</code></td>
                <td>{s.comment}</td>
                <td>{s.author} <span class="muted small">({s.source})</span></td>
                <td>{fmtTime(s.created_at * 1000, lang)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">{t('calls.no_scores')}</p>
      )}
      <form class="row wrap-row" onSubmit={(e) => { e.preventDefault(); add.run(); }}>
        <Field label={t('common.name')}>
          <input type="text" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label={t('calls.score_value')} hint={t('calls.score_hint')}>
          <input type="text" required value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label={t('calls.comment')}>
          <input type="text" value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
        </Field>
        <button type="submit" class="btn" disabled={add.busy}>{t('calls.add_score')}</button>
      </form>
      <InlineError error={add.error} />
    </section>
  );
}

function attrText(v: OtlpValue): string {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return v.intValue;
  if (v.doubleValue !== undefined) return String(v.doubleValue);
  if (v.boolValue !== undefined) return String(v.boolValue);
  if (v.arrayValue) return v.arrayValue.values.map(attrText).join(', ');
  return '';
}

interface Row {
  span: Span;
  depth: number;
  start: number; // ms from the trace's start
  duration: number; // ms
}

//! Spans as a waterfall: each under its parent, a bar from its start to its end on the trace's
//! time axis. Nanosecond strings lose precision as numbers, so offsets are taken in BigInt.
export function Waterfall({ traceId }: { traceId: string }) {
  const { t, lang } = useLang();
  const trace = useLoad((signal) => api<{ spans: Span[] }>(`/admin/v1/traces/${encodeURIComponent(traceId)}`, { signal }), [traceId]);
  const [open, setOpen] = useState<string | null>(null);
  if (trace.error && (trace.error as any).status === 404) return <Empty title={t('calls.no_trace')} hint={t('calls.no_trace_hint')} />;
  if (trace.error) return <ErrorBox error={trace.error} onRetry={trace.reload} />;
  if (!trace.data) return <Loading />;
  const spans = trace.data.spans;
  if (!spans.length) return <Empty title={t('calls.no_trace')} hint={t('calls.no_trace_hint')} />;
  const t0 = spans.reduce((m, s) => (BigInt(s.startTimeUnixNano) < m ? BigInt(s.startTimeUnixNano) : m), BigInt(spans[0].startTimeUnixNano));
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, Span[]>();
  const roots: Span[] = [];
  for (const s of spans) {
    if (s.parentSpanId && ids.has(s.parentSpanId)) {
      const list = children.get(s.parentSpanId) ?? [];
      list.push(s);
      children.set(s.parentSpanId, list);
    } else roots.push(s);
  }
  const byStart = (a: Span, b: Span) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1);
  const rows: Row[] = [];
  const walk = (s: Span, depth: number) => {
    rows.push({
      span: s,
      depth,
      start: Number(BigInt(s.startTimeUnixNano) - t0) / 1e6,
      duration: Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6,
    });
    for (const c of (children.get(s.spanId) ?? []).sort(byStart)) walk(c, depth + 1);
  };
  for (const r of roots.sort(byStart)) walk(r, 0);
  const total = Math.max(...rows.map((r) => r.start + r.duration), 1e-3);
  return (
    <div class="waterfall" data-testid="waterfall">
      <div class="wf-head">
        <span>{t('calls.span')}</span>
        <span>{t('calls.span_total', { ms: fmtNumber(total, lang, 3) })}</span>
      </div>
      {rows.map((r) => {
        const error = r.span.status?.code === 2;
        const isOpen = open === r.span.spanId;
        return (
          <div key={r.span.spanId} class="wf-row-wrap">
            <button type="button" class="wf-row" onClick={() => setOpen(isOpen ? null : r.span.spanId)} aria-expanded={isOpen} data-testid="span">
              <span class="wf-name" style={{ paddingLeft: `${r.depth * 14}px` }} title={r.span.name}>
                {r.span.name}
              </span>
              <span class="wf-track">
                <span class={`wf-bar${error ? ' wf-error' : ''}`}
                      style={{ left: `${(r.start / total) * 100}%`, width: `${Math.max((r.duration / total) * 100, 0.4)}%` }} />
              </span>
              <span class="wf-dur">{fmtMs(r.duration, lang)}</span>
            </button>
            {isOpen && (
              <dl class="kv wf-attrs">
                <dt>span_id</dt>
                <dd><code>{r.span.spanId}</code></dd>
                <dt>{t('calls.span_start')}</dt>
                <dd>+{fmtMs(r.start, lang)}</dd>
                {r.span.status?.message && (<><dt>{t('calls.error')}</dt><dd>{r.span.status.message}</dd></>)}
                {r.span.attributes.map((a) => (
                  <>
                    <dt key={a.key + 'k'}>{a.key}</dt>
                    <dd key={a.key + 'v'}><code>{attrText(a.value)}</code></dd>
                  </>
                ))}
              </dl>
            )}
          </div>
        );
      })}
    </div>
  );
}

interface ReplayAnswer {
  original: CallRecord;
  replay: { model: string; status: number; latency_ms: number; output?: string; response?: any; request?: unknown };
}

function Replay({ call: c }: { call: CallRecord }) {
  const { t, lang } = useLang();
  const models = useLoad((signal) => api<ListPage<ServedModel>>('/v1/models', { signal }), []);
  const [model, setModel] = useState('');
  const [answer, setAnswer] = useState<ReplayAnswer | null>(null);
  const run = useAction(async () => {
    setAnswer(await api<ReplayAnswer>(`/admin/v1/calls/${encodeURIComponent(c.id)}/replay`, { body: { model: model || c.model } }));
  });
  const canReplay = c.capture !== 'off' && c.input !== null && c.input !== undefined;
  return (
    <section class="card">
      <h2>{t('calls.replay')}</h2>
      {!canReplay ? (
        <p class="muted">{t('calls.replay_not_captured')}</p>
      ) : (
        <>
          <form class="row wrap-row" onSubmit={(e) => { e.preventDefault(); run.run(); }}>
            <Field label={t('calls.replay_model')}>
              <select value={model || c.model} onChange={(e) => setModel((e.target as HTMLSelectElement).value)} data-testid="replay-model">
                {[c.model, ...(models.data?.data ?? []).map((m) => m.id).filter((id) => id !== c.model)].map((id) => (
                  <option key={id} value={id}>{id}</option>
                ))}
              </select>
            </Field>
            <button type="submit" class="btn btn-primary" disabled={run.busy} data-testid="replay">
              {run.busy ? t('common.working') : t('calls.replay_run')}
            </button>
          </form>
          <InlineError error={run.error ?? models.error} />
          {answer && (
            <div class="grid-2" data-testid="replay-result">
              <div>
                <h3>{t('calls.replay_original', { model: answer.original.model })}</h3>
                <p class="muted small">HTTP {answer.original.status} · {fmtMs(answer.original.latency_ms, lang)}</p>
                <pre class="code wrap">{answer.original.output ?? ''}</pre>
              </div>
              <div>
                <h3>{t('calls.replay_new', { model: answer.replay.model })}</h3>
                <p class="muted small">HTTP {answer.replay.status} · {fmtMs(answer.replay.latency_ms, lang)}</p>
                <pre class="code wrap">{answer.replay.output ?? pretty(answer.replay.response ?? '')}</pre>
              </div>
            </div>
          )}
        </>
      )}
    </section>
  );
}
