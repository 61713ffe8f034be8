import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, apiText, qs, type Alert, type CallRecord, type ListPage } from '../api';
import { Chart, type Series } from '../components/Chart';
import { Async, Badge, Empty, ErrorBox, Loading, PageHeader, Stat } from '../components/ui';
import { fmtMs, fmtNumber, fmtPercent, fmtTime } from '../format';
import { useLoad } from '../hooks';
import { useLang } from '../i18n';
import { modelsOf, parsePrometheus, pointBetween, type Point, type Scrape } from '../metrics';
import { href } from '../router';
import { isPlatform, useSession } from '../session';

const kScrapeMs = 3000;
const kKeepScrapes = 121; // six minutes at 3 s

// Scrapes live across visits to the page, so coming back shows the last minutes at once.
const scrapes: Scrape[] = [];

export function Overview() {
  const { session } = useSession();
  const { t } = useLang();
  return (
    <div>
      <PageHeader title={t('overview.title')}>
        <span class="muted">{isPlatform(session) ? t('overview.live_platform') : t('overview.live_tenant')}</span>
      </PageHeader>
      {isPlatform(session) ? <PlatformCharts /> : <TenantCharts />}
      <div class="grid-2">
        <ActiveAlerts />
        {isPlatform(session) && <Readiness />}
      </div>
    </div>
  );
}

function usePlatformPoints() {
  const [points, setPoints] = useState<Point[]>(() => toPoints());
  const [error, setError] = useState<Error | undefined>();
  useEffect(() => {
    let alive = true;
    const scrape = async () => {
      if (document.visibilityState === 'hidden') return;
      try {
        const text = await apiText('/metrics');
        if (!alive) return;
        scrapes.push({ at: Date.now() / 1000, samples: parsePrometheus(text) });
        while (scrapes.length > kKeepScrapes) scrapes.shift();
        setPoints(toPoints());
        setError(undefined);
      } catch (e) {
        if (alive) setError(e as Error);
      }
    };
    scrape();
    const id = setInterval(scrape, kScrapeMs);
    return () => {
      alive = false;
      clearInterval(id);
    };
  }, []);
  return { points, error, scraped: scrapes.length };
}

function toPoints(): Point[] {
  const out: Point[] = [];
  for (let i = 1; i < scrapes.length; i++) {
    // A gap (the tab was hidden) would average over minutes: start afresh after it.
    if (scrapes[i].at - scrapes[i - 1].at > (kScrapeMs / 1000) * 4) continue;
    out.push(pointBetween(scrapes[i - 1], scrapes[i]));
  }
  return out;
}

function perModel(points: Point[], pick: (p: Point) => Map<string, number | null>, scale = 1): Series[] {
  return modelsOf(points, pick).map((model) => ({
    label: model,
    values: points.map((p) => {
      const v = pick(p).get(model);
      return v === undefined || v === null ? null : v * scale;
    }),
  }));
}

function PlatformCharts() {
  const { t, lang } = useLang();
  const { points, error, scraped } = usePlatformPoints();
  const x = useMemo(() => points.map((p) => p.at), [points]);
  if (!points.length) {
    return error ? <ErrorBox error={error} /> : <Loading label={scraped ? t('overview.collecting') : t('common.loading')} />;
  }
  const last = points[points.length - 1];
  const totalTokens = [...last.tokensPerSec.values()].reduce((a, b) => a + b, 0);
  const waiting = [...last.queue.values()].reduce((a, b) => a + b, 0);
  const ms = (v: number) => fmtMs(v, lang);
  const num = (v: number) => fmtNumber(v, lang, 2);
  const pct = (v: number) => fmtPercent(v, lang, 1);
  const noTraffic = t('overview.no_traffic');
  return (
    <>
      {error && <ErrorBox error={error} />}
      <div class="stats" data-testid="overview-stats">
        <Stat label={t('overview.rps')} value={fmtNumber(last.rps, lang, 2)} testid="stat-rps" />
        <Stat label={t('overview.error_rate')} value={fmtPercent(last.errorRate, lang)} />
        <Stat label={t('overview.p50')} value={fmtMs(last.p50 === null ? null : last.p50 * 1000, lang)} />
        <Stat label={t('overview.p99')} value={fmtMs(last.p99 === null ? null : last.p99 * 1000, lang)} />
        <Stat label={t('overview.tokens_per_sec')} value={fmtNumber(totalTokens, lang, 1)} />
        <Stat label={t('overview.queue')} value={fmtNumber(waiting, lang)} />
      </div>
      <div class="charts">
        <Chart title={t('overview.rps')} x={x} series={[{ label: t('overview.rps'), values: points.map((p) => p.rps) }]} format={num} />
        <Chart title={t('overview.error_rate')} x={x} format={pct} empty={noTraffic} yMin={0.01}
               series={[{ label: t('overview.error_rate'), values: points.map((p) => p.errorRate) }]} />
        <Chart title={t('overview.latency')} x={x} format={ms} empty={noTraffic}
               series={[
                 { label: 'p50', values: points.map((p) => (p.p50 === null ? null : p.p50 * 1000)) },
                 { label: 'p99', values: points.map((p) => (p.p99 === null ? null : p.p99 * 1000)) },
               ]} />
        <Chart title={t('overview.tokens_per_sec_model')} x={x} format={num} empty={t('overview.no_models')}
               series={perModel(points, (p) => p.tokensPerSec)} />
        <Chart title={t('overview.ttft_model')} x={x} format={ms} empty={noTraffic} series={perModel(points, (p) => p.ttftP50, 1000)} />
        <Chart title={t('overview.kv_model')} x={x} format={pct} yMin={0.01} empty={t('overview.no_models')} series={perModel(points, (p) => p.kvUsage)} />
        <Chart title={t('overview.queue_model')} x={x} format={(v) => fmtNumber(v, lang, 1)} empty={t('overview.no_models')}
               series={perModel(points, (p) => p.queue)} />
      </div>
    </>
  );
}

// A tenant admin's overview: its own calls of the last 15 minutes (the call records are
// tenant-scoped; /metrics is the whole platform's), in 30-second buckets.
const kTenantWindowMs = 15 * 60 * 1000;
const kBucketMs = 30 * 1000;

function quantile(sorted: number[], q: number): number | null {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

function TenantCharts() {
  const { t, lang } = useLang();
  const state = useLoad(
    (signal) => {
      const since = Date.now() - kTenantWindowMs;
      return api<ListPage<CallRecord>>(`/admin/v1/calls${qs({ since, limit: 1000 })}`, { signal });
    },
    [],
    5000,
  );
  return (
    <Async state={state}>
      {(page) => {
        const now = Date.now();
        const start = Math.floor((now - kTenantWindowMs) / kBucketMs) * kBucketMs;
        const n = Math.ceil((now - start) / kBucketMs);
        const x = Array.from({ length: n }, (_, i) => (start + i * kBucketMs) / 1000);
        const calls = Array.from({ length: n }, () => [] as CallRecord[]);
        for (const c of page.data) {
          const i = Math.floor((c.started_at_ms - start) / kBucketMs);
          if (i >= 0 && i < n) calls[i].push(c);
        }
        const models = [...new Set(page.data.map((c) => c.model))].sort();
        const lat = (q: number) => calls.map((b) => quantile(b.map((c) => c.latency_ms).sort((a, b2) => a - b2), q));
        const all = page.data;
        const sortedLatency = all.map((c) => c.latency_ms).sort((a, b) => a - b);
        const errors = all.filter((c) => c.status >= 500).length;
        const tokens = all.reduce((a, c) => a + (c.usage?.completion_tokens ?? 0), 0);
        const ms = (v: number) => fmtMs(v, lang);
        if (!all.length) {
          return (
            <Empty title={t('overview.tenant_empty')} hint={t('overview.tenant_empty_hint')}>
              <a href={href('playground')}>{t('nav.playground')}</a>
            </Empty>
          );
        }
        return (
          <>
            <div class="stats">
              <Stat label={t('overview.rps')} value={fmtNumber(all.length / (kTenantWindowMs / 1000), lang, 3)} testid="stat-rps" />
              <Stat label={t('overview.error_rate')} value={fmtPercent(errors / all.length, lang)} />
              <Stat label={t('overview.p50')} value={fmtMs(quantile(sortedLatency, 0.5), lang)} />
              <Stat label={t('overview.p99')} value={fmtMs(quantile(sortedLatency, 0.99), lang)} />
              <Stat label={t('overview.tokens_per_sec')} value={fmtNumber(tokens / (kTenantWindowMs / 1000), lang, 2)} />
            </div>
            {page.has_more && <p class="muted">{t('overview.tenant_capped')}</p>}
            <div class="charts">
              <Chart title={t('overview.rps')} x={x} format={(v) => fmtNumber(v, lang, 2)}
                     series={[{ label: t('overview.rps'), values: calls.map((b) => b.length / (kBucketMs / 1000)) }]} />
              <Chart title={t('overview.error_rate')} x={x} format={(v) => fmtPercent(v, lang)} yMin={0.01}
                     series={[{ label: t('overview.error_rate'), values: calls.map((b) => (b.length ? b.filter((c) => c.status >= 500).length / b.length : null)) }]} />
              <Chart title={t('overview.latency')} x={x} format={ms}
                     series={[{ label: 'p50', values: lat(0.5) }, { label: 'p99', values: lat(0.99) }]} />
              <Chart title={t('overview.tokens_per_sec_model')} x={x} format={(v) => fmtNumber(v, lang, 2)}
                     series={models.map((m) => ({
                       label: m,
                       values: calls.map((b) => b.filter((c) => c.model === m).reduce((a, c) => a + (c.usage?.completion_tokens ?? 0), 0) / (kBucketMs / 1000)),
                     }))} />
              <Chart title={t('overview.ttft_model')} x={x} format={ms}
                     series={models.map((m) => ({
                       label: m,
                       values: calls.map((b) => quantile(b.filter((c) => c.model === m && c.ttft_ms !== null).map((c) => c.ttft_ms as number).sort((a, b2) => a - b2), 0.5)),
                     }))} />
            </div>
          </>
        );
      }}
    </Async>
  );
}

function ActiveAlerts() {
  const { t, lang } = useLang();
  const state = useLoad((signal) => api<ListPage<Alert>>('/admin/v1/alerts', { signal }), [], 10000);
  return (
    <section class="card">
      <h2>{t('overview.active_alerts')}</h2>
      <Async state={state}>
        {(page) => {
          const active = page.data.filter((a) => a.state === 'firing' || a.state === 'pending');
          if (!active.length) {
            return (
              <Empty title={t('overview.no_alerts')} hint={page.data.length ? t('overview.no_alerts_hint') : t('alerts.none_configured_hint')}>
                <a href={href('alerts')}>{t('nav.alerts')}</a>
              </Empty>
            );
          }
          return (
            <ul class="alert-list" data-testid="active-alerts">
              {active.map((a) => (
                <li key={a.id}>
                  <Badge tone={a.state === 'firing' ? 'bad' : 'warn'}>{t(a.state === 'firing' ? 'alerts.state.firing' : 'alerts.state.pending')}</Badge>{' '}
                  <strong>{a.name}</strong> {a.rule && <code>{a.rule}</code>} <span class="muted">{a.severity}</span>
                  <div class="muted">
                    {(lang === 'zh-CN' ? a.summary_zh : a.summary) || `${fmtNumber(a.value, lang, 3)} / ${fmtNumber(a.threshold, lang, 3)}`}
                    {' · '}
                    {t('alerts.since')} {fmtTime(a.since_ms || a.since * 1000, lang)}
                  </div>
                </li>
              ))}
            </ul>
          );
        }}
      </Async>
    </section>
  );
}

interface Ready {
  status: string;
  pending: string[];
  models: { id: string; status: string }[];
}

function Readiness() {
  const { t } = useLang();
  const state = useLoad((signal) => api<Ready>('/readyz', { signal }), [], 10000);
  return (
    <section class="card">
      <h2>{t('overview.models')}</h2>
      <Async state={state}>
        {(r) =>
          r.models.length ? (
            <ul class="plain-list" data-testid="readiness">
              {r.models.map((m) => (
                <li key={m.id}>
                  <Badge tone={m.status === 'ready' ? 'ok' : 'warn'}>{m.status === 'ready' ? t('models.ready') : m.status}</Badge> <code>{m.id}</code>
                </li>
              ))}
            </ul>
          ) : (
            <Empty title={t('overview.no_models')} hint={t('overview.no_models_hint')}>
              <a href={href('models')}>{t('nav.models')}</a>
            </Empty>
          )
        }
      </Async>
    </section>
  );
}
