#!/usr/bin/env node
// Runs the graphql-http server audit suite (GraphQL over HTTP spec
// conformance) against a running endpoint.
//
// Usage:
//   node audit.mjs [URL]
//
// The URL comes from the first argument, else from $AUDIT_URL, else
// http://localhost:8080/graphql. Each audit is printed as one line:
//
//   PASS  <id>  <name>
//   WARN  <id>  <name>  -- <reason>   (a SHOULD/MAY audit failed: advisory only)
//   FAIL  <id>  <name>  -- <reason>   (a MUST audit failed)
//
// followed by a summary line. The exit status is 1 when any MUST audit
// failed, 2 on a usage error, 0 otherwise.
//
// Optional environment:
//   AUDIT_TIMEOUT_MS  per-request timeout in milliseconds (default 10000)
//   AUDIT_VERBOSE=1   also print the response (status, content-type, body
//                     excerpt) for every WARN/FAIL, not just for FAILs

import { serverAudits } from 'graphql-http';

const DEFAULT_URL = 'http://localhost:8080/graphql';

const args = process.argv.slice(2);
if (args.includes('-h') || args.includes('--help')) {
  console.log(
    'usage: node audit.mjs [URL]\n' +
      `URL defaults to $AUDIT_URL, then ${DEFAULT_URL}.\n` +
      'Exits 1 if any MUST audit fails; SHOULD/MAY failures are warnings.',
  );
  process.exit(0);
}
if (args.length > 1) {
  console.error('usage: node audit.mjs [URL]');
  process.exit(2);
}

const url = args[0] || process.env.AUDIT_URL || DEFAULT_URL;
try {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error('not http(s)');
  }
} catch {
  console.error(`audit: invalid endpoint URL: ${url}`);
  process.exit(2);
}

const timeoutMs = Number(process.env.AUDIT_TIMEOUT_MS || 10000);
const verbose = /^(1|true|yes)$/i.test(process.env.AUDIT_VERBOSE || '');

// Global fetch (Node >= 18), with a timeout so that a hanging server fails
// the audit instead of hanging the run.
const fetchFn = (input, init = {}) =>
  fetch(input, { ...init, signal: init.signal ?? AbortSignal.timeout(timeoutMs) });

/** Short, single-line description of a failing audit's response. */
async function describeResponse(res) {
  if (!res || typeof res.status !== 'number') return '';
  let body = '';
  try {
    if (!res.bodyUsed) body = await res.text();
  } catch {
    // body already consumed or stream errored; status/headers still help
  }
  body = body.replace(/\s+/g, ' ').trim();
  if (body.length > 200) body = `${body.slice(0, 200)}...`;
  const ct = res.headers.get('content-type') ?? '(none)';
  return `HTTP ${res.status}, content-type: ${ct}${body ? `, body: ${body}` : ''}`;
}

/** Frees a response body that nobody read, so sockets are not kept busy. */
async function discard(res) {
  try {
    if (res && res.body && !res.bodyUsed) await res.body.cancel();
  } catch {
    // ignore
  }
}

const isMust = (name) => name.startsWith('MUST');

console.log(`graphql-http audit of ${url}`);

const counts = { pass: 0, warn: 0, fail: 0 };
let audits;
try {
  audits = serverAudits({ url, fetchFn });
} catch (err) {
  console.error(`audit: could not create audits: ${err?.stack ?? err}`);
  process.exit(1);
}

// Run one at a time: deterministic output and gentle on the server.
for (const audit of audits) {
  let status;
  let reason = '';
  let response;
  try {
    const result = await audit.fn();
    status = result.status; // 'ok' | 'notice' | 'warn' | 'error'
    reason = result.reason ?? '';
    response = result.response;
  } catch (err) {
    // graphql-http throws (rather than returning a result) on fatal problems:
    // connection refused, timeout, unparsable response, ...
    status = isMust(audit.name) ? 'error' : 'warn';
    const cause = err?.cause ? ` (${err.cause.code ?? err.cause.message ?? err.cause})` : '';
    reason = `fatal: ${err?.message ?? String(err)}${cause}`;
  }

  if (status === 'ok') {
    counts.pass++;
    console.log(`PASS  ${audit.id}  ${audit.name}`);
    continue;
  }

  // Only MUST failures fail the run, whatever status graphql-http reported.
  const level = isMust(audit.name) ? 'FAIL' : 'WARN';
  if (level === 'FAIL') counts.fail++;
  else counts.warn++;
  console.log(`${level}  ${audit.id}  ${audit.name}  -- ${reason || status}`);
  if (response && (level === 'FAIL' || verbose)) {
    const detail = await describeResponse(response);
    if (detail) console.log(`      ${detail}`);
  }
  await discard(response);
}

const total = counts.pass + counts.warn + counts.fail;
console.log(
  `graphql-http audit summary: ${total} audits, ${counts.pass} passed, ` +
    `${counts.warn} warnings (SHOULD/MAY), ${counts.fail} failed (MUST)`,
);
if (counts.fail > 0) {
  console.log(`RESULT: FAIL (${counts.fail} MUST audit(s) failed)`);
} else {
  console.log('RESULT: OK (all MUST audits passed)');
}
// Exit explicitly: keep-alive sockets from fetch must not keep us running.
process.exit(counts.fail > 0 ? 1 : 0);
