// PostGraphile 5 on Agora's database, for `make bench` with BENCH_PEERS=1: the Amber preset's
// schema of the public tables, served on 127.0.0.1:$PORT/graphql with production settings (no
// GraphiQL, no query explain, NODE_ENV=production), and GET /readyz once the schema is built.
//
//   DATABASE_URL=postgres://… PORT=8091 node postgraphile.mjs
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    // 20 connections, as Agora's pool (AGORA_DB_MAX_CONNS) and the baseline's.
    makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"], poolConfig: { max: 20 } }),
  ],
  grafserv: { graphqlPath: "/graphql", graphiql: false, watch: false },
  grafast: { explain: false },
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
await pgl.getSchema(); // built before /readyz answers
const handle = serv.createHandler();
const server = createServer((req, res) => {
  if (req.url === "/readyz") {
    res.writeHead(200).end("ok");
    return;
  }
  handle(req, res, () => res.writeHead(404).end());
});
server.listen(Number(process.env.PORT), "127.0.0.1");
const stop = () => server.close(() => pgl.release().then(() => process.exit(0)));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
