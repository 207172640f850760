// The SPA: sign in (login sets the refresh cookie), or at page load trade the cookie for an access
// token (refreshSession with no argument); read the feed; receive new comments over graphql-ws.
const api = new URL(new URLSearchParams(location.search).get('api'));
const endpoint = new URL('/graphql', api).href;
const socketURL = endpoint.replace(/^http/, 'ws');
const $ = (id) => document.getElementById(id);
let accessToken = null; // in memory only: never in localStorage or a readable cookie
let socket = null;

function setState(state, text = state) {
  $('state').dataset.state = state;
  $('state').textContent = text;
}

async function gql(query, variables) {
  const res = await fetch(endpoint, {
    method: 'POST',
    credentials: 'include', // the refresh cookie goes with the request and comes back set
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json, application/json',
      ...(accessToken && { Authorization: `Bearer ${accessToken}` }),
    },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

async function signedIn(token) {
  accessToken = token;
  const { data, errors } = await gql(`{
    viewer { username }
    feed(first: 10) { edges { node { id title author { username }
      comments(first: 5) { edges { node { id body author { username } } } } } } }
  }`);
  if (errors) throw new Error(errors[0].message);
  $('viewer').textContent = data.viewer.username;
  $('feed').replaceChildren(...data.feed.edges.map(({ node }) => postView(node)));
  $('login').hidden = true;
  $('home').hidden = false;
  listen(data.feed.edges.map(({ node }) => node.id));
}

function postView(post) {
  const el = document.createElement('article');
  el.dataset.post = post.id;
  el.innerHTML = '<h2></h2><p class="by"></p><ul></ul>';
  el.querySelector('h2').textContent = post.title;
  el.querySelector('.by').textContent = `by ${post.author.username}`;
  for (const { node } of post.comments.edges) el.querySelector('ul').append(commentView(node));
  return el;
}

function commentView(comment, live = false) {
  const li = document.createElement('li');
  li.textContent = `${comment.author.username}: ${comment.body}`;
  if (live) li.className = 'live';
  return li;
}

// graphql-ws (graphql-transport-ws), spoken directly: the connection is signed in by
// connection_init's payload, as a browser's WebSocket cannot send an Authorization header.
function listen(postIDs) {
  socket = new WebSocket(socketURL, 'graphql-transport-ws');
  socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${accessToken}` } }));
  socket.onmessage = ({ data }) => {
    const msg = JSON.parse(data);
    if (msg.type === 'connection_ack') {
      for (const id of postIDs) {
        socket.send(JSON.stringify({
          id, type: 'subscribe',
          payload: { query: 'subscription($p: ID!) { commentAdded(postID: $p) { id body author { username } } }', variables: { p: id } },
        }));
      }
      setState('live', `live: ${postIDs.length} post(s)`);
    } else if (msg.type === 'next' && msg.payload.data) {
      document.querySelector(`[data-post="${CSS.escape(msg.id)}"] ul`).append(commentView(msg.payload.data.commentAdded, true));
    } else if (msg.type === 'ping') {
      socket.send(JSON.stringify({ type: 'pong' }));
    } else if (msg.type === 'error' || (msg.type === 'next' && msg.payload.errors)) {
      setState('error', JSON.stringify(msg.payload));
    }
  };
  socket.onclose = (e) => { if ($('state').dataset.state !== 'signed-out') setState('closed', `socket closed ${e.code}`); };
}

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const { data, errors } = await gql(
    'mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }',
    { i: { usernameOrEmail: $('username').value, password: $('password').value } },
  );
  if (errors) return void ($('error').textContent = errors[0].message);
  if (data.login.refreshToken !== null) return setState('error', 'the refresh token reached page script');
  await signedIn(data.login.accessToken).catch((err) => setState('error', err.message));
});

$('logout').addEventListener('click', async () => {
  await gql('mutation { logout { sessionID } }');
  socket?.close();
  accessToken = null;
  setState('signed-out', 'signed out');
  $('home').hidden = true;
  $('login').hidden = false;
});

// At page load: the cookie, if the browser has one, signs the page in.
(async () => {
  const { data, errors } = await gql('mutation { refreshSession(input: {}) { accessToken refreshToken } }');
  if (errors) {
    setState('signed-out', `signed out (${errors[0].extensions?.reason ?? errors[0].message})`);
    $('login').hidden = false;
    return;
  }
  if (data.refreshSession.refreshToken !== null) return setState('error', 'the refresh token reached page script');
  await signedIn(data.refreshSession.accessToken).catch((err) => setState('error', err.message));
})();
