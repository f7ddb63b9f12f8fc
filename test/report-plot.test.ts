import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChartSvg, lineChartSvg } from '../src/report/plot.js';

test('lineChartSvg draws one path per series with the axis titles', async () => {
  const svg = await lineChartSvg({
    title: 'loss', xLabel: 'step', yLabel: 'nats',
    series: [
      { name: 'train', points: [[1, 3], [2, 2.5], [3, 2.2]] },
      { name: 'val', points: [[1, 3.1], [3, 2.4], [4, NaN]] },
    ],
  });
  assert.match(svg, /^<svg/);
  assert.match(svg, />step</);
  assert.match(svg, />nats</);
  assert.match(svg, />train</);
  assert.match(svg, />val</);
  assert.equal((svg.match(/role-mark/g) ?? []).length >= 1, true);
});

test('lineChartSvg drops non-positive values on a log axis instead of failing', async () => {
  const svg = await lineChartSvg({
    title: 'sweep', xLabel: 'lr', yLabel: 'loss', logX: true, points: true,
    series: [{ name: 'w=64', points: [[0, 1], [1e-3, 2], [1e-2, 1.5]] }],
  });
  assert.match(svg, /^<svg/);
});

test('barChartSvg draws grouped bars with their labels', async () => {
  const svg = await barChartSvg({
    title: 'removed', xLabel: 'source', yLabel: 'documents',
    bars: [
      { label: 'sotu', value: 3, group: 'exact' },
      { label: 'sotu', value: 5, group: 'near' },
      { label: 'spam', value: 40, group: 'near' },
    ],
  });
  assert.match(svg, />sotu</);
  assert.match(svg, />spam</);
  assert.match(svg, />near</);
});

test('lineChartSvg draws dot-only series as points beside the lines (measurements and a fitted curve)', async () => {
  const svg = await lineChartSvg({
    title: 'fit', xLabel: 'compute', yLabel: 'loss', logX: true, logY: true,
    series: [
      { name: 'members', dotsOnly: true, points: [[1e10, 5], [1e11, 4.5], [1e12, 4.2]] },
      { name: 'fit', points: [[1e10, 5.02], [1e11, 4.48], [1e12, 4.21]] },
    ],
  });
  assert.match(svg, /mark-line role-mark/);
  assert.match(svg, /mark-symbol role-mark/);
  assert.match(svg, />members</);
  assert.match(svg, />10G</, 'log axes label in SI units');
});
