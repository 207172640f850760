// Checks schema/client.graphql with the client tools that refused schema.graphql (issue 17):
// graphql-js builds a valid schema from it and validates an operation against it, and
// relay-compiler compiles a small app's query, fragment, pagination and mutation against it.
// Prints one line per tool; exits non-zero with the reason on the first failure.
//
// Usage: node check.mjs SCHEMA_FILE WORK_DIR
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { buildSchema, parse, validate, validateSchema } from "graphql";

const [schemaFile, work] = process.argv.slice(2).map((p) => resolve(p));
if (!schemaFile || !work) {
  console.error("usage: node check.mjs SCHEMA_FILE WORK_DIR");
  process.exit(2);
}
const sdl = readFileSync(schemaFile, "utf8");

function fail(what, detail) {
  console.error(`client schema check: ${what}\n${detail}`);
  process.exit(1);
}

// --- graphql-js -----------------------------------------------------------------------------------
let schema;
try {
  schema = buildSchema(sdl);
} catch (e) {
  fail("graphql-js buildSchema refused the schema", e.message);
}
const schemaErrors = validateSchema(schema);
if (schemaErrors.length) fail("graphql-js: the schema is not valid", schemaErrors.map((e) => e.message).join("\n"));
for (const name of ["_entities", "_service"]) {
  if (schema.getQueryType().getFields()[name]) fail(`graphql-js: Query.${name} is in the client schema`, "");
}
for (const name of ["_Any", "_Entity", "_Service", "FieldSet", "link__Import"]) {
  if (schema.getType(name)) fail(`graphql-js: type ${name} is in the client schema`, "");
}
const operation = parse(`
  query Feed($first: Int!, $after: Cursor) {
    viewer { id username }
    feed(first: $first, after: $after) {
      edges { cursor node { id title slug author { id username } tags { name } likeCount viewerHasLiked } }
      pageInfo { hasNextPage endCursor }
    }
    search(query: "engine", first: 5) { totalCount edges { score node { id title } } }
  }
  mutation Refresh($t: String!) { refreshSession(input: {refreshToken: $t}) { accessToken expiresAt user { id } } }
  mutation RefreshFromCookie { refreshSession(input: {}) { accessToken expiresAt refreshTokenExpiresAt } }
  subscription Comments($postID: ID!) { commentAdded(postID: $postID) { id body author { username } } }
`);
const opErrors = validate(schema, operation);
if (opErrors.length) fail("graphql-js: a client operation does not validate", opErrors.map((e) => e.message).join("\n"));
console.log(`graphql-js ${createRequire(import.meta.url)("graphql/package.json").version}: buildSchema OK (${Object.keys(schema.getTypeMap()).length} types), operations validate`);

// --- relay-compiler -------------------------------------------------------------------------------
const src = join(work, "src");
mkdirSync(src, { recursive: true });
writeFileSync(
  join(work, "relay.config.json"),
  JSON.stringify({ src: "./src", schema: schemaFile, language: "typescript", eagerEsModules: true }, null, 2),
);
writeFileSync(
  join(src, "Feed.ts"),
  `import { graphql } from "react-relay";

export const feedQuery = graphql\`
  query FeedQuery($first: Int!) {
    viewer { id username ...ProfileFragment }
    ...FeedFragment @arguments(first: $first)
  }
\`;

export const profile = graphql\`
  fragment ProfileFragment on User {
    displayName
    followerCount
    posts(first: 5) { edges { node { id title } } }
  }
\`;

export const feed = graphql\`
  fragment FeedFragment on Query
    @argumentDefinitions(first: { type: "Int!" }, after: { type: "Cursor" })
    @refetchable(queryName: "FeedPaginationQuery") {
    feed(first: $first, after: $after) @connection(key: "Feed_feed") {
      edges { node { id title slug author { username } likeCount viewerHasLiked } }
    }
  }
\`;

export const post = graphql\`
  fragment PostFragment on Post @refetchable(queryName: "PostRefetchQuery") {
    id
    title
    comments(first: 10) { totalCount edges { node { id body } } }
  }
\`;

export const like = graphql\`
  mutation FeedLikeMutation($id: ID!) {
    likePost(input: { postID: $id }) { post { id likeCount viewerHasLiked } }
  }
\`;

export const comments = graphql\`
  subscription FeedCommentsSubscription($postID: ID!) {
    commentAdded(postID: $postID) { id body author { username } }
  }
\`;
`,
);
const relayBin = join(createRequire(import.meta.url).resolve("relay-compiler/package.json"), "..", "cli.js");
const relayVersion = createRequire(import.meta.url)("relay-compiler/package.json").version;
let out;
try {
  out = execFileSync(process.execPath, [relayBin], { cwd: work, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
} catch (e) {
  fail(`relay-compiler ${relayVersion} failed (exit ${e.status}${e.signal ? ", " + e.signal : ""})`, `${e.stdout ?? ""}${e.stderr ?? ""}`);
}
if (/panicked|not implemented/i.test(out)) fail(`relay-compiler ${relayVersion} panicked`, out);
const artifacts = readdirSync(join(src, "__generated__")).filter((f) => f.endsWith(".graphql.ts"));
for (const want of ["FeedQuery.graphql.ts", "FeedPaginationQuery.graphql.ts", "PostRefetchQuery.graphql.ts", "FeedLikeMutation.graphql.ts", "FeedCommentsSubscription.graphql.ts"]) {
  if (!artifacts.includes(want)) fail(`relay-compiler ${relayVersion} wrote no ${want}`, `${out}\nwrote: ${artifacts.join(", ")}`);
}
console.log(`relay-compiler ${relayVersion}: compiled ${artifacts.length} artifacts (query, fragments, @connection pagination, @refetchable on Node, mutation, subscription)`);
