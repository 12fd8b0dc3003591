// Upload (creators): resumable tus upload, processing progress, then the video's details.

import { h, message } from "../ui.js";

export async function uploadPage(main, { app }) {
  main.append(h("h1", {}, "Upload"));
  if (!app.user) main.append(message("Sign in with a creator account to upload.", "error"));
}
