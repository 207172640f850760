#!/usr/bin/env node
// Checks Agora's subscriptions with the graphql-ws npm client (graphql-transport-ws protocol):
// events triggered by mutations over HTTP must reach its subscribers, with the right data.
//
// Usage: node check.mjs URL      (URL of the GraphQL endpoint, e.g. http://127.0.0.1:8080/graphql)
//
// Against that server it registers two users (an author and a commenter), the author publishes a
// post, and then, through graphql-ws clients on ws(s)://…/graphql:
//   - the author's client (connectionParams {Authorization: 'Bearer …'}) subscribes to
//     commentAdded(postID:) and notificationAdded;
//   - an anonymous client subscribes to commentAdded(postID:), and to notificationAdded, which must
//     be refused with UNAUTHENTICATED;
//   - the commenter adds comments over HTTP (fetch) until every subscription has received one (a
//     subscription has no acknowledgement in the protocol), then one more, which each subscriber must
//     receive exactly as it was written: body, author, post, notification kind and actor.
// Prints one summary line on success; the reason on stderr and exit status 1 on failure.
//
// Environment: WS_CHECK_TIMEOUT_MS, the time the whole check may take (default 30000).

import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const require = createRequire(import.meta.url);
const clientVersion = require('graphql-ws/package.json').version;

const url = process.argv[2];
if (!url || !/^https?:\/\//.test(url)) {
  console.error('usage: node check.mjs http://HOST:PORT/graphql');
  process.exit(2);
}
const wsURL = url.replace(/^http/, 'ws');
const timeoutMs = Number(process.env.WS_CHECK_TIMEOUT_MS || 30000);
const started = Date.now();

class CheckError extends Error {}
const fail = (msg) => {
  throw new CheckError(msg);
};
const show = (v) => JSON.stringify(v);

// One GraphQL request over HTTP; GraphQL errors fail the check.
async function gql(query, variables, token) {
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(10000),
    });
  } catch (e) {
    fail(`POST ${url}: ${e.cause?.message ?? e.message}`);
  }
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    fail(`${url} answered ${res.status} with non-JSON: ${text.slice(0, 300)}`);
  }
  if (!res.ok || body.errors?.length || !body.data) {
    fail(`${url} answered ${res.status} to ${query.split('(')[0].trim()}: ${text.slice(0, 500)}`);
  }
  return body.data;
}

async function register(prefix) {
  const username = `${prefix}_${randomBytes(5).toString('hex')}`;
  const d = await gql(
    'mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id username } } }',
    { i: { username, email: `${username}@example.com`, password: 'graphql-ws check password' } },
  );
  return { ...d.register.user, token: d.register.accessToken };
}

// A subscription's events, in order, with a way to wait for one that matches.
function subscribe(client, name, query, variables) {
  const sub = { name, events: [], errors: null, done: false, waiters: [] };
  const wake = () => {
    for (const w of sub.waiters.splice(0)) w();
  };
  sub.dispose = client.subscribe(
    { query, variables },
    {
      next: (r) => {
        sub.events.push(r);
        wake();
      },
      error: (e) => {
        sub.errors = e;
        sub.done = true;
        wake();
      },
      complete: () => {
        sub.done = true;
        wake();
      },
    },
  );
  // Resolves with the first event for which pick returns something, or the end; rejects at the deadline.
  sub.waitFor = (what, pick, deadline) =>
    new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        for (const e of sub.events) {
          let v;
          try {
            v = pick(e);
          } catch (err) {
            clearTimeout(timer);
            return reject(err);
          }
          if (v !== undefined) {
            clearTimeout(timer);
            return resolve(v);
          }
        }
        if (sub.done) {
          clearTimeout(timer);
          return reject(new CheckError(`${name} ended before ${what}: ${show(sub.errors ?? 'completed')}`));
        }
        sub.waiters.push(check);
      };
      timer = setTimeout(() => {
        sub.waiters = sub.waiters.filter((w) => w !== check);
        reject(new CheckError(`${name}: no ${what} within ${timeoutMs} ms of the start (received: ${show(sub.events)})`));
      }, Math.max(0, deadline - Date.now()));
      check();
    });
  return sub;
}

function connect(name, token) {
  let closed = null;
  const client = createClient({
    url: wsURL,
    webSocketImpl: WebSocket,
    connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: (e) => {
      closed = e;
    },
    on: {
      closed: (e) => {
        closed = e;
      },
    },
  });
  client.closedReason = () => (closed ? `${closed.code ?? ''} ${closed.reason ?? closed.message ?? ''}`.trim() : null);
  client.label = name;
  return client;
}

const commentQuery = `subscription($post: ID!) {
  commentAdded(postID: $post) { id body author { username } post { id title } }
}`;
const notificationQuery = `subscription {
  notificationAdded { kind readAt actor { username } post { id title } comment { id body } }
}`;
const addComment = `mutation($post: ID!, $body: String!) {
  addComment(input: {postID: $post, body: $body}) { comment { id body } }
}`;

async function main() {
  const deadline = started + timeoutMs;
  const author = await register('wsauthor');
  const commenter = await register('wscommenter');
  const title = `graphql-ws check ${randomBytes(4).toString('hex')}`;
  const { createPost } = await gql(
    'mutation($i: CreatePostInput!) { createPost(input: $i) { post { id title } } }',
    { i: { title, body: 'Comments on this post arrive live.', publish: true } },
    author.token,
  );
  const post = createPost.post;

  const authorClient = connect('author client', author.token);
  const anonClient = connect('anonymous client', null);
  const clients = [authorClient, anonClient];
  try {
    const subs = [
      subscribe(authorClient, 'commentAdded (author client)', commentQuery, { post: post.id }),
      subscribe(anonClient, 'commentAdded (anonymous client)', commentQuery, { post: post.id }),
      subscribe(authorClient, 'notificationAdded (author client)', notificationQuery, {}),
    ];
    const refused = subscribe(anonClient, 'notificationAdded (anonymous client)', notificationQuery, {});

    // An anonymous socket gets public streams only.
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new CheckError('notificationAdded without a token: neither refused nor answered within 10s')), 10000);
      const check = () => {
        if (!refused.done && refused.events.length === 0) return refused.waiters.push(check);
        clearTimeout(t);
        const errs = refused.errors ?? refused.events.flatMap((e) => e.errors ?? []);
        if (!Array.isArray(errs) || !errs.some((e) => e?.extensions?.code === 'UNAUTHENTICATED')) {
          return reject(new CheckError(`notificationAdded without a token: want an UNAUTHENTICATED error, got ${show(refused.errors ?? refused.events)}`));
        }
        resolve();
      };
      check();
    });

    // Comment until every subscription has seen an event: then all of them are running.
    for (let i = 1; subs.some((s) => s.events.length === 0); i++) {
      for (const s of subs) {
        if (s.done) fail(`${s.name} ended before its first event: ${show(s.errors ?? 'completed')}`);
      }
      for (const c of clients) {
        if (c.closedReason()) fail(`${c.label}: socket closed: ${c.closedReason()}`);
      }
      if (Date.now() > deadline) {
        fail(`subscriptions did not receive events within ${timeoutMs} ms: ${subs.map((s) => `${s.name}: ${s.events.length}`).join(', ')}`);
      }
      await gql(addComment, { post: post.id, body: `warm-up ${i}` }, commenter.token);
      await new Promise((r) => setTimeout(r, 200));
    }

    // The comment each subscriber must receive exactly.
    const body = `Live from graphql-ws ${clientVersion}: ${randomBytes(6).toString('hex')}`;
    const { addComment: added } = await gql(addComment, { post: post.id, body }, commenter.token);
    const commentID = added.comment.id;
    const wantComment = { id: commentID, body, author: { username: commenter.username }, post: { id: post.id, title } };
    const wantNote = {
      kind: 'NEW_COMMENT',
      readAt: null,
      actor: { username: commenter.username },
      post: { id: post.id, title },
      comment: { id: commentID, body },
    };
    const check = (s, field, want) =>
      s.waitFor(`event for comment ${commentID}`, (e) => {
        if (e.errors?.length) fail(`${s.name}: errors in an event: ${show(e)}`);
        const v = e.data?.[field];
        const id = field === 'commentAdded' ? v?.id : v?.comment?.id;
        if (id !== commentID) return undefined;
        if (show(v) !== show(want)) fail(`${s.name}: got ${show(v)}, want ${show(want)}`);
        return v;
      }, deadline);
    await Promise.all([
      check(subs[0], 'commentAdded', wantComment),
      check(subs[1], 'commentAdded', wantComment),
      check(subs[2], 'notificationAdded', wantNote),
    ]);
    for (const s of [...subs, refused]) s.dispose();
    return { post, commentID };
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
  }
}

const guard = setTimeout(() => {
  console.error(`graphql-ws check: FAILED: no result within ${timeoutMs} ms`);
  process.exit(1);
}, timeoutMs + 2000);

try {
  await main();
  clearTimeout(guard);
  console.log(
    `graphql-ws check: OK (graphql-ws ${clientVersion}, graphql-transport-ws at ${wsURL}: ` +
      `commentAdded signed in and anonymous, notificationAdded for the post's author, ` +
      `anonymous notificationAdded refused; ${Date.now() - started} ms)`,
  );
  process.exit(0);
} catch (e) {
  clearTimeout(guard);
  console.error(`graphql-ws check: FAILED: ${e instanceof CheckError ? e.message : e?.stack ?? show(e)}`);
  process.exit(1);
}
