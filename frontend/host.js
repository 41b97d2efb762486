// TensorBoard, the page around the tab: its URL, its theme, its reload button.
//
// TensorBoard frames the tab in a same-origin iframe, so the tab can follow
// the conventions a TensorBoard user expects:
// - URL: the tab's state is mirrored into TensorBoard's own hash, in the form
//   TensorBoard keeps for plugins (`#tensorcap&p.tensorcap.run=...`, what its
//   experimental.GetURLPluginData call reads), so reload, back/forward and a
//   copied address restore the view.
// - Theme: the `dark-mode` class TensorBoard puts on its body (its own
//   setting, whatever the OS says) is followed live.
// - Reload: TensorBoard's plugin channel (the `experimental.bootstrap`
//   MessagePort) announces `experimental.DataReloaded` after its reload
//   button and its auto-reload; the tab refreshes then.
// - Runs: TensorBoard's run list (and so its run colours, runcolors.js)
//   comes through the same channel.
// Opened on its own (no TensorBoard around it), the tab keeps its state in its
// own hash and follows the OS theme.

import { openChannel } from "./channel.js";

const PREFIX = "p.tensorcap.";
const DATA_RELOADED = "experimental.DataReloaded";
const GET_RUNS = "experimental.GetRuns";
const RUNS_CHANGED = "experimental.RunsChanged";

/**
 * TensorBoard's window around this iframe, or null when the tab is opened
 * on its own (or the parent is another origin).
 * @returns {Window|null}
 */
export function hostWindow() {
  if (window.parent === window) return null;
  try {
    return window.parent.document && window.parent.tensorboard ? window.parent : null;
  } catch {
    return null;
  }
}

// The "&"-separated parts of a TensorBoard hash: the tab name first.
function hashParts(hash) {
  return (hash.startsWith("#") ? hash.slice(1) : hash).split("&").filter((part) => part !== "");
}

/**
 * The tab's state text (as state.js encodes it) held in TensorBoard's hash,
 * or null when that hash is about another dashboard or holds none of it.
 * @param {string} hash TensorBoard's location.hash
 * @returns {string|null}
 */
export function stateFromHostHash(hash) {
  const parts = hashParts(hash);
  if (parts[0] !== "tensorcap") return null;
  const params = new URLSearchParams();
  for (const part of parts.slice(1)) {
    const [key, value = ""] = part.split("=");
    if (!key.startsWith(PREFIX)) continue;
    try {
      params.append(decodeURIComponent(key.slice(PREFIX.length)), decodeURIComponent(value));
    } catch {
      // A malformed escape typed by hand: that key is skipped.
    }
  }
  return [...params.keys()].length ? params.toString() : null;
}

/**
 * TensorBoard's hash with the tab's state text in place of what it held;
 * the keys of other plugins and of TensorBoard stay.
 * @param {string} hash TensorBoard's location.hash
 * @param {string} stateText URLSearchParams text from state.js
 */
export function hostHashWithState(hash, stateText) {
  const kept = hashParts(hash).slice(1).filter((part) => !part.startsWith(PREFIX) && part.includes("="));
  const ours = [...new URLSearchParams(stateText)].map(
    ([key, value]) => `${PREFIX}${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  return `#${["tensorcap", ...kept, ...ours].join("&")}`;
}

/**
 * Mirrors the state into TensorBoard's URL and hears history navigation.
 * `onNavigate(stateText)` runs when back/forward (or an edited address)
 * brings another state; a TensorBoard hash that names the tab but holds no
 * state (coming back from another dashboard) gets the current state written.
 * @param {Window} host
 * @param {{current: () => string, onNavigate: (stateText: string) => void}} handlers
 */
export function mirrorUrl(host, { current, onNavigate }) {
  let written = null;
  function follow() {
    const text = stateFromHostHash(host.location.hash);
    if (hashParts(host.location.hash)[0] !== "tensorcap") return;
    if (text === null) write(current(), false);
    else if (text !== written) {
      written = text;
      onNavigate(text);
    }
  }
  host.addEventListener("hashchange", follow);
  host.addEventListener("popstate", follow);
  // `push`: a new history entry (another capture, view or panel), so Back returns to it.
  function write(stateText, push) {
    if (hashParts(host.location.hash)[0] !== "tensorcap") return;
    const url = new URL(host.location.href);
    url.hash = hostHashWithState(host.location.hash, stateText);
    written = stateText;
    if (url.href === host.location.href) return;
    if (push) host.history.pushState(host.history.state, "", url.href);
    else host.history.replaceState(host.history.state, "", url.href);
  }
  return { write, initial: () => stateFromHostHash(host.location.hash) };
}

/**
 * Follows the theme live: TensorBoard's body class where it frames the tab,
 * else the OS setting. `apply(dark)` runs now and on every change.
 * @param {Window|null} host
 * @param {(dark: boolean) => void} apply
 */
export function followTheme(host, apply) {
  if (host) {
    const body = host.document.body;
    const update = () => apply(body.classList.contains("dark-mode"));
    new MutationObserver(update).observe(body, { attributes: true, attributeFilter: ["class"] });
    update();
    return;
  }
  const query = window.matchMedia("(prefers-color-scheme: dark)");
  query.addEventListener("change", () => apply(query.matches));
  apply(query.matches);
}

// The one plugin channel to TensorBoard (channel.js), opened on first use.
let channel = null;

/**
 * TensorBoard's plugin channel, or null when no TensorBoard frames the tab.
 * @param {Window|null} host
 */
export function pluginChannel(host) {
  if (!host) return null;
  channel ??= openChannel(host);
  return channel;
}

/**
 * Hears TensorBoard's reload (its button and its auto-reload) through its
 * plugin message channel. Returns whether a host is there to hear.
 * @param {Window|null} host
 * @param {() => void} onReload
 */
export function followReload(host, onReload) {
  const port = pluginChannel(host);
  if (!port) return false;
  port.listen(DATA_RELOADED, onReload);
  return true;
}

/**
 * Follows TensorBoard's run list (its order: start time, then name) through
 * the plugin channel: `onList(runs)` with the list now and on every change.
 * @param {Window} host
 * @param {(runs: string[]) => void} onList
 */
export function followRunList(host, onList) {
  const port = pluginChannel(host);
  port.listen(RUNS_CHANGED, (runs) => onList(Array.isArray(runs) ? runs : []));
  return port.request(GET_RUNS).then((runs) => onList(Array.isArray(runs) ? runs : []));
}

/**
 * The link that reopens this view: into TensorBoard where it frames the tab.
 * @param {Window|null} host
 */
export function shareableLink(host) {
  return host ? host.location.href : location.href;
}
