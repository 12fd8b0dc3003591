// The search box: suggestions while typing (GET /search/suggest), Enter opens the results;
// on the results page, the results follow the typing too.

import { api, query } from "./api.js";
import { h } from "./ui.js";

const DELAY_MS = 120;
const LIVE_DELAY_MS = 300;

/** On the results page: show the results for ``text``, keeping the filters, without a new
 * history entry. */
function liveResults(text) {
  if (!location.hash.startsWith("#/search")) return;
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  if ((params.get("q") || "") === text) return;
  if (text) params.set("q", text);
  else params.delete("q");
  const rest = params.toString();
  location.replace(`#/search${rest ? `?${rest}` : ""}`);
}

export function attachSuggest(form) {
  const input = form.querySelector("input");
  const list = form.querySelector("[role=listbox]");
  let timer = null;
  let liveTimer = null;
  let active = -1;

  function close() {
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    active = -1;
  }

  function go(text) {
    close();
    clearTimeout(liveTimer);
    location.hash = `#/search${query({ q: text })}`;
  }

  function highlight(index) {
    const options = [...list.children];
    if (!options.length) return;
    active = (index + options.length) % options.length;
    options.forEach((option, i) => option.setAttribute("aria-selected", String(i === active)));
    input.setAttribute("aria-activedescendant", options[active].id);
  }

  async function suggest() {
    const text = input.value.trim();
    if (!text) return close();
    let answer;
    try {
      answer = await api(`/search/suggest${query({ q: text, limit: 8 })}`);
    } catch {
      return close();
    }
    if (input.value.trim() !== text) return;
    list.replaceChildren(
      ...answer.suggestions.map((suggestion, i) =>
        h(
          "li",
          {
            id: `suggestion-${i}`,
            role: "option",
            "aria-selected": "false",
            onmousedown: (event) => {
              event.preventDefault();
              go(suggestion);
            },
          },
          suggestion,
        ),
      ),
    );
    list.hidden = !answer.suggestions.length;
    input.setAttribute("aria-expanded", String(!list.hidden));
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, DELAY_MS);
    clearTimeout(liveTimer);
    liveTimer = setTimeout(() => liveResults(input.value.trim()), LIVE_DELAY_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") highlight(active + 1);
    else if (event.key === "ArrowUp") highlight(active - 1);
    else if (event.key === "Escape") close();
    else return;
    event.preventDefault();
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = active >= 0 ? list.children[active]?.textContent : null;
    const text = (chosen || input.value).trim();
    if (text) go(text);
  });
}
