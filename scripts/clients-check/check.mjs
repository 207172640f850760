#!/usr/bin/env node
// Runs mainstream GraphQL clients, each with its defaults, against a running Agora.
//
// Usage: node check.mjs URL      (URL of Agora's GraphQL endpoint, e.g. http://127.0.0.1:8080/graphql)
//
// Through plain fetch it signs a user up and publishes a post; then:
//   - urql (@urql/core, default exchanges): a query, five times over (urql prefers GET and names event
//     streams and multipart in its Accept: the answer must be JSON, and no run may leave an unhandled
//     rejection behind);
//   - urql with graphcache: a query answered from the normalized cache the second time, and a mutation;
//   - urql with fetchSubscriptions: a subscription over fetch (Accept: text/event-stream, multipart/mixed);
//   - Apollo Client 4 (HttpLink, InMemoryCache): a query, and a subscription over HTTP multipart;
//     with apollo-upload-client's UploadHttpLink, an image upload (multipart request spec);
//   - Apollo Client 4 with its @defer handler, and urql with its defaults: a query with @defer, whose
//     deferred fields must come (Agora answers them in the one response);
//   - graphql-sse, distinct connections and single-connection mode: a subscription each.
// Each subscription must receive the comment made for it. Prints one line per client and a summary;
// on failure the reason on stderr and exit status 1.
//
// Environment: CLIENTS_CHECK_TIMEOUT_MS, the time the whole check may take (default 60000).

import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { Client, cacheExchange, fetchExchange } from '@urql/core';
import { cacheExchange as graphcache } from '@urql/exchange-graphcache';
import { ApolloClient, InMemoryCache, HttpLink, gql } from '@apollo/client';
import { Defer20220824Handler } from '@apollo/client/incremental';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';
import { deflateSync, crc32 } from 'node:zlib';
import { createClient as createSSEClient } from 'graphql-sse';

const require = createRequire(import.meta.url);
const versionOf = (pkg) => require(`./node_modules/${pkg}/package.json`).version;

const url = process.argv[2];
if (!url || !/^https?:\/\//.test(url)) {
  console.error('usage: node check.mjs http://HOST:PORT/graphql');
  process.exit(2);
}
const timeoutMs = Number(process.env.CLIENTS_CHECK_TIMEOUT_MS || 60000);
const started = Date.now();

class CheckError extends Error {}
const fail = (msg) => {
  throw new CheckError(msg);
};
const show = (v) => JSON.stringify(v);

// Unhandled rejections are failures: urql's teardown of an event stream it did not expect used to
// leave an AbortError that crashed Node.
const unhandled = [];
process.on('unhandledRejection', (e) => unhandled.push(e));

// recorder wraps fetch and keeps what each request asked for and what came back.
function recorder() {
  const calls = [];
  const f = async (input, init = {}) => {
    const res = await fetch(input, init);
    const headers = new Headers(init.headers);
    calls.push({ method: init.method ?? 'GET', accept: headers.get('accept'), multipart: init.body instanceof FormData, status: res.status, type: res.headers.get('content-type') });
    return res;
  };
  return { fetch: f, calls };
}

// testPNG is an opaque w×h RGB PNG with a gradient (served back as JPEG).
function testPNG(w, h) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = x & 255;
      raw[o + 1] = y & 255;
      raw[o + 2] = 128;
    }
  }
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

async function post(query, variables, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }), signal: AbortSignal.timeout(10000) });
  const body = await res.json();
  if (!res.ok || body.errors?.length) fail(`${query.slice(0, 40)}…: ${res.status} ${show(body)}`);
  return body.data;
}

const commentAdded = 'subscription($id: ID!) { commentAdded(postID: $id) { body author { username } } }';

// waitForComment starts a subscription through subscribe(onData), then comments on the post every
// 300 ms until a comment made for it arrives: the subscription may take a moment to start on the
// server, and no client tells when it has.
async function waitForComment(label, subscribe) {
  const marker = `${label} ${randomBytes(3).toString('hex')}`;
  let got;
  let failed;
  const arrived = new Promise((resolve) => {
    const onData = (data) => {
      const body = data?.commentAdded?.body;
      if (body?.startsWith(marker)) {
        got = data.commentAdded;
        resolve();
      }
    };
    const onError = (e) => {
      failed = e;
      resolve();
    };
    subscribe(onData, onError);
  });
  let n = 0;
  const deadline = Date.now() + 15000;
  while (!got && !failed && Date.now() < deadline) {
    await post('mutation($id: ID!, $b: String!) { addComment(input: {postID: $id, body: $b}) { comment { id } } }', { id: ctx.postID, b: `${marker} #${++n}` }, ctx.token);
    await Promise.race([arrived, new Promise((r) => setTimeout(r, 300))]);
  }
  if (failed) fail(`${label}: the subscription failed: ${failed?.message ?? show(failed)}`);
  if (!got) fail(`${label}: no commentAdded event within 15 s (${n} comments made)`);
  if (got.author.username !== ctx.username) fail(`${label}: the event's author: ${show(got)}`);
  return n;
}

const ctx = {};
const lines = [];
const describe = (c) => `${c.method} ${c.status}${c.type ? ` ${c.type.split(';')[0]}` : ''}`;

async function main() {
  ctx.username = `cli_${randomBytes(4).toString('hex')}`;
  const { register } = await post('mutation($i: RegisterInput!) { register(input: $i) { accessToken } }', {
    i: { username: ctx.username, email: `${ctx.username}@example.com`, password: 'clients check password' },
  });
  ctx.token = register.accessToken;
  const { createPost } = await post('mutation($i: CreatePostInput!) { createPost(input: $i) { post { id slug } } }', { i: { title: 'Clients', body: 'Checked by every client.', publish: true } }, ctx.token);
  ctx.postID = createPost.post.id;
  ctx.slug = createPost.post.slug;
  const postsQuery = 'query Posts { posts(first: 5) { edges { node { id title } } } }';

  // urql, defaults: a query, five times.
  {
    const rec = recorder();
    for (let i = 0; i < 5; i++) {
      const client = new Client({ url, exchanges: [cacheExchange, fetchExchange], fetch: rec.fetch });
      const r = await client.query(postsQuery, {}).toPromise();
      if (r.error || !r.data?.posts?.edges?.some((e) => e.node.id === ctx.postID)) fail(`urql query: ${r.error?.message ?? show(r.data)}`);
    }
    await new Promise((r) => setTimeout(r, 200)); // let any teardown settle
    const c = rec.calls[0];
    if (!/json/.test(c.type)) fail(`urql query answered ${c.type}`);
    lines.push(`urql ${versionOf('@urql/core')} (defaults): query ×5 → ${describe(c)} (Accept "${c.accept}")`);
  }

  // urql with graphcache: the second query comes from the cache; a mutation.
  {
    const rec = recorder();
    const client = new Client({
      url,
      exchanges: [graphcache({}), fetchExchange],
      fetch: rec.fetch,
      fetchOptions: () => ({ headers: { authorization: `Bearer ${ctx.token}` } }),
    });
    const q = 'query Post($slug: String!) { post(slug: $slug) { id title commentCount } }';
    const first = await client.query(q, { slug: ctx.slug }).toPromise();
    const second = await client.query(q, { slug: ctx.slug }).toPromise();
    if (first.error || first.data?.post?.id !== ctx.postID || second.data?.post?.id !== ctx.postID) fail(`urql graphcache: ${show(first)} ${show(second)}`);
    const m = await client.mutation('mutation($id: ID!) { likePost(input: {postID: $id}) { post { id likeCount viewerHasLiked } } }', { id: ctx.postID }).toPromise();
    if (m.error || m.data?.likePost?.post?.viewerHasLiked !== true) fail(`urql graphcache mutation: ${m.error?.message ?? show(m.data)}`);
    const queries = rec.calls.filter((c) => c.method === 'GET').length;
    if (queries !== 1) fail(`urql graphcache: ${queries} GETs for two identical queries, want 1 (the second from the cache)`);
    lines.push(`urql + graphcache ${versionOf('@urql/exchange-graphcache')}: query → ${describe(rec.calls[0])}, again from the cache; mutation → ${describe(rec.calls.at(-1))}`);
  }

  // urql with fetchSubscriptions: the subscription over fetch.
  {
    const rec = recorder();
    const client = new Client({ url, exchanges: [cacheExchange, fetchExchange], fetch: rec.fetch, fetchSubscriptions: true });
    let sub;
    const n = await waitForComment('urql', (onData, onError) => {
      sub = client.subscription(commentAdded, { id: ctx.postID }).subscribe((r) => (r.error ? onError(r.error) : onData(r.data)));
    });
    sub.unsubscribe();
    lines.push(`urql fetchSubscriptions: subscription → ${describe(rec.calls[0])} (Accept "${rec.calls[0].accept}"), event after ${n} comment(s)`);
  }

  // Apollo Client 4: a query, and a subscription over HTTP multipart.
  {
    const rec = recorder();
    const client = new ApolloClient({ link: new HttpLink({ uri: url, fetch: rec.fetch }), cache: new InMemoryCache() });
    const r = await client.query({ query: gql(postsQuery) });
    if (r.error || !r.data?.posts?.edges?.some((e) => e.node.id === ctx.postID)) fail(`Apollo Client query: ${r.error?.message ?? show(r.data)}`);
    const query = describe(rec.calls[0]);
    let sub;
    const n = await waitForComment('apollo', (onData, onError) => {
      sub = client.subscribe({ query: gql(commentAdded), variables: { id: ctx.postID } }).subscribe({
        next: (res) => (res.error ? onError(res.error) : onData(res.data)),
        error: onError,
      });
    });
    sub.unsubscribe();
    const s = rec.calls[1];
    if (!/^multipart\/mixed/.test(s.type)) fail(`Apollo Client subscription answered ${s.type}`);
    lines.push(`Apollo Client ${versionOf('@apollo/client')}: query → ${query}; subscription → ${describe(s)}, event after ${n} comment(s)`);
    client.stop();
  }

  // @defer: Apollo Client 4 with its handler (it refuses @defer without one), which adds
  // multipart/mixed;deferSpec=20220824 to Accept, and urql with its defaults.
  {
    const deferred = 'query Deferred($slug: String!) { post(slug: $slug) { id ... @defer { title author { username } } } }';
    const whole = (p) => p?.id === ctx.postID && p?.title === 'Clients' && p?.author?.username === ctx.username;
    const rec = recorder();
    const apollo = new ApolloClient({ link: new HttpLink({ uri: url, fetch: rec.fetch }), cache: new InMemoryCache(), incrementalHandler: new Defer20220824Handler() });
    const a = await apollo.query({ query: gql(deferred), variables: { slug: ctx.slug } });
    if (a.error || !whole(a.data?.post)) fail(`Apollo Client @defer: ${a.error?.message ?? show(a.data)}`);
    apollo.stop();
    const urql = new Client({ url, exchanges: [cacheExchange, fetchExchange], fetch: rec.fetch });
    const u = await urql.query(deferred, { slug: ctx.slug }).toPromise();
    if (u.error || !whole(u.data?.post) || u.hasNext) fail(`urql @defer: ${u.error?.message ?? show(u.data)}`);
    const [ac, uc] = rec.calls;
    lines.push(`@defer: Apollo Client (Defer20220824Handler) → ${describe(ac)} (Accept "${ac.accept}"), urql → ${describe(uc)}; the deferred fields in the one response`);
  }

  // Apollo Client 4 with apollo-upload-client's link: uploadImage as a multipart request (the
  // Apollo-Require-Preflight header the link's docs advise), then the stored file over HTTP.
  {
    const rec = recorder();
    const client = new ApolloClient({
      link: new UploadHttpLink({ uri: url, fetch: rec.fetch, headers: { authorization: `Bearer ${ctx.token}`, 'Apollo-Require-Preflight': 'true' } }),
      cache: new InMemoryCache(),
    });
    const file = new File([testPNG(300, 200)], 'photo.png', { type: 'image/png' });
    const r = await client.mutate({
      mutation: gql('mutation($f: Upload!) { uploadImage(input: {file: $f, purpose: POST_INLINE, alt: "apollo"}) { image { id width height status url } } }'),
      variables: { f: file },
    });
    const img = r.data?.uploadImage?.image;
    if (r.error || img?.width !== 300 || img?.height !== 200) fail(`Apollo upload link: ${r.error?.message ?? show(r.data)}`);
    const c = rec.calls[0];
    if (!c.multipart) fail('the Apollo upload link did not send a multipart request');
    // Image URLs start with AGORA_BASE_URL: fetch the path and signature from the server checked.
    const u = new URL(img.url);
    const got = await fetch(new URL(u.pathname + u.search, url), { signal: AbortSignal.timeout(10000) });
    const type = got.headers.get('content-type');
    const bytes = (await got.arrayBuffer()).byteLength;
    if (got.status !== 200 || type !== 'image/jpeg') fail(`the uploaded image: ${got.status} ${type}`);
    lines.push(`apollo-upload-client ${versionOf('apollo-upload-client')}: uploadImage as multipart/form-data → ${describe(c)}, ${img.width}×${img.height} ${img.status}; GET → 200 ${type} (${bytes} bytes)`);
    client.stop();
  }

  // graphql-sse, both modes.
  for (const singleConnection of [false, true]) {
    const rec = recorder();
    const client = createSSEClient({ url, singleConnection, fetchFn: rec.fetch, retryAttempts: 0 });
    let stop;
    const n = await waitForComment(singleConnection ? 'sse-single' : 'sse', (onData, onError) => {
      stop = client.subscribe({ query: commentAdded, variables: { id: ctx.postID } }, { next: (r) => (r.errors ? onError(r.errors[0]) : onData(r.data)), error: onError, complete: () => {} });
    });
    stop();
    client.dispose();
    const mode = singleConnection ? 'single connection' : 'distinct connections';
    lines.push(`graphql-sse ${versionOf('graphql-sse')} (${mode}): ${rec.calls.map(describe).join(', ')}; event after ${n} comment(s)`);
  }

  await new Promise((r) => setTimeout(r, 200));
  if (unhandled.length) fail(`unhandled rejections: ${unhandled.map((e) => e?.stack ?? show(e)).join('\n')}`);
}

const guard = setTimeout(() => {
  console.error(`clients check: FAILED: no result within ${timeoutMs} ms`);
  process.exit(1);
}, timeoutMs);

try {
  await main();
  clearTimeout(guard);
  for (const l of lines) console.log(`  ${l}`);
  console.log(`clients check: OK (${lines.length} clients with their defaults against ${url}; ${Date.now() - started} ms)`);
  process.exit(0);
} catch (e) {
  clearTimeout(guard);
  for (const l of lines) console.log(`  ${l}`);
  console.error(`clients check: FAILED: ${e instanceof CheckError ? e.message : e?.stack ?? show(e)}`);
  process.exit(1);
}
