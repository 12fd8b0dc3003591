// Small DOM helpers and the video card every list uses.

/** An element: ``h("a", {href: "#/"}, "Home")``; on* attributes become listeners. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "className") {
      element.className = value;
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** ``m:ss`` or ``h:mm:ss``. */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

export function message(text, kind = "info") {
  return h("p", { className: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** The watch page's address, with the recommendation the video was picked from. */
export function watchHref(videoId, recommendationId) {
  return `#/watch/${videoId}${recommendationId ? `?rec=${recommendationId}` : ""}`;
}

/**
 * A video card: poster, title, duration, why it was picked. ``video`` has ``id`` (or
 * ``video_id``), ``title``, ``duration_s``; ``options.recommendationId`` travels to the watch
 * page, ``options.telemetry`` records impressions and clicks.
 */
export function videoCard(video, options = {}) {
  const id = video.id ?? video.video_id;
  const duration = video.duration_s ?? video.metadata?.duration_s;
  const link = h(
    "a",
    {
      className: "card",
      href: watchHref(id, options.recommendationId),
      dataset: { videoId: id },
      onclick: () => options.telemetry?.track("click", id, { recommendationId: options.recommendationId }),
    },
    h(
      "div",
      { className: "poster" },
      h("img", { src: `/videos/${id}/poster.jpg`, alt: "", loading: "lazy", onerror: hideImage }),
      duration ? h("span", { className: "duration" }, formatDuration(duration)) : null,
      video.premium ? h("span", { className: "badge" }, "Premium") : null,
    ),
    h("span", { className: "card-title" }, video.title),
    video.reason ? h("span", { className: "card-reason" }, video.reason) : null,
  );
  if (options.telemetry) options.telemetry.watchImpression(link, id, options.recommendationId);
  return link;
}

function hideImage(event) {
  event.target.remove();
}

/** Calls ``load`` while ``sentinel`` is in view (again after each load), until it answers false. */
export function infiniteScroll(sentinel, load) {
  let busy = false;
  const observer = new IntersectionObserver(async (entries) => {
    if (busy || !entries.some((entry) => entry.isIntersecting)) return;
    busy = true;
    let more = false;
    try {
      more = (await load()) !== false;
    } finally {
      busy = false;
    }
    if (more) {
      // observing afresh reports the sentinel's current state: still in view loads the next page
      observer.unobserve(sentinel);
      observer.observe(sentinel);
    } else {
      observer.disconnect();
    }
  });
  observer.observe(sentinel);
  return observer;
}
