// A channel: its name, follow button and videos.

import { api } from "../api.js";
import { browseGrid } from "./home.js";
import { h } from "../ui.js";

/** A follow button and follower count for ``channel`` (disabled when signed out). */
export function followControl(channel, user) {
  const followers = (n) => `${n} follower${n === 1 ? "" : "s"}`;
  const count = h("span", {}, followers(channel.follower_count));
  const button = h("button", { type: "button", "aria-pressed": "false", disabled: !user }, "Follow");
  let following = false;
  const show = (state) => {
    following = state.following;
    button.textContent = following ? "Following" : "Follow";
    button.setAttribute("aria-pressed", String(following));
    count.textContent = followers(state.follower_count);
  };
  if (user) {
    api("/me/following?limit=100")
      .then((page) => {
        if (page.items.some((c) => c.channel_id === channel.id)) show({ following: true, follower_count: channel.follower_count });
      })
      .catch(() => {});
  }
  button.addEventListener("click", async () => {
    show(await api(`/channels/${channel.id}/follow`, { method: following ? "DELETE" : "PUT" }));
  });
  return h("span", { className: "follow" }, button, " ", count);
}

export async function channelPage(main, { app, args }) {
  const channelId = Number(args[0]);
  const channel = await api(`/channels/${channelId}`);
  main.append(
    h("h1", {}, channel.name),
    h("p", {}, channel.description),
    h("p", {}, followControl(channel, app.user)),
    browseGrid("Videos", "newest", app.telemetry, { channel_id: channelId }),
  );
}
