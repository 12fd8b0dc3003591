// The app shell: hash routes (#/watch/12) to pages, the navigation and the search box.

import { currentUser } from "./session.js";
import { Telemetry } from "./telemetry.js";
import { h, message } from "./ui.js";
import { attachSuggest } from "./suggest.js";
import { homePage } from "./pages/home.js";
import { searchPage } from "./pages/search.js";
import { watchPage } from "./pages/watch.js";
import { accountPage } from "./pages/account.js";
import { uploadPage } from "./pages/upload.js";
import { adminPage } from "./pages/admin.js";
import { channelPage } from "./pages/channel.js";

const ROUTES = [
  [/^\/?$/, homePage],
  [/^\/search$/, searchPage],
  [/^\/watch\/(\d+)$/, watchPage],
  [/^\/account$/, accountPage],
  [/^\/upload$/, uploadPage],
  [/^\/admin$/, adminPage],
  [/^\/channel\/(\d+)$/, channelPage],
];

const app = { user: null, telemetry: null, leave: null };
window.reelrank = app;

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?");
  return { path, params: new URLSearchParams(search) };
}

/** Refresh who is signed in and the navigation (after sign in or out). */
export async function refreshAccount() {
  app.user = await currentUser();
  if (app.telemetry && app.telemetry.userId !== app.user?.id) {
    app.telemetry.close();
    app.telemetry = null;
  }
  if (!app.telemetry) app.telemetry = new Telemetry(app.user?.id ?? null);
  renderNav();
}

function renderNav() {
  const nav = document.getElementById("nav");
  const user = app.user;
  const links = [h("a", { href: "#/" }, "Home")];
  if (user && (user.role === "creator" || user.role === "admin")) {
    links.push(h("a", { href: "#/upload" }, "Upload"));
  }
  if (user && user.role === "admin") links.push(h("a", { href: "#/admin" }, "Admin"));
  links.push(h("a", { href: "#/account" }, user ? user.username : "Sign in"));
  nav.replaceChildren(...links);
}

async function route() {
  if (app.leave) {
    try {
      app.leave();
    } catch (error) {
      console.warn(error);
    }
    app.leave = null;
  }
  const { path, params } = parseHash();
  const main = document.getElementById("main");
  main.replaceChildren();
  for (const [pattern, page] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    try {
      app.leave = (await page(main, { app, params, args: match.slice(1), refreshAccount })) || null;
    } catch (error) {
      main.replaceChildren(message(error.message || String(error), "error"));
    }
    return;
  }
  main.replaceChildren(h("h1", {}, "Not found"), message(`No page at ${path}.`, "error"));
}

async function start() {
  await refreshAccount();
  attachSuggest(document.getElementById("search-form"));
  window.addEventListener("hashchange", route);
  await route();
}

start();
