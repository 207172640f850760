#!/usr/bin/env node
// Composes Agora with a second subgraph behind two real gateways, Apollo Gateway and Hive Gateway, and
// runs queries that cross both subgraphs through each.
//
// Usage: node check.mjs URL OMIT_URL
//   URL       an Agora with its default settings: its subgraph SDL carries @authenticated,
//             @requiresScopes and @policy in federation's form (Hive Gateway, as Apollo Router, takes them)
//   OMIT_URL  an Agora with AGORA_FEDERATION_AUTH_DIRECTIVES=omit (Apollo Gateway refuses a supergraph
//             linking features `for: SECURITY` that it cannot enforce)
//
// In this process, on free loopback ports, it starts:
//   - "extras", a small Apollo subgraph (@apollo/subgraph buildSubgraphSchema) that extends Agora's
//     entities: User.reputation (computed from the id) and Post.readingMinutes (computed from the
//     body, which it @requires from Agora), plus Query.spotlight(ids:), which returns Post references
//     only, for Agora to resolve through its _entities;
//   - an Apollo Gateway (@apollo/server) composing the OMIT_URL Agora and extras with
//     IntrospectAndCompose, which forwards the client's Authorization header to Agora
//     (RemoteGraphQLDataSource willSendRequest);
//   - a Hive Gateway (@graphql-hive/gateway-runtime) serving the supergraph composed from the URL
//     Agora and extras (its SECURITY links kept), forwarding Authorization (propagateHeaders).
// Through Apollo Gateway it registers a user, creates a published post with the user's token and
// queries posts, viewer, node (a Post and a User) and spotlight: every field from the other subgraph
// must come back with the value computed from Agora's data, without errors. Through Hive Gateway it
// registers, publishes, queries posts across both subgraphs, the signed-in viewer, and subscribes to
// commentAdded (server-sent events from the client to the gateway, the gateway's default transport to
// Agora) with the author's reputation from extras in each event. Through both, Agora refuses
// createPost without a token.
// Prints one summary line on success; the reason (with the gateways' log) on stderr and exit status 1
// on failure.
//
// Environment: FEDERATION_CHECK_TIMEOUT_MS, the time the whole check may take (default 45000).

import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { composeServices } from '@apollo/composition';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import { createServer } from 'node:http';
import { parse } from 'graphql';

const require = createRequire(import.meta.url);
const versionOf = (pkg) => require(`./node_modules/${pkg}/package.json`).version; // not all export it
const versions = ['@apollo/gateway', '@graphql-hive/gateway-runtime', '@apollo/server', '@apollo/subgraph']
  .map((p) => `${p} ${versionOf(p)}`)
  .join(', ');

const [agoraURL, agoraOmitURL] = process.argv.slice(2);
if (![agoraURL, agoraOmitURL].every((u) => /^https?:\/\//.test(u ?? ''))) {
  console.error('usage: node check.mjs http://HOST:PORT/graphql http://HOST:PORT/graphql   (the second with AGORA_FEDERATION_AUTH_DIRECTIVES=omit)');
  process.exit(2);
}
const timeoutMs = Number(process.env.FEDERATION_CHECK_TIMEOUT_MS || 45000);
const started = Date.now();

class CheckError extends Error {}
const fail = (msg) => {
  throw new CheckError(msg);
};
const show = (v) => JSON.stringify(v);

// Everything the gateway and the subgraph log; printed when the check fails.
const logLines = [];
const logger = (name) => {
  const at = (level) => (...args) => logLines.push(`[${name} ${level}] ${args.map((a) => (typeof a === 'string' ? a : show(a))).join(' ')}`);
  return { debug: () => {}, info: at('info'), warn: at('warn'), error: at('error') };
};

// --- the second subgraph ---------------------------------------------------------------------------

// Deterministic from the (opaque) id, so the check can compute the expected value.
const reputationOf = (id) => 1 + ([...String(id)].reduce((h, c) => (h * 31 + c.codePointAt(0)) % 9973, 7) % 1000);
const wordsPerMinute = 200;
const readingMinutesOf = (body) => {
  const words = body.trim() === '' ? 0 : body.trim().split(/\s+/).length;
  return Math.max(1, Math.ceil(words / wordsPerMinute));
};

const received = { users: new Set(), posts: new Set(), authorization: 0 };
const extrasTypeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@external", "@requires"])

  type User @key(fields: "id") {
    id: ID!
    "Computed from the id by the extras subgraph."
    reputation: Int!
  }

  type Post @key(fields: "id") {
    id: ID!
    body: String @external
    "Minutes to read the body at ${wordsPerMinute} words a minute; at least 1. Null when the viewer may not read the body (a members-only post)."
    readingMinutes: Int @requires(fields: "body")
  }

  type Query {
    "References to these posts, resolved by Agora."
    spotlight(ids: [ID!]!): [Post!]!
  }
`);
const extrasResolvers = {
  User: {
    __resolveReference: (ref) => {
      received.users.add(ref.id);
      return { id: ref.id };
    },
    reputation: (user) => reputationOf(user.id),
  },
  Post: {
    __resolveReference: (ref) => {
      received.posts.add(ref.id);
      return ref;
    },
    readingMinutes: (post) => {
      if (!('body' in post)) throw new Error(`the gateway sent no body for post ${post.id}`);
      return post.body === null ? null : readingMinutesOf(post.body);
    },
  },
  Query: {
    spotlight: (_, { ids }) => ids.map((id) => ({ __typename: 'Post', id })),
  },
};

// --- the gateway ---------------------------------------------------------------------------------------

// --- helpers -----------------------------------------------------------------------------------------

async function post(url, query, variables, token, { errorsWanted = false } = {}) {
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }), signal: AbortSignal.timeout(10000) });
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
  const op = query.trim().split(/[({]/)[0].trim() || query.trim().slice(0, 60);
  if (errorsWanted) {
    if (!body.errors?.length) fail(`${url} answered ${res.status} to ${op} without errors: ${text.slice(0, 1500)}`);
    return body;
  }
  if (!res.ok || body.errors?.length || !body.data) {
    fail(`${url} answered ${res.status} to ${op}: ${text.slice(0, 1500)}`);
  }
  return body.data;
}

const expectEqual = (what, got, want) => {
  if (show(got) !== show(want)) fail(`${what}: got ${show(got)}, want ${show(want)}`);
};

// --- the check -----------------------------------------------------------------------------------------

// compose composes Agora at agoraURL with extras, as the gateway will (it reports composition hints,
// and its errors more directly than a gateway does).
async function compose(agoraURL, extrasURL) {
  const subgraphs = [
    { name: 'agora', url: agoraURL },
    { name: 'extras', url: extrasURL },
  ];
  const sdls = await Promise.all(subgraphs.map((s) => post(s.url, '{ _service { sdl } }')));
  const composition = composeServices(subgraphs.map((s, i) => ({ name: s.name, url: s.url, typeDefs: parse(sdls[i]._service.sdl) })));
  if (composition.errors?.length) {
    fail(`composition failed:\n${composition.errors.map((e) => `\t${e.message}`).join('\n')}`);
  }
  return { subgraphs, supergraphSdl: composition.supergraphSdl, hints: composition.hints ?? [] };
}

const securityLinks = (supergraphSdl) => [...supergraphSdl.matchAll(/@link\(url: "https:\/\/specs\.apollo\.dev\/([^"]+)", for: SECURITY\)/g)].map((m) => m[1]);

async function startExtras(servers) {
  const extras = new ApolloServer({ schema: buildSubgraphSchema({ typeDefs: extrasTypeDefs, resolvers: extrasResolvers }), logger: logger('extras') });
  servers.push(extras);
  const { url } = await startStandaloneServer(extras, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => {
      if (req.headers.authorization) received.authorization++;
      return {};
    },
  });
  return url;
}

// refusesWithoutToken checks that Agora refuses createPost (@requiresScopes) without a token through
// gatewayURL, whether or not the gateway knows the directive; it returns the codes.
async function refusesWithoutToken(gatewayURL, name) {
  const refused = await post(
    gatewayURL,
    'mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }',
    { i: { title: 'Not allowed', body: 'No token.', publish: true } },
    null,
    { errorsWanted: true },
  );
  if (refused.data?.createPost) fail(`createPost without a token through ${name} created a post: ${show(refused)}`);
  const codes = [...new Set(refused.errors.map((e) => e.extensions?.code ?? '?'))].join(', ');
  if (!/UNAUTHENTICATED|FORBIDDEN/.test(codes)) fail(`createPost without a token through ${name}: want UNAUTHENTICATED or FORBIDDEN, got ${show(refused.errors)}`);
  return codes;
}

// --- Apollo Gateway -----------------------------------------------------------------------------------

async function apolloGateway(servers, extrasURL) {
  const { subgraphs, supergraphSdl, hints } = await compose(agoraOmitURL, extrasURL);
  const linked = securityLinks(supergraphSdl);
  if (linked.length) fail(`with AGORA_FEDERATION_AUTH_DIRECTIVES=omit the supergraph still links ${linked.join(', ')} for: SECURITY`);

  const gateway = new ApolloGateway({
    supergraphSdl: new IntrospectAndCompose({ subgraphs }),
    logger: logger('gateway'),
    buildService: ({ name, url }) =>
      new RemoteGraphQLDataSource({
        url,
        willSendRequest({ request, context }) {
          // Agora authenticates the end user itself: pass their token through, to Agora only.
          if (name === 'agora' && context.authorization) request.http.headers.set('authorization', context.authorization);
        },
      }),
  });
  const server = new ApolloServer({ gateway, logger: logger('gateway server'), includeStacktraceInErrorResponses: false });
  servers.push(server);
  const { url: gatewayURL } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });

  // Sign up and write through the gateway.
  const username = `fed_${randomBytes(5).toString('hex')}`;
  const { register } = await post(
    gatewayURL,
    'mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id username } } }',
    { i: { username, email: `${username}@example.com`, password: 'federation check password' } },
  );
  const user = register.user;
  const token = register.accessToken;
  const title = `Federated ${randomBytes(4).toString('hex')}`;
  const words = 450 + Math.floor(Math.random() * 300);
  const body = Array.from({ length: words }, (_, i) => `word${i}`).join(' ');
  const { createPost } = await post(
    gatewayURL,
    'mutation($i: CreatePostInput!) { createPost(input: $i) { post { id title author { id } } } }',
    { i: { title, body, publish: true } },
    token,
  );
  const postID = createPost.post.id;
  expectEqual('createPost through the gateway: the author', createPost.post.author.id, user.id);

  const wantUser = { username, reputation: reputationOf(user.id) };
  const wantMinutes = readingMinutesOf(body);

  // posts: Agora's list, readingMinutes and author.reputation from extras.
  const { posts } = await post(
    gatewayURL,
    '{ posts(first: 5) { edges { node { id title readingMinutes author { username reputation } } } } }',
    {},
    token,
  );
  const mine = posts.edges.map((e) => e?.node).find((n) => n?.id === postID);
  if (!mine) fail(`posts(first: 5) through the gateway does not list the new post ${postID}: ${show(posts)}`);
  expectEqual('posts(first: 5): the new post', mine, { id: postID, title, readingMinutes: wantMinutes, author: wantUser });

  // viewer: needs the forwarded Authorization header.
  const { viewer } = await post(gatewayURL, '{ viewer { id username reputation } }', {}, token);
  expectEqual('viewer through the gateway (Authorization forwarded)', viewer, { id: user.id, ...wantUser });

  // node: Agora's Relay interface, with the other subgraph's fields on the concrete types.
  const { postNode, userNode } = await post(
    gatewayURL,
    `query($p: ID!, $u: ID!) {
      postNode: node(id: $p) { id ... on Post { title readingMinutes author { reputation } } }
      userNode: node(id: $u) { id ... on User { username reputation } }
    }`,
    { p: postID, u: user.id },
    token,
  );
  expectEqual('node(id:) for the post', postNode, { id: postID, title, readingMinutes: wantMinutes, author: { reputation: wantUser.reputation } });
  expectEqual('node(id:) for the user', userNode, { id: user.id, ...wantUser });

  // The other direction: extras returns references only, Agora resolves them through _entities.
  const { spotlight } = await post(gatewayURL, 'query($ids: [ID!]!) { spotlight(ids: $ids) { id title readingMinutes author { username } } }', { ids: [postID] });
  expectEqual('spotlight (Agora _entities for Post)', spotlight, [{ id: postID, title, readingMinutes: wantMinutes, author: { username } }]);

  // Agora still refuses what the omitted directives describe: @requiresScopes on createPost without a token.
  const refusedCodes = await refusesWithoutToken(gatewayURL, 'Apollo Gateway');

  // The values did come from the other subgraph, through the gateway.
  if (!received.users.has(user.id)) fail(`extras never received a User representation for ${user.id}`);
  if (!received.posts.has(postID)) fail(`extras never received a Post representation for ${postID}`);
  if (received.authorization) fail(`the gateway forwarded the Authorization header to extras ${received.authorization} times: it is Agora's only`);

  return { hints, refusedCodes };
}

// --- Hive Gateway -------------------------------------------------------------------------------------

// readEvents reads a text/event-stream response and calls onData with each next event's data until
// onData returns true or the stream ends.
async function readEvents(res, onData) {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: ?(.*)$/m.exec(frame)?.[1] ?? 'message';
      const data = /^data: ?(.*)$/m.exec(frame)?.[1];
      if (event === 'complete') return;
      if (data && (event === 'next' || event === 'message') && onData(JSON.parse(data))) return;
    }
  }
}

async function hiveGateway(servers, extrasURL) {
  const { supergraphSdl, hints } = await compose(agoraURL, extrasURL);
  const linked = securityLinks(supergraphSdl);
  if (!linked.some((l) => l.startsWith('authenticated/'))) fail(`by default the supergraph should link authenticated for: SECURITY, got ${show(linked)}`);
  const gateway = createGatewayRuntime({
    supergraph: supergraphSdl,
    logging: false,
    propagateHeaders: {
      // Agora authenticates the end user itself: pass their token through, to Agora only.
      fromClientToSubgraphs: ({ request, subgraphName }) =>
        subgraphName === 'agora' ? { authorization: request.headers.get('authorization') } : {},
    },
  });
  const http = createServer(gateway);
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  servers.push({
    stop: async () => {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
      await gateway[Symbol.asyncDispose]?.();
    },
  });
  const gatewayURL = `http://127.0.0.1:${http.address().port}/graphql`;

  const username = `hive_${randomBytes(5).toString('hex')}`;
  const { register } = await post(
    gatewayURL,
    'mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id username } } }',
    { i: { username, email: `${username}@example.com`, password: 'federation check password' } },
  );
  const token = register.accessToken;
  const body = Array.from({ length: 250 }, (_, i) => `w${i}`).join(' ');
  const { createPost } = await post(gatewayURL, 'mutation($i: CreatePostInput!) { createPost(input: $i) { post { id title } } }', { i: { title: 'Through Hive', body, publish: true } }, token);
  const postID = createPost.post.id;
  const wantUser = { username, reputation: reputationOf(register.user.id) };

  // A query across both subgraphs, and the signed-in viewer (Authorization forwarded).
  const { posts } = await post(gatewayURL, '{ posts(first: 5) { edges { node { id readingMinutes author { username reputation } } } } }', {}, token);
  const mine = posts.edges.map((e) => e?.node).find((n) => n?.id === postID);
  expectEqual('Hive Gateway: posts(first: 5), the new post', mine, { id: postID, readingMinutes: readingMinutesOf(body), author: wantUser });
  const { viewer } = await post(gatewayURL, '{ viewer { id username reputation } }', {}, token);
  expectEqual('Hive Gateway: viewer (Authorization forwarded)', viewer, { id: register.user.id, ...wantUser });
  const refusedCodes = await refusesWithoutToken(gatewayURL, 'Hive Gateway');

  // A subscription through the gateway: its events carry a field from extras too.
  const abort = new AbortController();
  const res = await fetch(gatewayURL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'subscription($id: ID!) { commentAdded(postID: $id) { body author { username reputation } } }', variables: { id: postID } }),
    signal: abort.signal,
  });
  if (!res.ok || !/text\/event-stream/.test(res.headers.get('content-type') ?? '')) fail(`Hive Gateway subscription: ${res.status} ${await res.text()}`);
  let event;
  const events = readEvents(res, (result) => {
    if (result.errors?.length) fail(`Hive Gateway subscription event: ${show(result.errors)}`);
    event = result.data?.commentAdded;
    return !!event;
  }).catch((e) => {
    if (!abort.signal.aborted) throw e;
  });
  // The gateway subscribes to Agora once the client's stream is open: comment until an event comes.
  let comments = 0;
  for (const deadline = Date.now() + 15000; !event && Date.now() < deadline; ) {
    await post(gatewayURL, 'mutation($id: ID!, $b: String!) { addComment(input: {postID: $id, body: $b}) { comment { id } } }', { id: postID, b: `live ${++comments}` }, token);
    await Promise.race([events, new Promise((r) => setTimeout(r, 300))]);
  }
  abort.abort();
  if (!event) fail(`Hive Gateway subscription: no commentAdded event within 15 s (${comments} comments)`);
  expectEqual('Hive Gateway subscription: the event', { ...event, body: event.body.replace(/\d+$/, 'N') }, { body: 'live N', author: wantUser });
  return { hints, refusedCodes, comments, linked };
}

async function main(servers) {
  const extrasURL = await startExtras(servers);
  const apollo = await apolloGateway(servers, extrasURL);
  const hive = await hiveGateway(servers, extrasURL);
  return { apollo, hive };
}

const servers = [];
const stopAll = () => Promise.allSettled(servers.reverse().map((s) => s.stop()));
const guard = setTimeout(() => {
  console.error(`federation check: FAILED: no result within ${timeoutMs} ms`);
  if (logLines.length) console.error(logLines.join('\n'));
  process.exit(1);
}, timeoutMs + 2000);

try {
  const { apollo, hive } = await main(servers);
  await stopAll();
  clearTimeout(guard);
  if (process.env.FEDERATION_CHECK_HINTS) for (const h of apollo.hints) console.error(`composition hint: ${h.definition?.code ?? ''}: ${h.message}`);
  console.log(
    `federation check: OK (${versions}; ` +
      `Apollo Gateway: Agora (AGORA_FEDERATION_AUTH_DIRECTIVES=omit, no SECURITY link) + extras composed by IntrospectAndCompose, ` +
      `${apollo.hints.length} composition hints; register, createPost, posts/viewer/node with User.reputation and Post.readingMinutes ` +
      `from extras, Post references resolved by Agora's _entities, createPost without a token refused by Agora (${apollo.refusedCodes}); ` +
      `Hive Gateway: supergraph linking ${hive.linked.join(', ')} for: SECURITY; posts across both subgraphs, the signed-in viewer, ` +
      `createPost without a token refused (${hive.refusedCodes}), a commentAdded subscription event with the author's reputation ` +
      `after ${hive.comments} comment(s); ${Date.now() - started} ms)`,
  );
  process.exit(0);
} catch (e) {
  await stopAll();
  clearTimeout(guard);
  console.error(`federation check: FAILED: ${e instanceof CheckError ? e.message : e?.stack ?? show(e)}`);
  if (logLines.length) console.error(`----- gateway log -----\n${logLines.join('\n')}\n----- end of gateway log -----`);
  process.exit(1);
}
