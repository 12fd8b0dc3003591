// A channel: its name, follow button and videos.

import { api } from "../api.js";
import { browseGrid } from "./home.js";
import { h } from "../ui.js";

export async function channelPage(main, { app, args }) {
  const channelId = Number(args[0]);
  const channel = await api(`/channels/${channelId}`);
  const count = h("span", {}, `${channel.follower_count} followers`);
  const follow = h("button", { type: "button", "aria-pressed": "false", disabled: !app.user }, "Follow");
  let following = false;
  follow.addEventListener("click", async () => {
    const state = await api(`/channels/${channelId}/follow`, { method: following ? "DELETE" : "PUT" });
    following = state.following;
    follow.textContent = following ? "Following" : "Follow";
    follow.setAttribute("aria-pressed", String(following));
    count.textContent = `${state.follower_count} followers`;
  });
  main.append(
    h("h1", {}, channel.name),
    h("p", {}, channel.description),
    h("p", {}, follow, " ", count),
    browseGrid("Videos", "newest", app.telemetry, { channel_id: channelId }),
  );
}
