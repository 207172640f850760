package server

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/httpx"
)

// httpTransport is GraphQL over HTTP: POST with a JSON body, GET with the URL's parameters. What
// the answer is follows from the operation and the request's Accept (negotiate.go), never from
// the order of Accept alone:
//   - a query or a mutation gets one JSON response, unless the client prefers text/event-stream
//     strictly (then an event stream of that one response);
//   - a subscription streams its events, as server-sent events (graphql-sse's protocol, distinct
//     connections) or as Apollo's multipart HTTP subscription, whichever of the two the client
//     names and prefers; naming neither is refused at once with 406 NOT_ACCEPTABLE;
//   - a mutation over GET is refused with 405, as GraphQL over HTTP asks.
//
// Requests refused before they run answer as GraphQL over HTTP says: 400 for a body or
// parameters that are not a GraphQL request; for a document that does not parse or validate, 400
// with application/graphql-response+json and 200 with application/json; never a "data" entry.
// Every refusal carries a code.
type httpTransport struct{ rt Realtime }

func (httpTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	switch r.Method {
	case http.MethodGet:
		return true
	case http.MethodPost:
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		return err == nil && mt == mediaJSON
	}
	return false
}

func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	accept := parseAccept(r)
	start := graphql.Now()
	params, msg := readParams(r)
	if msg != "" {
		t.refuse(w, r, exec, accept, http.StatusBadRequest, gqlerror.List{codedError(msg, apperr.CodeBadRequest)})
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		r = r.WithContext(graphql.WithOperationContext(ctx, oc))
		t.refuse(w, r, exec, accept, requestErrorStatus(accept, oc, errs), errs)
		return
	}
	f := accept.singleFormat()
	switch op := oc.Operation.Operation; {
	case op == ast.Mutation && r.Method == http.MethodGet:
		w.Header().Set("Allow", "POST")
		httpx.WriteError(w, r, http.StatusMethodNotAllowed, apperr.CodeBadRequest, "a mutation must be sent with POST", nil)
		return
	case op == ast.Subscription:
		if f = accept.streamFormat(); f == formatNone {
			httpx.WriteError(w, r, http.StatusNotAcceptable, apperr.CodeNotAcceptable, subscriptionTransports, nil)
			return
		}
	}
	if f != formatJSON {
		t.rt.serveStream(w, r, f, func(ctx context.Context) (graphql.ResponseHandler, context.Context) {
			return exec.DispatchOperation(ctx, oc)
		})
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	writeJSON(w, http.StatusOK, accept.jsonType(), responses(ctx), true)
}

// subscriptionTransports is the refusal of a subscription asked for as a single JSON response.
const subscriptionTransports = "a subscription streams its events: ask for them with Accept: text/event-stream " +
	"(GraphQL over server-sent events) or multipart/mixed;subscriptionSpec=1.0 (Apollo's multipart subscriptions), " +
	"or subscribe over a WebSocket (graphql-transport-ws)"

// refuse answers a request that fails before it runs: as one JSON response without data, or,
// for a client that prefers an event stream, as a stream holding that response (graphql-sse's
// protocol: the error is an event, the HTTP status 200).
func (t httpTransport) refuse(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, accept accepted, status int, errs gqlerror.List) {
	if accept.singleFormat() == formatSSE {
		t.rt.serveStream(w, r, formatSSE, func(ctx context.Context) (graphql.ResponseHandler, context.Context) {
			return graphql.OneShot(exec.DispatchError(ctx, errs)), ctx
		})
		return
	}
	writeJSON(w, status, accept.jsonType(), exec.DispatchError(r.Context(), errs), false)
}

// requestErrorStatus is the status of an operation refused before it runs. Parameters that hold no
// document are not a GraphQL request: 400. Otherwise (a document that does not parse or
// validate, or a limit) application/graphql-response+json has 400 for such request errors, and
// application/json 200 (GraphQL over HTTP, on each media type). Errors that ask the client to act, such as
// PERSISTED_QUERY_NOT_FOUND, are 200 either way.
func requestErrorStatus(accept accepted, oc *graphql.OperationContext, errs gqlerror.List) int {
	if oc != nil && oc.RawQuery == "" && len(errs) == 1 && errs[0].Message == "no operation provided" {
		return http.StatusBadRequest
	}
	if accept.jsonType() == mediaGraphQLJSON && errcode.GetErrorKind(errs) == errcode.KindProtocol {
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// readParams reads a GraphQL request's parameters from a POST's JSON body or a GET's URL. A
// request that holds none readable gets the reason, for a BAD_REQUEST refusal.
func readParams(r *http.Request) (*graphql.RawParams, string) {
	params := &graphql.RawParams{}
	if r.Method == http.MethodPost {
		b, err := httpx.Body(r)
		if err != nil || decodeJSON(b, params) != nil {
			return nil, `the body must be a JSON object: "query" a string, "operationName" a string, "variables" and "extensions" objects`
		}
		return params, ""
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, "the URL's query string could not be decoded"
	}
	params.Query, params.OperationName = q.Get("query"), q.Get("operationName")
	if v := q.Get("variables"); v != "" && decodeJSON([]byte(v), &params.Variables) != nil {
		return nil, "variables could not be decoded: want a JSON object"
	}
	if v := q.Get("extensions"); v != "" && decodeJSON([]byte(v), &params.Extensions) != nil {
		return nil, "extensions could not be decoded: want a JSON object"
	}
	return params, ""
}

// decodeJSON decodes a JSON value as gqlgen does: numbers stay json.Number.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

func codedError(msg, code string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}

// writeJSON writes one GraphQL response, with its length (not chunked). withData false leaves the
// "data" entry out: a request that failed before execution has none (GraphQL §7.1.1), not even null.
func writeJSON(w http.ResponseWriter, status int, contentType string, resp *graphql.Response, withData bool) {
	var b []byte
	var err error
	if withData {
		buf := responseBuffers.Get().(*[]byte)
		defer putResponseBuffer(buf)
		b, err = encodeResponse((*buf)[:0], resp)
		*buf = b
	} else {
		b, err = json.Marshal(struct {
			Errors     gqlerror.List  `json:"errors,omitempty"`
			Extensions map[string]any `json:"extensions,omitempty"`
		}{resp.Errors, resp.Extensions})
	}
	if err != nil { // a value that does not marshal: the presenter's words are all the client gets
		status, b = http.StatusInternalServerError, httpx.ErrorBody(apperr.CodeInternal, "internal error: the response could not be encoded", nil)
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b))) // Compress removes it when it compresses
	w.WriteHeader(status)
	_, _ = w.Write(b) // a Writer keeps no part of b: the buffer is free again when Write returns
}

// responseBuffers hold encoded responses while they are written: a page's response is written
// into one of the right size instead of a new one each time.
var responseBuffers = sync.Pool{New: func() any { return new([]byte) }}

// putResponseBuffer returns a buffer to responseBuffers unless one very large response made it
// big: that one is left to the garbage collector.
func putResponseBuffer(b *[]byte) {
	if cap(*b) <= 1<<20 {
		responseBuffers.Put(b)
	}
}

// encodeResponse appends json.Marshal(resp) to b with resp.Data copied as it is. gqlgen's
// marshalers wrote it as compact JSON; encoding/json would scan and copy it once more to compact
// it (about 5% of the posts page's CPU). The rest is encoded by encoding/json, in the fields' order.
func encodeResponse(b []byte, resp *graphql.Response) ([]byte, error) {
	b = slices.Grow(b, len(resp.Data)+128)
	b = append(b, '{')
	if len(resp.Errors) > 0 {
		errs, err := json.Marshal(resp.Errors)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, `"errors":`...), errs...), ',')
	}
	b = append(b, `"data":`...)
	if len(resp.Data) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, resp.Data...)
	}
	rest, err := json.Marshal(struct {
		Label      string         `json:"label,omitempty"`
		Path       ast.Path       `json:"path,omitempty"`
		HasNext    *bool          `json:"hasNext,omitempty"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{resp.Label, resp.Path, resp.HasNext, resp.Extensions})
	if err != nil {
		return nil, err
	}
	if len(rest) > len("{}") {
		b = append(append(b, ','), rest[1:]...) // rest's own closing brace ends b
		return b, nil
	}
	return append(b, '}'), nil
}

// unsupported answers the requests no other transport takes, last in line: another content type
// is 415 and another method 405, with a coded error instead of gqlgen's bare "transport not
// supported".
type unsupported struct{}

func (unsupported) Supports(*http.Request) bool { return true }

func (unsupported) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	status, msg := http.StatusUnsupportedMediaType, "send the request as application/json (or multipart/form-data to upload a file)"
	if r.Method != http.MethodPost {
		status, msg = http.StatusMethodNotAllowed, "use POST, or GET for queries and subscriptions"
		w.Header().Set("Allow", "GET, POST, PUT, DELETE")
	}
	httpx.WriteError(w, r, status, apperr.CodeBadRequest, msg, nil)
}
