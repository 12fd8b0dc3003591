// The watch page's player: hls.js with automatic and manual quality, storyboard previews on the
// seek bar, captions, resume position, keyboard shortcuts, and the player's telemetry.

import { h, formatDuration } from "./ui.js";

const PROGRESS_MS = 10000;
const RESUME_KEY = "reelrank.resume.";
const RESUME_MIN_S = 5;
const SEEK_STEP_S = 5;
const JUMP_STEP_S = 10;
const MAX_RECOVERIES = 3;

/** Cues of a storyboard WebVTT index: ``{start, end, url, x, y, w, h}``. */
export function parseStoryboard(text) {
  const cues = [];
  const lines = text.split(/\r?\n/);
  const stamp = (value) => {
    const parts = value.trim().split(":").map(Number);
    return parts.reduce((total, part) => total * 60 + part, 0);
  };
  for (let i = 0; i < lines.length; i += 1) {
    if (!lines[i].includes("-->")) continue;
    const [from, to] = lines[i].split("-->");
    const target = (lines[i + 1] || "").trim();
    const [url, fragment = ""] = target.split("#xywh=");
    const [x, y, w, hgt] = fragment.split(",").map(Number);
    cues.push({ start: stamp(from), end: stamp(to), url, x, y, w, h: hgt });
  }
  return cues;
}

function levelName(level) {
  const rate = level.bitrate ? ` · ${(level.bitrate / 1e6).toFixed(1)} Mbps` : "";
  return `${level.height ? `${level.height}p` : level.name || "?"}${rate}`;
}

export class Player {
  /**
   * A player in ``container`` for ``source.manifestUrl``; ``source.storyboardUrl`` (optional)
   * gives the seek previews; ``source.resumeAt`` (seconds, or null: from the start; absent:
   * this browser's saved position) where to begin; events go through ``telemetry`` with
   * ``recommendationId``. Start-up time counts from ``requestedAt`` (``performance.now()`` when the viewer asked
   * for the video; default: now).
   */
  constructor(container, { videoId, source, telemetry, recommendationId, sessionId, title, requestedAt }) {
    this.videoId = videoId;
    this.telemetry = telemetry;
    this.recommendationId = recommendationId;
    this.sessionId = sessionId;
    this.requestedAt = requestedAt ?? performance.now();
    this.stats = {
      firstFrameMs: null,
      stalls: 0,
      stallMs: 0,
      watchSeconds: 0,
      switches: [],
      playing: false,
      level: -1,
    };
    this.manualPending = false;
    this.firstFrame = new Promise((resolve) => {
      this.resolveFirstFrame = resolve;
    });
    this.started = false;
    this.lastTime = 0;
    this.stallStartedAt = null;
    this.cues = [];
    this.build(container, title);
    this.listen();
    this.load(source);
    if (source.storyboardUrl) this.loadStoryboard(source.storyboardUrl);
    if (source.captionsUrl) this.loadCaptions(source.captionsUrl);
  }

  build(container, title) {
    this.video = h("video", { playsinline: true, poster: undefined, "aria-label": title || "Video" });
    this.playButton = h("button", { type: "button", className: "play", "aria-label": "Play" }, "▶");
    this.seek = h("input", {
      type: "range",
      className: "seek",
      min: 0,
      max: 0,
      step: 0.1,
      value: 0,
      "aria-label": "Seek",
    });
    this.preview = h(
      "div",
      { className: "seek-preview", hidden: true, "aria-hidden": "true" },
      h("div", { className: "seek-preview-image" }),
      h("span", { className: "seek-preview-time" }),
    );
    this.time = h("span", { className: "time", "aria-live": "off" }, "0:00 / 0:00");
    this.quality = h("select", { className: "quality", "aria-label": "Quality" }, h("option", { value: "-1" }, "Auto"));
    this.captions = h(
      "button",
      { type: "button", className: "captions", "aria-label": "Captions", "aria-pressed": "false", hidden: true },
      "CC",
    );
    this.mute = h("button", { type: "button", className: "mute", "aria-label": "Mute", "aria-pressed": "false" }, "Mute");
    this.fullscreen = h("button", { type: "button", className: "fullscreen", "aria-label": "Full screen" }, "Full");
    this.element = h(
      "div",
      {
        className: "player",
        tabindex: 0,
        role: "region",
        "aria-label": "Video player; space plays or pauses, arrows seek, m mutes, f full screen, c captions",
      },
      this.video,
      h(
        "div",
        { className: "controls" },
        this.playButton,
        h("div", { className: "seek-wrap" }, this.seek, this.preview),
        this.time,
        this.quality,
        this.captions,
        this.mute,
        this.fullscreen,
      ),
    );
    container.append(this.element);
  }

  load(source) {
    // signed in, the account's position (any device) decides; signed out, this browser's
    const resumeAt = source.resumeAt !== undefined ? Number(source.resumeAt || 0) : Number(localStorage.getItem(RESUME_KEY + this.videoId) || 0);
    this.resumedFrom = resumeAt > RESUME_MIN_S ? resumeAt : 0;
    if (!window.Hls || !window.Hls.isSupported()) {
      this.video.src = source.manifestUrl;
      this.hls = null;
    } else {
      this.hls = new window.Hls({
        startPosition: this.resumedFrom || -1,
        capLevelToPlayerSize: false,
        enableWorker: false, // fMP4 needs no transmuxing; a worker only delays the first frame
      });
      this.listenHls();
      this.hls.loadSource(source.manifestUrl);
      this.hls.attachMedia(this.video);
    }
    this.video.muted = true;
    this.mute.setAttribute("aria-pressed", "true");
    this.mute.textContent = "Unmute";
    this.video.autoplay = true;
    this.video.play().catch(() => {});
  }

  listenHls() {
    const Hls = window.Hls;
    const hls = this.hls;
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      const options = hls.levels.map((level, index) => h("option", { value: String(index) }, levelName(level)));
      this.quality.replaceChildren(h("option", { value: "-1" }, "Auto"), ...options);
      this.video.play().catch(() => {});
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
      const previous = this.stats.level;
      this.stats.level = data.level;
      const reason = this.manualPending ? "manual" : "abr";
      this.manualPending = false;
    this.firstFrame = new Promise((resolve) => {
      this.resolveFirstFrame = resolve;
    });
      this.quality.options[0].textContent = `Auto (${levelName(hls.levels[data.level]).split(" ")[0]})`;
      if (previous < 0) return;
      const from = hls.levels[previous];
      const to = hls.levels[data.level];
      this.stats.switches.push({ from: previous, to: data.level, reason });
      this.track("quality_change", {
        properties: {
          reason,
          from_bitrate: from?.bitrate ?? null,
          to_bitrate: to?.bitrate ?? null,
          from_height: from?.height ?? null,
          to_height: to?.height ?? null,
        },
      });
    });
    hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, (_event, data) => {
      this.captions.hidden = !data.subtitleTracks.length;
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      this.recoveries = (this.recoveries || 0) + 1;
      const status = data.response?.code;
      if (this.recoveries > MAX_RECOVERIES || status === 401 || status === 403 || status === 404) {
        this.showError(`Playback failed: ${data.details}${status ? ` (HTTP ${status})` : ""}`);
        hls.destroy();
      } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) hls.startLoad();
      else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
      else this.showError(`Playback failed: ${data.details}`);
    });
  }

  listen() {
    const video = this.video;
    const firstFrame = () => {
      if (this.stats.firstFrameMs !== null) return;
      this.stats.firstFrameMs = Math.round(performance.now() - this.requestedAt);
      this.resolveFirstFrame();
      this.track("play", { watchSeconds: 0, properties: { startup_ms: this.stats.firstFrameMs } });
    };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(firstFrame);
    video.addEventListener("playing", () => {
      if (!video.requestVideoFrameCallback) firstFrame();
      this.stats.playing = true;
      this.playButton.textContent = "❚❚";
      this.playButton.setAttribute("aria-label", "Pause");
      if (this.stallStartedAt !== null) {
        const ms = Math.round(performance.now() - this.stallStartedAt);
        this.stallStartedAt = null;
        this.stats.stalls += 1;
        this.stats.stallMs += ms;
        this.track("rebuffer", { value: ms / 1000, properties: { duration_ms: ms } });
      }
      if (!this.progressTimer) this.progressTimer = setInterval(() => this.heartbeat(), PROGRESS_MS);
    });
    video.addEventListener("waiting", () => {
      if (this.stats.firstFrameMs !== null && !video.seeking && this.stallStartedAt === null) {
        this.stallStartedAt = performance.now();
      }
    });
    video.addEventListener("pause", () => {
      this.stats.playing = false;
      this.playButton.textContent = "▶";
      this.playButton.setAttribute("aria-label", "Play");
      if (!video.ended) this.track("pause", { watchSeconds: this.stats.watchSeconds, properties: { position_s: round(video.currentTime) } });
    });
    video.addEventListener("seeking", () => {
      this.stallStartedAt = null;
      this.track("seek", { properties: { from_s: round(this.lastTime), to_s: round(video.currentTime) } });
      this.lastTime = video.currentTime;
    });
    video.addEventListener("timeupdate", () => {
      const delta = video.currentTime - this.lastTime;
      if (!video.seeking && delta > 0 && delta < 1.5) this.stats.watchSeconds += delta;
      this.lastTime = video.currentTime;
      if (document.activeElement !== this.seek) this.seek.value = String(video.currentTime);
      this.time.textContent = `${formatDuration(video.currentTime)} / ${formatDuration(video.duration)}`;
      if (video.currentTime > RESUME_MIN_S) localStorage.setItem(RESUME_KEY + this.videoId, String(Math.floor(video.currentTime)));
    });
    video.addEventListener("durationchange", () => {
      this.seek.max = String(video.duration || 0);
    });
    video.addEventListener("ended", () => {
      localStorage.removeItem(RESUME_KEY + this.videoId);
      this.track("complete", { watchSeconds: this.stats.watchSeconds });
      this.telemetry?.flush();
    });
    this.playButton.addEventListener("click", () => this.toggle());
    this.video.addEventListener("click", () => this.toggle());
    this.seek.addEventListener("input", () => {
      video.currentTime = Number(this.seek.value);
    });
    this.seek.addEventListener("mousemove", (event) => this.showPreview(event));
    this.seek.addEventListener("mouseleave", () => {
      this.preview.hidden = true;
    });
    this.quality.addEventListener("change", () => this.setQuality(Number(this.quality.value)));
    this.captions.addEventListener("click", () => this.toggleCaptions());
    this.mute.addEventListener("click", () => this.toggleMute());
    this.fullscreen.addEventListener("click", () => this.toggleFullscreen());
    this.element.addEventListener("keydown", (event) => this.onKey(event));
  }

  track(type, fields = {}) {
    this.telemetry?.track(type, this.videoId, {
      recommendationId: this.recommendationId,
      sessionId: this.sessionId,
      ...fields,
    });
  }

  heartbeat() {
    if (!this.stats.playing) return;
    const video = this.video;
    let buffered = 0;
    for (let i = 0; i < video.buffered.length; i += 1) {
      if (video.buffered.start(i) <= video.currentTime && video.currentTime <= video.buffered.end(i)) {
        buffered = video.buffered.end(i) - video.currentTime;
      }
    }
    const level = this.hls && this.stats.level >= 0 ? this.hls.levels[this.stats.level] : null;
    this.track("progress", {
      watchSeconds: this.stats.watchSeconds,
      properties: { buffer_s: round(buffered), bitrate: level?.bitrate ?? null, position_s: round(video.currentTime) },
    });
  }

  /** Play the rung ``index`` (-1: automatic), switching at once. */
  setQuality(index) {
    if (!this.hls) return;
    this.quality.value = String(index);
    if (index === -1) {
      this.hls.currentLevel = -1;
      return;
    }
    if (index !== this.stats.level) this.manualPending = true;
    this.hls.currentLevel = index;
  }

  async loadStoryboard(url) {
    try {
      const response = await fetch(url);
      if (response.ok) this.cues = parseStoryboard(await response.text());
    } catch {
      this.cues = [];
    }
  }

  /** Add the package's WebVTT captions, when it has them, as a hidden text track. */
  async loadCaptions(url) {
    let response;
    try {
      response = await fetch(url);
    } catch {
      return;
    }
    if (!response.ok) return;
    const blob = new Blob([await response.text()], { type: "text/vtt" });
    const track = h("track", { kind: "captions", label: "Captions", srclang: "en", src: URL.createObjectURL(blob) });
    this.video.append(track);
    track.track.mode = "hidden";
    this.sideCaptions = track.track;
    this.captions.hidden = false;
  }

  showPreview(event) {
    const duration = this.video.duration;
    if (!Number.isFinite(duration) || duration <= 0) return;
    const box = this.seek.getBoundingClientRect();
    const share = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const at = share * duration;
    const cue = this.cues.find((c) => c.start <= at && at < c.end) || this.cues[this.cues.length - 1];
    const image = this.preview.firstChild;
    if (cue) {
      image.style.width = `${cue.w}px`;
      image.style.height = `${cue.h}px`;
      image.style.backgroundImage = `url("${cue.url}")`;
      image.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
      image.hidden = false;
    } else {
      image.hidden = true;
    }
    this.preview.lastChild.textContent = formatDuration(at);
    this.preview.style.left = `${share * 100}%`;
    this.preview.hidden = false;
  }

  toggle() {
    if (this.video.paused) this.video.play().catch(() => {});
    else this.video.pause();
  }

  toggleMute() {
    this.video.muted = !this.video.muted;
    this.mute.setAttribute("aria-pressed", String(this.video.muted));
    this.mute.textContent = this.video.muted ? "Unmute" : "Mute";
  }

  toggleCaptions() {
    if (this.sideCaptions) {
      const on = this.sideCaptions.mode !== "showing";
      this.sideCaptions.mode = on ? "showing" : "hidden";
      this.captions.setAttribute("aria-pressed", String(on));
      return;
    }
    if (!this.hls || !this.hls.subtitleTracks.length) return;
    const on = this.hls.subtitleTrack < 0;
    this.hls.subtitleDisplay = on;
    this.hls.subtitleTrack = on ? 0 : -1;
    this.captions.setAttribute("aria-pressed", String(on));
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else this.element.requestFullscreen?.().catch(() => {});
  }

  seekBy(seconds) {
    const duration = this.video.duration || 0;
    this.video.currentTime = Math.min(Math.max(0, this.video.currentTime + seconds), duration);
  }

  onKey(event) {
    const tag = event.target.tagName;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const inControl = tag === "SELECT" || tag === "INPUT" || tag === "BUTTON";
    const keys = {
      k: () => this.toggle(),
      " ": inControl ? null : () => this.toggle(),
      ArrowLeft: inControl ? null : () => this.seekBy(-SEEK_STEP_S),
      ArrowRight: inControl ? null : () => this.seekBy(SEEK_STEP_S),
      j: () => this.seekBy(-JUMP_STEP_S),
      l: () => this.seekBy(JUMP_STEP_S),
      m: () => this.toggleMute(),
      f: () => this.toggleFullscreen(),
      c: () => this.toggleCaptions(),
    };
    const action = keys[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  }

  showError(text) {
    this.element.append(h("p", { className: "message error", role: "alert" }, text));
  }

  /** Stop: the last progress and the queued events go out. */
  destroy() {
    clearInterval(this.progressTimer);
    if (this.stats.firstFrameMs !== null && !this.video.ended) this.heartbeat();
    this.telemetry?.flush();
    this.hls?.destroy();
    this.video.removeAttribute("src");
    this.video.load();
  }
}

function round(value) {
  return Math.round(value * 100) / 100;
}
