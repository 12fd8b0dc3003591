// Account: sign up, sign in and out; the plan, playlists and followed channels.

import { api } from "../api.js";
import { signIn, signOut, signUp } from "../session.js";
import { h, message } from "../ui.js";

function field(label, attrs) {
  return h("label", {}, label, h("input", attrs));
}

function authForm(title, fields, submitText, action) {
  const status = h("div", { role: "status" });
  const form = h("form", { className: "auth-form", "aria-label": title }, h("h2", {}, title), ...fields, h("button", { type: "submit" }, submitText), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    try {
      await action(data);
    } catch (error) {
      status.replaceChildren(message(error.message, "error"));
    }
  });
  return form;
}

function signedOut(main, refreshAccount) {
  const done = async () => {
    await refreshAccount();
    location.hash = "#/";
  };
  main.append(
    h("h1", {}, "Sign in or sign up"),
    h(
      "div",
      { className: "auth" },
      authForm(
        "Sign in",
        [
          field("Username", { name: "username", required: true, autocomplete: "username" }),
          field("Password", { name: "password", type: "password", required: true, autocomplete: "current-password" }),
        ],
        "Sign in",
        async (data) => {
          await signIn(data.username, data.password);
          await done();
        },
      ),
      authForm(
        "Sign up",
        [
          field("Username", { name: "username", required: true, minlength: 3, maxlength: 32, pattern: "[A-Za-z0-9_.\\-]+", autocomplete: "username" }),
          field("Email (optional)", { name: "email", type: "email", autocomplete: "email" }),
          field("Password", { name: "password", type: "password", required: true, minlength: 8, autocomplete: "new-password" }),
          h(
            "label",
            {},
            "Account type",
            h("select", { name: "role" }, h("option", { value: "viewer" }, "Viewer"), h("option", { value: "creator" }, "Creator (upload videos)")),
          ),
        ],
        "Create account",
        async (data) => {
          await signUp(data.username, data.password, data.email, data.role);
          await done();
        },
      ),
    ),
  );
}

export async function accountPage(main, { app, refreshAccount }) {
  const user = app.user;
  if (!user) return signedOut(main, refreshAccount);
  const out = h("button", { type: "button" }, "Sign out");
  out.addEventListener("click", async () => {
    await signOut();
    await refreshAccount();
    location.hash = "#/";
  });
  const playlists = h("ul", { className: "plain-list" });
  const following = h("ul", { className: "plain-list" });
  main.append(
    h("h1", {}, user.username),
    h("p", {}, `Role: ${user.role} · Plan: ${user.plan.name}`),
    user.channels.length
      ? h("p", {}, "Your channel: ", ...user.channels.map((c) => h("a", { href: `#/channel/${c.id}` }, c.name)))
      : null,
    out,
    h("section", { "aria-label": "Playlists" }, h("h2", {}, "Playlists"), playlists),
    h("section", { "aria-label": "Followed channels" }, h("h2", {}, "Followed channels"), following),
  );
  api("/me/playlists?limit=50")
    .then((page) => {
      playlists.append(...page.items.map((p) => h("li", {}, `${p.title} (${p.item_count ?? 0} videos)`)));
      if (!page.items.length) playlists.append(h("li", {}, "No playlists yet."));
    })
    .catch((error) => playlists.append(h("li", {}, error.message)));
  api("/me/following?limit=50")
    .then((page) => {
      following.append(...page.items.map((c) => h("li", {}, h("a", { href: `#/channel/${c.channel_id ?? c.id}` }, c.name))));
      if (!page.items.length) following.append(h("li", {}, "You follow no channels yet."));
    })
    .catch((error) => following.append(h("li", {}, error.message)));
}
