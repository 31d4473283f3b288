// The reference web client: sign up and verification, sign in and out, transparent refresh,
// the profile (If-Match), the password, and files straight to S3. Routes are paths; CloudFront
// (and the local server) answer unknown non-API paths with index.html.
import "./style.css";
import { api, authed, call, session, type StoredFile, type User } from "./api/client";
import { ApiError, describe } from "./api/problem";
import type { SignOutReason } from "./api/session";
import { Notice, field, formatBytes, h } from "./dom";
import { uploadFile } from "./upload";

const app = document.getElementById("app") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;

const SIGN_OUT_MESSAGES: Record<SignOutReason, string> = {
  signed_out: "You are signed out.",
  session_ended:
    "Your session has ended (it expired, was revoked, or its refresh token was used twice). Sign in again.",
  password_changed: "Your password was changed: every session has ended. Sign in with the new one.",
};

function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  void render();
}

function link(path: string, text: string): HTMLAnchorElement {
  return h("a", { href: path, "data-link": "true" }, text);
}

function errorText(error: unknown): string {
  if (error instanceof ApiError) return describe(error.problem);
  return error instanceof Error ? error.message : String(error);
}

function input(name: string, type: string, extra: Record<string, string | boolean> = {}) {
  return h("input", { name, id: name, type, required: true, ...extra });
}

function busy(form: HTMLFormElement, on: boolean): void {
  for (const element of Array.from(form.elements)) {
    (element as HTMLInputElement).disabled = on;
  }
}

// -- views ------------------------------------------------------------------------------------

function signUpView(): HTMLElement {
  const notice = new Notice();
  const form = h(
    "form",
    { id: "signup-form" },
    field("Email", input("email", "email", { autocomplete: "email" })),
    field("Full name", input("full_name", "text", { autocomplete: "name" })),
    field("Password", input("password", "password", { autocomplete: "new-password" })),
    h("button", { type: "submit" }, "Create account"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    busy(form, true);
    try {
      const { data: user } = await call(() =>
        api.POST("/api/v1/auth/register", {
          body: {
            email: String(data.get("email")),
            full_name: String(data.get("full_name")),
            password: String(data.get("password")),
          },
        }),
      );
      form.replaceChildren(
        h("p", {}, `We sent a verification link to ${user.email}. Open it, then `, link("/signin", "sign in"), "."),
      );
      notice.show("Account created.", "success");
    } catch (error) {
      notice.show(errorText(error), "error");
      busy(form, false);
    }
  });
  return h("section", {}, h("h1", {}, "Create an account"), notice.element, form);
}

function verifyView(): HTMLElement {
  const notice = new Notice();
  const token = new URLSearchParams(location.search).get("token");
  const section = h("section", {}, h("h1", {}, "Verify your email address"), notice.element);
  if (!token) {
    notice.show("This link has no token. Open the link from the mail again.", "error");
    return section;
  }
  notice.show("Verifying…");
  void call(() => api.POST("/api/v1/auth/verify-email", { body: { token } })).then(
    ({ data: user }) => {
      notice.show(`${user.email} is verified.`, "success");
      section.append(h("p", {}, session.signedIn ? link("/files", "Go to your files") : link("/signin", "Sign in")));
      history.replaceState(null, "", "/verify-email"); // the single-use token leaves the address bar
    },
    (error) => notice.show(errorText(error), "error"),
  );
  return section;
}

function signInView(): HTMLElement {
  const notice = new Notice();
  const reason = new URLSearchParams(location.search).get("reason") as SignOutReason | null;
  if (reason && reason in SIGN_OUT_MESSAGES) notice.show(SIGN_OUT_MESSAGES[reason]);
  const form = h(
    "form",
    { id: "signin-form" },
    field("Email", input("email", "email", { autocomplete: "username" })),
    field("Password", input("password", "password", { autocomplete: "current-password" })),
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    busy(form, true);
    try {
      const { data: tokens } = await call(() =>
        api.POST("/api/v1/auth/login", {
          body: { email: String(data.get("email")), password: String(data.get("password")) },
        }),
      );
      session.start(tokens);
      navigate("/files");
    } catch (error) {
      notice.show(errorText(error), "error");
      busy(form, false);
    }
  });
  return h(
    "section",
    {},
    h("h1", {}, "Sign in"),
    notice.element,
    form,
    h("p", {}, "No account yet? ", link("/signup", "Create one"), "."),
  );
}

function profileView(): HTMLElement {
  const notice = new Notice();
  const details = h("dl", { id: "profile" });
  let etag = "";
  const nameInput = input("full_name", "text", { autocomplete: "name" });
  const profileForm = h(
    "form",
    { id: "profile-form" },
    field("Full name", nameInput),
    h("button", { type: "submit" }, "Save"),
  );
  const passwordForm = h(
    "form",
    { id: "password-form" },
    field("Current password", input("current_password", "password", { autocomplete: "current-password" })),
    field("New password", input("new_password", "password", { autocomplete: "new-password" })),
    h("button", { type: "submit" }, "Change password"),
  );

  function show(user: User, tag: string): void {
    etag = tag;
    nameInput.value = user.full_name;
    details.replaceChildren(
      h("dt", {}, "Email"),
      h("dd", { id: "profile-email" }, user.email),
      h("dt", {}, "Verified"),
      h("dd", { id: "profile-verified" }, user.is_verified ? "yes" : "not yet"),
      h("dt", {}, "Name"),
      h("dd", { id: "profile-name" }, user.full_name),
      h("dt", {}, "Member since"),
      h("dd", {}, new Date(user.created_at).toLocaleDateString()),
    );
  }

  async function load(): Promise<void> {
    const { data, response } = await authed(() => api.GET("/api/v1/users/me"));
    show(data, response.headers.get("ETag") ?? "");
  }

  async function save(body: { full_name?: string; current_password?: string; new_password?: string }) {
    return authed(() =>
      api.PATCH("/api/v1/users/me", { body, params: { header: { "If-Match": etag } } }),
    );
  }

  profileForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    busy(profileForm, true);
    try {
      const { data, response } = await save({ full_name: nameInput.value });
      show(data, response.headers.get("ETag") ?? "");
      notice.show("Profile saved.", "success");
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        await load().catch(() => undefined);
        notice.show(
          "Someone else changed your profile since you opened it. The latest version is shown: check it and save again.",
          "error",
        );
      } else {
        notice.show(errorText(error), "error");
      }
    } finally {
      busy(profileForm, false);
    }
  });

  passwordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(passwordForm);
    busy(passwordForm, true);
    try {
      await save({
        current_password: String(data.get("current_password")),
        new_password: String(data.get("new_password")),
      });
      session.end("password_changed"); // the API ended every session, this one included
    } catch (error) {
      notice.show(errorText(error), "error");
      busy(passwordForm, false);
    }
  });

  load().catch((error) => notice.show(errorText(error), "error"));
  return h(
    "section",
    {},
    h("h1", {}, "Your profile"),
    notice.element,
    details,
    h("h2", {}, "Edit"),
    profileForm,
    h("h2", {}, "Password"),
    passwordForm,
  );
}

const PAGE_SIZE = 10;

function filesView(): HTMLElement {
  const notice = new Notice();
  const rows = h("tbody", { id: "file-rows" });
  const more = h("button", { type: "button", id: "more", hidden: true }, "Load more");
  const picker = h("input", { type: "file", id: "file-input", name: "file" });
  const progress = h("progress", { id: "upload-progress", max: "1", value: "0", hidden: true });
  const uploadButton = h("button", { type: "submit" }, "Upload");
  const form = h("form", { id: "upload-form" }, picker, uploadButton, progress);
  let cursor: string | null = null;

  function row(file: StoredFile): HTMLTableRowElement {
    const actions = h("td", { class: "actions" });
    if (file.status === "available") {
      actions.append(h("button", { type: "button", class: "download", onclick: () => void download(file) }, "Download"));
    }
    actions.append(h("button", { type: "button", class: "delete", onclick: () => void remove(file, tr) }, "Delete"));
    const tr = h(
      "tr",
      { "data-file-id": file.id },
      h("td", { class: "name" }, file.filename),
      h("td", {}, formatBytes(file.size)),
      h("td", { class: "status" }, file.rejection_reason ? `${file.status} (${file.rejection_reason})` : file.status),
      h("td", {}, new Date(file.created_at).toLocaleString()),
      actions,
    );
    return tr;
  }

  async function page(reset: boolean): Promise<void> {
    const query: { limit: number; cursor?: string } = { limit: PAGE_SIZE };
    if (!reset && cursor) query.cursor = cursor;
    const { data } = await authed(() => api.GET("/api/v1/files", { params: { query } }));
    if (reset) rows.replaceChildren();
    rows.append(...data.items.map(row));
    cursor = data.next_cursor;
    more.hidden = cursor === null;
    if (reset && data.items.length === 0) {
      rows.append(h("tr", { class: "empty" }, h("td", { colspan: "5" }, "No files yet.")));
    }
  }

  async function download(file: StoredFile): Promise<void> {
    try {
      const { data } = await authed(() =>
        api.GET("/api/v1/files/{file_id}", { params: { path: { file_id: file.id } } }),
      );
      if (!data.download) {
        notice.show(`${file.filename} is ${data.status}: there is nothing to download.`, "error");
        return;
      }
      // A short-lived presigned GET that answers with Content-Disposition: attachment.
      h("a", { href: data.download.url, rel: "noopener" }).click();
    } catch (error) {
      notice.show(errorText(error), "error");
    }
  }

  async function remove(file: StoredFile, tr: HTMLTableRowElement): Promise<void> {
    try {
      await authed(() => api.DELETE("/api/v1/files/{file_id}", { params: { path: { file_id: file.id } } }));
      tr.remove();
      notice.show(`${file.filename} deleted.`, "success");
    } catch (error) {
      notice.show(errorText(error), "error");
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = picker.files?.[0];
    if (!file) {
      notice.show("Choose a file first.", "error");
      return;
    }
    busy(form, true);
    progress.hidden = false;
    progress.value = 0;
    notice.show(`Uploading ${file.name}…`);
    try {
      const stored = await uploadFile(file, (sent, total) => {
        progress.value = total ? sent / total : 1;
      });
      notice.show(
        stored.status === "available"
          ? `${stored.filename} is available.`
          : `${stored.filename} was ${stored.status}${stored.rejection_reason ? ` (${stored.rejection_reason})` : ""}.`,
        stored.status === "available" ? "success" : "error",
      );
      form.reset();
      await page(true);
    } catch (error) {
      notice.show(errorText(error), "error");
    } finally {
      busy(form, false);
      progress.hidden = true;
    }
  });
  more.addEventListener("click", () => {
    page(false).catch((error) => notice.show(errorText(error), "error"));
  });
  page(true).catch((error) => notice.show(errorText(error), "error"));

  return h(
    "section",
    {},
    h("h1", {}, "Your files"),
    notice.element,
    form,
    h(
      "table",
      { id: "files" },
      h("thead", {}, h("tr", {}, ...["Name", "Size", "Status", "Uploaded", ""].map((t) => h("th", {}, t)))),
      rows,
    ),
    more,
  );
}

function notFoundView(): HTMLElement {
  return h("section", {}, h("h1", {}, "Not found"), h("p", {}, "No page here. ", link("/", "Go home"), "."));
}

// -- routing ----------------------------------------------------------------------------------

async function signOut(): Promise<void> {
  try {
    await authed(() => api.POST("/api/v1/auth/logout"));
  } catch {
    // Signed out locally either way; the access token expires on its own.
  }
  session.end("signed_out");
}

function renderNav(): void {
  nav.replaceChildren(
    ...(session.signedIn
      ? [
          link("/files", "Files"),
          link("/profile", "Profile"),
          h("button", { type: "button", id: "signout", onclick: () => void signOut() }, "Sign out"),
        ]
      : [link("/signin", "Sign in"), link("/signup", "Sign up")]),
  );
}

const PUBLIC_VIEWS: Record<string, () => HTMLElement> = {
  "/signin": signInView,
  "/signup": signUpView,
  "/verify-email": verifyView,
};
const PRIVATE_VIEWS: Record<string, () => HTMLElement> = {
  "/files": filesView,
  "/profile": profileView,
};

async function render(): Promise<void> {
  const path = location.pathname.replace(/\/+$/, "") || "/";
  if (path === "/") {
    navigate(session.signedIn ? "/files" : "/signin", true);
    return;
  }
  const privateView = PRIVATE_VIEWS[path];
  if (privateView && !session.signedIn) {
    navigate("/signin", true);
    return;
  }
  renderNav();
  const view = privateView ?? PUBLIC_VIEWS[path] ?? notFoundView;
  app.replaceChildren(view());
  app.focus();
}

session.onSignOut((reason) => navigate(`/signin?reason=${reason}`));
document.addEventListener("click", (event) => {
  const anchor = (event.target as Element).closest("a[data-link]");
  if (anchor instanceof HTMLAnchorElement && anchor.origin === location.origin) {
    event.preventDefault();
    navigate(anchor.pathname + anchor.search);
  }
});
window.addEventListener("popstate", () => void render());
void render();
