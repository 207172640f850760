#!/usr/bin/env node
// Opens Agora's GraphiQL in headless Chromium with no network but the server's, and uses it as a
// person would: the page opens with Agora's default operation and the Authorization placeholder
// in the headers editor; the Docs panel shows the schema (introspection); a query typed into the
// editor answers in the result pane; a query with a bearer token typed into the headers editor is
// signed in; and a subscription receives, in the result pane, a comment added over HTTP.
// Screenshots of each step go to the artifacts folder.
//
// Usage: node check.mjs http://127.0.0.1:PORT ARTIFACTS_DIR
//
// Every request the browser makes to anything but the server is blocked and fails the check (the
// host resolver also knows no other host), as do script errors, Content-Security-Policy
// violations and console errors. Prints one summary line on success; the reason on stderr and exit
// status 1 on failure.
//
// Environment: BROWSER_CHECK_TIMEOUT_MS, the time the whole check may take (default 90000);
// CHROMIUM, the browser (default /usr/bin/chromium).

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

async function screenshot(name) {
  const file = path.join(artifacts, `${String(++shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
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
    if (url.origin === origin.origin) return route.continue();
    problems.push(`blocked a request to another origin: ${route.request().method()} ${url.href.slice(0, 200)}`);
    return route.abort('blockedbyclient');
  });
  context.on('request', (r) => requests.push(r.url()));
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text().slice(0, 300)}`);
  });
  page.on('websocket', (ws) => {
    const s = { url: ws.url(), sent: [], received: [] };
    sockets.push(s);
    ws.on('framesent', (f) => s.sent.push(String(f.payload)));
    ws.on('framereceived', (f) => s.received.push(String(f.payload)));
  });

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
  const sent = [];
  let arrived = '';
  for (let i = 1; !arrived; i++) {
    if (Date.now() > deadline) fail(`no comment arrived in the result pane (sent ${sent.length})`);
    const body = `Live comment ${i} ${randomBytes(3).toString('hex')}`;
    await gql(
      'mutation($p: ID!, $b: String!) { addComment(input: {postID: $p, body: $b}) { comment { id } } }',
      { p: post.id, b: body },
      token,
    );
    sent.push(body);
    const text = await waitForText(RESPONSE, 'a comment', (t) => sent.some((b) => t.includes(b)), 1000).catch(
      (e) => (e instanceof CheckError ? '' : Promise.reject(e)),
    );
    arrived = sent.find((b) => text.includes(b)) ?? '';
  }
  const subscriptionShot = await screenshot('subscription');
  const socket = sockets.find((s) => s.sent.some((f) => f.includes('commentAdded')));
  if (!socket) fail(`the subscription went over no WebSocket (sockets: ${JSON.stringify(sockets.map((s) => s.url))})`);
  if (socket.url !== `ws://${origin.host}/graphql`) fail(`the subscription went to ${socket.url}`);
  if (!socket.sent.some((f) => f.includes('connection_init') && f.includes(token))) {
    fail('the graphql-ws connection_init did not carry the headers editor\'s Authorization');
  }
  await run(); // stop it

  const elsewhere = requests.filter((u) => !u.startsWith(`${origin.origin}/`) && !/^(data|blob):/.test(u));
  if (elsewhere.length) problems.push(...elsewhere.map((u) => `a request to another origin: ${u}`));
  if (problems.length) fail(`\n  ${[...new Set(problems)].join('\n  ')}`);

  const workers = new Set(requests.filter((u) => u.includes('.worker-'))).size;
  console.log(
    `browser check: OK — GraphiQL in Chromium ${browserVersion} with no network but ${origin.host}: ` +
      `${requests.length} requests, all same-origin (${workers} distinct web worker scripts); Docs panel, query, ` +
      `signed-in query and a live commentAdded over ${socket.url} ("${arrived}", ${sent.length} comment(s) sent); ` +
      `screenshots: ${[docsShot, queryShot, viewerShot, subscriptionShot].map((f) => path.relative(process.cwd(), f)).join(', ')}`,
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
  rmSync(profile, { recursive: true, force: true });
}
