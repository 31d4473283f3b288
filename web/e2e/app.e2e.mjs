// The reference web client in headless Chromium (Debian's; playwright-core never downloads a
// browser), against the local stack that tests/web/test_e2e.py starts. Each step leaves a
// screenshot in ARTIFACTS_DIR.
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, afterEach, before, test } from "node:test";
import { chromium } from "playwright-core";

const BASE = process.env.BASE_URL;
const OTHER_ORIGIN = process.env.OTHER_ORIGIN_URL;
const MAIL_DIR = process.env.MAIL_DIR;
const ARTIFACTS = process.env.ARTIFACTS_DIR;
const STEP_TIMEOUT = 15_000;

const email = `e2e-${Date.now()}@example.com`;
let password = "Plain-Tidy-Walrus-42";
// A real (tiny) PDF: post-processing checks the leading bytes against the declared type.
const pdf = Buffer.from(
  "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\n" +
    "trailer<</Root 1 0 R>>\n%%EOF\n",
);

let browser;
let context;
let page;
let shot = 0;
const consoleLog = [];

async function screenshot(name) {
  shot += 1;
  await page.screenshot({ path: join(ARTIFACTS, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
}

async function notice(text) {
  await page.locator("#notice", { hasText: text }).waitFor({ timeout: STEP_TIMEOUT });
}

async function signIn(target = page) {
  await target.goto(target === page ? `${BASE}/signin` : `${OTHER_ORIGIN}/signin`);
  await target.fill("#email", email);
  await target.fill("#password", password);
  await target.click("#signin-form button[type=submit]");
  await target.waitForURL(/\/files$/, { timeout: STEP_TIMEOUT });
}

async function api(path, { method = "GET", token, body, headers = {} } = {}) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: {
      ...(body ? { "Content-Type": "application/json" } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : null };
}

async function mailFor(address) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const names = (await readdir(MAIL_DIR)).filter((name) => name.endsWith(`-${address}.eml`));
    if (names.length) return readFile(join(MAIL_DIR, names.sort().at(-1)), "utf8");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no mail for ${address} within 30 s`);
}

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ], // launch() gives the browser a fresh, temporary profile (--user-data-dir) of its own

  });
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1100, height: 800 } });
  context.setDefaultTimeout(STEP_TIMEOUT);
  page = await context.newPage();
  page.on("console", (message) => message.type() === "error" && consoleLog.push(message.text()));
});

afterEach(async (t) => {
  // A failed step leaves its page behind, and says what the app showed.
  if (t.passed === false && page) {
    await page.screenshot({ path: join(ARTIFACTS, `failed-${t.name.replace(/\W+/g, "-")}.png`), fullPage: true });
    console.log(`[${t.name}] notice: ${await page.textContent("#notice").catch(() => "(none)")}`);
    console.log(`[${t.name}] console errors:\n${consoleLog.join("\n")}`);
  }
});

after(async () => {
  await browser?.close();
});

test("sign up", async () => {
  await page.goto(`${BASE}/signup`);
  await page.fill("#email", email);
  await page.fill("#full_name", "Erin Example");
  await page.fill("#password", password);
  await page.click("#signup-form button[type=submit]");
  await page.getByText(`We sent a verification link to ${email}`).waitFor();
  await screenshot("signed-up");
});

test("verify by the link in the mail", async () => {
  const mail = (await mailFor(email)).replace(/=\r?\n/g, "").replace(/=3D/g, "=");
  const link = /(https?:\/\/\S+\/verify-email\?token=\S+)/.exec(mail)?.[1];
  assert.ok(link, `no verification link in:\n${mail}`);
  assert.ok(link.startsWith(BASE), link);
  await page.goto(link);
  await notice(`${email} is verified.`);
  assert.equal(new URL(page.url()).search, "", "the single-use token leaves the address bar");
  await screenshot("verified");
});

test("sign in", async () => {
  await signIn();
  await page.getByText("No files yet.").waitFor();
  await screenshot("signed-in");
});

test("edit the profile", async () => {
  await page.click("nav a[href='/profile']");
  await page.locator("#profile-email", { hasText: email }).waitFor();
  assert.equal(await page.textContent("#profile-verified"), "yes");
  await page.fill("#profile-form #full_name", "Erin Edited");
  await page.click("#profile-form button[type=submit]");
  await notice("Profile saved.");
  assert.equal(await page.textContent("#profile-name"), "Erin Edited");
  await screenshot("profile-saved");
});

test("a stale If-Match shows the conflict", async () => {
  // Someone else (another session of the same user) changes the profile meanwhile.
  const login = await api("/api/v1/auth/login", { method: "POST", body: { email, password } });
  assert.equal(login.status, 200);
  const token = login.json.access_token;
  const me = await api("/api/v1/users/me", { token });
  const other = await api("/api/v1/users/me", {
    method: "PATCH",
    token,
    body: { full_name: "Changed Elsewhere" },
    headers: { "If-Match": me.headers.get("etag") },
  });
  assert.equal(other.status, 200);

  await page.fill("#profile-form #full_name", "Erin Late");
  await page.click("#profile-form button[type=submit]");
  await notice("Someone else changed your profile");
  assert.equal(await page.textContent("#profile-name"), "Changed Elsewhere");
  await screenshot("profile-conflict");
});

let fileRow;

test("upload a PDF straight to S3 and see it become available", async () => {
  await page.click("nav a[href='/files']");
  await page.setInputFiles("#file-input", { name: "report.pdf", mimeType: "application/pdf", buffer: pdf });
  await page.click("#upload-form button[type=submit]");
  await notice("report.pdf is available.");
  fileRow = page.locator("#file-rows tr", { hasText: "report.pdf" });
  assert.equal(await fileRow.locator(".status").textContent(), "available");
  await screenshot("uploaded");
});

test("download it: the same bytes", async () => {
  const [download] = await Promise.all([page.waitForEvent("download"), fileRow.locator("button.download").click()]);
  assert.equal(download.suggestedFilename(), "report.pdf");
  const saved = join(ARTIFACTS, "downloaded-report.pdf");
  await download.saveAs(saved);
  assert.deepEqual(await readFile(saved), pdf);
  await screenshot("downloaded");
});

test("delete it", async () => {
  await fileRow.locator("button.delete").click();
  await notice("report.pdf deleted.");
  await fileRow.waitFor({ state: "detached" });
  await page.reload();
  await page.getByText("No files yet.").waitFor();
  await screenshot("deleted");
});

test("a reload refreshes transparently, rotating the refresh token", async () => {
  const before = await page.evaluate(() => sessionStorage.getItem("biwoco.refresh_token"));
  await page.reload();
  await page.getByText("No files yet.").waitFor();
  const afterReload = await page.evaluate(() => sessionStorage.getItem("biwoco.refresh_token"));
  assert.ok(before && afterReload && before !== afterReload, "the pair was rotated");
});

test("a reused refresh token signs the user out", async () => {
  // The token the app holds is presented by someone else first (a stolen copy)...
  const held = await page.evaluate(() => sessionStorage.getItem("biwoco.refresh_token"));
  const thief = await api("/api/v1/auth/refresh", { method: "POST", body: { refresh_token: held } });
  assert.equal(thief.status, 200);
  // ...so when the app presents it, the API sees a reuse and revokes the session.
  await page.reload();
  await page.waitForURL(/\/signin\?reason=session_ended$/);
  await notice("Your session has ended");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("biwoco.refresh_token")), null);
  // The thief's rotated pair died with the session.
  const stolen = await api("/api/v1/auth/refresh", {
    method: "POST",
    body: { refresh_token: thief.json.refresh_token },
  });
  assert.equal(stolen.status, 401);
  await screenshot("reuse-signed-out");
});

test("every problem is shown as a readable message", async () => {
  await page.goto(`${BASE}/signin`);
  await page.fill("#email", email);
  await page.fill("#password", "not-the-password");
  await page.click("#signin-form button[type=submit]");
  await page.locator("#notice[role=alert]", { hasText: "Wrong email or password" }).waitFor();
  await screenshot("problem-shown");
});

test("sign out", async () => {
  await signIn();
  await page.click("#signout");
  await page.waitForURL(/\/signin\?reason=signed_out$/);
  await notice("You are signed out.");
  await page.goto(`${BASE}/files`);
  await page.waitForURL(/\/signin$/);
  await screenshot("signed-out");
});

test("change the password: every session ends, the new one signs in", async () => {
  await signIn();
  await page.click("nav a[href='/profile']");
  await page.locator("#profile-email", { hasText: email }).waitFor();
  const newPassword = "Second-Quiet-Heron-77";
  await page.fill("#current_password", password);
  await page.fill("#new_password", newPassword);
  await page.click("#password-form button[type=submit]");
  await page.waitForURL(/\/signin\?reason=password_changed$/);
  await notice("Your password was changed");
  await screenshot("password-changed");
  const old = await api("/api/v1/auth/login", { method: "POST", body: { email, password } });
  assert.equal(old.status, 401);
  password = newPassword;
  await signIn();
});

test("an upload from another origin is refused by the bucket's CORS rules", async () => {
  const other = await context.newPage();
  const consoleErrors = [];
  other.on("console", (message) => message.type() === "error" && consoleErrors.push(message.text()));
  const s3Requests = [];
  other.on("requestfailed", (request) => s3Requests.push(`${request.method()} ${request.url()} ${request.failure()?.errorText}`));
  await signIn(other);
  await other.setInputFiles("#file-input", { name: "elsewhere.pdf", mimeType: "application/pdf", buffer: pdf });
  await other.click("#upload-form button[type=submit]");
  await other.locator("#notice", { hasText: "The upload did not reach the storage" }).waitFor();
  assert.ok(
    consoleErrors.some((text) => text.includes("has been blocked by CORS policy")),
    `no CORS refusal in the console: ${consoleErrors.join("\n")}`,
  );
  await other.screenshot({ path: join(ARTIFACTS, `${String(++shot).padStart(2, "0")}-cors-refused.png`), fullPage: true });
  // Nothing reached the bucket: the file was never completed and stays pending.
  await other.reload();
  const row = other.locator("#file-rows tr", { hasText: "elsewhere.pdf" });
  assert.equal(await row.locator(".status").textContent(), "pending");
  await other.close();
});

test("the file list pages by keyset cursor", async () => {
  // Ten more pending uploads (granted, never posted) next to elsewhere.pdf: two pages of ten.
  const login = await api("/api/v1/auth/login", { method: "POST", body: { email, password } });
  for (let n = 0; n < 10; n += 1) {
    const grant = await api("/api/v1/files", {
      method: "POST",
      token: login.json.access_token,
      body: { filename: `page-${n}.txt`, content_type: "text/plain", size: 1 },
    });
    assert.equal(grant.status, 201);
  }
  await page.goto(`${BASE}/files`);
  const rows = page.locator("#file-rows tr");
  await page.locator("#file-rows tr", { hasText: "page-0.txt" }).waitFor();
  assert.equal(await rows.count(), 10);
  assert.equal(await page.isVisible("#more"), true);
  await page.click("#more");
  await page.locator("#file-rows tr", { hasText: "elsewhere.pdf" }).waitFor();
  assert.equal(await rows.count(), 11);
  assert.equal(await page.isVisible("#more"), false);
  await screenshot("second-page");
});
