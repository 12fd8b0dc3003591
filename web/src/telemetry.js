// Batched viewer events to POST /events: ids made here, flushed every few seconds and when the
// page is hidden.

import { authHeaders, refreshTokens } from "./api.js";

const FLUSH_MS = 5000;
const MAX_BATCH = 100;
const CLIENT_KEY = "reelrank.client";

function newId() {
  return crypto.randomUUID().replaceAll("-", "");
}

function clientId() {
  let id = localStorage.getItem(CLIENT_KEY);
  if (!id) {
    id = `web-${newId().slice(0, 16)}`;
    localStorage.setItem(CLIENT_KEY, id);
  }
  return id;
}

export class Telemetry {
  /** Events of ``userId`` (nothing is sent for signed-out visitors). */
  constructor(userId) {
    this.userId = userId;
    this.queue = [];
    this.sent = [];
    this.seen = new Set();
    this.client = clientId();
    this.timer = setInterval(() => this.flush(), FLUSH_MS);
    this.onHide = () => {
      if (document.visibilityState === "hidden") this.flush(true);
    };
    this.onPageHide = () => this.flush(true);
    document.addEventListener("visibilitychange", this.onHide);
    window.addEventListener("pagehide", this.onPageHide);
    this.observer = new IntersectionObserver((entries) => this.onVisible(entries), {
      threshold: 0.5,
    });
  }

  /** Queue one event of ``type`` about ``videoId``. */
  track(type, videoId, { recommendationId, value, watchSeconds, sessionId, properties } = {}) {
    if (!this.userId) return;
    const event = {
      event_id: newId(),
      type,
      user_id: this.userId,
      video_id: Number(videoId),
      timestamp: new Date().toISOString(),
      client_id: this.client,
    };
    if (recommendationId) event.recommendation_id = recommendationId;
    if (value !== undefined) event.value = value;
    if (watchSeconds !== undefined) event.watch_seconds = Math.max(0, watchSeconds);
    if (sessionId) event.session_id = sessionId;
    if (properties) event.properties = properties;
    this.queue.push(event);
    if (this.queue.length >= MAX_BATCH) this.flush();
  }

  /** Send an impression once when ``element`` is half visible. */
  watchImpression(element, videoId, recommendationId) {
    if (!this.userId) return;
    element.dataset.impressionVideo = videoId;
    if (recommendationId) element.dataset.impressionRec = recommendationId;
    this.observer.observe(element);
  }

  onVisible(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const { impressionVideo, impressionRec } = entry.target.dataset;
      const key = `${impressionRec || ""}:${impressionVideo}`;
      this.observer.unobserve(entry.target);
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.track("impression", impressionVideo, { recommendationId: impressionRec });
    }
  }

  /** Send the queued events; ``leaving`` uses a keepalive request that outlives the page. */
  flush(leaving = false) {
    if (!this.queue.length) return Promise.resolve();
    const events = this.queue.splice(0, MAX_BATCH);
    return fetch("/events", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeaders() },
      body: JSON.stringify({ events }),
      keepalive: leaving,
    })
      .then((response) => {
        if (response.ok) this.sent.push(...events.map((event) => event.event_id));
        else if (response.status >= 500 || response.status === 429) this.queue.unshift(...events);
        else if (response.status === 401 && !leaving) {
          // an expired access token: refresh it and send the batch again on the next flush
          return refreshTokens().then((renewed) => {
            if (renewed) this.queue.unshift(...events);
          });
        } else console.warn("events refused", response.status);
      })
      .catch(() => this.queue.unshift(...events));
  }

  /** Flush and stop listening (signing out, another account). */
  close() {
    this.flush(true);
    clearInterval(this.timer);
    this.observer.disconnect();
    document.removeEventListener("visibilitychange", this.onHide);
    window.removeEventListener("pagehide", this.onPageHide);
  }
}
