//go:build ignore

// idp.go is the local identity provider and client page of scripts/signin-check.sh: a real OpenID
// provider (mockoidc: discovery, JWKS, authorization code with PKCE, signed ID tokens) that signs
// in its default user without asking, and a minimal single-page app that signs in through Agora
// and shows the viewer.
//
// Usage: go run scripts/signin-check/idp.go -provider 127.0.0.1:P1 -app 127.0.0.1:P2
// The provider's issuer is http://127.0.0.1:P1/oidc, client agora-check, secret agora-check-secret;
// the app's sign-in page is http://127.0.0.1:P2/?api=AGORA_URL, and it comes back to /signed-in.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/oauth2-proxy/mockoidc"
)

func main() {
	providerAddr := flag.String("provider", "127.0.0.1:0", "address of the OpenID provider")
	appAddr := flag.String("app", "127.0.0.1:0", "address of the client page")
	flag.Parse()

	m, err := mockoidc.NewServer(nil)
	if err != nil {
		log.Fatal(err)
	}
	m.ClientID, m.ClientSecret = "agora-check", "agora-check-secret"
	ln, err := net.Listen("tcp", *providerAddr)
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		log.Fatal(err)
	}
	app := &http.Server{Addr: *appAddr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(page))
	})}
	go func() {
		if err := app.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	log.Printf("provider %s, app http://%s", m.Issuer(), *appAddr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	_ = app.Shutdown(context.Background())
	_ = m.Shutdown()
}

// page is the client: it lists the providers, starts a sign-in, and on /signed-in trades the
// ticket for a session and shows the viewer.
const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Agora sign-in check</title></head>
<body>
<h1>Agora sign-in check</h1>
<div id="providers"></div>
<p id="status">loading</p>
<pre id="viewer"></pre>
<script>
const q = new URLSearchParams(location.search);
if (q.get('api')) sessionStorage.setItem('api', q.get('api'));
const api = sessionStorage.getItem('api');
const status = (s) => { document.getElementById('status').textContent = s; };
async function gql(query, variables, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = 'Bearer ' + token;
  const r = await fetch(api + '/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const b = await r.json();
  if (b.errors) throw new Error(JSON.stringify(b.errors));
  return b.data;
}
(async () => {
  try {
    if (location.pathname === '/signed-in') {
      if (q.get('error')) { status('error: ' + q.get('error')); return; }
      const { completeSignIn } = await gql('mutation($t: String!) { completeSignIn(input: {ticket: $t}) { accessToken } }', { t: q.get('ticket') });
      const { viewer } = await gql('{ viewer { username identities { provider email } } }', null, completeSignIn.accessToken);
      document.getElementById('viewer').textContent = JSON.stringify(viewer);
      status('signed in as ' + viewer.username);
      return;
    }
    const { providers } = await gql('{ providers { name displayName } }');
    for (const p of providers) {
      const b = document.createElement('button');
      b.id = 'signin-' + p.name;
      b.textContent = 'Continue with ' + p.displayName;
      b.onclick = async () => {
        const { startSignIn } = await gql('mutation($p: String!, $r: String!) { startSignIn(input: {provider: $p, redirectURI: $r}) { authorizationURL } }',
          { p: p.name, r: location.origin + '/signed-in' });
        location.href = startSignIn.authorizationURL;
      };
      document.getElementById('providers').append(b);
    }
    status('signed out');
  } catch (e) {
    status('failed: ' + e.message);
  }
})();
</script>
</body></html>
`
