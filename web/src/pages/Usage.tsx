import { useMemo, useState } from 'preact/hooks';
import { api, apiText, qs, type ListPage, type Tenant, type UsageAnswer, type UsageRow } from '../api';
import { Chart } from '../components/Chart';
import { Async, Empty, Field, InlineError, PageHeader, Stat } from '../components/ui';
import { fmtCost, fmtMs, fmtNumber } from '../format';
import { useAction, useLoad } from '../hooks';
import { useLang, type MsgKey } from '../i18n';
import { href } from '../router';
import { isPlatform, useSession } from '../session';

type Dimension = 'tenant' | 'project' | 'key' | 'model';
type Metric = 'calls' | 'tokens' | 'cost' | 'errors';

const kDimensions: Dimension[] = ['tenant', 'project', 'key', 'model'];
const kMetrics: Metric[] = ['calls', 'tokens', 'cost', 'errors'];
const kRanges = [
  { id: '24h', hours: 24, label: 'usage.range_24h' },
  { id: '7d', hours: 24 * 7, label: 'usage.range_7d' },
  { id: '30d', hours: 24 * 30, label: 'usage.range_30d' },
] as const;

function dimValue(r: UsageRow, d: Dimension): string {
  switch (d) {
    case 'tenant': return r.tenant_id ?? '';
    case 'project': return r.project_id ?? '';
    case 'key': return r.key_id ?? '';
    case 'model': return r.model ?? '';
  }
}

function metricOf(r: UsageRow, m: Metric): number {
  switch (m) {
    case 'calls': return r.calls;
    case 'tokens': return r.input_tokens + r.output_tokens;
    case 'cost': return r.cost;
    case 'errors': return r.errors;
  }
}

function dateInput(unix: number): string {
  return new Date(unix * 1000).toISOString().slice(0, 10);
}

export function Usage() {
  const { t, lang } = useLang();
  const { session } = useSession();
  const platform = isPlatform(session);
  const [range, setRange] = useState<string>('7d');
  const [from, setFrom] = useState(() => dateInput(Date.now() / 1000 - 30 * 86400));
  const [to, setTo] = useState(() => dateInput(Date.now() / 1000 + 86400));
  const [dimension, setDimension] = useState<Dimension>(platform ? 'tenant' : 'project');
  const [metric, setMetric] = useState<Metric>('calls');
  const [tenant, setTenant] = useState('');
  const [model, setModel] = useState('');

  const window = useMemo(() => {
    const preset = kRanges.find((r) => r.id === range);
    if (preset) return { from: Math.floor(Date.now() / 1000 / 3600) * 3600 - (preset.hours - 1) * 3600, to: undefined as string | undefined };
    return { from: from, to };
  }, [range, from, to]);
  const params = { from: window.from, to: window.to, tenant_id: tenant, model };

  const tenants = useLoad((signal) => (platform ? api<ListPage<Tenant>>('/admin/v1/tenants?limit=1000', { signal }) : Promise.resolve(null)), []);
  const data = useLoad(
    async (signal) => {
      const [table, series] = await Promise.all([
        api<UsageAnswer>(`/admin/v1/usage${qs({ ...params, group_by: dimension })}`, { signal }),
        api<UsageAnswer>(`/admin/v1/usage${qs({ ...params, group_by: `hour,${dimension}` })}`, { signal }),
      ]);
      return { table, series };
    },
    [JSON.stringify(params), dimension],
  );

  const exportCsv = useAction(async () => {
    const csv = await apiText(`/admin/v1/usage${qs({ ...params, group_by: `hour,${dimension}`, format: 'csv' })}`);
    const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `usage-${dimension}-${new Date().toISOString().slice(0, 10)}.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });

  const label = (d: Dimension, v: string) => {
    if (!v) return d === 'tenant' ? t('usage.platform') : d === 'project' ? t('usage.no_project') : '—';
    if (d === 'tenant') return tenants.data?.data.find((x) => x.id === v)?.name ?? v;
    return v;
  };
  const fmtMetric = (v: number) => (metric === 'cost' ? fmtCost(v, lang) : fmtNumber(v, lang));

  return (
    <div>
      <PageHeader title={t('usage.title')}>
        <button type="button" class="btn" onClick={() => exportCsv.run()} disabled={exportCsv.busy} data-testid="usage-csv">
          {t('usage.export_csv')}
        </button>
      </PageHeader>
      <form class="card filters" onSubmit={(e) => e.preventDefault()} aria-label={t('usage.filters')}>
        <Field label={t('usage.range')}>
          <select value={range} onChange={(e) => setRange((e.target as HTMLSelectElement).value)} data-testid="usage-range">
            {kRanges.map((r) => <option key={r.id} value={r.id}>{t(r.label)}</option>)}
            <option value="custom">{t('usage.range_custom')}</option>
          </select>
        </Field>
        {range === 'custom' && (
          <>
            <Field label={t('usage.from')}>
              <input type="date" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
            </Field>
            <Field label={t('usage.to')}>
              <input type="date" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
            </Field>
          </>
        )}
        <Field label={t('usage.group_by')}>
          <select value={dimension} onChange={(e) => setDimension((e.target as HTMLSelectElement).value as Dimension)} data-testid="usage-group">
            {kDimensions.filter((d) => platform || d !== 'tenant').map((d) => <option key={d} value={d}>{t(`usage.dim.${d}` as MsgKey)}</option>)}
          </select>
        </Field>
        <Field label={t('usage.metric')}>
          <select value={metric} onChange={(e) => setMetric((e.target as HTMLSelectElement).value as Metric)}>
            {kMetrics.map((m) => <option key={m} value={m}>{t(`usage.metric.${m}` as MsgKey)}</option>)}
          </select>
        </Field>
        {platform && (
          <Field label={t('common.tenant')}>
            <select value={tenant} onChange={(e) => setTenant((e.target as HTMLSelectElement).value)}>
              <option value="">{t('common.all')}</option>
              {(tenants.data?.data ?? []).map((x) => <option key={x.id} value={x.id}>{x.name}</option>)}
            </select>
          </Field>
        )}
        <Field label={t('common.model')}>
          <input type="text" value={model} onInput={(e) => setModel((e.target as HTMLInputElement).value)} />
        </Field>
      </form>
      <InlineError error={exportCsv.error} />
      <Async state={data}>
        {({ table, series }) => {
          if (!table.data.length || table.totals.calls === 0) {
            return (
              <Empty title={t('usage.empty')} hint={t('usage.empty_hint')}>
                <a href={href('playground')}>{t('nav.playground')}</a>
              </Empty>
            );
          }
          // One line per group over the hours of the range (hours without calls are 0).
          const hours: number[] = [];
          for (let h = Math.floor(series.from / 3600) * 3600; h < series.to; h += 3600) hours.push(h);
          const groups = [...new Set(series.data.map((r) => dimValue(r, dimension)))];
          const at = new Map<string, number>();
          for (const r of series.data) at.set(`${r.hour}\u0001${dimValue(r, dimension)}`, metricOf(r, metric));
          const chartSeries = groups.slice(0, 8).map((g) => ({
            label: label(dimension, g),
            values: hours.map((h) => at.get(`${h}\u0001${g}`) ?? 0),
          }));
          const rows = [...table.data].sort((a, b) => metricOf(b, metric) - metricOf(a, metric));
          const tot = table.totals;
          return (
            <>
              <div class="stats">
                <Stat label={t('usage.metric.calls')} value={fmtNumber(tot.calls, lang)} />
                <Stat label={t('usage.metric.errors')} value={fmtNumber(tot.errors, lang)} />
                <Stat label={t('usage.input_tokens')} value={fmtNumber(tot.input_tokens, lang)} />
                <Stat label={t('usage.output_tokens')} value={fmtNumber(tot.output_tokens, lang)} />
                <Stat label={t('usage.cost')} value={fmtCost(tot.cost, lang)} />
              </div>
              <section class="card">
                <Chart title={t('usage.chart_title', { metric: t(`usage.metric.${metric}` as MsgKey), dim: t(`usage.dim.${dimension}` as MsgKey) })}
                       x={hours} series={chartSeries} format={fmtMetric} kind="bars" height={220} />
                {groups.length > 8 && <p class="muted small">{t('usage.top8', { n: groups.length })}</p>}
              </section>
              <section class="card">
                <div class="table-wrap">
                  <table data-testid="usage-table">
                    <thead>
                      <tr>
                        <th>{t(`usage.dim.${dimension}` as MsgKey)}</th>
                        <th class="num">{t('usage.metric.calls')}</th>
                        <th class="num">{t('usage.metric.errors')}</th>
                        <th class="num">{t('usage.input_tokens')}</th>
                        <th class="num">{t('usage.output_tokens')}</th>
                        <th class="num">{t('usage.cached_tokens')}</th>
                        <th class="num">{t('usage.avg_latency')}</th>
                        <th class="num">{t('usage.gpu_seconds')}</th>
                        <th class="num">{t('usage.cost')}</th>
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((r) => (
                        <tr key={dimValue(r, dimension)}>
                          <td>{label(dimension, dimValue(r, dimension))}</td>
                          <td class="num">{fmtNumber(r.calls, lang)}</td>
                          <td class="num">{fmtNumber(r.errors, lang)}</td>
                          <td class="num">{fmtNumber(r.input_tokens, lang)}</td>
                          <td class="num">{fmtNumber(r.output_tokens, lang)}</td>
                          <td class="num">{fmtNumber(r.cached_tokens, lang)}</td>
                          <td class="num">{fmtMs(r.calls ? r.latency_ms_sum / r.calls : null, lang)}</td>
                          <td class="num">{fmtNumber(r.gpu_seconds, lang, 3)}</td>
                          <td class="num">{fmtCost(r.cost, lang)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </section>
            </>
          );
        }}
      </Async>
    </div>
  );
}
