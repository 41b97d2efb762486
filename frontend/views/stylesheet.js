// A view's own stylesheet, linked into the page once however many views use it.

import { h } from "../dom.js";

export function useStylesheet(href) {
  if (![...document.querySelectorAll("link[rel=stylesheet]")].some((link) => link.getAttribute("href") === href)) {
    document.head.append(h("link", { rel: "stylesheet", href }));
  }
}
