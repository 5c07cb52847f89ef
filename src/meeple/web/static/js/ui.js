// Small DOM helpers shared by the screens.

/** The first element matching a selector (throws when the page lacks it: our bug). */
export function $(selector) {
  const node = document.querySelector(selector);
  if (!node) throw new Error(`no element ${selector}`);
  return node;
}

/** Create an element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of Array.isArray(children) ? children : [children]) {
    if (child === undefined || child === null || child === "") continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Remaining clock time as text: "4:59", "0:09.4" under ten seconds. */
export function formatClock(ms) {
  const total = Math.max(0, ms);
  const minutes = Math.floor(total / 60000);
  const seconds = Math.floor((total % 60000) / 1000);
  if (total < 10000) return `0:0${seconds}.${Math.floor((total % 1000) / 100)}`;
  return `${minutes}:${String(seconds).padStart(2, "0")}`;
}

/** A duration as "1:05" (waiting times). */
export function formatWait(ms) {
  const s = Math.floor(Math.max(0, ms) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Show a short message at the bottom of the page for a few seconds. */
export function toast(text, bad = false) {
  const box = $("#toasts");
  const node = el("div", { class: `toast${bad ? " bad" : ""}` }, text);
  box.append(node);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => node.remove(), bad ? 6000 : 3500);
}

/** Ask a yes/no question in a modal dialog. */
export function confirmDialog(text) {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}
