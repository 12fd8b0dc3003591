// Watch: the player (in a playback session when signed in), details, rating, playlist, share,
// comments, and the watch-next and similar rails.

import { api, query } from "../api.js";
import { Player } from "../player.js";
import { followControl } from "./channel.js";
import { h, message, videoCard } from "../ui.js";

const RAIL_SIZE = 10;
// Longest the rest of the page waits for the video's first frame (ms).
const SIDE_DELAY_MS = 1500;

function deviceId() {
  const key = "reelrank.device";
  let id = localStorage.getItem(key);
  if (!id) {
    id = `web-${crypto.randomUUID().slice(0, 18)}`;
    localStorage.setItem(key, id);
  }
  return id;
}

function startSession(videoId) {
  return api(`/videos/${videoId}/playback`, { method: "POST", body: { device_id: deviceId() } });
}

/** The player's source from tokenised URLs (a playback session's, or a free video's). */
function sourceOf(videoId, urls) {
  const token = new URL(urls.manifest_url, location.href).searchParams.get("token");
  return {
    manifestUrl: urls.manifest_url,
    storyboardUrl: urls.storyboard_url,
    posterUrl: urls.poster_url,
    captionsUrl: `/videos/${videoId}/hls/captions.vtt?token=${encodeURIComponent(token)}`,
  };
}

/** Where to stream from: a playback session's URLs (signed in; ``started`` is its request)
 * or, signed out, a free video's stream URLs. */
async function openSource(video, user, started) {
  if (!user) {
    if (video.premium) throw new Error("This is a premium video: sign in with a premium plan to watch it.");
    if (!video.manifest_url) throw new Error("This video has no streams yet.");
    const urls = await api(`/videos/${video.id}/stream`);
    return { source: sourceOf(video.id, urls), session: null };
  }
  const session = await started;
  return { source: { ...sourceOf(video.id, session), resumeAt: session.resume_position_s }, session };
}

function rail(title, path, telemetry) {
  const list = h("div", { className: "rail-items" });
  const section = h("section", { className: "rail", "aria-label": title }, h("h2", {}, title), list);
  api(path)
    .then((answer) => {
      const options = { recommendationId: answer.recommendation_id, telemetry };
      list.append(...answer.items.map((item) => videoCard(item, options)));
      if (!answer.items.length) list.append(message("Nothing yet."));
    })
    .catch((error) => list.append(error.status === 404 ? message("Nothing yet.") : message(error.message, "error")));
  return section;
}

function ratingControl(videoId, user) {
  const status = h("span", { className: "rating-status", role: "status" });
  const select = h(
    "select",
    { "aria-label": "Your rating", disabled: !user },
    h("option", { value: "" }, "Rate…"),
    [1, 2, 3, 4, 5].map((value) => h("option", { value: String(value) }, "★".repeat(value))),
  );
  const show = (rating) => {
    if (rating.value) select.value = String(Math.round(rating.value));
    status.textContent = rating.count ? `${rating.average.toFixed(1)} ★ (${rating.count})` : "No ratings yet";
  };
  api(`/videos/${videoId}/rating`).then(show).catch(() => {});
  select.addEventListener("change", async () => {
    if (!select.value) return;
    try {
      show(await api(`/videos/${videoId}/rating`, { method: "PUT", body: { value: Number(select.value) } }));
    } catch (error) {
      status.textContent = error.message;
    }
  });
  return h("div", { className: "rating" }, select, status);
}

function playlistControl(videoId, user) {
  if (!user) return null;
  const status = h("span", { role: "status" });
  const select = h("select", { "aria-label": "Add to playlist" }, h("option", { value: "" }, "Add to playlist…"));
  api("/me/playlists?limit=50")
    .then((page) => select.append(...page.items.map((p) => h("option", { value: String(p.id) }, p.title)), h("option", { value: "new" }, "New playlist…")))
    .catch(() => select.append(h("option", { value: "new" }, "New playlist…")));
  select.addEventListener("change", async () => {
    let id = select.value;
    if (!id) return;
    try {
      if (id === "new") {
        const title = prompt("Playlist title");
        if (!title) return;
        id = (await api("/playlists", { method: "POST", body: { title } })).id;
        select.append(h("option", { value: String(id) }, title));
      }
      await api(`/playlists/${id}/items`, { method: "POST", body: { video_id: videoId } });
      status.textContent = "Added.";
    } catch (error) {
      status.textContent = error.message;
    } finally {
      select.value = "";
    }
  });
  return h("div", { className: "playlist-add" }, select, status);
}

function shareControl(videoId) {
  const status = h("span", { role: "status" });
  const link = `${location.origin}/#/watch/${videoId}`;
  const button = h("button", { type: "button" }, "Share");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(link);
      status.textContent = "Link copied.";
    } catch {
      status.textContent = link;
    }
  });
  return h("div", { className: "share" }, button, status);
}

function commentItem(comment, videoId, user) {
  const replies = h("ul", { className: "replies" }, comment.replies.map((reply) => commentItem(reply, videoId, user)));
  const item = h(
    "li",
    { className: "comment" },
    h("p", { className: "comment-meta" }, comment.username || "[deleted]", " · ", new Date(comment.created_at).toLocaleString()),
    h("p", { className: "comment-body" }, comment.body),
    replies,
  );
  if (comment.reply_count > comment.replies.length) {
    const more = h("button", { type: "button", className: "link" }, `Show ${comment.reply_count - comment.replies.length} more replies`);
    more.addEventListener("click", async () => {
      const page = await api(`/videos/${videoId}/comments${query({ parent_id: comment.id, limit: 100 })}`);
      replies.replaceChildren(...page.items.map((reply) => commentItem(reply, videoId, user)));
      more.remove();
    });
    item.append(more);
  }
  if (user && comment.parent_id === null) item.append(commentForm(videoId, comment.id, (reply) => replies.append(commentItem(reply, videoId, user))));
  return item;
}

function commentForm(videoId, parentId, added) {
  const label = parentId ? "Reply" : "Add a comment";
  const text = h("textarea", { name: "body", rows: parentId ? 1 : 2, required: true, "aria-label": label });
  const form = h("form", { className: "comment-form" }, text, h("button", { type: "submit" }, parentId ? "Reply" : "Comment"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      added(await api(`/videos/${videoId}/comments`, { method: "POST", body: { body: text.value, parent_id: parentId } }));
      text.value = "";
    } catch (error) {
      form.append(message(error.message, "error"));
    }
  });
  return form;
}

function commentsSection(videoId, user) {
  const list = h("ul", { className: "comments" });
  const section = h("section", { "aria-label": "Comments" }, h("h2", {}, "Comments"));
  if (user) section.append(commentForm(videoId, null, (comment) => list.prepend(commentItem(comment, videoId, user))));
  section.append(list);
  api(`/videos/${videoId}/comments?limit=20`)
    .then((page) => list.append(...page.items.map((comment) => commentItem(comment, videoId, user))))
    .catch((error) => list.append(error.status === 404 ? message("Nothing yet.") : message(error.message, "error")));
  return section;
}

function channelLine(channelId, user) {
  const line = h("p", { className: "channel-line" });
  api(`/channels/${channelId}`)
    .then((channel) => line.append(h("a", { href: `#/channel/${channel.id}` }, channel.name), " ", followControl(channel, user)))
    .catch(() => line.append(h("a", { href: `#/channel/${channelId}` }, "Channel")));
  return line;
}

export async function watchPage(main, { app, args, params }) {
  // start-up time counts from here: the page's own requests are part of the wait
  const requestedAt = performance.now();
  const videoId = Number(args[0]);
  const recommendationId = params.get("rec") || undefined;
  const user = app.user;
  // the playback session and the video are asked for at once; the rest of the page waits
  // for the first frame (or a moment), so that it does not compete with the stream's start
  const started = user ? startSession(videoId) : null;
  started?.catch(() => {});
  const video = await api(`/videos/${videoId}`);
  const stage = h("div", { className: "stage" });
  const details = h("div", { className: "details" }, h("h1", {}, video.title));
  const primary = h("div", { className: "primary" }, stage, details);
  const side = h("aside", { className: "side" });
  main.append(h("div", { className: "watch" }, primary, side));
  const fillPage = () => {
    details.append(
      video.channel_id ? channelLine(video.channel_id, user) : "",
      h("div", { className: "actions" }, ratingControl(videoId, user), playlistControl(videoId, user), shareControl(videoId)),
      video.description ? h("p", { className: "description" }, video.description) : "",
    );
    const viewer = `?k=${RAIL_SIZE}&fields=duration_s${user ? `&user_id=${user.id}` : ""}`;
    side.append(
      rail("Up next", `/videos/${videoId}/watch-next${viewer}`, app.telemetry),
      rail("Similar videos", `/videos/${videoId}/similar?k=${RAIL_SIZE}&fields=duration_s`, app.telemetry),
    );
    primary.append(commentsSection(videoId, user));
  };

  let opened;
  try {
    opened = await openSource(video, user, started);
  } catch (error) {
    stage.append(message(error.status === 403 ? `${error.message} (sign in or upgrade your plan)` : error.message, "error"));
    fillPage();
    return null;
  }
  const player = new Player(stage, {
    videoId,
    source: opened.source,
    telemetry: app.telemetry,
    recommendationId,
    sessionId: opened.session ? opened.session.session_id : `anon-${crypto.randomUUID().slice(0, 8)}`,
    title: video.title,
    requestedAt,
  });
  app.player = player;
  player.element.focus();
  Promise.race([player.firstFrame, new Promise((resolve) => setTimeout(resolve, SIDE_DELAY_MS))]).then(fillPage);
  let heartbeat = null;
  if (opened.session) {
    const every = Math.max(5, opened.session.lease_s / 2) * 1000;
    heartbeat = setInterval(() => api(`/playback/${opened.session.session_id}/heartbeat`, { method: "POST" }).catch(() => {}), every);
  }
  return () => {
    clearInterval(heartbeat);
    player.destroy();
    app.player = null;
    if (opened.session) api(`/playback/${opened.session.session_id}`, { method: "DELETE", keepalive: true }).catch(() => {});
  };
}
