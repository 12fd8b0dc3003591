// Admin: QoE over the last days (start-up, rebuffering, switches, score distribution), top
// videos, and A/B experiment results with their 95 % intervals, as charts.

import { api, query } from "../api.js";
import { h, message } from "../ui.js";

const DAYS = 7;
const DAY_MS = 86400000;
const BUCKET_COLOURS = ["#7f1d1d", "#b91c1c", "#dc2626", "#ea580c", "#f59e0b", "#eab308", "#a3e635", "#4ade80", "#22c55e", "#15803d"];

function dayWindows() {
  const today = new Date();
  today.setUTCHours(0, 0, 0, 0);
  return Array.from({ length: DAYS }, (_, i) => {
    const start = new Date(today.getTime() - (DAYS - 1 - i) * DAY_MS);
    return { label: start.toISOString().slice(5, 10), from: start.toISOString(), to: new Date(start.getTime() + DAY_MS).toISOString() };
  });
}

function chartBox(title, config) {
  const canvas = h("canvas", { role: "img", "aria-label": title });
  const box = h("figure", { className: "chart-box" }, h("figcaption", {}, title), canvas);
  window.Chart.defaults.color = "#a4a9b4";
  window.Chart.defaults.borderColor = "#2d3039";
  const options = { responsive: true, animation: false, aspectRatio: 2, ...(config.options || {}) };
  box.chart = new window.Chart(canvas, { ...config, options });
  return box;
}

/** The platform's playback quality per UTC day (every video's views), shaped for the charts. */
async function dailyQuality(windows) {
  const from = windows[0].from.slice(0, 10);
  const to = windows[windows.length - 1].to.slice(0, 10);
  const answer = await api(`/analytics/qoe/daily${query({ from, to })}`);
  return answer.days.map((day) => ({
    views: day.views,
    rebufferRatio: day.rebuffer_ratio,
    switches: day.quality_switches,
    startupMs: day.qoe.startup_ms_p50,
    meanQoe: day.qoe.mean,
    histogram: day.qoe.histogram.map((bucket) => bucket.sessions),
  }));
}

async function qoeSection() {
  const windows = dayWindows();
  const days = await dailyQuality(windows);
  const labels = windows.map((w) => w.label);
  const section = h("section", { "aria-label": "Quality of experience" }, h("h2", {}, `Quality of experience (all videos, ${DAYS} days)`));
  const charts = h("div", { className: "charts" });
  section.append(charts);
  charts.append(
    chartBox("QoE score distribution per day (views)", {
      type: "bar",
      data: {
        labels,
        datasets: BUCKET_COLOURS.map((colour, i) => ({ label: `${i * 10}-${i * 10 + 10}`, data: days.map((d) => d.histogram[i]), backgroundColor: colour })),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
    }),
    chartBox("Start-up time (median, ms) and mean QoE", {
      type: "line",
      data: {
        labels,
        datasets: [
          { label: "start-up ms", data: days.map((d) => d.startupMs), borderColor: "#60a5fa", yAxisID: "y" },
          { label: "mean QoE", data: days.map((d) => d.meanQoe), borderColor: "#4ade80", yAxisID: "qoe" },
        ],
      },
      options: { scales: { y: { beginAtZero: true }, qoe: { position: "right", min: 0, max: 100 } } },
    }),
    chartBox("Rebuffer ratio (%) and quality switches", {
      type: "bar",
      data: {
        labels,
        datasets: [
          { type: "line", label: "rebuffer %", data: days.map((d) => (d.rebufferRatio === null ? null : d.rebufferRatio * 100)), borderColor: "#f87171", yAxisID: "ratio" },
          { label: "switches", data: days.map((d) => d.switches), backgroundColor: "#a78bfa", yAxisID: "y" },
        ],
      },
      options: { scales: { y: { beginAtZero: true }, ratio: { position: "right", beginAtZero: true } } },
    }),
  );
  section.dataset.views = String(days.reduce((total, d) => total + d.views, 0));
  return section;
}

function topSection(top) {
  const rows = top.videos.map((v) =>
    h("tr", {}, h("td", {}, h("a", { href: `#/watch/${v.video_id}` }, v.title || `#${v.video_id}`)), h("td", {}, String(v.views)), h("td", {}, (v.watch_seconds / 60).toFixed(1))),
  );
  return h(
    "section",
    { "aria-label": "Top videos" },
    h("h2", {}, `Top videos (${DAYS} days)`),
    top.videos.length
      ? chartBox("Views per video", {
          type: "bar",
          data: { labels: top.videos.map((v) => v.title || `#${v.video_id}`), datasets: [{ label: "views", data: top.videos.map((v) => v.views), backgroundColor: "#ff5a3c" }] },
          options: { indexAxis: "y", aspectRatio: Math.max(1.5, 6 / Math.max(1, top.videos.length)) },
        })
      : message("No views in this window."),
    h("table", { className: "top-table" }, h("thead", {}, h("tr", {}, h("th", {}, "Video"), h("th", {}, "Views"), h("th", {}, "Watch minutes"))), h("tbody", {}, rows)),
  );
}

function experimentChart(results) {
  const metrics = Object.keys(results.variants[0]?.metrics || {});
  const charts = metrics.map((metric) =>
    chartBox(`${results.experiment}: ${metric} (95 % interval)`, {
      type: "bar",
      data: {
        labels: results.variants.map((v) => `${v.name}${v.control ? " (control)" : ""}`),
        datasets: [
          {
            label: "95 % interval",
            data: results.variants.map((v) => [v.metrics[metric].ci_low ?? 0, v.metrics[metric].ci_high ?? 0]),
            backgroundColor: "rgba(96, 165, 250, 0.4)",
          },
          { type: "line", label: "estimate", data: results.variants.map((v) => v.metrics[metric].value), borderColor: "#fff", showLine: false, pointRadius: 5 },
        ],
      },
    }),
  );
  const ratio = results.sample_ratio;
  return h(
    "div",
    { className: "experiment" },
    h("h3", {}, `${results.experiment} (${results.status})`),
    ratio.mismatch ? message(`Sample ratio mismatch (p = ${ratio.p_value}): do not trust these results.`, "error") : null,
    h("div", { className: "charts" }, charts),
  );
}

async function experimentsSection() {
  const section = h("section", { "aria-label": "Experiments" }, h("h2", {}, "A/B experiments"));
  const experiments = await api("/experiments");
  if (!experiments.length) section.append(message("No experiments."));
  for (const experiment of experiments) {
    try {
      section.append(experimentChart(await api(`/experiments/${encodeURIComponent(experiment.name)}/results`)));
    } catch (error) {
      section.append(message(`${experiment.name}: ${error.message}`, "error"));
    }
  }
  return section;
}

export async function adminPage(main, { app }) {
  main.append(h("h1", {}, "Admin dashboard"));
  if (app.user?.role !== "admin") {
    main.append(message("Admins only: sign in with an admin account.", "error"));
    return;
  }
  if (!window.Chart) {
    main.append(message("The chart library is missing: run npm ci --prefix web.", "error"));
    return;
  }
  const windows = dayWindows();
  const top = await api(`/analytics/top${query({ from: windows[0].from, to: windows[DAYS - 1].to, limit: 10 })}`);
  main.append(topSection(top));
  const [qoe, experiments] = await Promise.allSettled([qoeSection(), experimentsSection()]);
  for (const result of [qoe, experiments]) {
    main.append(result.status === "fulfilled" ? result.value : message(result.reason.message, "error"));
  }
}
