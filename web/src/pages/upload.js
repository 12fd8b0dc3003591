// Upload (creators): a resumable tus upload whose progress survives a reload, processing
// progress stage by stage until the video plays, and editing a video's details.

import { api, authHeaders } from "../api.js";
import { h, message } from "../ui.js";

const PENDING_KEY = "reelrank.upload";
const CHUNK_BYTES = 4 * 1024 * 1024;
const POLL_MS = 1000;

function pending() {
  try {
    return JSON.parse(localStorage.getItem(PENDING_KEY) || "null");
  } catch {
    return null;
  }
}

function remember(record) {
  if (record) localStorage.setItem(PENDING_KEY, JSON.stringify(record));
  else localStorage.removeItem(PENDING_KEY);
}

function progressBar(label) {
  const bar = h("progress", { max: 1, value: 0, "aria-label": label });
  const text = h("span", { className: "progress-text" }, "0 %");
  const set = (share) => {
    bar.value = share;
    text.textContent = `${Math.floor(share * 100)} %`;
  };
  return { element: h("div", { className: "progress" }, h("span", {}, label), bar, text), set };
}

/** The details form of a video (title, description, tags, visibility), saved with PATCH. */
export function editForm(video, saved) {
  const status = h("div", { role: "status" });
  const visibility = h(
    "select",
    { name: "visibility" },
    ["public", "unlisted", "private"].map((v) => h("option", { value: v, selected: video.visibility === v }, v)),
  );
  const form = h(
    "form",
    { className: "upload-form", "aria-label": `Edit ${video.title}` },
    h("label", {}, "Title", h("input", { name: "title", value: video.title, required: true, maxlength: 200 })),
    h("label", {}, "Description", h("textarea", { name: "description", rows: 2 }, video.description || "")),
    h("label", {}, "Tags (comma separated)", h("input", { name: "tags", value: (video.tags || []).join(", ") })),
    h("label", {}, "Visibility", visibility),
    h("button", { type: "submit" }, "Save"),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const tags = String(data.get("tags") || "").split(",").map((t) => t.trim()).filter(Boolean);
    try {
      const answer = await api(`/videos/${video.id}`, {
        method: "PATCH",
        body: { title: data.get("title"), description: data.get("description"), tags, visibility: data.get("visibility") },
      });
      status.replaceChildren(message("Saved."));
      saved?.(answer);
    } catch (error) {
      status.replaceChildren(message(error.message, "error"));
    }
  });
  return form;
}

/** Poll the video's processing until it is playable or failed; stages shown as bars. */
function followProcessing(videoId, box, changed) {
  const list = h("ul", { className: "stages", "aria-label": "Processing" });
  const state = h("p", { role: "status" }, "Processing…");
  box.replaceChildren(h("h2", {}, "Processing"), state, list);
  let stopped = false;
  const poll = async () => {
    if (stopped) return;
    let status;
    try {
      status = await api(`/videos/${videoId}/processing`);
    } catch (error) {
      state.textContent = error.message;
      setTimeout(poll, POLL_MS * 3);
      return;
    }
    list.replaceChildren(
      ...status.stages.map((stage) =>
        h(
          "li",
          { dataset: { stage: stage.name, state: stage.state } },
          h("span", {}, stage.name),
          h("progress", { max: 1, value: stage.progress, "aria-label": `${stage.name} ${stage.state}` }),
          h("span", {}, stage.state),
        ),
      ),
    );
    if (status.video_status === "ready") {
      state.replaceChildren("Ready: ", h("a", { href: `#/watch/${videoId}`, className: "watch-link" }, "watch it now"));
      if (pending()) {
        remember(null);
        changed();
      }
      if (status.stages.every((s) => ["done", "failed", "skipped"].includes(s.state))) return;
    } else if (status.video_status === "failed") {
      state.replaceChildren(message(`Processing failed: ${status.failure_reason || "unknown reason"}`, "error"));
      remember(null);
      return;
    }
    setTimeout(poll, POLL_MS);
  };
  poll();
  return () => {
    stopped = true;
  };
}

/** The creator's videos (every state), each with its details form. */
function loadStudio(section) {
  const title = h("h2", {}, "Your videos");
  section.replaceChildren(title);
  api("/me/videos?limit=50")
    .then((page) => {
      if (!page.items.length) section.append(message("No videos yet."));
      for (const video of page.items) {
        const label = (v) => `${v.title} · ${v.status} · ${v.visibility}`;
        const summary = h("summary", {}, label(video));
        section.append(
          h(
            "details",
            { className: "studio-video" },
            summary,
            video.status === "ready" ? h("a", { href: `#/watch/${video.id}` }, "Watch") : null,
            editForm(video, (saved) => {
              summary.textContent = label(saved);
            }),
          ),
        );
      }
    })
    .catch((error) => section.append(message(error.message, "error")));
}

async function uploadStatus(url) {
  const path = new URL(url, location.href).pathname;
  return api(path);
}

export async function uploadPage(main, { app }) {
  main.append(h("h1", {}, "Upload"));
  const user = app.user;
  if (!user || !["creator", "admin"].includes(user.role)) {
    main.append(message("Sign in with a creator account to upload.", "error"));
    return null;
  }
  if (!window.tus) {
    main.append(message("The upload library is missing: run npm ci --prefix web.", "error"));
    return null;
  }
  const fileInput = h("input", { type: "file", name: "file", accept: "video/*", required: true });
  const progress = progressBar("Upload progress");
  const status = h("div", { role: "status" });
  const processingBox = h("section", { "aria-label": "Processing" });
  const form = h(
    "form",
    { className: "upload-form", "aria-label": "Upload a video" },
    h("label", {}, "Video file", fileInput),
    h("label", {}, "Title", h("input", { name: "title", maxlength: 200 })),
    h("label", {}, "Description", h("textarea", { name: "description", rows: 2 })),
    h("label", {}, "Tags (comma separated)", h("input", { name: "tags" })),
    h(
      "label",
      {},
      "Visibility",
      h("select", { name: "visibility" }, ["public", "unlisted", "private"].map((v) => h("option", { value: v }, v))),
    ),
    h("button", { type: "submit" }, "Upload"),
  );
  const studio = h("section", { "aria-label": "Your videos" });
  main.append(form, progress.element, status, processingBox, studio);
  let upload = null;
  let stopPolling = null;

  const finished = async (url) => {
    const answer = await uploadStatus(url);
    if (answer.video_id) stopPolling = followProcessing(answer.video_id, processingBox, () => loadStudio(studio));
    else status.replaceChildren(message(answer.error || `Upload ${answer.state}.`));
  };

  const previous = pending();
  if (previous) {
    try {
      const answer = await uploadStatus(previous.url);
      progress.set(answer.length ? answer.offset / answer.length : 0);
      if (answer.offset >= answer.length && answer.video_id) {
        stopPolling = followProcessing(answer.video_id, processingBox, () => loadStudio(studio));
      } else {
        status.replaceChildren(message(`“${previous.filename}” stopped at ${Math.floor((100 * answer.offset) / answer.length)} %: choose the same file and press Upload to resume.`));
      }
    } catch {
      remember(null);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) return;
    const data = new FormData(form);
    const metadata = { filename: file.name, filetype: file.type || "video/mp4" };
    for (const key of ["title", "description", "tags", "visibility"]) {
      const value = String(data.get(key) || "").trim();
      if (value) metadata[key] = value;
    }
    upload = new window.tus.Upload(file, {
      endpoint: "/uploads",
      chunkSize: CHUNK_BYTES,
      retryDelays: [0, 1000, 3000, 5000],
      metadata,
      removeFingerprintOnSuccess: true,
      onBeforeRequest: (request) => {
        const header = authHeaders().Authorization;
        if (header) request.setHeader("Authorization", header);
      },
      onProgress: (sent, total) => progress.set(total ? sent / total : 0),
      onUploadUrlAvailable: () => remember({ url: upload.url, filename: file.name, size: file.size }),
      onError: (error) => status.replaceChildren(message(`Upload failed: ${error.message || error}`, "error")),
      onSuccess: () => {
        progress.set(1);
        status.replaceChildren(message("Uploaded."));
        finished(upload.url).catch((error) => status.replaceChildren(message(error.message, "error")));
      },
    });
    const previousUploads = await upload.findPreviousUploads();
    if (previousUploads.length) upload.resumeFromPreviousUpload(previousUploads[0]);
    status.replaceChildren(message("Uploading…"));
    upload.start();
  });

  loadStudio(studio);
  return () => {
    upload?.abort();
    stopPolling?.();
  };
}
