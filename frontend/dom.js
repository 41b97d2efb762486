// Building DOM nodes without HTML strings.
//
// Every name that comes from a logdir (run, tag, file, string value) goes
// into the page through textContent or an attribute, never innerHTML, so a
// tag named `<img src=x onerror=alert(1)>` shows as those characters.

const SVG_NS = "http://www.w3.org/2000/svg";
// Set as properties (they hold live state); every other prop is an attribute.
const PROPERTIES = new Set(["value", "checked", "selected", "disabled", "hidden"]);

function build(node, props, children) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "className") node.setAttribute("class", value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (PROPERTIES.has(key)) node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// h("div", {className: "x", text: name, onclick}, ...children): an element.
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

// An SVG element, attributes set as given.
export function svg(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

// The message line of a view: plain text, with a class saying its kind.
export function message(text, kind = "info") {
  return h("div", { className: `message ${kind}`, role: kind === "error" ? "alert" : null, text });
}

// Replaces a container's children.
export function show(container, ...children) {
  container.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
}
