package httpx

import (
	"encoding/json"
	"net/http"
	"strings"
)

// WriteError is the one way a request refused before any GraphQL ran is answered, whoever refuses
// it (a guard here, authentication, a rate limit, the GraphQL server's transports): status, a
// GraphQL response holding one error (ErrorBody), the media type the client accepts
// (application/graphql-response+json when it asks for it, application/json otherwise) and
// Cache-Control: no-store, since a refusal concerns this request only. Headers the caller set
// before (WWW-Authenticate, Retry-After, Allow) are kept. The code is noted for the access log.
// code is one of apperr's Code constants.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, message string, ext map[string]any) {
	Note(r.Context()).Codes(code)
	ct := "application/json; charset=utf-8"
	if strings.Contains(r.Header.Get("Accept"), "application/graphql-response+json") {
		ct = "application/graphql-response+json; charset=utf-8"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(ErrorBody(code, message, ext))
}

// ErrorBody is a GraphQL response holding one error: message, and extensions with code (plus ext).
func ErrorBody(code, message string, ext map[string]any) []byte {
	extensions := make(map[string]any, len(ext)+1)
	for k, v := range ext {
		extensions[k] = v
	}
	extensions["code"] = code
	b, err := json.Marshal(map[string]any{"errors": []any{map[string]any{"message": message, "extensions": extensions}}})
	if err != nil { // an extension that does not marshal: the code and message still reach the client
		b, _ = json.Marshal(map[string]any{"errors": []any{map[string]any{"message": message, "extensions": map[string]any{"code": code}}}})
	}
	return b
}
