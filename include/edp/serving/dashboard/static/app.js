// The local dashboard: renders the data the warehouse_load DAG's BI step embedded in index.html.
// No network calls: the data is in the page, Chart.js is vendored next to it.
"use strict";

(function () {
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const charts = {};
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const fmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%");
  const num = (v) => (v === null || v === undefined ? "–" : fmt.format(Number(v)));

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    });
    (children || []).forEach((c) => node.appendChild(typeof c === "string" ? document.createTextNode(c) : c));
    return node;
  }

  function table(container, columns, rows, empty) {
    container.replaceChildren();
    if (!rows || rows.length === 0) {
      container.appendChild(el("div", { class: "empty", text: empty }));
      return;
    }
    const head = el("tr", {}, columns.map((c) => el("th", { text: c.label })));
    const body = rows.map((r) => el("tr", {}, columns.map((c) => {
      const cell = el("td");
      const value = c.render ? c.render(r) : r[c.key];
      if (value instanceof Node) cell.appendChild(value); else cell.textContent = value === null || value === undefined ? "–" : String(value);
      return cell;
    })));
    container.appendChild(el("table", {}, [el("thead", {}, [head]), el("tbody", {}, body)]));
  }

  function badge(ok, yes, no) {
    if (ok === null || ok === undefined) return el("span", { class: "badge none", text: "n/a" });
    return el("span", { class: "badge " + (ok ? "ok" : "bad"), text: ok ? yes : no });
  }

  function lastDays(rows, days) {
    const dates = [...new Set(rows.map((r) => r.event_date))].sort();
    const keep = new Set(dates.slice(-days));
    return rows.filter((r) => keep.has(r.event_date));
  }

  function chart(name, config) {
    const canvas = document.querySelector(`canvas[data-chart="${name}"]`);
    if (charts[name]) charts[name].destroy();
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false,
      interaction: { mode: "index", intersect: false } }, config.options || {});
    charts[name] = new Chart(canvas, config);
  }

  function byCurrency(rows, value) {
    const dates = [...new Set(rows.map((r) => r.event_date))].sort();
    const currencies = [...new Set(rows.map((r) => r.currency))].sort();
    return {
      labels: dates,
      datasets: currencies.map((c, i) => ({
        label: c, backgroundColor: palette[i % palette.length], stack: "revenue",
        data: dates.map((d) => Number((rows.find((r) => r.event_date === d && r.currency === c) || {})[value] || 0)),
      })),
    };
  }

  function renderTiles(kpi, revenue) {
    const tiles = document.getElementById("tiles");
    tiles.replaceChildren();
    const last = kpi[kpi.length - 1];
    if (!last) {
      tiles.appendChild(el("div", { class: "empty", text: "No KPIs in the warehouse yet: the warehouse_load DAG fills it after each gold build." }));
      return;
    }
    const lastRevenue = revenue.filter((r) => r.event_date === last.event_date)
      .sort((a, b) => Number(b.revenue) - Number(a.revenue));
    const items = [
      ["Daily active users", num(last.dau), `WAU ${num(last.wau)}`],
      ["Sessions", num(last.sessions), `bounce ${pct(last.bounce_rate)}`],
      ["Conversion", pct(last.conversion_rate), `${num(last.converted_sessions)} sessions`],
      ["Purchasers", num(last.purchased), `of ${num(last.viewers)} viewers`],
      ["Revenue", lastRevenue.length ? `${num(lastRevenue[0].revenue)} ${lastRevenue[0].currency}` : "–",
        lastRevenue.length > 1 ? `+${lastRevenue.length - 1} more currencies` : ""],
      ["Error rate", pct(last.error_rate), `${num(last.errors)} errors, ${num(last.fatal_errors)} fatal`],
    ];
    items.forEach(([label, value, sub]) => tiles.appendChild(el("div", { class: "tile" }, [
      el("div", { class: "label", text: label }), el("div", { class: "value", text: value }), el("div", { class: "sub", text: sub }),
    ])));
    tiles.appendChild(el("div", { class: "tile" }, [el("div", { class: "label", text: "Day" }),
      el("div", { class: "value", style: "font-size: 18px", text: last.event_date })]));
  }

  function renderCharts(days) {
    const kpi = lastDays(data.kpi_daily || [], days);
    const dates = kpi.map((r) => r.event_date);
    renderTiles(kpi, data.revenue_daily || []);
    chart("users", { type: "line", data: { labels: dates, datasets: [
      { label: "DAU", data: kpi.map((r) => r.dau), borderColor: palette[0], backgroundColor: palette[0] },
      { label: "WAU", data: kpi.map((r) => r.wau), borderColor: palette[1], backgroundColor: palette[1] },
    ] } });
    chart("sessions", { data: { labels: dates, datasets: [
      { type: "bar", label: "Sessions", data: kpi.map((r) => r.sessions), backgroundColor: palette[2], yAxisID: "y" },
      { type: "line", label: "Conversion rate", data: kpi.map((r) => r.conversion_rate), borderColor: palette[3], backgroundColor: palette[3], yAxisID: "rate" },
    ] }, options: { scales: { rate: { position: "right", min: 0, ticks: { callback: (v) => pct(v) } } } } });
    chart("funnel", { type: "bar", data: { labels: dates, datasets: [
      { label: "Viewers", data: kpi.map((r) => r.viewers), backgroundColor: palette[0] },
      { label: "Carted", data: kpi.map((r) => r.carted), backgroundColor: palette[1] },
      { label: "Purchased", data: kpi.map((r) => r.purchased), backgroundColor: palette[2] },
    ] } });
    chart("revenue", { type: "bar", data: byCurrency(lastDays(data.revenue_daily || [], days), "revenue"),
      options: { scales: { x: { stacked: true }, y: { stacked: true } } } });
    const categories = data.revenue_by_category || [];
    chart("categories", { type: "bar", data: {
      labels: categories.map((r) => `${r.product_category} (${r.currency})`),
      datasets: [{ label: "Revenue", data: categories.map((r) => Number(r.revenue)), backgroundColor: palette[4] }],
    }, options: { indexAxis: "y", interaction: { mode: "nearest", intersect: true } } });
    const health = lastDays(data.app_health_daily || [], days);
    const platforms = [...new Set(health.map((r) => r.platform))].sort();
    const healthDates = [...new Set(health.map((r) => r.event_date))].sort();
    chart("errors", { type: "line", data: { labels: healthDates, datasets: platforms.map((p, i) => ({
      label: p, borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length],
      data: healthDates.map((d) => (health.find((r) => r.event_date === d && r.platform === p) || {}).error_rate ?? null),
    })) }, options: { scales: { y: { min: 0, ticks: { callback: (v) => pct(v) } } } } });
  }

  function renderHealth() {
    const s = data.streaming || {};
    const f = data.freshness || {};
    table(document.getElementById("streaming"), [{ label: "signal", key: "k" }, { label: "value", key: "v" }], [
      { k: "job state", v: s.available ? s.state : "no metrics file" },
      { k: "last heartbeat", v: s.heartbeat_age_s === null || s.heartbeat_age_s === undefined ? "–" : `${num(s.heartbeat_age_s)} s ago` },
      { k: "lag behind stream", v: s.max_ms_behind_latest === null || s.max_ms_behind_latest === undefined ? "–" : `${num(s.max_ms_behind_latest)} ms` },
      { k: "input rate", v: s.input_rows_per_second === null || s.input_rows_per_second === undefined ? "–" : `${num(s.input_rows_per_second)} rows/s` },
      { k: "silver freshness", v: f.age_s === null || f.age_s === undefined ? "no commits" : `newest commit ${num(f.age_s)} s ago` },
    ], "");
    table(document.getElementById("quality"), [
      { label: "layer", key: "layer" },
      { label: "result", render: (r) => badge(r.success, "passed", "FAILED") },
      { label: "interval", render: (r) => `${r.interval_start} .. ${r.interval_end}` },
      { label: "checked", key: "finished_at" },
      { label: "failed expectations", render: (r) => (r.failed && r.failed.length ? r.failed.join("; ") : "none") },
    ], data.quality || [], "No quality gate has run yet.");
    table(document.getElementById("loads"), [
      { label: "load", key: "load_id" }, { label: "interval", render: (r) => `${r.interval_start} .. ${r.interval_end}` },
      { label: "rows", render: (r) => num(r.row_count) }, { label: "loaded", key: "loaded_at" },
    ], data.recent_loads || [], "No loads yet.");
    table(document.getElementById("alerts"), [{ label: "received", key: "received_at" }, { label: "message", key: "text" }],
      data.alerts || [], "No alerts received.");
  }

  document.getElementById("generated").textContent =
    `data as of ${data.generated_at} · warehouse ${data.warehouse && data.warehouse.available ? "ok" : "not built yet"}`;
  const windowSelect = document.getElementById("window");
  windowSelect.addEventListener("change", () => renderCharts(Number(windowSelect.value)));
  renderCharts(Number(windowSelect.value));
  renderHealth();
  window.__dashboard = { charts, data, ready: true };
})();
