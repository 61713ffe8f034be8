import type { Lang } from './i18n';

export function fmtNumber(n: number | null | undefined, lang: Lang, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return n.toLocaleString(lang, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function fmtMs(ms: number | null | undefined, lang: Lang): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${fmtNumber(ms, lang, 3)} ms`;
  if (ms < 1000) return `${fmtNumber(ms, lang, 1)} ms`;
  return `${fmtNumber(ms / 1000, lang, 2)} s`;
}

export function fmtPercent(r: number | null | undefined, lang: Lang, digits = 1): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return '—';
  return `${fmtNumber(r * 100, lang, digits)}%`;
}

export function fmtBytes(b: number | null | undefined, lang: Lang): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024;
    i++;
  }
  return `${fmtNumber(b, lang, i ? 1 : 0)} ${units[i]}`;
}

export function fmtTime(unixMs: number | null | undefined, lang: Lang): string {
  if (!unixMs) return '—';
  return new Date(unixMs).toLocaleString(lang, { hour12: false });
}

export function fmtCost(c: number | null | undefined, lang: Lang): string {
  if (c === null || c === undefined || !Number.isFinite(c)) return '—';
  return fmtNumber(c, lang, c < 1 ? 6 : 2);
}

export function pretty(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value, null, 2);
}
