// The docs page in a real browser (Debian's chromium, headless, driven by Playwright):
// - it lists every operation of the contract the API serves;
// - a newcomer registers and logs in with the page's own "Try it out" controls, authorises
//   with the access token, and gets 200 from GET /api/users/me;
// - the browser reports no error: no refused asset or request (Content-Security-Policy), no
//   script error, no failed load;
// - a screenshot is kept as the test's artifact.
//
// Usage: node docs_page.mjs API_BASE_URL SCREENSHOT_PATH
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { chromium } from "playwright-core";

const [base, screenshot] = process.argv.slice(2);
if (!base || !screenshot) {
  console.error("usage: node docs_page.mjs API_BASE_URL SCREENSHOT_PATH");
  process.exit(2);
}
const TIMEOUT_MS = 30_000;

function fail(message) {
  throw new Error(message);
}

// Every operation of the contract, as the page should list it.
const contract = await (await fetch(`${base}/api/openapi.json`)).json();
const operations = Object.entries(contract.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => ["get", "put", "post", "patch", "delete"].includes(method))
    .map(([method, operation]) => ({ method, path, id: `operations-${operation.tags[0]}-${operation.operationId}` })),
);
const byId = (operationId) =>
  operations.find((o) => o.id.endsWith(`-${operationId}`)) ?? fail(`the contract has no ${operationId}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  // The browser runs as whatever user runs the tests, root in CI, where chromium's sandbox
  // cannot start; the page is our own, on 127.0.0.1.
  args: ["--no-sandbox"],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`script error: ${error.message}`));
  page.on("requestfailed", (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`));
  page.on("request", (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith("data:")) {
      problems.push(`a request left the API: ${request.url()}`);
    }
  });

  const response = await page.goto(`${base}/api/docs`);
  if (response.status() !== 200) fail(`GET /api/docs answered ${response.status()}`);
  if (!response.headers()["content-security-policy"]?.includes("script-src 'self'")) {
    fail("the page has no Content-Security-Policy");
  }

  // Every operation is listed, with its method and path.
  await page.locator(".opblock").first().waitFor();
  for (const { method, path, id } of operations) {
    const block = page.locator(`#${id}`);
    if ((await block.count()) !== 1) fail(`the page does not list ${method.toUpperCase()} ${path} (#${id})`);
    const shown = await block.locator(".opblock-summary-path").getAttribute("data-path");
    if (shown !== path) fail(`#${id} shows the path ${shown}, not ${path}`);
    const verb = (await block.locator(".opblock-summary-method").innerText()).toLowerCase();
    if (verb !== method) fail(`#${id} shows the method ${verb}, not ${method}`);
  }
  console.log(`the page lists all ${operations.length} operations`);

  // Try it out: expand the operation, edit its body, execute, and read the live response.
  async function tryIt(operationId, body, { collapse = true } = {}) {
    const block = page.locator(`#${byId(operationId).id}`);
    await block.locator(".opblock-summary-control").click();
    await block.locator("button.try-out__btn").click();
    if (body !== undefined) await block.locator("textarea.body-param__text").fill(JSON.stringify(body));
    await block.locator("button.execute").click();
    const live = block.locator(".live-responses-table tr.response .response-col_status").first();
    await live.waitFor();
    const status = Number((await live.innerText()).trim());
    const text = await block.locator(".live-responses-table .response-col_description pre").first().innerText();
    if (collapse) await block.locator(".opblock-summary-control").click();
    else await live.scrollIntoViewIfNeeded();
    return { status, text };
  }

  const name = `docs_${randomBytes(5).toString("hex")}`;
  const password = "violet rivers hum beneath quiet hills";
  const registered = await tryIt("register", { username: name, email: `${name}@example.com`, password });
  if (registered.status !== 201) fail(`register through the page: ${registered.status} ${registered.text}`);

  const loggedIn = await tryIt("login", { login: name, password });
  if (loggedIn.status !== 200) fail(`login through the page: ${loggedIn.status} ${loggedIn.text}`);
  const token = JSON.parse(loggedIn.text).access_token ?? fail("login answered no access_token");

  // Authorize: the bearer scheme's value is the access token.
  await page.locator(".auth-wrapper button.authorize").click();
  const modal = page.locator(".modal-ux");
  // The people's scheme, `bearer`, not the agents' (`agentKey`), which is a bearer token too.
  const scheme = modal.locator(".auth-container").filter({ has: page.locator("h4 code", { hasText: /^bearer$/ }) });
  await scheme.locator("input").fill(token);
  await scheme.locator("button.authorize").click();
  await modal.locator("button.close-modal").click();

  const me = await tryIt("getMe", undefined, { collapse: false });
  if (me.status !== 200) fail(`GET /api/users/me through the page: ${me.status} ${me.text}`);
  if (JSON.parse(me.text).username !== name) fail(`GET /api/users/me answered another user: ${me.text}`);
  console.log("registered, logged in, authorised and read /api/users/me through the page");

  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: false });
  console.log(`screenshot: ${screenshot}`);
} finally {
  await browser.close();
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  fail(`the browser reported ${problems.length} problem(s) (above)`);
}
