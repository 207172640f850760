package server

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/httpx"
)

// getTransport is gqlgen's GET transport with its refusals made like every other error: gqlgen
// writes some (undecodable variables or extensions, a mutation over GET) straight to the
// client, past the error presenter, without a code. A mutation over GET is 405, as GraphQL over
// HTTP asks.
type getTransport struct{ transport.GET }

func (t getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	rw := &refusalWriter{ResponseWriter: w}
	t.GET.Do(rw, r, exec)
	rw.flush()
}

// refusalWriter holds back answers with a 4xx status so that flush can code their errors.
type refusalWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *refusalWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	if status < 400 {
		w.ResponseWriter.WriteHeader(status)
	}
}

func (w *refusalWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.status < 400 {
		return w.ResponseWriter.Write(b)
	}
	return w.body.Write(b)
}

func (w *refusalWriter) flush() {
	if w.status < 400 {
		return
	}
	body := w.body.Bytes()
	var resp graphql.Response
	if json.Unmarshal(body, &resp) == nil && len(resp.Errors) > 0 {
		for i, e := range resp.Errors {
			resp.Errors[i] = requestError(e)
		}
		if w.status == http.StatusNotAcceptable { // gqlgen's answer to a mutation or subscription
			w.status = http.StatusMethodNotAllowed
			w.Header().Set("Allow", "POST")
		}
		if b, err := json.Marshal(&resp); err == nil {
			body = b
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(body)
}

// unsupported answers the requests no other transport takes, last in line: another content type
// is 415 and another method 405, with a coded error instead of gqlgen's bare "transport not
// supported".
type unsupported struct{}

func (unsupported) Supports(*http.Request) bool { return true }

func (unsupported) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	status, msg := http.StatusUnsupportedMediaType, "send the request as application/json"
	if r.Method != http.MethodPost {
		status, msg = http.StatusMethodNotAllowed, "use POST, or GET for queries"
		w.Header().Set("Allow", "GET, POST")
	}
	httpx.WriteError(w, r, status, apperr.CodeBadRequest, msg, nil)
}
