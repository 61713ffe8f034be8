import { useEffect, useState } from 'preact/hooks';
import { api, qs, type Alert, type AlertTransition, type ListPage, type Slo } from '../api';
import { Async, Badge, Empty, InlineError, PageHeader } from '../components/ui';
import { fmtNumber, fmtPercent, fmtTime } from '../format';
import { useAction, useLoad } from '../hooks';
import { useLang, type MsgKey } from '../i18n';

interface SpendAlert {
  tenant_id: string;
  kind: string;
  value: number;
  threshold: number;
  since: number;
}

const kStates = ['firing', 'pending', 'resolved', 'inactive'] as const;

function tone(state: string): 'bad' | 'warn' | 'ok' | 'muted' {
  return state === 'firing' ? 'bad' : state === 'pending' ? 'warn' : state === 'resolved' ? 'ok' : 'muted';
}

export function Alerts() {
  const { t } = useLang();
  const [refreshed, setRefreshed] = useState(0);
  const data = useLoad(
    async (signal) => {
      const [alerts, slos, spend] = await Promise.all([
        api<ListPage<Alert>>('/admin/v1/alerts', { signal }),
        api<ListPage<Slo>>('/admin/v1/slos', { signal }),
        api<ListPage<SpendAlert>>('/admin/v1/usage/alerts', { signal }),
      ]);
      return { alerts: alerts.data, slos: slos.data, spend: spend.data };
    },
    [],
    10000,
  );
  return (
    <div>
      <PageHeader title={t('alerts.title')}>
        <button type="button" class="btn" onClick={() => { data.reload(); setRefreshed((n) => n + 1); }}>{t('common.refresh')}</button>
      </PageHeader>
      <Async state={data}>
        {(d) => (
          <>
            <AlertTable alerts={d.alerts} />
            <SloTable slos={d.slos} />
            <SpendTable spend={d.spend} />
          </>
        )}
      </Async>
      <HistoryTable alerts={data.data?.alerts ?? []} refreshed={refreshed} />
    </div>
  );
}

function AlertTable({ alerts }: { alerts: Alert[] }) {
  const { t, lang } = useLang();
  const [state, setState] = useState('');
  const order = (a: Alert) => kStates.indexOf(a.state as (typeof kStates)[number]);
  const shown = alerts.filter((a) => !state || a.state === state).sort((a, b) => order(a) - order(b) || b.since_ms - a.since_ms);
  return (
    <section class="card">
      <div class="row-between">
        <h2>{t('alerts.rules')}</h2>
        <label class="row">
          <span>{t('alerts.state')}</span>
          <select value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value)}>
            <option value="">{t('common.all')}</option>
            {kStates.map((s) => <option key={s} value={s}>{t(`alerts.state.${s}` as MsgKey)}</option>)}
          </select>
        </label>
      </div>
      {!alerts.length ? (
        <Empty title={t('alerts.none_configured')} hint={t('alerts.none_configured_hint')} />
      ) : !shown.length ? (
        <p class="muted">{t('alerts.none_in_state')}</p>
      ) : (
        <div class="table-wrap">
          <table data-testid="alerts-table">
            <thead>
              <tr>
                <th>{t('alerts.state')}</th>
                <th>{t('common.name')}</th>
                <th>{t('alerts.kind')}</th>
                <th>{t('alerts.severity')}</th>
                <th class="num">{t('alerts.value')}</th>
                <th>{t('alerts.burn_rates')}</th>
                <th>{t('alerts.since')}</th>
                <th>{t('alerts.summary')}</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((a) => (
                <tr key={a.id}>
                  <td><Badge tone={tone(a.state)}>{t(`alerts.state.${a.state}` as MsgKey)}</Badge></td>
                  <td><strong>{a.name}</strong>{a.rule && <div class="muted small"><code>{a.rule}</code></div>}{a.tenant_id && <div class="muted small">{a.tenant_id}</div>}</td>
                  <td>{a.kind}</td>
                  <td>{a.severity}</td>
                  <td class="num">{fmtNumber(a.value, lang, 3)} / {fmtNumber(a.threshold, lang, 3)}</td>
                  <td>
                    {a.windows?.length
                      ? a.windows.map((w) => <span key={w.window} class="chip">{w.window}: {fmtNumber(w.burn_rate, lang, 2)}×</span>)
                      : '—'}
                  </td>
                  <td>{a.since_ms || a.since ? fmtTime(a.since_ms || a.since * 1000, lang) : '—'}</td>
                  <td>{(lang === 'zh-CN' ? a.summary_zh : a.summary) || '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function SloTable({ slos }: { slos: Slo[] }) {
  const { t, lang } = useLang();
  return (
    <section class="card">
      <h2>{t('alerts.slos')}</h2>
      {!slos.length ? (
        <Empty title={t('alerts.no_slos')} hint={t('alerts.no_slos_hint')} />
      ) : (
        <div class="table-wrap">
          <table data-testid="slos-table">
            <thead>
              <tr>
                <th>{t('common.name')}</th>
                <th>{t('alerts.objective')}</th>
                <th>{t('alerts.budget_left')}</th>
                {['5m', '30m', '1h', '6h', '3d'].map((w) => <th key={w} class="num">{w}</th>)}
              </tr>
            </thead>
            <tbody>
              {slos.map((s) => {
                const left = s.error_budget_remaining;
                return (
                  <tr key={s.name}>
                    <td><strong>{s.name}</strong><div class="muted small"><code>{s.spec}</code></div></td>
                    <td>{s.kind} {fmtPercent(s.objective, lang, 2)}</td>
                    <td>
                      <div class="meter">
                        <div class={`meter-bar${left < 0.2 ? ' meter-full' : left < 0.5 ? ' meter-high' : ''}`} style={{ width: `${Math.max(0, Math.min(left, 1)) * 100}%` }} />
                        <span class="meter-text">{fmtPercent(left, lang)}</span>
                      </div>
                    </td>
                    {['5m', '30m', '1h', '6h', '3d'].map((name) => {
                      const w = s.windows.find((x) => x.window === name);
                      return (
                        <td key={name} class="num" title={w ? t('alerts.window_detail', { good: w.good ?? 0, total: w.total ?? 0, ratio: fmtPercent(w.error_ratio ?? 0, lang, 3) }) : ''}>
                          {w ? `${fmtNumber(w.burn_rate, lang, 2)}×` : '—'}
                        </td>
                      );
                    })}
                  </tr>
                );
              })}
            </tbody>
          </table>
          <p class="muted small">{t('alerts.burn_hint')}</p>
        </div>
      )}
    </section>
  );
}

function SpendTable({ spend }: { spend: SpendAlert[] }) {
  const { t, lang } = useLang();
  return (
    <section class="card">
      <h2>{t('alerts.spend')}</h2>
      {!spend.length ? (
        <p class="muted">{t('alerts.no_spend')}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>{t('common.tenant')}</th>
              <th>{t('alerts.kind')}</th>
              <th class="num">{t('alerts.value')}</th>
              <th>{t('alerts.since')}</th>
            </tr>
          </thead>
          <tbody>
            {spend.map((s, i) => (
              <tr key={i}>
                <td><code>{s.tenant_id}</code></td>
                <td>{s.kind}</td>
                <td class="num">{fmtNumber(s.value, lang, 2)} / {fmtNumber(s.threshold, lang, 2)}</td>
                <td>{fmtTime(s.since * 1000, lang)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

const kHistoryPage = 50;

//! Every fired and resolved transition the server stored, newest first, with its own loading,
//! error and empty states (it is a separate request from the tables above), filtered by alert,
//! a page at a time. It refreshes with the page, but not while older pages are shown (a refresh
//! starts again from the newest).
function HistoryTable({ alerts, refreshed }: { alerts: Alert[]; refreshed: number }) {
  const { t, lang } = useLang();
  const [alertId, setAlertId] = useState('');
  const [older, setOlder] = useState<AlertTransition[]>([]);
  const [hasMore, setHasMore] = useState<boolean | undefined>(undefined);
  const first = useLoad(
    async (signal) => {
      const page = await api<ListPage<AlertTransition>>(
        `/admin/v1/alerts/history${qs({ alert_id: alertId, limit: kHistoryPage })}`,
        { signal },
      );
      setOlder([]);
      setHasMore(undefined);
      return page;
    },
    [alertId],
    older.length ? 0 : 10000,
  );
  useEffect(() => {
    if (refreshed) first.reload();
  }, [refreshed]);
  const loadMore = useAction(async () => {
    const rows = [...(first.data?.data ?? []), ...older];
    const last = rows[rows.length - 1];
    if (!last) return;
    const page = await api<ListPage<AlertTransition>>(
      `/admin/v1/alerts/history${qs({ alert_id: alertId, limit: kHistoryPage, after: last.id })}`,
    );
    setOlder((o) => [...o, ...page.data]);
    setHasMore(page.has_more);
  });
  return (
    <section class="card" data-testid="alert-history">
      <div class="row-between">
        <div>
          <h2>{t('alerts.history')}</h2>
          <p class="muted small">{t('alerts.history_hint')}</p>
        </div>
        <label class="row">
          <span>{t('alerts.history_alert')}</span>
          <select value={alertId} onChange={(e) => setAlertId((e.target as HTMLSelectElement).value)} data-testid="alert-history-filter">
            <option value="">{t('common.all')}</option>
            {alerts.map((a) => <option key={a.id} value={a.id}>{a.id}</option>)}
          </select>
        </label>
      </div>
      <Async state={first}>
        {(page) => {
          const rows = [...page.data, ...older];
          const more = hasMore ?? page.has_more;
          if (!rows.length) {
            return <Empty title={t(alertId ? 'alerts.history_empty_one' : 'alerts.history_empty')} hint={t('alerts.history_empty_hint')} />;
          }
          return (
            <>
              <div class="table-wrap">
                <table data-testid="alert-history-table">
                  <thead>
                    <tr>
                      <th>{t('alerts.at')}</th>
                      <th>{t('alerts.event')}</th>
                      <th>{t('common.name')}</th>
                      <th>{t('alerts.kind')}</th>
                      <th>{t('alerts.severity')}</th>
                      <th class="num">{t('alerts.value')}</th>
                      <th>{t('alerts.summary')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((h) => (
                      <tr key={h.id}>
                        <td>{fmtTime(h.at_ms || h.at * 1000, lang)}</td>
                        <td><Badge tone={h.event === 'fired' ? 'bad' : 'ok'}>{t(h.event === 'fired' ? 'alerts.event.fired' : 'alerts.event.resolved')}</Badge></td>
                        <td><strong>{h.name}</strong>{h.rule && <div class="muted small"><code>{h.rule}</code></div>}{h.tenant_id && <div class="muted small">{h.tenant_id}</div>}</td>
                        <td>{h.kind}</td>
                        <td>{h.severity}</td>
                        <td class="num">{fmtNumber(h.value, lang, 3)} / {fmtNumber(h.threshold, lang, 3)}</td>
                        <td>{(lang === 'zh-CN' ? h.summary_zh : h.summary) || '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <InlineError error={loadMore.error} />
              {more && (
                <div class="row-end">
                  <button type="button" class="btn" onClick={() => loadMore.run()} disabled={loadMore.busy}>
                    {loadMore.busy ? t('common.loading') : t('alerts.history_more')}
                  </button>
                </div>
              )}
            </>
          );
        }}
      </Async>
    </section>
  );
}
