import { useState } from 'preact/hooks';
import { api, qs, type ApiKey, type BudgetAlert, type TenantModels, type Limit, type ListPage, type Project, type Tenant, type UsageAnswer, type UsageRow } from '../api';
import { Async, Badge, Confirm, CopyButton, Empty, Field, InlineError, PageHeader } from '../components/ui';
import { fmtCost, fmtNumber, fmtTime } from '../format';
import { useAction, useLoad } from '../hooks';
import { useLang, type MsgKey } from '../i18n';
import { href, navigate, type Route } from '../router';
import { isPlatform, useSession } from '../session';

export function Tenants({ route }: { route: Route }) {
  const { session } = useSession();
  if (!isPlatform(session)) return <TenantDetail id={session.identity.tenant_id!} />;
  return route.rest[0] ? <TenantDetail id={route.rest[0]} /> : <TenantList />;
}

function TenantList() {
  const { t, lang } = useLang();
  const tenants = useLoad((signal) => api<ListPage<Tenant>>('/admin/v1/tenants?limit=1000', { signal }), []);
  const [name, setName] = useState('');
  const create = useAction(async () => {
    const created = await api<Tenant>('/admin/v1/tenants', { body: { name: name.trim() } });
    setName('');
    navigate(`/tenants/${created.id}`);
  });
  return (
    <div>
      <PageHeader title={t('tenants.title')} />
      <section class="card">
        <h2>{t('tenants.create')}</h2>
        <form class="row wrap-row" onSubmit={(e) => { e.preventDefault(); create.run(); }}>
          <Field label={t('common.name')} hint={t('common.name_rule')}>
            <input type="text" required pattern="[A-Za-z0-9._\-]{1,128}" value={name}
                   onInput={(e) => setName((e.target as HTMLInputElement).value)} data-testid="tenant-name" />
          </Field>
          <button type="submit" class="btn btn-primary" disabled={create.busy} data-testid="tenant-create">
            {create.busy ? t('common.working') : t('tenants.create_button')}
          </button>
        </form>
        <InlineError error={create.error} />
      </section>
      <Async state={tenants}>
        {(page) =>
          page.data.length ? (
            <section class="card">
              <table data-testid="tenants-table">
                <thead>
                  <tr>
                    <th>{t('common.name')}</th>
                    <th>ID</th>
                    <th>{t('common.created')}</th>
                  </tr>
                </thead>
                <tbody>
                  {page.data.map((x) => (
                    <tr key={x.id}>
                      <td><a href={href('tenants', x.id)}>{x.name}</a></td>
                      <td><code>{x.id}</code></td>
                      <td>{fmtTime(x.created_at * 1000, lang)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          ) : (
            <Empty title={t('tenants.empty')} hint={t('tenants.empty_hint')} />
          )
        }
      </Async>
    </div>
  );
}

const kLimitKinds = [
  'requests_per_minute', 'tokens_per_minute', 'concurrent_requests', 'requests_per_day', 'tokens_per_day',
  'requests_per_month', 'tokens_per_month', 'spend',
] as const;

interface TenantData {
  tenant: Tenant;
  projects: Project[];
  keys: ApiKey[];
  limits: Limit[];
  day: UsageAnswer;
  month: UsageAnswer;
}

function startOfUtcDay(): number {
  const d = new Date();
  return Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) / 1000);
}
function startOfUtcMonth(): number {
  const d = new Date();
  return Math.floor(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000);
}

function TenantDetail({ id }: { id: string }) {
  const { t } = useLang();
  const { session } = useSession();
  const data = useLoad(async (signal): Promise<TenantData> => {
    const base = `/admin/v1/tenants/${encodeURIComponent(id)}`;
    const usage = (from: number) => api<UsageAnswer>(`/admin/v1/usage${qs({ from, tenant_id: id, group_by: 'project,key' })}`, { signal });
    const [tenant, projects, keys, limits, day, month] = await Promise.all([
      api<Tenant>(base, { signal }),
      api<ListPage<Project>>(`${base}/projects?limit=1000`, { signal }),
      api<ListPage<ApiKey>>(`${base}/keys?limit=1000`, { signal }),
      api<ListPage<Limit>>('/admin/v1/limits', { signal }),
      usage(startOfUtcDay()),
      usage(startOfUtcMonth()),
    ]);
    return { tenant, projects: projects.data, keys: keys.data, limits: limits.data.filter((l) => l.tenant_id === id), day, month };
  }, [id]);
  return (
    <div>
      <PageHeader title={data.data ? t('tenants.detail_title', { name: data.data.tenant.name }) : t('tenants.title')}>
        {isPlatform(session) && <a class="btn" href={href('tenants')}>{t('tenants.back')}</a>}
      </PageHeader>
      <Async state={data}>
        {(d) => (
          <>
            <p class="muted">ID <code data-testid="tenant-id">{d.tenant.id}</code></p>
            <Projects tenantId={id} projects={d.projects} reload={data.reload} />
            <Keys tenantId={id} data={d} reload={data.reload} />
            <Limits tenantId={id} data={d} reload={data.reload} />
            <BudgetAlertCard tenantId={id} />
            <ModelGrants tenantId={id} canEdit={isPlatform(session)} />
          </>
        )}
      </Async>
    </div>
  );
}

function Projects({ tenantId, projects, reload }: { tenantId: string; projects: Project[]; reload: () => void }) {
  const { t, lang } = useLang();
  const [name, setName] = useState('');
  const create = useAction(async () => {
    await api(`/admin/v1/tenants/${encodeURIComponent(tenantId)}/projects`, { body: { name: name.trim() } });
    setName('');
    reload();
  });
  return (
    <section class="card">
      <h2>{t('projects.title')}</h2>
      {projects.length ? (
        <table data-testid="projects-table">
          <thead>
            <tr><th>{t('common.name')}</th><th>ID</th><th>{t('common.created')}</th></tr>
          </thead>
          <tbody>
            {projects.map((p) => (
              <tr key={p.id}><td>{p.name}</td><td><code>{p.id}</code></td><td>{fmtTime(p.created_at * 1000, lang)}</td></tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">{t('projects.empty')}</p>
      )}
      <form class="row wrap-row" onSubmit={(e) => { e.preventDefault(); create.run(); }}>
        <Field label={t('projects.new_name')} hint={t('common.name_rule')}>
          <input type="text" required pattern="[A-Za-z0-9._\-]{1,128}" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} data-testid="project-name" />
        </Field>
        <button type="submit" class="btn" disabled={create.busy} data-testid="project-create">{t('projects.create')}</button>
      </form>
      <InlineError error={create.error} />
    </section>
  );
}

function Keys({ tenantId, data, reload }: { tenantId: string; data: TenantData; reload: () => void }) {
  const { t, lang } = useLang();
  const [name, setName] = useState('');
  const [role, setRole] = useState('app');
  const [project, setProject] = useState('');
  const [scopes, setScopes] = useState<string[]>(['inference']);
  const [models, setModels] = useState('');
  const [expires, setExpires] = useState('');
  const [created, setCreated] = useState<ApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const create = useAction(async () => {
    const body: Record<string, unknown> = { name: name.trim(), role, scopes: role === 'tenant_admin' ? undefined : scopes };
    if (project && role === 'app') body.project_id = project;
    const list = models.split(',').map((m) => m.trim()).filter(Boolean);
    if (list.length) body.models = list;
    if (expires) body.expires_at = Math.floor(new Date(expires).getTime() / 1000);
    const key = await api<ApiKey>(`/admin/v1/tenants/${encodeURIComponent(tenantId)}/keys`, { body });
    setCreated(key);
    setName('');
    reload();
  });
  const revoke = useAction(async (k: ApiKey) => {
    await api(`/admin/v1/keys/${encodeURIComponent(k.id)}/revoke`, { method: 'POST' });
    setRevoking(null);
    reload();
  });
  const toggleScope = (s: string) => setScopes(scopes.includes(s) ? scopes.filter((x) => x !== s) : [...scopes, s]);
  const projectName = (pid: string | null) => (pid ? data.projects.find((p) => p.id === pid)?.name ?? pid : t('keys.whole_tenant'));
  return (
    <section class="card">
      <h2>{t('keys.title')}</h2>
      {created?.value && (
        <div class="notice" role="status" data-testid="new-key">
          <strong>{t('keys.created_once')}</strong>
          <div class="row">
            <code class="secret" data-testid="new-key-value">{created.value}</code>
            <CopyButton text={created.value} />
          </div>
          <button type="button" class="btn btn-small" onClick={() => setCreated(null)}>{t('keys.dismiss')}</button>
        </div>
      )}
      {data.keys.length ? (
        <div class="table-wrap">
          <table data-testid="keys-table">
            <thead>
              <tr>
                <th>{t('common.name')}</th>
                <th>{t('keys.key')}</th>
                <th>{t('keys.role')}</th>
                <th>{t('keys.project')}</th>
                <th>{t('keys.scopes')}</th>
                <th>{t('keys.models')}</th>
                <th>{t('common.created')}</th>
                <th>{t('keys.state')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.keys.map((k) => {
                const expired = k.expires_at !== null && k.expires_at * 1000 < Date.now();
                return (
                  <tr key={k.id}>
                    <td>{k.name}<div class="muted small"><code>{k.id}</code></div></td>
                    <td><code>{k.redacted_value}</code></td>
                    <td>{k.role === 'tenant_admin' ? t('role.tenant_admin') : t('keys.role_app')}</td>
                    <td>{projectName(k.project_id)}</td>
                    <td>{k.scopes.join(', ')}</td>
                    <td>{k.models.length ? k.models.join(', ') : t('keys.all_models')}</td>
                    <td>{fmtTime(k.created_at * 1000, lang)}</td>
                    <td>
                      {k.revoked_at ? <Badge tone="bad">{t('keys.revoked')}</Badge> : expired ? <Badge tone="warn">{t('keys.expired')}</Badge> : <Badge tone="ok">{t('keys.active')}</Badge>}
                    </td>
                    <td>
                      {!k.revoked_at && (
                        <button type="button" class="btn btn-small btn-danger" onClick={() => { revoke.clearError(); setRevoking(k); }} data-testid="revoke">
                          {t('keys.revoke')}
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : (
        <p class="muted">{t('keys.empty')}</p>
      )}
      <h3>{t('keys.create')}</h3>
      <form class="form-grid" onSubmit={(e) => { e.preventDefault(); create.run(); }}>
        <Field label={t('common.name')} hint={t('common.name_rule')}>
          <input type="text" required pattern="[A-Za-z0-9._\-]{1,128}" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} data-testid="key-name" />
        </Field>
        <Field label={t('keys.role')}>
          <select value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
            <option value="app">{t('keys.role_app')}</option>
            <option value="tenant_admin">{t('role.tenant_admin')}</option>
          </select>
        </Field>
        <Field label={t('keys.project')}>
          <select value={project} onChange={(e) => setProject((e.target as HTMLSelectElement).value)} disabled={role !== 'app'}>
            <option value="">{t('keys.whole_tenant')}</option>
            {data.projects.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
          </select>
        </Field>
        <Field label={t('keys.models')} hint={t('keys.models_hint')}>
          <input type="text" value={models} onInput={(e) => setModels((e.target as HTMLInputElement).value)} />
        </Field>
        <Field label={t('keys.expires')} hint={t('keys.expires_hint')}>
          <input type="date" value={expires} onInput={(e) => setExpires((e.target as HTMLInputElement).value)} />
        </Field>
        <fieldset class="field" disabled={role !== 'app'}>
          <legend class="field-label">{t('keys.scopes')}</legend>
          {['inference', 'rag', 'agents'].map((s) => (
            <label class="check" key={s}>
              <input type="checkbox" checked={scopes.includes(s)} onChange={() => toggleScope(s)} /> {s}
            </label>
          ))}
        </fieldset>
        <div class="row-end form-actions">
          <button type="submit" class="btn btn-primary" disabled={create.busy} data-testid="key-create">
            {create.busy ? t('common.working') : t('keys.create_button')}
          </button>
        </div>
      </form>
      <InlineError error={create.error} />
      <Confirm
        open={revoking !== null}
        title={t('keys.revoke_title', { name: revoking?.name ?? '' })}
        body={t('keys.revoke_body')}
        confirmLabel={t('keys.revoke')}
        danger
        busy={revoke.busy}
        error={revoke.error}
        onConfirm={() => revoking && revoke.run(revoking)}
        onCancel={() => setRevoking(null)}
      />
    </section>
  );
}

// The usage a limit is measured against, from the usage ledger: today (UTC) for the per-day
// kinds, this month for the per-month ones and a monthly spend. Per-minute rates, concurrency
// and a spend over a custom period keep their counters in memory only: no API shows them.
function usedAgainst(limit: Limit, d: TenantData): number | null {
  const [kind, subjectId] = [limit.subject.slice(0, limit.subject.indexOf(':')), limit.subject.slice(limit.subject.indexOf(':') + 1)];
  const pick = (u: UsageAnswer): UsageRow[] =>
    kind === 'tenant' ? [u.totals] : u.data.filter((r) => (kind === 'project' ? r.project_id === subjectId : kind === 'key' ? r.key_id === subjectId : false));
  const total = (rows: UsageRow[], f: (r: UsageRow) => number) => rows.reduce((a, r) => a + f(r), 0);
  switch (limit.kind) {
    case 'requests_per_day': return total(pick(d.day), (r) => r.calls);
    case 'tokens_per_day': return total(pick(d.day), (r) => r.input_tokens + r.output_tokens);
    case 'requests_per_month': return total(pick(d.month), (r) => r.calls);
    case 'tokens_per_month': return total(pick(d.month), (r) => r.input_tokens + r.output_tokens);
    case 'spend': return limit.period_seconds === 0 ? total(pick(d.month), (r) => r.cost) : null;
    default: return null;
  }
}

function Limits({ tenantId, data, reload }: { tenantId: string; data: TenantData; reload: () => void }) {
  const { t, lang } = useLang();
  const [subject, setSubject] = useState(`tenant:${tenantId}`);
  const [kind, setKind] = useState<string>('requests_per_minute');
  const [value, setValue] = useState('');
  const [period, setPeriod] = useState('0');
  const [deleting, setDeleting] = useState<Limit | null>(null);
  const save = useAction(async () => {
    const body: Record<string, unknown> = { subject, kind, limit: Number(value) };
    if (kind === 'spend') body.period_seconds = Number(period) || 0;
    await api('/admin/v1/limits', { method: 'PUT', body });
    setValue('');
    reload();
  });
  const remove = useAction(async (l: Limit) => {
    await api(`/admin/v1/limits/${encodeURIComponent(l.id)}`, { method: 'DELETE' });
    setDeleting(null);
    reload();
  });
  const edit = (l: Limit) => {
    setSubject(l.subject);
    setKind(l.kind);
    setValue(String(l.limit));
    setPeriod(String(l.period_seconds));
  };
  const subjectName = (s: string) => {
    const [k, id] = [s.slice(0, s.indexOf(':')), s.slice(s.indexOf(':') + 1)];
    if (k === 'tenant') return `${t('common.tenant')} ${data.tenant.name}`;
    if (k === 'project') return `${t('keys.project')} ${data.projects.find((p) => p.id === id)?.name ?? id}`;
    if (k === 'key') return `${t('keys.key')} ${data.keys.find((x) => x.id === id)?.name ?? id}`;
    return s;
  };
  const fmtValue = (l: Limit, v: number) => (l.kind === 'spend' ? fmtCost(v, lang) : fmtNumber(v, lang));
  return (
    <section class="card">
      <h2>{t('limits.title')}</h2>
      {data.limits.length ? (
        <table data-testid="limits-table">
          <thead>
            <tr>
              <th>{t('limits.subject')}</th>
              <th>{t('limits.kind')}</th>
              <th class="num">{t('limits.limit')}</th>
              <th>{t('limits.used')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.limits.map((l) => {
              const used = usedAgainst(l, data);
              const ratio = used === null || l.limit <= 0 ? null : used / l.limit;
              return (
                <tr key={l.id}>
                  <td>{subjectName(l.subject)}</td>
                  <td>{t(`limits.kind.${l.kind}` as MsgKey) ?? l.kind}{l.kind === 'spend' && l.period_seconds ? ` (${l.period_seconds} s)` : ''}</td>
                  <td class="num">{fmtValue(l, l.limit)}</td>
                  <td>
                    {ratio === null ? (
                      <span class="muted small" title={t('limits.live_only_hint')}>{t('limits.live_only')}</span>
                    ) : (
                      <div class="meter" title={`${fmtValue(l, used!)} / ${fmtValue(l, l.limit)}`}>
                        <div class={`meter-bar${ratio >= 1 ? ' meter-full' : ratio >= 0.8 ? ' meter-high' : ''}`} style={{ width: `${Math.min(ratio, 1) * 100}%` }} />
                        <span class="meter-text">{fmtValue(l, used!)} / {fmtValue(l, l.limit)}</span>
                      </div>
                    )}
                  </td>
                  <td><div class="cell-actions">
                    <button type="button" class="btn btn-small" onClick={() => edit(l)}>{t('common.edit')}</button>
                    <button type="button" class="btn btn-small btn-danger" onClick={() => { remove.clearError(); setDeleting(l); }}>{t('common.delete')}</button>
                  </div></td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : (
        <p class="muted">{t('limits.empty')}</p>
      )}
      <h3>{t('limits.set')}</h3>
      <form class="form-grid" onSubmit={(e) => { e.preventDefault(); save.run(); }}>
        <Field label={t('limits.subject')}>
          <select value={subject} onChange={(e) => setSubject((e.target as HTMLSelectElement).value)} data-testid="limit-subject">
            <option value={`tenant:${tenantId}`}>{subjectName(`tenant:${tenantId}`)}</option>
            {data.projects.map((p) => <option key={p.id} value={`project:${p.id}`}>{subjectName(`project:${p.id}`)}</option>)}
            {data.keys.filter((k) => !k.revoked_at).map((k) => <option key={k.id} value={`key:${k.id}`}>{subjectName(`key:${k.id}`)}</option>)}
          </select>
        </Field>
        <Field label={t('limits.kind')}>
          <select value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)} data-testid="limit-kind">
            {kLimitKinds.map((k) => <option key={k} value={k}>{t(`limits.kind.${k}` as MsgKey)}</option>)}
          </select>
        </Field>
        <Field label={t('limits.limit')} hint={kind === 'spend' ? t('limits.spend_hint') : undefined}>
          <input type="number" min="0" step={kind === 'spend' ? '0.01' : '1'} required value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} data-testid="limit-value" />
        </Field>
        {kind === 'spend' && (
          <Field label={t('limits.period')} hint={t('limits.period_hint')}>
            <input type="number" min="0" value={period} onInput={(e) => setPeriod((e.target as HTMLInputElement).value)} />
          </Field>
        )}
        <div class="row-end form-actions">
          <button type="submit" class="btn btn-primary" disabled={save.busy} data-testid="limit-save">{t('limits.save')}</button>
        </div>
      </form>
      <InlineError error={save.error} />
      <Confirm
        open={deleting !== null}
        title={t('limits.delete_title')}
        body={deleting ? t('limits.delete_body', { subject: subjectName(deleting.subject), kind: deleting.kind }) : ''}
        confirmLabel={t('common.delete')}
        danger
        busy={remove.busy}
        error={remove.error}
        onConfirm={() => deleting && remove.run(deleting)}
        onCancel={() => setDeleting(null)}
      />
    </section>
  );
}

// A tenant's monthly spend alert: GET answers monthly_spend null while none is set.
function BudgetAlertCard({ tenantId }: { tenantId: string }) {
  const { t, lang } = useLang();
  const path = `/admin/v1/tenants/${encodeURIComponent(tenantId)}/budget-alert`;
  const alert = useLoad(async (signal): Promise<(BudgetAlert & { monthly_spend: number }) | null> => {
    const got = await api<BudgetAlert>(path, { signal });
    return got.monthly_spend === null ? null : { ...got, monthly_spend: got.monthly_spend };
  }, [tenantId]);
  const [value, setValue] = useState('');
  const [removing, setRemoving] = useState(false);
  const save = useAction(async () => {
    await api(path, { method: 'PUT', body: { monthly_spend: Number(value) } });
    setValue('');
    alert.reload();
  });
  const remove = useAction(async () => {
    await api(path, { method: 'DELETE' });
    setRemoving(false);
    alert.reload();
  });
  return (
    <section class="card" data-testid="budget-alert">
      <h2>{t('budget.title')}</h2>
      <Async state={alert}>
        {(a) =>
          a ? (
            <div class="row wrap-row">
              <p data-testid="budget-alert-value">
                {t('budget.current', { amount: fmtCost(a.monthly_spend, lang) })}
              </p>
              <button type="button" class="btn btn-small" onClick={() => setValue(String(a.monthly_spend))}>{t('common.edit')}</button>
              <button type="button" class="btn btn-small btn-danger" onClick={() => { remove.clearError(); setRemoving(true); }} data-testid="budget-alert-delete">
                {t('common.delete')}
              </button>
            </div>
          ) : (
            <p class="muted" data-testid="budget-alert-none">{t('budget.none')}</p>
          )
        }
      </Async>
      <form class="row wrap-row" onSubmit={(e) => { e.preventDefault(); save.run(); }}>
        <Field label={t('budget.amount')} hint={t('budget.amount_hint')}>
          <input type="number" min="0" step="0.01" required value={value}
                 onInput={(e) => setValue((e.target as HTMLInputElement).value)} data-testid="budget-alert-input" />
        </Field>
        <button type="submit" class="btn btn-primary" disabled={save.busy} data-testid="budget-alert-save">
          {save.busy ? t('common.working') : alert.data ? t('budget.change') : t('budget.set')}
        </button>
      </form>
      <InlineError error={save.error} />
      <Confirm
        open={removing}
        title={t('budget.delete_title')}
        body={t('budget.delete_body')}
        confirmLabel={t('common.delete')}
        danger
        busy={remove.busy}
        error={remove.error}
        onConfirm={() => remove.run()}
        onCancel={() => setRemoving(false)}
      />
    </section>
  );
}

// The models a tenant is granted. PUT replaces the whole list, so granting or taking back one
// model sends the new list; taking back the last one, or "every model", is a DELETE.
function ModelGrants({ tenantId, canEdit }: { tenantId: string; canEdit: boolean }) {
  const { t } = useLang();
  const path = `/admin/v1/tenants/${encodeURIComponent(tenantId)}/models`;
  const grants = useLoad((signal) => api<TenantModels>(path, { signal }), [tenantId]);
  const served = useLoad(
    (signal) => (canEdit ? api<ListPage<{ id: string }>>('/v1/models', { signal }).then((p) => p.data.map((m) => m.id)) : Promise.resolve([] as string[])),
    [canEdit],
  );
  const [model, setModel] = useState('');
  const [confirm, setConfirm] = useState<{ remove: string | null } | null>(null);
  const current = grants.data?.models ?? [];
  const grant = useAction(async () => {
    const id = model.trim();
    if (!id) return;
    if (!current.includes(id)) await api(path, { method: 'PUT', body: { models: [...current, id] } });
    setModel('');
    grants.reload();
  });
  const revoke = useAction(async (id: string | null) => {
    const rest = id === null ? [] : current.filter((m) => m !== id);
    if (rest.length) await api(path, { method: 'PUT', body: { models: rest } });
    else await api(path, { method: 'DELETE' });
    setConfirm(null);
    grants.reload();
  });
  const ask = (remove: string | null) => { revoke.clearError(); setConfirm({ remove }); };
  const listId = `grant-models-${tenantId}`;
  return (
    <section class="card" data-testid="model-grants">
      <h2>{t('grants.title')}</h2>
      <Async state={grants}>
        {(g) =>
          g.models && g.models.length ? (
            <>
              <table data-testid="grants-table">
                <thead>
                  <tr><th>{t('common.model')}</th>{canEdit && <th />}</tr>
                </thead>
                <tbody>
                  {g.models.map((m) => (
                    <tr key={m}>
                      <td><code>{m}</code></td>
                      {canEdit && (
                        <td><div class="cell-actions">
                          <button type="button" class="btn btn-small btn-danger" onClick={() => ask(m)}>{t('grants.remove')}</button>
                        </div></td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
              {canEdit && (
                <p><button type="button" class="btn btn-small" onClick={() => ask(null)} data-testid="grants-reset">{t('grants.reset')}</button></p>
              )}
            </>
          ) : (
            <p class="muted" data-testid="grants-all">{t('grants.all')}</p>
          )
        }
      </Async>
      {canEdit ? (
        <>
          <form class="row wrap-row" onSubmit={(e) => { e.preventDefault(); grant.run(); }}>
            <Field label={t('grants.model')} hint={t('grants.model_hint')}>
              <input type="text" required list={listId} value={model}
                     onInput={(e) => setModel((e.target as HTMLInputElement).value)} data-testid="grant-model" />
            </Field>
            <datalist id={listId}>
              {(served.data ?? []).filter((m) => !current.includes(m)).map((m) => <option key={m} value={m} />)}
            </datalist>
            <button type="submit" class="btn btn-primary" disabled={grant.busy || grants.data === undefined} data-testid="grant-add">
              {grant.busy ? t('common.working') : t('grants.add')}
            </button>
          </form>
          <InlineError error={grant.error} />
        </>
      ) : (
        <p class="muted small">{t('grants.read_only')}</p>
      )}
      <Confirm
        open={confirm !== null}
        title={confirm?.remove ? t('grants.remove_title', { model: confirm.remove }) : t('grants.reset_title')}
        body={confirm?.remove && current.length > 1 ? t('grants.remove_body') : t('grants.reset_body')}
        confirmLabel={confirm?.remove ? t('grants.remove') : t('grants.reset')}
        danger
        busy={revoke.busy}
        error={revoke.error}
        onConfirm={() => confirm && revoke.run(confirm.remove)}
        onCancel={() => setConfirm(null)}
      />
    </section>
  );
}
