// Side-by-side panels: charts from lineChartSvg placed on a grid in one SVG file, each as a nested
// <svg> element. Written by hand because it is string placement only; the charts themselves come
// from vega-lite. Element ids (clip paths) get a per-panel prefix so panels cannot collide.
import { check } from '../errors.js';

function size(svg: string): { w: number; h: number } {
  const m = /^<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
  check(m !== null, 'gridSvg: a panel is not an SVG with width and height');
  return { w: Number(m[1]), h: Number(m[2]) };
}

/** Panels in row-major order, `cols` per row, each cell as large as the largest panel. */
export function gridSvg(panels: string[], cols: number): string {
  check(panels.length > 0 && cols > 0, 'gridSvg: needs panels and cols ≥ 1');
  const sizes = panels.map(size);
  const cw = Math.max(...sizes.map((s) => s.w)), ch = Math.max(...sizes.map((s) => s.h));
  const rows = Math.ceil(panels.length / cols);
  const W = cw * Math.min(cols, panels.length), H = ch * rows;
  const body = panels.map((svg, i) => {
    const p = `p${i}-`;
    const inner = svg
      .replace(/\sid="([^"]+)"/g, ` id="${p}$1"`)
      .replace(/url\(#([^)]+)\)/g, `url(#${p}$1)`)
      .replace(/href="#([^"]+)"/g, `href="#${p}$1"`);
    return inner.replace(/^<svg/, `<svg x="${(i % cols) * cw}" y="${Math.floor(i / cols) * ch}"`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`
    + `<rect width="${W}" height="${H}" fill="white"/>${body.join('')}</svg>\n`;
}
