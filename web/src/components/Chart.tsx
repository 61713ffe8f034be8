// A time-series chart on uPlot: x in Unix seconds, one line per series; it resizes with its box.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const kColors = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

export interface Series {
  label: string;
  values: (number | null)[];
}

export function Chart({
  title,
  x,
  series,
  format,
  height = 180,
  empty,
  kind = 'line',
  yMin = 1,
}: {
  title: string;
  x: number[];
  series: Series[];
  format?: (v: number) => string;
  height?: number;
  empty?: string;
  kind?: 'line' | 'bars';
  //! The least top of the y axis (1 for counts, 0.01 for ratios), so an idle flat line sits at
  //! the bottom of a sensible scale rather than in the middle of 0-100.
  yMin?: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join('\u0001') + kind;
  const shapeRef = useRef('');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const data = [x, ...series.map((s) => s.values)] as uPlot.AlignedData;
    if (plot.current && shapeRef.current === shape) {
      plot.current.setData(data);
      return;
    }
    plot.current?.destroy();
    shapeRef.current = shape;
    const fmt = format ?? ((v: number) => String(v));
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max((max ?? 0) * 1.1, yMin)] } },
      axes: [
        { stroke: '#6b7280', grid: { stroke: '#eef0f3' } },
        { stroke: '#6b7280', grid: { stroke: '#eef0f3' }, size: 64, values: (_u, vals) => vals.map((v) => (v == null ? '' : fmt(v))) },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: kColors[i % kColors.length],
          fill: kind === 'bars' ? kColors[i % kColors.length] + '55' : undefined,
          width: 2,
          spanGaps: true,
          paths: kind === 'bars' ? uPlot.paths.bars!({ size: [0.6, 40] }) : undefined,
          value: (_u: uPlot, v: number | null) => (v == null ? '—' : fmt(v)),
        })),
      ],
    };
    plot.current = new uPlot(opts, data, el);
  }, [x, series, shape, height, yMin]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => {
      if (plot.current) plot.current.setSize({ width: Math.max(el.clientWidth, 200), height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  const hasData = x.length > 0 && series.some((s) => s.values.some((v) => v !== null));
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-box" style={{ minHeight: `${height}px` }} />
      {!hasData && empty && <div class="chart-empty">{empty}</div>}
    </figure>
  );
}
