#!/usr/bin/env node
// Composes Agora with a second subgraph behind a real Apollo Gateway and runs queries that cross both.
//
// Usage: node check.mjs URL      (URL of Agora's GraphQL endpoint, e.g. http://127.0.0.1:8080/graphql)
//
// In this process, on free loopback ports, it starts:
//   - "extras", a small Apollo subgraph (@apollo/subgraph buildSubgraphSchema) that extends Agora's
//     entities: User.reputation (computed from the id) and Post.readingMinutes (computed from the
//     body, which it @requires from Agora), plus Query.spotlight(ids:), which returns Post references
//     only, for Agora to resolve through its _entities;
//   - an Apollo Gateway (@apollo/server) composing Agora and extras with IntrospectAndCompose, which
//     forwards the client's Authorization header to Agora (RemoteGraphQLDataSource willSendRequest).
// Through the gateway it then registers a user, creates a published post with the user's token and
// queries posts, viewer, node (a Post and a User) and spotlight: every field from the other subgraph
// must come back with the value computed from Agora's data, without errors.
// Prints one summary line on success; the reason (with the gateway's log) on stderr and exit status 1
// on failure.
//
// Environment: FEDERATION_CHECK_TIMEOUT_MS, the time the whole check may take (default 30000).

import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from '@apollo/gateway';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

const require = createRequire(import.meta.url);
const versionOf = (pkg) => require(`./node_modules/${pkg}/package.json`).version; // not all export it
const versions = ['@apollo/gateway', '@apollo/server', '@apollo/subgraph']
  .map((p) => `${p} ${versionOf(p)}`)
  .join(', ');

const agoraURL = process.argv[2];
if (!agoraURL || !/^https?:\/\//.test(agoraURL)) {
  console.error('usage: node check.mjs http://HOST:PORT/graphql');
  process.exit(2);
}
const timeoutMs = Number(process.env.FEDERATION_CHECK_TIMEOUT_MS || 30000);
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
    body: String! @external
    "Minutes to read the body at ${wordsPerMinute} words a minute; at least 1."
    readingMinutes: Int! @requires(fields: "body")
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
      if (typeof post.body !== 'string') throw new Error(`the gateway sent no body for post ${post.id}`);
      return readingMinutesOf(post.body);
    },
  },
  Query: {
    spotlight: (_, { ids }) => ids.map((id) => ({ __typename: 'Post', id })),
  },
};

// --- the gateway ---------------------------------------------------------------------------------------

// Agora's subgraph SDL carries the authorization directives in their federation form (@authenticated,
// @requiresScopes, @policy), so the composed supergraph links those specs `for: SECURITY`. Apollo Gateway
// cannot enforce them (Apollo Router does) and so refuses such a supergraph ("feature
// https://specs.apollo.dev/authenticated/v0.1 is for: SECURITY but is unsupported"). Agora enforces them
// itself, so this wrapper of IntrospectAndCompose drops the `for: SECURITY` purpose from those links,
// leaving the directives in the supergraph; the check then verifies that Agora still refuses what they
// guard when it is called through a gateway that does not enforce them.
const unenforced = new Set();
function dropSecurityPurpose(supergraphSdl) {
  return supergraphSdl.replace(/@link\(url: "([^"]+)", for: SECURITY\)/g, (_, url) => {
    unenforced.add(url.replace('https://specs.apollo.dev/', ''));
    return `@link(url: "${url}")`;
  });
}
class SecurityUnenforced {
  constructor(inner) {
    this.inner = inner;
  }
  async initialize(options) {
    const result = await this.inner.initialize({ ...options, update: (sdl) => options.update(dropSecurityPurpose(sdl)) });
    return { ...result, supergraphSdl: dropSecurityPurpose(result.supergraphSdl) };
  }
}

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

async function main(servers) {
  // Compose once here as well: the gateway does not report composition hints, and its error is less direct.
  const sdlQuery = '{ _service { sdl } }';
  const extras = new ApolloServer({ schema: buildSubgraphSchema({ typeDefs: extrasTypeDefs, resolvers: extrasResolvers }), logger: logger('extras') });
  servers.push(extras);
  const { url: extrasURL } = await startStandaloneServer(extras, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => {
      if (req.headers.authorization) received.authorization++;
      return {};
    },
  });
  const subgraphs = [
    { name: 'agora', url: agoraURL },
    { name: 'extras', url: extrasURL },
  ];
  const sdls = await Promise.all(subgraphs.map((s) => post(s.url, sdlQuery)));
  const composition = composeServices(subgraphs.map((s, i) => ({ name: s.name, url: s.url, typeDefs: parse(sdls[i]._service.sdl) })));
  if (composition.errors?.length) {
    fail(`composition failed:\n${composition.errors.map((e) => `\t${e.message}`).join('\n')}`);
  }
  const hints = composition.hints ?? [];

  const gateway = new ApolloGateway({
    supergraphSdl: new SecurityUnenforced(new IntrospectAndCompose({ subgraphs })),
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

  // What the unenforced directives guard, Agora still refuses: @requiresScopes on createPost without a token.
  const refused = await post(
    gatewayURL,
    'mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }',
    { i: { title: 'Not allowed', body: 'No token.', publish: true } },
    null,
    { errorsWanted: true },
  );
  if (refused.data?.createPost) fail(`createPost without a token through the gateway created a post: ${show(refused)}`);
  const refusedCodes = [...new Set(refused.errors.map((e) => e.extensions?.code ?? '?'))].join(', ');
  if (!/UNAUTHENTICATED|FORBIDDEN/.test(refusedCodes)) fail(`createPost without a token: want UNAUTHENTICATED or FORBIDDEN, got ${show(refused.errors)}`);

  // The values did come from the other subgraph, through the gateway.
  if (!received.users.has(user.id)) fail(`extras never received a User representation for ${user.id}`);
  if (!received.posts.has(postID)) fail(`extras never received a Post representation for ${postID}`);
  if (received.authorization) fail(`the gateway forwarded the Authorization header to extras ${received.authorization} times: it is Agora's only`);

  return { gatewayURL, hints, refusedCodes };
}

const servers = [];
const stopAll = () => Promise.allSettled(servers.reverse().map((s) => s.stop()));
const guard = setTimeout(() => {
  console.error(`federation check: FAILED: no result within ${timeoutMs} ms`);
  if (logLines.length) console.error(logLines.join('\n'));
  process.exit(1);
}, timeoutMs + 2000);

try {
  const { hints, refusedCodes } = await main(servers);
  await stopAll();
  clearTimeout(guard);
  if (process.env.FEDERATION_CHECK_HINTS) for (const h of hints) console.error(`composition hint: ${h.definition?.code ?? ''}: ${h.message}`);
  console.log(
    `federation check: OK (${versions}; Agora + extras composed by IntrospectAndCompose, ${hints.length} composition hints; ` +
      `through the gateway: register, createPost, posts/viewer/node with User.reputation and Post.readingMinutes from extras, ` +
      `Post references resolved by Agora's _entities; SECURITY links not enforced by the gateway (${[...unenforced].join(', ')}), ` +
      `Agora refused createPost without a token (${refusedCodes}); ${Date.now() - started} ms)`,
  );
  process.exit(0);
} catch (e) {
  await stopAll();
  clearTimeout(guard);
  console.error(`federation check: FAILED: ${e instanceof CheckError ? e.message : e?.stack ?? show(e)}`);
  if (logLines.length) console.error(`----- gateway log -----\n${logLines.join('\n')}\n----- end of gateway log -----`);
  process.exit(1);
}
