import { useState } from 'preact/hooks';
import { api, type ListPage, type LoadedModels, type ModelVersion, type Release } from '../api';
import { Async, Badge, Confirm, Empty, Field, InlineError, PageHeader } from '../components/ui';
import { fmtBytes, fmtNumber, fmtTime } from '../format';
import { useAction, useLoad } from '../hooks';
import { useLang } from '../i18n';

interface ModelsData {
  versions: ModelVersion[];
  loaded: LoadedModels;
  releases: Release[];
}

type Pending =
  | { kind: 'unload'; id: string }
  | { kind: 'delete'; id: string }
  | { kind: 'promote'; alias: string; canary: string }
  | { kind: 'rollback'; alias: string; canary: string }
  | { kind: 'delete_release'; alias: string };

function versionPath(id: string): string {
  // org/model:version -> org/model/version
  const colon = id.lastIndexOf(':');
  return `/admin/v1/models/${id.slice(0, colon).split('/').map(encodeURIComponent).join('/')}/${encodeURIComponent(id.slice(colon + 1))}`;
}

export function Models() {
  const { t } = useLang();
  const data = useLoad(async (signal): Promise<ModelsData> => {
    const [versions, loaded, releases] = await Promise.all([
      api<ListPage<ModelVersion>>('/admin/v1/models', { signal }),
      api<LoadedModels>('/admin/v1/loaded-models', { signal }),
      api<ListPage<Release>>('/admin/v1/releases', { signal }),
    ]);
    return { versions: versions.data, loaded, releases: releases.data };
  }, [], 10000);
  const [pending, setPending] = useState<Pending | null>(null);
  const act = useAction(async (p: Pending) => {
    switch (p.kind) {
      case 'unload': await api(`${versionPath(p.id)}/unload`, { method: 'POST' }); break;
      case 'delete': await api(versionPath(p.id), { method: 'DELETE' }); break;
      case 'promote': await api(`/admin/v1/releases/${encodeURIComponent(p.alias)}/promote`, { method: 'POST' }); break;
      case 'rollback': await api(`/admin/v1/releases/${encodeURIComponent(p.alias)}/rollback`, { method: 'POST' }); break;
      case 'delete_release': await api(`/admin/v1/releases/${encodeURIComponent(p.alias)}`, { method: 'DELETE' }); break;
    }
    setPending(null);
    data.reload();
  });
  const ask = (p: Pending) => {
    act.clearError();
    setPending(p);
  };
  const confirmText = (p: Pending): { title: string; body: string; label: string } => {
    switch (p.kind) {
      case 'unload': return { title: t('models.unload_title', { id: p.id }), body: t('models.unload_body'), label: t('models.unload') };
      case 'delete': return { title: t('models.delete_title', { id: p.id }), body: t('models.delete_body'), label: t('common.delete') };
      case 'promote': return { title: t('releases.promote_title', { alias: p.alias }), body: t('releases.promote_body', { canary: p.canary }), label: t('releases.promote') };
      case 'rollback': return { title: t('releases.rollback_title', { alias: p.alias }), body: t('releases.rollback_body', { canary: p.canary }), label: t('releases.rollback') };
      case 'delete_release': return { title: t('releases.delete_title', { alias: p.alias }), body: t('releases.delete_body'), label: t('common.delete') };
    }
  };
  const c = pending ? confirmText(pending) : null;
  return (
    <div>
      <PageHeader title={t('models.title')}>
        <button type="button" class="btn" onClick={data.reload}>{t('common.refresh')}</button>
      </PageHeader>
      <Async state={data}>
        {(d) => (
          <>
            <Releases data={d} reload={data.reload} ask={ask} />
            <Versions data={d} reload={data.reload} ask={ask} />
            <Import reload={data.reload} />
          </>
        )}
      </Async>
      <Confirm
        open={pending !== null}
        title={c?.title ?? ''}
        body={c?.body}
        confirmLabel={c?.label ?? ''}
        danger
        busy={act.busy}
        error={act.error}
        onConfirm={() => pending && act.run(pending)}
        onCancel={() => setPending(null)}
      />
    </div>
  );
}

function stateTone(state: string): 'ok' | 'warn' | 'bad' | 'muted' {
  return state === 'ready' ? 'ok' : state === 'failed' ? 'bad' : state === 'unloaded' ? 'muted' : 'warn';
}

function Versions({ data, reload, ask }: { data: ModelsData; reload: () => void; ask: (p: Pending) => void }) {
  const { t, lang } = useLang();
  const load = useAction(async (id: string) => {
    await api(`${versionPath(id)}/load`, { method: 'POST' });
    reload();
  });
  const budget = data.loaded.memory_budget_bytes;
  const used = data.loaded.memory_in_use_bytes;
  return (
    <section class="card">
      <h2>{t('models.versions')}</h2>
      <div class="meter wide" title={t('models.memory')}>
        <div class={`meter-bar${used / budget > 0.9 ? ' meter-high' : ''}`} style={{ width: `${budget ? Math.min(used / budget, 1) * 100 : 0}%` }} />
        <span class="meter-text">{t('models.memory_used', { used: fmtBytes(used, lang), budget: fmtBytes(budget, lang) })}</span>
      </div>
      {data.versions.length ? (
        <div class="table-wrap">
          <table data-testid="versions-table">
            <thead>
              <tr>
                <th>{t('models.version')}</th>
                <th>{t('models.format')}</th>
                <th class="num">{t('models.parameters')}</th>
                <th class="num">{t('models.context')}</th>
                <th>{t('models.device')}</th>
                <th class="num">{t('models.memory')}</th>
                <th>{t('models.state')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.versions.map((v) => {
                const loaded = v.loaded_as.find((l) => l.state !== 'unloaded');
                const state = loaded?.state ?? 'unloaded';
                return (
                  <tr key={v.id}>
                    <td>
                      <code>{v.id}</code>
                      <div class="muted small">{fmtTime(v.manifest.created_at_ms, lang)}{v.manifest.signed_by ? ` · ${t('models.signed_by', { who: v.manifest.signed_by })}` : ''}</div>
                    </td>
                    <td>{v.manifest.architecture} · {v.manifest.format} · {v.manifest.dtype}</td>
                    <td class="num">{fmtNumber(v.manifest.spec.parameters, lang)}</td>
                    <td class="num">{fmtNumber(v.manifest.spec.context_length, lang)}</td>
                    <td>{v.manifest.spec.device.kind}</td>
                    <td class="num">{fmtBytes(v.manifest.spec.memory_bytes, lang)}</td>
                    <td>
                      <Badge tone={stateTone(state)}>{t(state === 'ready' ? 'models.ready' : state === 'failed' ? 'models.failed' : state === 'unloaded' ? 'models.unloaded' : 'models.loading')}</Badge>
                      {loaded?.error && <div class="inline-error small">{loaded.error}</div>}
                    </td>
                    <td><div class="cell-actions">
                      {state === 'ready' || state === 'loading' ? (
                        <button type="button" class="btn btn-small" onClick={() => ask({ kind: 'unload', id: v.id })}>{t('models.unload')}</button>
                      ) : (
                        <button type="button" class="btn btn-small btn-primary" disabled={load.busy} onClick={() => load.run(v.id)}>{t('models.load')}</button>
                      )}
                      <button type="button" class="btn btn-small btn-danger" disabled={state === 'ready'} onClick={() => ask({ kind: 'delete', id: v.id })}>{t('common.delete')}</button>
                    </div></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : (
        <Empty title={t('models.empty')} hint={t('models.empty_hint')} />
      )}
      <InlineError error={load.error} />
    </section>
  );
}

function Import({ reload }: { reload: () => void }) {
  const { t } = useLang();
  const [source, setSource] = useState('');
  const [org, setOrg] = useState('');
  const [model, setModel] = useState('');
  const [version, setVersion] = useState('');
  const [link, setLink] = useState(false);
  const run = useAction(async () => {
    await api('/admin/v1/models', { body: { source: source.trim(), org: org.trim(), model: model.trim(), version: version.trim(), link } });
    setSource('');
    setVersion('');
    reload();
  });
  return (
    <section class="card">
      <h2>{t('models.import')}</h2>
      <p class="muted">{t('models.import_hint')}</p>
      <form class="form-grid" onSubmit={(e) => { e.preventDefault(); run.run(); }}>
        <Field label={t('models.source')} hint={t('models.source_hint')}>
          <input type="text" required value={source} onInput={(e) => setSource((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label={t('models.org')}>
          <input type="text" required value={org} onInput={(e) => setOrg((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label={t('models.model')}>
          <input type="text" required value={model} onInput={(e) => setModel((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label={t('models.version')}>
          <input type="text" required value={version} onInput={(e) => setVersion((e.target as HTMLInputElement).value)} />
        </Field>
        <label class="check">
          <input type="checkbox" checked={link} onChange={(e) => setLink((e.target as HTMLInputElement).checked)} /> {t('models.link')}
        </label>
        <div class="row-end form-actions">
          <button type="submit" class="btn btn-primary" disabled={run.busy}>{run.busy ? t('models.importing') : t('models.import_button')}</button>
        </div>
      </form>
      <InlineError error={run.error} />
    </section>
  );
}

function Releases({ data, reload, ask }: { data: ModelsData; reload: () => void; ask: (p: Pending) => void }) {
  const { t } = useLang();
  const ready = data.loaded.data.filter((l) => l.state === 'ready').map((l) => l.id);
  return (
    <section class="card">
      <h2>{t('releases.title')}</h2>
      {data.releases.length ? (
        data.releases.map((r) => <ReleaseCard key={r.alias} release={r} ready={ready} reload={reload} ask={ask} />)
      ) : (
        <Empty title={t('releases.empty')} hint={t('releases.empty_hint')} />
      )}
      <NewRelease ready={ready} reload={reload} releases={data.releases} />
    </section>
  );
}

function ReleaseCard({ release: r, ready, reload, ask }: { release: Release; ready: string[]; reload: () => void; ask: (p: Pending) => void }) {
  const { t, lang } = useLang();
  const [weight, setWeight] = useState(r.canary_weight);
  const [showHistory, setShowHistory] = useState(false);
  const [canary, setCanary] = useState('');
  const [canaryWeight, setCanaryWeight] = useState('10');
  const shift = useAction(async () => {
    await api(`/admin/v1/releases/${encodeURIComponent(r.alias)}/weight`, { body: { canary_weight: weight } });
    reload();
  });
  const start = useAction(async () => {
    await api(`/admin/v1/releases/${encodeURIComponent(r.alias)}`, { method: 'PUT', body: { canary, canary_weight: Number(canaryWeight) } });
    setCanary('');
    reload();
  });
  const history = useLoad(
    (signal) => (showHistory ? api<Release>(`/admin/v1/releases/${encodeURIComponent(r.alias)}`, { signal }) : Promise.resolve(null)),
    [showHistory, r.updated_at_ms],
  );
  return (
    <div class="release" data-testid={`release-${r.alias}`}>
      <div class="row-between">
        <h3>
          <code>{r.alias}</code>
        </h3>
        <span class="muted small">{t('releases.updated', { at: fmtTime(r.updated_at_ms, lang) })}</span>
      </div>
      <div class="split">
        <div class="split-bar">
          <div class="split-stable" style={{ width: `${100 - r.canary_weight}%` }}>
            {t('releases.stable')} {100 - r.canary_weight}%
          </div>
          {r.canary && r.canary_weight > 0 && (
            <div class="split-canary" style={{ width: `${r.canary_weight}%` }}>
              {r.canary_weight}%
            </div>
          )}
        </div>
      </div>
      <dl class="kv">
        <dt>{t('releases.stable')}</dt>
        <dd><code>{r.stable ?? '—'}</code></dd>
        <dt>{t('releases.canary')}</dt>
        <dd>{r.canary ? <code>{r.canary}</code> : <span class="muted">{t('releases.no_canary')}</span>}</dd>
        <dt>{t('releases.auto_rollback')}</dt>
        <dd>
          {r.auto_rollback
            ? t('releases.auto_rollback_rule', { err: fmtNumber(r.max_error_rate_increase * 100, lang, 1), lat: fmtNumber(r.max_latency_ratio, lang, 2), min: r.min_requests })
            : t('common.off')}
        </dd>
      </dl>
      {r.canary ? (
        <form class="row wrap-row" onSubmit={(e) => { e.preventDefault(); shift.run(); }}>
          <Field label={t('releases.weight', { w: weight })}>
            <input type="range" min="0" max="100" step="1" value={weight} onInput={(e) => setWeight(Number((e.target as HTMLInputElement).value))} data-testid="weight-range" />
          </Field>
          <Field label={t('releases.weight_exact')}>
            <input type="number" min="0" max="100" value={weight} onInput={(e) => setWeight(Number((e.target as HTMLInputElement).value))} data-testid="weight-input" class="narrow" />
          </Field>
          <button type="submit" class="btn btn-primary" disabled={shift.busy || weight === r.canary_weight} data-testid="weight-shift">{t('releases.shift')}</button>
          <button type="button" class="btn" onClick={() => ask({ kind: 'promote', alias: r.alias, canary: r.canary! })} data-testid="promote">{t('releases.promote')}</button>
          <button type="button" class="btn btn-danger" onClick={() => ask({ kind: 'rollback', alias: r.alias, canary: r.canary! })} data-testid="rollback">{t('releases.rollback')}</button>
        </form>
      ) : (
        <form class="row wrap-row" onSubmit={(e) => { e.preventDefault(); start.run(); }}>
          <Field label={t('releases.new_canary')}>
            <select value={canary} required onChange={(e) => setCanary((e.target as HTMLSelectElement).value)}>
              <option value="">{t('releases.pick_version')}</option>
              {ready.filter((id) => id !== r.stable).map((id) => <option key={id} value={id}>{id}</option>)}
            </select>
          </Field>
          <Field label={t('releases.canary_weight')}>
            <input type="number" min="0" max="100" value={canaryWeight} onInput={(e) => setCanaryWeight((e.target as HTMLInputElement).value)} class="narrow" />
          </Field>
          <button type="submit" class="btn btn-primary" disabled={start.busy || !canary}>{start.busy ? t('releases.validating') : t('releases.start_canary')}</button>
        </form>
      )}
      <InlineError error={shift.error ?? start.error} />
      <div class="row">
        <button type="button" class="btn btn-small" onClick={() => setShowHistory(!showHistory)} aria-expanded={showHistory}>
          {showHistory ? t('releases.hide_history') : t('releases.show_history')}
        </button>
        <button type="button" class="btn btn-small btn-danger" onClick={() => ask({ kind: 'delete_release', alias: r.alias })}>{t('releases.delete')}</button>
      </div>
      {showHistory && (
        <Async state={history}>
          {(h) =>
            h?.history?.length ? (
              <table data-testid="release-history">
                <thead>
                  <tr>
                    <th>{t('calls.time')}</th>
                    <th>{t('releases.action')}</th>
                    <th>{t('releases.stable')}</th>
                    <th>{t('releases.canary')}</th>
                    <th class="num">{t('releases.canary_weight')}</th>
                    <th>{t('releases.reason')}</th>
                    <th>{t('releases.actor')}</th>
                  </tr>
                </thead>
                <tbody>
                  {[...h.history].reverse().map((e, i) => (
                    <tr key={i}>
                      <td>{fmtTime(e.at_ms, lang)}</td>
                      <td><Badge tone={e.action.includes('rollback') ? 'warn' : 'info'}>{e.action}</Badge></td>
                      <td><code>{e.stable ?? '—'}</code></td>
                      <td><code>{e.canary ?? '—'}</code></td>
                      <td class="num">{e.canary_weight}%</td>
                      <td>{e.reason}</td>
                      <td>{e.actor}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p class="muted">{t('releases.no_history')}</p>
            )
          }
        </Async>
      )}
    </div>
  );
}

function NewRelease({ ready, reload, releases }: { ready: string[]; reload: () => void; releases: Release[] }) {
  const { t } = useLang();
  const [alias, setAlias] = useState('');
  const [stable, setStable] = useState('');
  const create = useAction(async () => {
    await api(`/admin/v1/releases/${encodeURIComponent(alias.trim())}`, { method: 'PUT', body: { stable } });
    setAlias('');
    setStable('');
    reload();
  });
  if (!ready.length) return <p class="muted">{t('releases.need_loaded')}</p>;
  const taken = releases.some((r) => r.alias === alias.trim());
  return (
    <form class="row wrap-row new-release" onSubmit={(e) => { e.preventDefault(); create.run(); }}>
      <Field label={t('releases.alias')}>
        <input type="text" required value={alias} onInput={(e) => setAlias((e.target as HTMLInputElement).value)} />
      </Field>
      <Field label={t('releases.stable')}>
        <select value={stable} required onChange={(e) => setStable((e.target as HTMLSelectElement).value)}>
          <option value="">{t('releases.pick_version')}</option>
          {ready.map((id) => <option key={id} value={id}>{id}</option>)}
        </select>
      </Field>
      <button type="submit" class="btn btn-primary" disabled={create.busy || taken || !stable}>{t('releases.create')}</button>
      <InlineError error={create.error} />
    </form>
  );
}
