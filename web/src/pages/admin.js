// Admin: QoE, top videos and experiment results as charts.

import { h, message } from "../ui.js";

export async function adminPage(main, { app }) {
  main.append(h("h1", {}, "Admin"));
  if (app.user?.role !== "admin") main.append(message("Admins only.", "error"));
}
