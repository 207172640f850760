// Agora's GraphiQL page: the entry point scripts/graphiql/build.mjs bundles into
// graph/server/graphiql/. Everything it needs is in the bundle or served beside it by Agora:
// no CDN, no other origin.
//
// The page (graph/server/graphiql.go) carries its settings in
// <script type="application/json" id="graphiql-config">: the GraphQL endpoint, the URLs of
// Monaco's three web workers, whether introspection is on, and the headers a new tab starts with.

// Monaco first: its CSS then comes before GraphiQL's, which overrides some of it.
import 'monaco-graphql/esm/monaco-editor.js';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import '@graphiql/react/style.css';
import '@graphiql/plugin-doc-explorer/style.css';
import '@graphiql/plugin-history/style.css';
import 'graphiql/graphiql.css';
import './page.css';

const config = JSON.parse(document.getElementById('graphiql-config').textContent);

// Monaco's workers, by label, from the same origin (worker-src 'self').
globalThis.MonacoEnvironment = {
  getWorker(_id, label) {
    const url = config.workers[label] ?? config.workers.editor;
    return new Worker(url, { name: label });
  },
};

// Queries and mutations over HTTP; subscriptions over graphql-ws on the same origin (ws: for an
// http: page, wss: for https:). The headers editor's headers go with both: as HTTP headers, and as
// the graphql-ws connection_init payload.
const url = new URL(config.endpoint, window.location.href);
const subscriptionUrl = new URL(url);
subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
const fetcher = createGraphiQLFetcher({ url: url.href, subscriptionUrl: subscriptionUrl.href });

// The operation and its variables live in the address (?query=…&variables=…), so that a link
// opens the same operation and a reload keeps it.
const params = new URLSearchParams(window.location.search);
function remember(name) {
  return (value) => {
    const next = new URLSearchParams(window.location.search);
    if (value) {
      next.set(name, value);
    } else {
      next.delete(name);
    }
    window.history.replaceState(null, '', `${window.location.pathname}?${next}`);
  };
}

const props = {
  fetcher,
  defaultHeaders: config.headers,
  defaultEditorToolsVisibility: 'headers',
  onEditQuery: remember('query'),
  onEditVariables: remember('variables'),
};
if (params.has('query')) props.initialQuery = params.get('query');
if (params.has('variables')) props.initialVariables = params.get('variables');
// Without introspection there is no schema to ask for: no Docs panel, no error on every load.
if (!config.introspection) props.schema = null;

createRoot(document.getElementById('graphiql')).render(<GraphiQL {...props} />);
