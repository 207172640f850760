#!/usr/bin/env node
// Opens Agora's GraphiQL in headless Chromium with no network but the server's, and uses it as a
// person would: the page opens with Agora's default operation and the Authorization placeholder
// in the headers editor; the Docs panel shows the schema (introspection); a query typed into the
// editor answers in the result pane; a query with a bearer token typed into the headers editor is
// signed in; and a subscription receives, in the result pane, a comment added over HTTP. Then a
// single-page app on another origin of the same site (spa/, served here) signs in with the
// refresh cookie, is signed in again by the cookie alone after a reload, reads the feed, receives
// a live comment and signs out. Screenshots of each step go to the artifacts folder.
//
// Usage: node check.mjs http://127.0.0.1:PORT ARTIFACTS_DIR (the server in cookie mode:
// AGORA_REFRESH_COOKIE=true)
//
// Every request the browser makes to anything but the server and the app's page is blocked and
// fails the check (the host resolver also knows no other host), as do script errors, Content-Security-Policy
// violations and console errors. Prints one summary line on success; the reason on stderr and exit
// status 1 on failure.
//
// Environment: BROWSER_CHECK_TIMEOUT_MS, the time the whole check may take (default 90000);
// CHROMIUM, the browser (default /usr/bin/chromium).

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

const [base, artifacts] = process.argv.slice(2);
if (!base || !/^http:\/\/127\.0\.0\.1:\d+$/.test(base) || !artifacts) {
  console.error('usage: node check.mjs http://127.0.0.1:PORT ARTIFACTS_DIR');
  process.exit(2);
}
const origin = new URL(base);
const endpoint = `${base}/graphql`;
const timeoutMs = Number(process.env.BROWSER_CHECK_TIMEOUT_MS || 90000);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const deadline = Date.now() + timeoutMs;

class CheckError extends Error {}
const fail = (msg) => {
  throw new CheckError(msg);
};
const left = () => Math.max(1, deadline - Date.now());

// One GraphQL request over HTTP, outside the browser; GraphQL errors fail the check.
async function gql(query, variables, token) {
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(endpoint, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    fail(`${endpoint} answered ${res.status} with non-JSON: ${text.slice(0, 300)}`);
  }
  if (!res.ok || body.errors?.length || !body.data) {
    fail(`${endpoint} answered ${res.status} to ${query.split('(')[0].trim()}: ${text.slice(0, 500)}`);
  }
  return body.data;
}

// --- data: a user and a published post, over HTTP ---------------------------------------------------
const username = `browser_${randomBytes(4).toString('hex')}`;
const { register } = await gql(
  'mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id username } } }',
  { i: { username, email: `${username}@example.com`, password: 'browser check password' } },
);
const token = register.accessToken;
const author = register.user;
const { createPost } = await gql(
  'mutation($i: CreatePostInput!) { createPost(input: $i) { post { id title } } }',
  { i: { title: 'Live from the browser check', body: 'Comments arrive in GraphiQL.', publish: true } },
  token,
);
const post = createPost.post;

// --- the browser: a fresh profile, no network but the server's --------------------------------------
mkdirSync(artifacts, { recursive: true });
const profile = mkdtempSync(path.join(tmpdir(), 'agora-chromium-'));
const problems = []; // what fails the check once the steps are done: blocked requests, errors
const requests = [];
const sockets = [];
let context;
let page;
let shot = 0;

async function screenshot(name, p = page) {
  const file = path.join(artifacts, `${String(++shot).padStart(2, '0')}-${name}.png`);
  await p.screenshot({ path: file });
  return file;
}

// The text a Monaco editor shows (its visible lines), with spaces normalized.
async function editorText(selector) {
  const text = await page.locator(`${selector} .monaco-editor .view-lines`).first().innerText();
  return text.replace(/\s+/g, ' ').trim();
}

// Waits until the editor's text satisfies ok; fails with what it showed last.
async function waitForText(selector, what, ok, ms = left()) {
  const until = Math.min(deadline, Date.now() + ms);
  let text = '';
  for (;;) {
    text = await editorText(selector).catch(() => '');
    if (ok(text)) return text;
    if (Date.now() > until) fail(`${what}: the editor shows ${JSON.stringify(text.slice(0, 400))}`);
    await page.waitForTimeout(100);
  }
}

// Replaces an editor's content as a person would: select all, paste. (Typing would race Monaco's
// bracket closing and suggestions.) The page's clipboard is written by the check itself.
async function setEditor(selector, text, settled = () => true) {
  const want = text.replace(/\s+/g, ' ').trim();
  for (let attempt = 1; ; attempt++) {
    await page.evaluate((t) => navigator.clipboard.writeText(t), text);
    await page.locator(`${selector} .monaco-editor .view-lines`).first().click();
    await page.keyboard.press('Control+A');
    // Emptied first, so that the paste is a change even when the editor holds the text already
    // (a retry after GraphiQL missed the first paste would otherwise change nothing it sees).
    await page.keyboard.press('Delete');
    await page.keyboard.press('Control+V');
    await page.keyboard.press('Escape'); // close a suggestion list, if one opened
    await page.keyboard.press('Control+Home'); // the start in view, for the screenshots
    try {
      await waitForText(selector, 'the pasted text', (t) => t === want, 3000);
      await page.waitForTimeout(300);
      // Still there, and GraphiQL has it (not only the editor): the text survives the settling.
      await waitForText(selector, 'the pasted text', (t) => t === want && settled(), 3000);
      return;
    } catch (e) {
      if (!(e instanceof CheckError) || attempt === 3) throw e;
    }
  }
}

const QUERY = '.graphiql-query-editor';
const HEADERS = '.graphiql-editor-tool .graphiql-editor:not(.hidden)';
const RESPONSE = '.graphiql-response';

// Sets the operation; GraphiQL has it once the page's address carries it.
async function setQuery(text) {
  await setEditor(QUERY, text, () => new URL(page.url()).searchParams.get('query') === text);
}

async function run() {
  await page.locator('.graphiql-execute-button').click();
}

// Script errors, console errors and sockets of a page, recorded for the end of the check.
function watch(p) {
  p.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  p.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text().slice(0, 300)}`);
  });
  p.on('websocket', (ws) => {
    const s = { page: p, url: ws.url(), sent: [], received: [] };
    sockets.push(s);
    ws.on('framesent', (f) => s.sent.push(String(f.payload)));
    ws.on('framereceived', (f) => s.received.push(String(f.payload)));
  });
  return p;
}

// Adds comments to the post over HTTP until one shows in the page (found by text()); a
// subscription has no acknowledgement. Returns the body that arrived and how many were sent.
async function commentUntilShown(p, text) {
  const sent = [];
  for (let i = 1; ; i++) {
    if (Date.now() > deadline) fail(`no comment arrived in the page (sent ${sent.length})`);
    const body = `Live comment ${i} ${randomBytes(3).toString('hex')}`;
    await gql(
      'mutation($p: ID!, $b: String!) { addComment(input: {postID: $p, body: $b}) { comment { id } } }',
      { p: post.id, b: body },
      token,
    );
    sent.push(body);
    const until = Date.now() + 1000;
    while (Date.now() < until) {
      const shown = await text(p).catch((e) => (e instanceof CheckError ? '' : Promise.reject(e)));
      const arrived = sent.find((b) => shown.includes(b));
      if (arrived) return { arrived, sent: sent.length };
      await p.waitForTimeout(100);
    }
  }
}

// --- the single-page app: a static page on another origin of the same site ---------------------------
// It signs in with cookie mode (the server runs with AGORA_REFRESH_COOKIE=true), reads the feed and
// receives new comments over graphql-ws: scripts/browser-check/spa/.
const spaDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'spa');
const spaServer = createServer((req, res) => {
  const name = { '/': 'index.html', '/app.js': 'app.js' }[new URL(req.url, 'http://x').pathname];
  if (!name) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': name.endsWith('.js') ? 'text/javascript' : 'text/html; charset=utf-8' });
  res.end(readFileSync(path.join(spaDir, name)));
});
await new Promise((resolve) => spaServer.listen(0, '127.0.0.1', resolve));
const spa = new URL(`http://127.0.0.1:${spaServer.address().port}`);

// A reader who follows the post's author, so the post is in their feed.
const reader = { username: `reader_${randomBytes(4).toString('hex')}`, password: 'browser check reader password' };
const { register: readerSignup } = await gql(
  'mutation($i: RegisterInput!) { register(input: $i) { accessToken refreshToken } }',
  { i: { ...reader, email: `${reader.username}@example.com` } },
);
if (readerSignup.refreshToken !== null) fail('the server is not in cookie mode: register answered a refresh token');
await gql('mutation($u: ID!) { followUser(input: {userID: $u}) { __typename } }', { u: author.id }, readerSignup.accessToken);

async function spaState(p, want, ms = left()) {
  const state = p.locator('#state');
  const until = Math.min(deadline, Date.now() + ms);
  for (;;) {
    const got = await state.getAttribute('data-state');
    if (got === want) return;
    if (got === 'error' || Date.now() > until) fail(`the SPA is "${await state.textContent()}", not ${want}`);
    await p.waitForTimeout(100);
  }
}

async function refreshCookie() {
  return (await context.cookies(endpoint)).find((c) => c.name === 'agora_refresh');
}

// Signs in, reloads (the cookie signs the page in again), receives a live comment, signs out.
async function spaCheck() {
  const p = watch(await context.newPage());
  const shots = [];
  await p.goto(`${spa.origin}/?api=${encodeURIComponent(base)}`, { waitUntil: 'load', timeout: left() });
  await spaState(p, 'signed-out');
  await p.locator('#username').fill(reader.username);
  await p.locator('#password').fill(reader.password);
  await p.locator('#login button').click();
  await spaState(p, 'live');
  await p.locator('article h2', { hasText: post.title }).waitFor({ timeout: left() });
  shots.push(await screenshot('spa-signed-in', p));

  const cookie = await refreshCookie();
  if (!cookie) fail('login set no agora_refresh cookie');
  if (!cookie.httpOnly || cookie.sameSite !== 'Strict' || cookie.path !== '/graphql') {
    fail(`the refresh cookie is not HttpOnly, SameSite=Strict, Path=/graphql: ${JSON.stringify(cookie)}`);
  }
  if ((await p.evaluate(() => document.cookie)).includes('agora_refresh')) fail('page script can read the refresh cookie');

  // A reload loses the in-memory access token: the cookie alone signs the page in again.
  await p.reload({ waitUntil: 'load', timeout: left() });
  await spaState(p, 'live');
  if ((await p.locator('#viewer').textContent()) !== reader.username) fail('after a reload the SPA is not signed in as the reader');
  if ((await refreshCookie())?.value === cookie.value) fail('refreshSession did not rotate the cookie');
  shots.push(await screenshot('spa-reloaded', p));

  const article = p.locator(`article[data-post="${post.id}"]`);
  const live = await commentUntilShown(p, () => article.locator('li.live').allInnerTexts().then((t) => t.join('\n')));
  shots.push(await screenshot('spa-live-comment', p));
  const socket = sockets.find((s) => s.page === p && s.sent.some((f) => f.includes('commentAdded')));
  if (socket?.url !== `ws://${origin.host}/graphql`) fail(`the SPA subscribed over ${socket?.url}`);

  await p.locator('#logout').click();
  await spaState(p, 'signed-out');
  if (await refreshCookie()) fail('logout left the refresh cookie');
  await p.reload({ waitUntil: 'load', timeout: left() });
  await spaState(p, 'signed-out');
  await p.close();
  return { live, shots };
}

let browserVersion = '';
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    timeout: 30000,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // No name resolves but the server's address: nothing can leave the machine.
      `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${origin.hostname}`,
    ],
  });
  browserVersion = context.browser()?.version() ?? '';
  context.setDefaultTimeout(15000);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: origin.origin });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.origin === origin.origin || url.origin === spa.origin) return route.continue();
    problems.push(`blocked a request to another origin: ${route.request().method()} ${url.href.slice(0, 200)}`);
    return route.abort('blockedbyclient');
  });
  context.on('request', (r) => requests.push(r.url()));
  page = watch(context.pages()[0] ?? (await context.newPage()));

  // 1. The page: Agora's default operation, the Authorization placeholder, the schema in Docs.
  const res = await page.goto(`${base}/`, { waitUntil: 'load', timeout: left() });
  if (!res?.ok()) fail(`GET / answered ${res?.status()}`);
  const csp = (await res.allHeaders())['content-security-policy'] ?? '';
  if (!csp.includes("default-src 'none'")) fail(`the page has no strict Content-Security-Policy: ${csp}`);
  if (!new URL(page.url()).searchParams.get('query')?.includes('query RecentPosts')) {
    fail(`GET / did not open the default operation: ${page.url().slice(0, 200)}`);
  }
  await waitForText(QUERY, 'the default operation', (t) => t.includes('query RecentPosts'));
  await waitForText(HEADERS, 'the Authorization placeholder', (t) => t.includes('"Authorization": "Bearer <accessToken>"'));
  await page.locator('[aria-label="Show Documentation Explorer"]').click();
  const docs = page.locator('.graphiql-plugin');
  await docs.getByText('Root Types').waitFor({ timeout: left() });
  await docs.getByText('Subscription', { exact: true }).waitFor();
  const docsShot = await screenshot('docs');
  await page.locator('[aria-label="Hide Documentation Explorer"]').click(); // room for the editors

  // 2. A query typed into the editor.
  await setQuery('{ posts(first: 1) { totalCount } }');
  await run();
  await waitForText(RESPONSE, 'the query result', (t) => /"totalCount": [1-9]/.test(t));
  const queryShot = await screenshot('query');

  // 3. Signed in through the headers editor.
  await setEditor(HEADERS, `{"Authorization": "Bearer ${token}"}`);
  await setQuery('{ viewer { username } }');
  await run();
  await waitForText(RESPONSE, 'the signed-in query result', (t) => t.includes(`"username": "${username}"`));
  const viewerShot = await screenshot('signed-in');

  // 4. A subscription over graphql-ws: comments added over HTTP arrive in the result pane. A
  // subscription has no acknowledgement: comment until one arrives.
  await setQuery(`subscription { commentAdded(postID: "${post.id}") { body author { username } } }`);
  await run();
  const { arrived, sent } = await commentUntilShown(page, () => editorText(RESPONSE));
  const subscriptionShot = await screenshot('subscription');
  const socket = sockets.find((s) => s.sent.some((f) => f.includes('commentAdded')));
  if (!socket) fail(`the subscription went over no WebSocket (sockets: ${JSON.stringify(sockets.map((s) => s.url))})`);
  if (socket.url !== `ws://${origin.host}/graphql`) fail(`the subscription went to ${socket.url}`);
  if (!socket.sent.some((f) => f.includes('connection_init') && f.includes(token))) {
    fail('the graphql-ws connection_init did not carry the headers editor\'s Authorization');
  }
  await run(); // stop it

  // 5. The single-page app on another origin, in cookie mode.
  const spaRun = await spaCheck();

  const elsewhere = requests.filter(
    (u) => !u.startsWith(`${origin.origin}/`) && !u.startsWith(`${spa.origin}/`) && !/^(data|blob):/.test(u),
  );
  if (elsewhere.length) problems.push(...elsewhere.map((u) => `a request to another origin: ${u}`));
  if (problems.length) fail(`\n  ${[...new Set(problems)].join('\n  ')}`);

  const workers = new Set(requests.filter((u) => u.includes('.worker-'))).size;
  console.log(
    `browser check: OK — GraphiQL in Chromium ${browserVersion} with no network but ${origin.host}: ` +
      `${requests.length} requests, none but to the server and the app page (${workers} distinct web worker scripts); Docs panel, query, ` +
      `signed-in query and a live commentAdded over ${socket.url} ("${arrived}", ${sent} comment(s) sent); ` +
      `a page on ${spa.host} signed in with the HttpOnly refresh cookie, again after a reload, read the feed, ` +
      `received "${spaRun.live.arrived}" and signed out; ` +
      `screenshots: ${[docsShot, queryShot, viewerShot, subscriptionShot, ...spaRun.shots].map((f) => path.relative(process.cwd(), f)).join(', ')}`,
  );
} catch (e) {
  if (page) await screenshot('failure').catch(() => {});
  const why = e instanceof CheckError ? e.message : e.stack || String(e);
  console.error(`browser check: ${why}`);
  if (problems.length && !(e instanceof CheckError && e.message.startsWith('\n'))) {
    console.error(`also:\n  ${[...new Set(problems)].join('\n  ')}`);
  }
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  spaServer.close();
  rmSync(profile, { recursive: true, force: true });
}
