#!/usr/bin/env node
// Signs in to Agora through a local OpenID provider in headless Chromium, as a person would: the
// client page lists the providers, a click starts the sign-in, the browser goes through Agora's
// /auth/start, the provider and Agora's /auth/callback back to the client page, which trades the
// ticket for a session and reads viewer. Requests to anything but the three local servers are
// blocked. Screenshots go to the artifacts folder.
//
// Usage: node signin.mjs AGORA_URL APP_URL ARTIFACTS_DIR
// Environment: SIGNIN_CHECK_TIMEOUT_MS (default 60000); CHROMIUM (default /usr/bin/chromium).

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [base, app, artifacts] = process.argv.slice(2);
if (!base || !app || !artifacts) {
  console.error('usage: node signin.mjs AGORA_URL APP_URL ARTIFACTS_DIR');
  process.exit(2);
}
const timeoutMs = Number(process.env.SIGNIN_CHECK_TIMEOUT_MS || 60000);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
mkdirSync(artifacts, { recursive: true });
const profile = mkdtempSync(path.join(tmpdir(), 'agora-chromium-'));
const problems = [];
const visited = [];
let context;
let status = 0;
const timer = setTimeout(() => {
  console.error(`sign-in check: no result within ${timeoutMs} ms; visited ${visited.join(' → ')}`);
  process.exit(1);
}, timeoutMs);
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  });
  context.setDefaultTimeout(15000);
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    problems.push(`blocked a request to ${url.href.slice(0, 200)}`);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
  // Every hop of the redirect chain is a navigation request of its own.
  page.on('request', (r) => {
    if (r.isNavigationRequest() && r.frame() === page.mainFrame()) visited.push(new URL(r.url()).pathname);
  });
  await page.goto(`${app}/?api=${encodeURIComponent(base)}`);
  await page.locator('#signin-local').waitFor();
  await page.screenshot({ path: path.join(artifacts, '01-sign-in-page.png') });
  await page.locator('#signin-local').click();
  await page.waitForURL(`${app}/signed-in?**`);
  await page.locator('#status', { hasText: /^(signed in as|error|failed)/ }).waitFor();
  await page.screenshot({ path: path.join(artifacts, '02-signed-in.png') });
  const text = await page.locator('#status').innerText();
  const viewer = JSON.parse((await page.locator('#viewer').innerText()) || 'null');
  if (!text.startsWith('signed in as ') || viewer?.identities?.[0]?.provider !== 'local' || viewer?.identities?.[0]?.email !== 'jane.doe@example.com') {
    problems.push(`the client page shows ${JSON.stringify(text)}, viewer ${JSON.stringify(viewer)}`);
  }
  for (const step of ['/auth/start/local', '/oidc/authorize', '/auth/callback/local']) {
    if (!visited.includes(step)) problems.push(`the browser did not go through ${step}: ${visited.join(' → ')}`);
  }
  if (problems.length) throw new Error(problems.join('\n'));
  console.log(`OK: signed in through the local OpenID provider in ${context.browser()?.version() ?? 'Chromium'}: ${text} (${visited.join(' → ')})`);
} catch (e) {
  console.error(`sign-in check: ${e.message}`);
  status = 1;
} finally {
  clearTimeout(timer);
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(status);
