// aimops evaluation report: draws the documents embedded in #aimops-data as SVG charts and
// tables. Plain JavaScript, no library. Every string that comes from the data is inserted as
// text (createTextNode / textContent) or through setAttribute, never parsed as markup, and
// what a reader sees of it is visible(): controls, bidirectional overrides, lone surrogates
// and private-use characters shown as their escapes, as the server-drawn pages show them.
(function () {
  'use strict';

  const SVG_NS = document.getElementById('aimops-svg-namespace').namespaceURI;
  const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#332288',
    '#882255'];
  const DASH = '\u2014';
  const COUNT_METRICS = ['positives', 'negatives', 'n', 'support', 'count', 'tp', 'fp', 'tn', 'fn'];
  const HOME = [-0.02, 1.02];
  const STAT_FIELDS = [
    ['tp', 'TP', 'count'], ['fp', 'FP', 'count'], ['tn', 'TN', 'count'], ['fn', 'FN', 'count'],
    ['precision', 'precision', 'rate'], ['recall', 'recall', 'rate'], ['fpr', 'FPR', 'rate'],
    ['f1', 'F1', 'rate'], ['ppr', 'predicted-positive rate', 'rate'],
  ];

  // Unicode categories shown as escapes, never acted on (page.py's _ACTIVE).
  const ACTIVE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}]/gu;
  const SHORT_ESCAPES = { 9: '\\t', 10: '\\n', 13: '\\r' };
  // Attributes a reader sees (as a tooltip, or read aloud); the others are the page's own.
  const SHOWN_ATTRIBUTES = ['title', 'aria-label'];

  // ---- DOM and number helpers -------------------------------------------------------------

  // ``text`` as a reader may see it: each character in ACTIVE as Python's unicode_escape
  // writes it (\x00, \u202e, \ud800, \U000e0001), the rest as it is.
  function visible(text) {
    return String(text).replace(ACTIVE, (char) => {
      const code = char.codePointAt(0);
      if (SHORT_ESCAPES[code]) return SHORT_ESCAPES[code];
      const hex = code.toString(16);
      if (code < 0x100) return '\\x' + hex.padStart(2, '0');
      return code < 0x10000 ? '\\u' + hex.padStart(4, '0') : '\\U' + hex.padStart(8, '0');
    });
  }

  function setAttributes(node, attributes) {
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null) continue;
      node.setAttribute(name, SHOWN_ATTRIBUTES.includes(name) ? visible(value) : String(value));
    }
  }

  function append(node, children) {
    for (const child of [].concat(children === undefined ? [] : children)) {
      if (child === null || child === undefined) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(visible(child)));
    }
    return node;
  }

  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    setAttributes(node, attributes);
    return append(node, children);
  }

  function svgEl(tag, attributes, children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttributes(node, attributes);
    return append(node, children);
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function isNumber(value) {
    return typeof value === 'number' && Number.isFinite(value);
  }

  function formatNumber(value, digits = 3) {
    if (!isNumber(value)) return value === null || value === undefined ? DASH : String(value);
    if (Number.isInteger(value)) return String(value);
    if (value !== 0 && Math.abs(value) < 0.001) return value.toExponential(2);
    return value.toFixed(Math.abs(value) >= 1000 ? 1 : digits);
  }

  function formatCount(value) {
    if (!isNumber(value)) return DASH;
    return Number.isInteger(value) ? String(value) : value.toFixed(2);
  }

  function formatShare(part, whole) {
    return isNumber(part) && isNumber(whole) && whole > 0
      ? (100 * part / whole).toFixed(1) + '%' : DASH;
  }

  function formatRate(value) {
    if (!isNumber(value)) return DASH;
    if (value !== 0 && Math.abs(value) < 0.001) return value.toExponential(2);
    return value.toFixed(Math.abs(value) >= 1000 ? 1 : 3);
  }

  // A metric's value: counts as counts, everything else with three decimals.
  function formatMetric(key, value) {
    return COUNT_METRICS.includes(key) ? formatCount(value) : formatRate(value);
  }

  function display(value) {
    if (value === null || value === undefined || value === '') return DASH;
    return typeof value === 'number' ? formatNumber(value) : String(value);
  }

  function nameOf(doc, index) {
    return doc.label === null || doc.label === undefined || doc.label === ''
      ? 'evaluation ' + (index + 1) : String(doc.label);
  }

  function swatch(color) {
    const mark = el('span', { class: 'swatch', 'aria-hidden': 'true' });
    mark.style.backgroundColor = color;
    return mark;
  }

  function section(title, id) {
    const node = el('section', { id: id, class: 'report-section' }, el('h2', null, title));
    document.getElementById('aimops-report').appendChild(node);
    return node;
  }

  function table(headers, rows, attributes) {
    const head = el('thead', null,
      el('tr', null, headers.map((h) => el('th', { scope: 'col' }, h))));
    const body = el('tbody', null, rows.map((cells) => el('tr', null, cells.map((cell, index) =>
      cell instanceof Node && (cell.tagName === 'TD' || cell.tagName === 'TH') ? cell
        : el(index === 0 ? 'th' : 'td', index === 0 ? { scope: 'row' } : null, cell)))));
    return el('div', { class: 'table-wrap' }, el('table', attributes, [head, body]));
  }

  function unionKeys(objects) {
    const keys = [];
    for (const object of objects) {
      for (const key of Object.keys(object || {})) if (!keys.includes(key)) keys.push(key);
    }
    return keys;
  }

  // ---- Charts -------------------------------------------------------------------------------

  function niceTicks(low, high, count) {
    const raw = (high - low) / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
    const ticks = [];
    for (let tick = Math.ceil(low / step) * step; tick <= high + step * 1e-9; tick += step) {
      ticks.push(Math.abs(tick) < step * 1e-9 ? 0 : tick);
    }
    const digits = Math.max(0, -Math.floor(Math.log10(step)));
    return ticks.map((value) => ({ value: value, text: value.toFixed(digits) }));
  }

  let chartCount = 0;

  // An x/y chart over [0, 1] x [0, 1] with overlaid lines, markers, zoom, pan and a readout.
  class Chart {
    constructor(key, title, xLabel, yLabel, options) {
      this.key = key;
      this.xLabel = xLabel;
      this.yLabel = yLabel;
      this.diagonal = Boolean(options && options.diagonal);
      this.width = 460;
      this.height = 380;
      this.margin = { left: 56, right: 14, top: 14, bottom: 46 };
      this.home = { x: HOME.slice(), y: HOME.slice() };
      this.domain = { x: HOME.slice(), y: HOME.slice() };
      this.series = [];
      this.markers = new Map();
      this.drag = null;
      const clipId = 'aimops-clip-' + (++chartCount);
      this.svg = svgEl('svg', {
        class: 'chart', viewBox: `0 0 ${this.width} ${this.height}`, role: 'img',
        'aria-label': title, 'data-chart': key,
      });
      const plot = this.plotBox();
      this.svg.appendChild(svgEl('defs', null, svgEl('clipPath', { id: clipId },
        svgEl('rect', { x: plot.left, y: plot.top, width: plot.width, height: plot.height }))));
      this.axes = svgEl('g', { class: 'axes' });
      this.lines = svgEl('g', { class: 'lines', 'clip-path': `url(#${clipId})` });
      this.svg.appendChild(this.axes);
      this.svg.appendChild(this.lines);
      this.readout = el('p', { class: 'readout', 'data-chart': key, 'data-field': 'hover' },
        'Hover for values; wheel zooms, drag pans, double-click resets.');
      this.node = el('figure', { class: 'chart-figure' },
        [el('figcaption', null, title), this.svg, this.readout]);
      this.listen();
    }

    plotBox() {
      const m = this.margin;
      return { left: m.left, top: m.top, width: this.width - m.left - m.right,
        height: this.height - m.top - m.bottom };
    }

    toPixel(x, y) {
      const box = this.plotBox();
      const [x0, x1] = this.domain.x;
      const [y0, y1] = this.domain.y;
      return [box.left + (x - x0) / (x1 - x0) * box.width,
        box.top + (1 - (y - y0) / (y1 - y0)) * box.height];
    }

    // The chart's own coordinates of a mouse event (the SVG may be scaled by CSS).
    eventPoint(event) {
      const matrix = this.svg.getScreenCTM();
      const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
      const box = this.plotBox();
      const [x0, x1] = this.domain.x;
      const [y0, y1] = this.domain.y;
      return {
        px: point.x, py: point.y,
        x: x0 + (point.x - box.left) / box.width * (x1 - x0),
        y: y0 + (1 - (point.y - box.top) / box.height) * (y1 - y0),
      };
    }

    addSeries(series) {
      this.series.push(series);
    }

    setMarker(id, x, y, color, text) {
      if (isNumber(x) && isNumber(y)) this.markers.set(id, { x, y, color, text });
      else this.markers.delete(id);
      this.render();
    }

    zoomAt(x, y, factor) {
      const scale = (range, center) => {
        const span = (range[1] - range[0]) * factor;
        if (span < 1e-4 || span > 100) return range;
        const share = (center - range[0]) / (range[1] - range[0]);
        return [center - share * span, center + (1 - share) * span];
      };
      this.domain = { x: scale(this.domain.x, x), y: scale(this.domain.y, y) };
      this.render();
    }

    reset() {
      this.domain = { x: this.home.x.slice(), y: this.home.y.slice() };
      this.render();
    }

    listen() {
      this.svg.addEventListener('wheel', (event) => {
        event.preventDefault();
        const point = this.eventPoint(event);
        const factor = Math.min(2, Math.max(0.5, Math.pow(1.0015, event.deltaY)));
        this.zoomAt(point.x, point.y, factor);
      }, { passive: false });
      this.svg.addEventListener('pointerdown', (event) => {
        if (event.button !== 0) return;
        this.drag = { start: this.eventPoint(event), domain: this.domain };
        this.svg.setPointerCapture(event.pointerId);
        this.svg.classList.add('dragging');
      });
      this.svg.addEventListener('pointermove', (event) => {
        if (this.drag) this.pan(event);
        else this.hover(event);
      });
      const stop = (event) => {
        if (!this.drag) return;
        this.drag = null;
        this.svg.classList.remove('dragging');
        if (this.svg.hasPointerCapture(event.pointerId)) {
          this.svg.releasePointerCapture(event.pointerId);
        }
      };
      this.svg.addEventListener('pointerup', stop);
      this.svg.addEventListener('pointercancel', stop);
      this.svg.addEventListener('dblclick', () => this.reset());
    }

    pan(event) {
      const { start, domain } = this.drag;
      const point = this.eventPoint(event);
      const box = this.plotBox();
      const dx = (point.px - start.px) / box.width * (domain.x[1] - domain.x[0]);
      const dy = (point.py - start.py) / box.height * (domain.y[1] - domain.y[0]);
      this.domain = {
        x: [domain.x[0] - dx, domain.x[1] - dx], y: [domain.y[0] + dy, domain.y[1] + dy],
      };
      this.render();
    }

    hover(event) {
      const point = this.eventPoint(event);
      let best = null;
      for (const series of this.series) {
        if (series.hidden) continue;
        series.xs.forEach((x, index) => {
          const [px, py] = this.toPixel(x, series.ys[index]);
          const distance = Math.hypot(px - point.px, py - point.py);
          if (best === null || distance < best.distance) best = { series, index, distance, px, py };
        });
      }
      if (best === null || best.distance > 30) return;
      this.readout.textContent = visible(best.series.describe(best.index));
      this.hoverPoint = { x: best.series.xs[best.index], y: best.series.ys[best.index],
        color: best.series.color };
      this.render();
    }

    render() {
      clear(this.axes);
      clear(this.lines);
      this.drawAxes();
      if (this.diagonal) {
        const [ax, ay] = this.toPixel(-100, -100);
        const [bx, by] = this.toPixel(100, 100);
        this.lines.appendChild(svgEl('line',
          { class: 'diagonal', x1: ax, y1: ay, x2: bx, y2: by }));
      }
      for (const series of this.series) {
        if (series.hidden) continue;
        const points = series.xs.map((x, i) => this.toPixel(x, series.ys[i]).join(',')).join(' ');
        this.lines.appendChild(svgEl('polyline', { class: 'curve', points: points,
          stroke: series.color, 'data-eval': series.evalIndex }));
      }
      for (const [id, marker] of this.markers) {
        if (this.series.some((s) => s.evalIndex === id && s.hidden)) continue;
        const [cx, cy] = this.toPixel(marker.x, marker.y);
        this.lines.appendChild(svgEl('circle', { class: 'marker', cx, cy, r: 6,
          fill: marker.color, 'data-marker': 'threshold', 'data-eval': id,
          'data-x': marker.x, 'data-y': marker.y }, svgEl('title', null, marker.text)));
      }
      if (this.hoverPoint) {
        const [cx, cy] = this.toPixel(this.hoverPoint.x, this.hoverPoint.y);
        this.lines.appendChild(svgEl('circle', { class: 'hover-point', cx, cy, r: 4,
          stroke: this.hoverPoint.color }));
      }
      setAttributes(this.svg, {
        'data-x-min': this.domain.x[0], 'data-x-max': this.domain.x[1],
        'data-y-min': this.domain.y[0], 'data-y-max': this.domain.y[1],
      });
    }

    drawAxes() {
      const box = this.plotBox();
      const bottom = box.top + box.height;
      const right = box.left + box.width;
      this.axes.appendChild(svgEl('rect', { class: 'plot-area', x: box.left, y: box.top,
        width: box.width, height: box.height }));
      for (const tick of niceTicks(this.domain.x[0], this.domain.x[1], 6)) {
        const [x] = this.toPixel(tick.value, 0);
        this.axes.appendChild(svgEl('line',
          { class: 'grid', x1: x, x2: x, y1: box.top, y2: bottom }));
        this.axes.appendChild(svgEl('text', { class: 'tick', x: x, y: bottom + 16,
          'text-anchor': 'middle' }, tick.text));
      }
      for (const tick of niceTicks(this.domain.y[0], this.domain.y[1], 6)) {
        const [, y] = this.toPixel(0, tick.value);
        this.axes.appendChild(svgEl('line',
          { class: 'grid', x1: box.left, x2: right, y1: y, y2: y }));
        this.axes.appendChild(svgEl('text', { class: 'tick', x: box.left - 6, y: y + 4,
          'text-anchor': 'end' }, tick.text));
      }
      this.axes.appendChild(svgEl('text', { class: 'axis-label', x: box.left + box.width / 2,
        y: this.height - 8, 'text-anchor': 'middle' }, this.xLabel));
      this.axes.appendChild(svgEl('text', { class: 'axis-label', x: 14, y: box.top + box.height / 2,
        'text-anchor': 'middle', transform: `rotate(-90 14 ${box.top + box.height / 2})` },
      this.yLabel));
    }
  }

  // ---- Binary evaluations: curves, threshold slider, confusion matrices -------------------

  function curveSeries(evaluation, curve, xKey, yKey, xName, yName) {
    const xs = [];
    const ys = [];
    const thresholds = [];
    (curve[xKey] || []).forEach((x, index) => {
      const y = curve[yKey][index];
      if (isNumber(x) && isNumber(y)) {
        xs.push(x);
        ys.push(y);
        thresholds.push((curve.thresholds || [])[index]);
      }
    });
    // A thinned PR point's precision is the mean over the thresholds it stands for (which
    // keeps the curve's area the average precision); say so where it is read.
    const thinned = isNumber(curve.full_points) && curve.full_points > xs.length;
    const yLabel = yName === 'precision' && thinned ? 'precision (mean since the previous point)' : yName;
    return {
      xs, ys, color: evaluation.color, evalIndex: evaluation.index, hidden: false,
      describe: (i) => `${evaluation.name}: ${xName} ${formatNumber(xs[i])}, ` +
        `${yLabel} ${formatNumber(ys[i])}, threshold ${formatNumber(thresholds[i])}`,
    };
  }

  function binaryConfusionTable(evaluation) {
    const labels = (evaluation.doc.confusion && evaluation.doc.confusion.labels) || ['0', '1'];
    const cell = (field, title) => el('td', { 'data-eval': evaluation.index, 'data-field': field,
      title: title, class: 'cell' },
    [el('span', { class: 'count' }), el('span', { class: 'share' })]);
    const total = (field) => el('td', { 'data-eval': evaluation.index, 'data-field': field,
      class: 'total' });
    return el('table', { class: 'confusion' }, [
      el('thead', null, el('tr', null, [el('th', null, 'actual \u2193 / predicted \u2192'),
        el('th', { scope: 'col' }, 'predicted ' + labels[0]),
        el('th', { scope: 'col' }, 'predicted ' + labels[1]),
        el('th', { scope: 'col' }, 'actual total')])),
      el('tbody', null, [
        el('tr', null, [el('th', { scope: 'row' }, 'actual ' + labels[0]),
          cell('cell-0-0', 'true negatives'), cell('cell-0-1', 'false positives'),
          total('actual-0')]),
        el('tr', null, [el('th', { scope: 'row' }, 'actual ' + labels[1]),
          cell('cell-1-0', 'false negatives'), cell('cell-1-1', 'true positives'),
          total('actual-1')]),
        el('tr', { class: 'totals' }, [el('th', { scope: 'row' }, 'predicted total'),
          total('predicted-0'), total('predicted-1'), total('total')]),
      ]),
    ]);
  }

  function statsTable(evaluation) {
    return el('dl', { class: 'stats' }, STAT_FIELDS.map(([field, title]) => el('div', null, [
      el('dt', null, title),
      el('dd', { 'data-eval': evaluation.index, 'data-field': field }, DASH),
    ])));
  }

  function evaluationCard(evaluation, onSlide) {
    const doc = evaluation.doc;
    const details = [['model version', doc.model_version], ['dataset', doc.dataset],
      ['urn', doc.urn], ['n', doc.n], ['weighted', doc.weighted ? 'yes' : null]]
      .filter(([, value]) => value !== null && value !== undefined && value !== '')
      .map(([name, value]) => el('span', { class: 'detail' }, name + ': ' + display(value)));
    const slider = el('input', { type: 'range', min: '0', max: '0.99', step: '0.01',
      'data-eval': evaluation.index, 'data-field': 'threshold',
      'aria-label': 'threshold for ' + evaluation.name });
    slider.addEventListener('input', () => onSlide(evaluation, parseFloat(slider.value)));
    evaluation.slider = slider;
    return el('article', { class: 'card', 'data-eval': evaluation.index }, [
      el('h3', null, [swatch(evaluation.color), evaluation.name]),
      el('p', { class: 'details' }, details),
      el('label', { class: 'slider' }, ['threshold ', slider, ' ',
        el('output', { 'data-eval': evaluation.index, 'data-field': 'threshold-value' })]),
      binaryConfusionTable(evaluation),
      statsTable(evaluation),
    ]);
  }

  function showOutput(evaluation, field, value, text) {
    const node = evaluation.card.querySelector(`[data-field="${field}"]`);
    setAttributes(node, { 'data-value': isNumber(value) ? value : '' });
    const count = node.querySelector('.count');
    (count || node).textContent = text;
    return node;
  }

  function applyThreshold(evaluation, threshold, charts) {
    const table = evaluation.doc.threshold_table;
    const rows = table.tp.length;
    const index = Math.min(rows - 1, Math.max(0, Math.round(threshold * 100)));
    const row = {};
    for (const [field] of STAT_FIELDS) row[field] = (table[field] || [])[index];
    const cut = isNumber(table.threshold[index]) ? table.threshold[index] : index / 100;
    evaluation.slider.value = cut.toFixed(2);
    showOutput(evaluation, 'threshold-value', cut, cut.toFixed(2));
    for (const [field, , type] of STAT_FIELDS) {
      showOutput(evaluation, field, row[field],
        type === 'count' ? formatCount(row[field]) : formatRate(row[field]));
    }
    const cells = [['cell-0-0', row.tn, 0], ['cell-0-1', row.fp, 0], ['cell-1-0', row.fn, 1],
      ['cell-1-1', row.tp, 1]];
    const actual = [row.tn + row.fp, row.fn + row.tp];
    for (const [field, value, actualRow] of cells) {
      const node = showOutput(evaluation, field, value, formatCount(value));
      node.querySelector('.share').textContent =
        formatShare(value, actual[actualRow]) + ' of actual';
      const share = actual[actualRow] > 0 ? value / actual[actualRow] : 0;
      const correct = field === 'cell-0-0' || field === 'cell-1-1';
      node.style.backgroundColor = correct
        ? `rgba(0, 158, 115, ${0.08 + 0.5 * share})` : `rgba(213, 94, 0, ${0.08 + 0.5 * share})`;
    }
    const predicted = [row.tn + row.fn, row.fp + row.tp];
    showOutput(evaluation, 'actual-0', actual[0], formatCount(actual[0]));
    showOutput(evaluation, 'actual-1', actual[1], formatCount(actual[1]));
    showOutput(evaluation, 'predicted-0', predicted[0], formatCount(predicted[0]));
    showOutput(evaluation, 'predicted-1', predicted[1], formatCount(predicted[1]));
    showOutput(evaluation, 'total', actual[0] + actual[1], formatCount(actual[0] + actual[1]));
    const label = `${evaluation.name} at threshold ${cut.toFixed(2)}`;
    charts.roc.setMarker(evaluation.index, row.fpr, row.recall, evaluation.color, label);
    const anyPredicted = isNumber(row.tp) && isNumber(row.fp) && row.tp + row.fp > 0;
    charts.pr.setMarker(evaluation.index, row.recall, anyPredicted ? row.precision : null,
      evaluation.color, label);
  }

  function legend(evaluations, charts) {
    return el('ul', { class: 'legend' }, evaluations.map((evaluation) => {
      const button = el('button', { type: 'button', 'aria-pressed': 'true',
        'data-eval': evaluation.index, title: 'show or hide on the charts' },
      [swatch(evaluation.color), evaluation.name]);
      button.addEventListener('click', () => {
        const hidden = button.getAttribute('aria-pressed') === 'true';
        button.setAttribute('aria-pressed', hidden ? 'false' : 'true');
        for (const chart of [charts.roc, charts.pr]) {
          chart.series.filter((s) => s.evalIndex === evaluation.index)
            .forEach((s) => { s.hidden = hidden; });
          chart.render();
        }
      });
      return el('li', null, button);
    }));
  }

  function metricsTable(docs, names, colors, extraRows) {
    const headers = ['metric'].concat(docs.map((doc, i) =>
      el('span', null, [colors ? swatch(colors[i]) : null, names[i]])));
    const keys = unionKeys(docs.map((doc) => doc.metrics));
    const rows = (extraRows || []).concat(keys.map((key) => [key].concat(docs.map((doc) =>
      el('td', { 'data-metric': key }, formatMetric(key, (doc.metrics || {})[key]))))));
    return table(headers, rows, { class: 'metrics' });
  }

  function renderBinary(docs) {
    const evaluations = docs.map((doc, index) => ({ doc, index, name: nameOf(doc, index),
      color: PALETTE[index % PALETTE.length] }));
    const root = section('Binary classification', 'aimops-binary');
    const charts = {
      roc: new Chart('roc', 'ROC curve', 'false positive rate', 'true positive rate',
        { diagonal: true }),
      pr: new Chart('pr', 'Precision\u2013recall curve', 'recall', 'precision'),
    };
    for (const evaluation of evaluations) {
      charts.roc.addSeries(curveSeries(evaluation, evaluation.doc.roc, 'fpr', 'tpr', 'FPR', 'TPR'));
      charts.pr.addSeries(curveSeries(evaluation, evaluation.doc.pr, 'recall', 'precision',
        'recall', 'precision'));
    }
    const link = el('input', { type: 'checkbox', id: 'aimops-link-thresholds', checked: '' });
    const slide = (evaluation, threshold) => {
      const targets = link.checked ? evaluations : [evaluation];
      targets.forEach((target) => applyThreshold(target, threshold, charts));
    };
    append(root, [
      legend(evaluations, charts),
      el('div', { class: 'charts' }, [charts.roc.node, charts.pr.node]),
      el('label', { class: 'link' }, [link, ' move all thresholds together']),
      el('div', { class: 'cards' }, evaluations.map((evaluation) => {
        evaluation.card = evaluationCard(evaluation, slide);
        return evaluation.card;
      })),
      el('h3', null, 'Metrics at each evaluation\u2019s own threshold'),
      metricsTable(docs, evaluations.map((e) => e.name), evaluations.map((e) => e.color),
        [['threshold'].concat(docs.map((doc) => el('td', null, formatRate(doc.threshold))))]),
    ]);
    for (const evaluation of evaluations) {
      applyThreshold(evaluation, Math.round(evaluation.doc.threshold * 100) / 100, charts);
    }
    charts.roc.render();
    charts.pr.render();
  }

  // ---- Comparison, fairness, multiclass and regression tables -----------------------------

  function renderComparison(doc, index) {
    const root = section('Comparison: ' + nameOf(doc, index), 'aimops-comparison-' + index);
    const facts = [['baseline', doc.baseline], ['method', doc.method],
      ['confidence', doc.confidence], ['n', doc.n]];
    append(root, el('p', { class: 'details' }, facts.map(([name, value]) =>
      el('span', { class: 'detail' }, name + ': ' + display(value)))));
    if (doc.inconclusive) {
      // Too few rows: no interval or winner means anything; say why instead of the winners.
      append(root, el('p', { class: 'inconclusive', role: 'note', 'data-field': 'inconclusive' },
        [el('strong', null, 'No winners. '), String(doc.inconclusive)]));
    }
    const rows = (doc.deltas || []).map((delta) => {
      // Coloured by whether the version does better than the baseline (lower is better for
      // losses), not by the sign of the difference.
      const sign = delta.better === true ? 'up' : delta.better === false ? 'down' : '';
      return [delta.metric, el('td', { class: 'text' }, display(delta.version)),
        el('td', { class: 'text' }, display(delta.baseline)),
        el('td', null, formatMetric(delta.metric, delta.value)),
        el('td', null, formatMetric(delta.metric, delta.baseline_value)),
        el('td', { class: 'delta ' + sign, 'data-metric': delta.metric }, formatRate(delta.delta)),
        el('td', null, `[${formatRate(delta.ci_low)}, ${formatRate(delta.ci_high)}]`),
        el('td', null, formatRate(delta.p_value)),
        el('td', { class: 'winner' }, display(delta.winner))];
    });
    append(root, table(['metric', 'version', 'baseline', 'value', 'baseline value', 'delta',
      'confidence interval', 'p-value', 'winner'], rows, { class: 'deltas' }));
    const winners = Object.entries(doc.winners || {});
    if (winners.length && !doc.inconclusive) {
      append(root, [el('h3', null, 'Winners'), table(['metric', 'winner'], winners.map(
        ([metric, winner]) => [metric, el('td', { class: 'winner' },
          winner === null ? 'no clear winner' : String(winner))]))]);
    }
  }

  function renderFairness(entry, index) {
    const doc = entry.doc;
    const title = 'Fairness by ' + display(doc.attribute) +
      (entry.of ? ' \u2014 ' + entry.of : doc.label ? ' \u2014 ' + doc.label : '');
    const root = section(title, 'aimops-fairness-' + index);
    append(root, el('p', { class: 'details' }, [['threshold', doc.threshold], ['n', doc.n]]
      .map(([name, value]) => el('span', { class: 'detail' }, name + ': ' + display(value)))));
    const groups = doc.groups || [];
    const metricKeys = unionKeys(groups.map((g) => g.metrics));
    const gapKeys = unionKeys(groups.map((g) => g.gaps));
    const ratioKeys = unionKeys(groups.map((g) => g.ratios));
    const headers = ['group', 'n', 'positives'].concat(metricKeys,
      gapKeys.map((k) => k + ' gap'), ratioKeys.map((k) => k + ' ratio'));
    const rows = groups.map((group) => [display(group.group),
      el('td', null, formatCount(group.n)), el('td', null, formatCount(group.positives))].concat(
      metricKeys.map((k) => el('td', null, formatMetric(k, (group.metrics || {})[k]))),
      gapKeys.map((k) => el('td', null, formatRate((group.gaps || {})[k]))),
      ratioKeys.map((k) => el('td', null, formatRate((group.ratios || {})[k])))));
    append(root, table(headers, rows, { class: 'fairness' }));
    const references = Object.entries(doc.reference || {});
    if (references.length) {
      append(root, el('p', { class: 'note' }, 'Reference group: ' + references.map(
        ([metric, group]) => `${metric} \u2192 ${display(group)}`).join('; ')));
    }
  }

  function confusionMatrix(confusion) {
    const labels = (confusion.labels || []).map(String);
    const matrix = confusion.matrix || [];
    const actual = confusion.actual || matrix.map((row) => row.reduce((a, b) => a + b, 0));
    const predicted = confusion.predicted ||
      labels.map((_, j) => matrix.reduce((sum, row) => sum + row[j], 0));
    const rows = matrix.map((row, i) => ['actual ' + labels[i]].concat(row.map((value, j) => {
      const cell = el('td', { class: 'cell', title: formatShare(value, actual[i]) + ' of actual' },
        [el('span', { class: 'count' }, formatCount(value)),
          el('span', { class: 'share' }, formatShare(value, actual[i]))]);
      const share = actual[i] > 0 ? value / actual[i] : 0;
      cell.style.backgroundColor = i === j ? `rgba(0, 158, 115, ${0.08 + 0.5 * share})`
        : `rgba(213, 94, 0, ${0.05 + 0.5 * share})`;
      return cell;
    }), [el('td', { class: 'total' }, formatCount(actual[i]))]));
    rows.push(['predicted total'].concat(predicted.map((value) =>
      el('td', { class: 'total' }, formatCount(value))),
    [el('td', { class: 'total' }, formatCount(actual.reduce((a, b) => a + b, 0)))]));
    return table(['actual \u2193 / predicted \u2192'].concat(labels.map((l) => 'predicted ' + l),
      ['actual total']), rows, { class: 'confusion' });
  }

  function renderMulticlass(docs) {
    const root = section('Multiclass classification', 'aimops-multiclass');
    const names = docs.map(nameOf);
    append(root, metricsTable(docs, names));
    docs.forEach((doc, index) => {
      const perClass = doc.per_class || [];
      const keys = unionKeys(perClass).filter((key) => key !== 'class');
      append(root, [el('h3', null, names[index]), el('h4', null, 'Confusion matrix'),
        confusionMatrix(doc.confusion), el('h4', null, 'Per class'),
        table(['class'].concat(keys), perClass.map((row) => [display(row.class)].concat(
          keys.map((key) => el('td', null, formatMetric(key, row[key]))))),
        { class: 'per-class' })]);
    });
  }

  function renderRegression(docs) {
    const root = section('Regression', 'aimops-regression');
    const names = docs.map(nameOf);
    append(root, metricsTable(docs, names));
    const quantiles = unionKeys(docs.map((doc) => doc.residual_quantiles))
      .sort((a, b) => parseFloat(a) - parseFloat(b));
    append(root, [el('h3', null, 'Residual quantiles'), table(['quantile'].concat(names),
      quantiles.map((q) => [q].concat(docs.map((doc) =>
        el('td', null, formatRate((doc.residual_quantiles || {})[q]))))), { class: 'quantiles' })]);
  }

  // ---- Assembly ---------------------------------------------------------------------------

  function collect(items) {
    const found = { binary: [], multiclass: [], regression: [], fairness: [], comparison: [] };
    const visit = (doc) => {
      if (doc.kind === 'fairness') found.fairness.push({ doc: doc, of: null });
      else found[doc.kind].push(doc);
      if (doc.kind === 'binary' && doc.fairness) {
        found.fairness.push({ doc: doc.fairness, of: nameOf(doc, found.binary.length - 1) });
      }
      if (doc.kind === 'comparison') (doc.evaluations || []).forEach(visit);
    };
    items.forEach(visit);
    return found;
  }

  function main() {
    const data = JSON.parse(document.getElementById('aimops-data').textContent);
    const root = document.getElementById('aimops-report');
    clear(root);
    const found = collect(data.items || []);
    if (found.binary.length) renderBinary(found.binary);
    found.comparison.forEach(renderComparison);
    found.fairness.forEach(renderFairness);
    if (found.multiclass.length) renderMulticlass(found.multiclass);
    if (found.regression.length) renderRegression(found.regression);
    root.setAttribute('data-ready', 'true');
  }

  try {
    main();
  } catch (error) {
    const root = document.getElementById('aimops-report');
    root.appendChild(el('p', { class: 'error' }, 'The report could not be drawn: ' + error));
    throw error;
  }
})();
