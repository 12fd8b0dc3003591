// Home: the signed-in viewer's rows (GET /users/{id}/home), then every video, page by page;
// signed-out visitors see trending.

import { api, query } from "../api.js";
import { h, infiniteScroll, message, videoCard } from "../ui.js";

const ROW_SIZE = 12;
const PAGE_SIZE = 24;

function row(title, items, options, kind) {
  return h(
    "section",
    { className: "row", "aria-label": title, dataset: { kind } },
    h("h2", {}, title),
    h("div", { className: "row-items" }, items.map((item) => videoCard(item, options))),
  );
}

/** A grid that loads ``/videos`` pages (``sort``) as its end scrolls into view. */
export function browseGrid(title, sort, telemetry, extra = {}) {
  const grid = h("div", { className: "grid" });
  const sentinel = h("div", { className: "sentinel", "aria-hidden": "true" });
  const section = h("section", { "aria-label": title }, h("h2", {}, title), grid, sentinel);
  let cursor = null;
  infiniteScroll(sentinel, async () => {
    const page = await api(`/videos${query({ sort, limit: PAGE_SIZE, cursor, ...extra })}`);
    grid.append(...page.items.map((video) => videoCard(video, { telemetry })));
    cursor = page.next_cursor;
    if (!page.items.length && !grid.children.length) grid.append(message("No videos yet."));
    return Boolean(cursor);
  });
  return section;
}

export async function homePage(main, { app }) {
  main.append(h("h1", { className: "visually-hidden" }, "Home"));
  if (!app.user) {
    main.append(browseGrid("Trending", "popular", app.telemetry));
    return;
  }
  const feed = await api(`/users/${app.user.id}/home${query({ k: ROW_SIZE, fields: "duration_s" })}`);
  const options = { recommendationId: feed.recommendation_id, telemetry: app.telemetry };
  for (const feedRow of feed.rows) {
    if (feedRow.items.length) main.append(row(feedRow.title, feedRow.items, options, feedRow.kind));
  }
  main.append(browseGrid("More videos", "newest", app.telemetry));
}
