// Search results (GET /search) with genre, duration and upload-date filters.

import { api, query } from "../api.js";
import { h, message, videoCard } from "../ui.js";

const DURATIONS = {
  "": [null, null],
  short: [null, 240],
  medium: [240, 1200],
  long: [1200, null],
};
const UPLOADED = { "": null, day: 1, week: 7, month: 30, year: 365 };

function select(name, label, options, value) {
  return h(
    "label",
    {},
    label,
    h(
      "select",
      { name },
      options.map(([key, text]) => h("option", { value: key, selected: key === value }, text)),
    ),
  );
}

export async function searchPage(main, { app, params }) {
  const q = params.get("q") || "";
  const input = document.getElementById("search-input");
  // never rewrite what the viewer is typing (the results follow it)
  if (input && document.activeElement !== input && input.value.trim() !== q) input.value = q;
  const genre = params.get("genre") || "";
  const duration = params.get("duration") || "";
  const uploaded = params.get("uploaded") || "";
  const filters = h(
    "form",
    { className: "filters", "aria-label": "Filters" },
    h("label", {}, "Genre", h("input", { name: "genre", value: genre, placeholder: "any" })),
    select("duration", "Duration", [["", "Any"], ["short", "Under 4 min"], ["medium", "4-20 min"], ["long", "Over 20 min"]], duration),
    select("uploaded", "Uploaded", [["", "Any time"], ["day", "Today"], ["week", "This week"], ["month", "This month"], ["year", "This year"]], uploaded),
    h("button", { type: "submit" }, "Apply"),
  );
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(filters);
    location.hash = `#/search${query({ q, genre: data.get("genre"), duration: data.get("duration"), uploaded: data.get("uploaded") })}`;
  });
  main.append(h("h1", {}, q ? `Results for “${q}”` : "Search"), filters);
  if (!q) return;
  const [low, high] = DURATIONS[duration] || DURATIONS[""];
  const days = UPLOADED[uploaded] || null;
  const after = days ? new Date(Date.now() - days * 86400000).toISOString() : null;
  const results = h("div", { className: "grid", "aria-live": "polite" });
  main.append(results);
  try {
    const page = await api(
      `/search${query({ q, genre, min_duration_s: low, max_duration_s: high, published_after: after, limit: 40 })}`,
    );
    if (!page.items.length) results.append(message("Nothing matches; try fewer words or filters."));
    results.append(...page.items.map((item) => videoCard(item, { telemetry: app.telemetry })));
  } catch (error) {
    results.append(message(error.message, "error"));
  }
}
