// A few DOM helpers: the app is small enough that a framework would not earn its place.
type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | EventListener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") {
      element.addEventListener(name.replace(/^on/, ""), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, value);
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** A labelled input. */
export function field(label: string, input: HTMLInputElement): HTMLLabelElement {
  return h("label", {}, h("span", {}, label), input);
}

/** The message line of a view: role=alert for errors, role=status otherwise. */
export class Notice {
  readonly element = h("p", { class: "notice", id: "notice", "aria-live": "polite" });

  show(text: string, kind: "info" | "error" | "success" = "info"): void {
    this.element.textContent = text;
    this.element.className = `notice ${kind}`;
    this.element.setAttribute("role", kind === "error" ? "alert" : "status");
  }

  clear(): void {
    this.element.textContent = "";
    this.element.className = "notice";
  }
}

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
