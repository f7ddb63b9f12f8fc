// Plots as SVG strings, through vega-lite (a well-kept declarative plotting library whose vega
// runtime renders SVG in Node without a canvas). Callers write the string with writeFileAtomic.
import { compile, type TopLevelSpec } from 'vega-lite';
import { parse, View } from 'vega';

export interface LineSeries {
  name: string;
  /** [x, y] points; non-finite y values are dropped. */
  points: Array<[number, number]>;
  /** Draw the points as dots without a connecting line (measurements beside a fitted curve). */
  dotsOnly?: boolean;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  logX?: boolean;
  logY?: boolean;
  /** Draw a dot at each point (sweeps, scaling fits); default: lines only. */
  points?: boolean;
  width?: number;
  height?: number;
}

export interface Bar {
  label: string;
  value: number;
  /** Bars with a group are drawn side by side within their label, coloured by group. */
  group?: string;
}

export interface BarChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  bars: Bar[];
  width?: number;
  height?: number;
}

/** The frame every chart shares: title, size, white background, inline data. */
function frame(s: { title: string; width?: number; height?: number }, values: object[]) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: s.title,
    width: s.width ?? 560,
    height: s.height ?? 320,
    background: 'white',
    data: { values },
  } as const;
}

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A multi-series line chart (loss curves, learning rates, sweeps, scaling fits). */
export function lineChartSvg(s: LineChartSpec): Promise<string> {
  const values = s.series.flatMap((ser) =>
    ser.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!s.logX || x > 0) && (!s.logY || y > 0))
      .map(([x, y]) => ({ x, y, series: ser.name, dots: ser.dotsOnly === true })),
  );
  // log axes span the data (not whole decades, with a margin for the end dots) and label in SI units (10G, 50G)
  const scale = (log?: boolean) => (log ? { type: 'log' as const, nice: false, padding: 8 } : { zero: false });
  const axis = (log?: boolean) => (log ? { format: '~s' } : {});
  const encoding = {
    x: { field: 'x', type: 'quantitative' as const, title: s.xLabel, scale: scale(s.logX), axis: axis(s.logX) },
    y: { field: 'y', type: 'quantitative' as const, title: s.yLabel, scale: scale(s.logY), axis: axis(s.logY) },
    color: { field: 'series', type: 'nominal' as const, title: null, sort: s.series.map((ser) => ser.name), legend: { labelLimit: 400 } },
  };
  const line = { type: 'line', point: s.points ?? false, clip: true } as const;
  if (!s.series.some((ser) => ser.dotsOnly)) return render({ ...frame(s, values), mark: line, encoding });
  return render({
    ...frame(s, values),
    encoding,
    layer: [
      { transform: [{ filter: '!datum.dots' }], mark: line },
      { transform: [{ filter: 'datum.dots' }], mark: { type: 'point', filled: true, size: 60, clip: true } },
    ],
  });
}

/** A bar chart; bars sharing a label and differing in group are drawn side by side. */
export function barChartSvg(s: BarChartSpec): Promise<string> {
  const grouped = s.bars.some((b) => b.group !== undefined);
  const values = s.bars.map((b) => ({ label: b.label, value: b.value, group: b.group ?? '' }));
  return render({
    ...frame(s, values),
    mark: 'bar',
    encoding: {
      x: { field: 'label', type: 'nominal', title: s.xLabel, sort: null },
      y: { field: 'value', type: 'quantitative', title: s.yLabel },
      ...(grouped
        ? { xOffset: { field: 'group', type: 'nominal' }, color: { field: 'group', type: 'nominal', title: null } }
        : {}),
    },
  });
}
