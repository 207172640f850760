package httpx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/agora/agora/internal/apperr"
)

// Batch serves array batching: a POST whose JSON body is an array of operations runs each one
// through next, in order, and answers with the array of their responses. With max 0 batching is
// off and such a request is refused with BATCHING_DISABLED; a batch of more than max operations
// with BATCH_TOO_LARGE (both 400). Every operation is checked on its own as if sent alone.
func Batch(max int, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		b, err := Body(r)
		if err != nil || !bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("[")) {
			next.ServeHTTP(w, r)
			return
		}
		var ops []json.RawMessage
		switch err := json.Unmarshal(b, &ops); {
		case max == 0:
			WriteError(w, r, http.StatusBadRequest, apperr.CodeBatchingDisabled, "batched operations are not accepted: send one operation per request", nil)
			return
		case err != nil:
			WriteError(w, r, http.StatusBadRequest, apperr.CodeBadRequest, "the request body is not a JSON array of operations", nil)
			return
		case len(ops) == 0:
			WriteError(w, r, http.StatusBadRequest, apperr.CodeBadRequest, "the batch holds no operation", nil)
			return
		case len(ops) > max:
			WriteError(w, r, http.StatusBadRequest, apperr.CodeBatchTooLarge,
				fmt.Sprintf("a batch holds at most %d operations, this one %d", max, len(ops)), map[string]any{"max": max, "value": len(ops)})
			return
		case r.Header.Get("Accept") != "" && singleAccept(r.Header.Get("Accept")) == "":
			WriteError(w, r, http.StatusBadRequest, apperr.CodeBadRequest, "a batch cannot be answered as an event stream", nil)
			return
		}
		accept := singleAccept(r.Header.Get("Accept"))
		var out bytes.Buffer
		contentType := ""
		out.WriteByte('[')
		for i, op := range ops {
			sub := r.Clone(r.Context())
			sub.Body, sub.ContentLength = newBody(op), int64(len(op))
			sub.Header.Set("Accept", accept) // each answer is one JSON response in the array
			rec := &recorder{header: http.Header{}}
			next.ServeHTTP(rec, sub)
			if i > 0 {
				out.WriteByte(',')
			}
			if json.Valid(rec.body.Bytes()) {
				out.Write(rec.body.Bytes())
			} else { // not a GraphQL response (e.g. a plain-text refusal): report it as one
				out.Write(ErrorBody(apperr.CodeBadRequest, strings.TrimSpace(rec.body.String()), map[string]any{"status": rec.status()}))
			}
			if contentType == "" {
				contentType = rec.header.Get("Content-Type")
			}
		}
		out.WriteByte(']')
		if contentType == "" {
			contentType = "application/json"
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
		_, _ = w.Write(out.Bytes())
	})
}

// singleAccept is an Accept header without its streaming types (text/event-stream, multipart/*):
// what a batch accepts of each of its operations. Clients such as urql name both kinds at once.
func singleAccept(accept string) string {
	var keep []string
	for _, part := range strings.Split(accept, ",") {
		mt := strings.ToLower(strings.TrimSpace(part))
		if mt == "" || strings.HasPrefix(mt, "text/event-stream") || strings.HasPrefix(mt, "multipart/") {
			continue
		}
		keep = append(keep, strings.TrimSpace(part))
	}
	return strings.Join(keep, ", ")
}

// recorder keeps one batched operation's response.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
