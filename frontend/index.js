// TensorCap's tab. TensorBoard loads this module in the tab's iframe and
// calls render(), which builds the whole page into document.body.
//
// Wiring only: the state store (state.js) drives the sidebar and the three
// panels (a capture, NaN/Inf alerts, run divergence); the state is mirrored
// into TensorBoard's URL (host.js) and this iframe's hash. Inside TensorBoard
// the tab follows its theme and refreshes on its reload (button and
// auto-reload); opened on its own, /index is fetched again every 15 s. Both
// fetch it when the tab becomes visible, so new steps appear while training
// runs without losing the selection. /alerts is asked once the index is in
// (its counts complete the sidebar's NaN/Inf badges) and again from the
// alerts panel.

import { fetchAlerts, fetchIndex, fetchStats, isAbort } from "./api.js";
import { h, message, show } from "./dom.js";
import { summaryLine } from "./format.js";
import { followReload, followTheme, hostWindow, mirrorUrl } from "./host.js";
import { togglePin } from "./pins.js";
import { followRunColours } from "./runlist.js";
import { createStore, decodeState, encodeState, PANELS } from "./state.js";
import { createProgress } from "./views/progress.js";
import { createAlertsPanel } from "./views/alerts.js";
import { createCapturePanel } from "./views/capture.js";
import { createDivergencePanel } from "./views/divergence.js";
import { createHealthPanel } from "./views/health.js";
import { createPinnedPanel } from "./views/pinned.js";
import { createRootCausePanel } from "./views/rootcause.js";
import { createSidebar } from "./views/sidebar.js";

const REFRESH_MS = 15000;
const INCOMPLETE_REFRESH_MS = 2000;
const FAILED_REFRESH_MS = 5000;
const PANEL_LABELS = {
  capture: "Capture", alerts: "Alerts", divergence: "Divergence", rootcause: "Root cause", health: "Health", pinned: "Pinned",
};

// Whether a key press belongs to a control (a form field, the tag tree, a
// heatmap's cell cursor) rather than to the page's step keys.
function typing(target) {
  return Boolean(target.closest?.("input, select, textarea, [contenteditable], [data-own-keys]"));
}

// Writes the state into this iframe's hash without a history entry. The URL
// is absolute: a relative "#..." would resolve against the page's <base>.
function writeHash(state) {
  const url = new URL(location.href);
  url.hash = encodeState(state);
  if (url.href !== location.href) history.replaceState(null, "", url.href);
}

// Whether going from `previous` to `state` opens another place (capture,
// view, panel, diff) rather than moving within one: a new history entry.
function newPlace(state, previous) {
  return ["panel", "run", "tag", "view"].some((key) => state[key] !== previous[key])
    || Boolean(state.diff) !== Boolean(previous.diff);
}

export async function render() {
  document.title = "TensorCap";
  document.head.append(h("link", { rel: "stylesheet", href: "./static/style.css" }));
  const host = hostWindow();
  followTheme(host, (dark) => { document.documentElement.dataset.theme = dark ? "dark" : "light"; });
  const hostUrl = host ? mirrorUrl(host, {
    current: () => encodeState(store.get()),
    onNavigate: (text) => {
      const { index, indexError } = store.get();
      store.set({ ...decodeState(text), index, indexError });
    },
  }) : null;
  const store = createStore(decodeState(hostUrl?.initial() ?? location.hash));

  const openCapture = ({ run, tag, step, diff = null }) =>
    store.set({ panel: "capture", run, tag, step, diff, view: "", slice: "" });

  function pickTag(tag) {
    const { index, run, step, hidden, diff } = store.get();
    const runs = Object.keys(index.runs).filter((r) => !hidden.includes(r) && index.runs[r][tag]);
    const chosen = runs.includes(run) ? run : runs[0] ?? run;
    const steps = index.runs[chosen]?.[tag]?.steps ?? [];
    store.set({
      panel: "capture", tag, run: chosen, step: steps.includes(step) ? step : null,
      view: "", slice: "", diff: diff && diff.tag === null ? diff : null,
    });
  }

  // A tag's latest capture in one line (the shown run, else the first visible run holding it).
  async function peek(tag) {
    const { index, run, hidden } = store.get();
    const runs = Object.keys(index.runs).filter((r) => !hidden.includes(r) && index.runs[r][tag]);
    const chosen = runs.includes(run) ? run : runs[0];
    const rows = (await fetchStats(chosen, tag)).steps;
    const last = rows[rows.length - 1];
    return `${summaryLine(last)} (${chosen}, step ${last.step})`;
  }

  const sidebar = createSidebar({
    onPickTag: pickTag, onHiddenRuns: (hidden) => store.set({ hidden }), peek, onTagView: (patch) => store.set(patch),
  });
  const capture = createCapturePanel(store, host);
  const alerts = createAlertsPanel({
    onOpen: openCapture, onRefresh: () => loadAlerts(), onRootCause: (run) => store.set({ panel: "rootcause", run }),
  });
  const rootcause = createRootCausePanel({ onOpen: openCapture, onRun: (run) => store.set({ run }) });
  const divergence = createDivergencePanel({
    onOpen: ({ run, tag, step, run2 }) => openCapture({ run, tag, step, diff: { run: run2, tag: null, step: null } }),
    onRuns: (runs) => store.set(runs),
    onTolerance: (tolerances) => store.set(tolerances),
  });
  const health = createHealthPanel({ onOpen: openCapture, onRun: (run) => store.set({ run }) });
  const pinned = createPinnedPanel({
    onOpen: openCapture, onUnpin: (pin) => store.set({ pins: togglePin(store.get().pins, pin) }),
    onStep: (pinStep) => store.set({ pinStep }), onOwnRange: (pinOwnRange) => store.set({ pinOwnRange }),
  });
  const panels = {
    capture: capture.element, alerts: alerts.element, divergence: divergence.element, rootcause: rootcause.element,
    health: health.element, pinned: pinned.element,
  };
  const panelTabs = h("div", { className: "panel-tabs", role: "tablist" });
  const appStatus = h("div", { className: "app-status" });
  const workProgress = createProgress();
  document.body.replaceChildren(h("div", { className: "app" },
    sidebar.element,
    h("main", null, h("header", { className: "topbar" }, h("span", { className: "brand", text: "TensorCap" }), panelTabs),
      appStatus, workProgress.element, Object.values(panels))));

  let alertCounts = new Map();
  let alertsLoaded = false;
  let alertsTimer = null;

  function loadAlerts() {
    alertsLoaded = true;
    alerts.loading();
    fetchAlerts().then((reply) => {
      alerts.show(reply);
      // A first statistics pass is under way: what was found so far, then again.
      clearTimeout(alertsTimer);
      if (reply.complete === false) alertsTimer = setTimeout(loadAlerts, INCOMPLETE_REFRESH_MS);
      alertCounts = new Map();
      for (const a of reply.alerts) {
        const key = `${a.run}\u0000${a.tag}`;
        alertCounts.set(key, (alertCounts.get(key) ?? 0) + 1);
      }
      const { index, hidden } = store.get();
      if (index) sidebar.setIndex(index, hidden, alertCounts);
    }, (error) => {
      if (!isAbort(error)) alerts.failed(error);
    });
  }

  store.subscribe((state, previous) => {
    writeHash(state);
    hostUrl?.write(encodeState(state), newPlace(state, previous));
    if (state.index && (state.index !== previous.index || state.hidden !== previous.hidden)) {
      sidebar.setIndex(state.index, state.hidden, alertCounts);
    }
    sidebar.setTagView(state);
    if (state.index && (state.tag !== previous.tag || !previous.index)) sidebar.select(state.tag);
    if (state.runColours !== previous.runColours) sidebar.setRunColours(state.runColours);
    show(panelTabs, PANELS.map((panel) => h("button", {
      role: "tab", className: `tab${panel === state.panel ? " selected" : ""}`, dataset: { panel },
      "aria-selected": String(panel === state.panel),
      text: panel === "pinned" && state.pins.length ? `${PANEL_LABELS.pinned} ${state.pins.length}` : PANEL_LABELS[panel],
      onclick: () => store.set({ panel }),
    })));
    for (const [panel, node] of Object.entries(panels)) node.hidden = panel !== state.panel;
    if (state.panel === "capture") capture.sync(state);
    if (state.panel === "alerts" && !alertsLoaded) loadAlerts();
    if (state.panel === "divergence" && state.index) divergence.update(state);
    if (state.panel === "rootcause" && state.index) rootcause.update(state);
    if (state.panel === "health" && state.index) health.update(state);
    if (state.panel === "pinned") pinned.update(state);
  });

  let indexText = "";
  let refreshing = false;
  let timer = null;

  async function refreshIndex() {
    if (refreshing) return;
    refreshing = true;
    clearTimeout(timer);
    let delay = REFRESH_MS;
    try {
      const reply = await fetchIndex();
      const text = JSON.stringify(reply.runs);
      // A logdir that could not be listed (missing bucket, refused credentials) is said, not shown as empty.
      show(appStatus, (reply.errors ?? []).map((text) => message(text, "error")));
      if (store.get().indexError) store.set({ indexError: null });
      if (reply.complete === false) delay = INCOMPLETE_REFRESH_MS;
      if (workProgress.update(reply.progress)) delay = INCOMPLETE_REFRESH_MS;
      if (text !== indexText) {
        indexText = text;
        store.set({ index: { runs: reply.runs } });
        if (!alertsLoaded) loadAlerts();
      }
    } catch (error) {
      delay = FAILED_REFRESH_MS;
      show(appStatus, message(`Cannot list captures: ${error.message} (trying again every ${FAILED_REFRESH_MS / 1000} s)`, "error"));
      store.set({ indexError: error.message });
    } finally {
      refreshing = false;
      if (!followsHost || delay !== REFRESH_MS) timer = setTimeout(refreshIndex, delay);
    }
  }

  // TensorBoard's reload: the index, the alerts and the shown capture's statistics again.
  const followsHost = followReload(host, () => {
    refreshIndex();
    if (alertsLoaded) loadAlerts();
    capture.refresh();
    if (store.get().panel === "health") health.refresh();
    if (store.get().panel === "pinned") pinned.refresh();
  });

  // A hash edited by hand (or history navigation) is followed; our own
  // replaceState calls fire no hashchange.
  window.addEventListener("hashchange", () => {
    const { index, indexError } = store.get();
    store.set({ ...decodeState(location.hash), index, indexError });
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refreshIndex();
  });
  document.addEventListener("keydown", (event) => {
    const { panel } = store.get();
    if (event.defaultPrevented || !["capture", "pinned"].includes(panel) || typing(event.target)) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      event.preventDefault();
      (panel === "pinned" ? pinned : capture).stepBy(event.key === "ArrowLeft" ? -1 : 1);
    }
  });

  followRunColours(host, store);
  store.set({});
  await refreshIndex();
}
