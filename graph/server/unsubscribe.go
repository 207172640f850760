package server

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/httpx"
	"github.com/agora/agora/internal/notify"
)

// unsubscribePage is what a person who opened an unsubscribe link sees. GET only shows the button:
// mail scanners follow links, and a GET must change nothing. The button, and the mail client's
// one-click unsubscribe (RFC 8058: a POST with List-Unsubscribe=One-Click), POST the token.
var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Agora: unsubscribe</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">
{{if .Done}}<p>You will get no more mail for {{.Done}}. Change this any time in your notification settings.</p>
{{else}}<p>Stop this kind of notification mail from Agora?</p>
<form method="post"><input type="hidden" name="token" value="{{.Token}}">
<button type="submit" name="List-Unsubscribe" value="One-Click">Unsubscribe</button></form>{{end}}
</body></html>`))

// serveUnsubscribe answers the unsubscribe links of notification mail, signed out: the token is
// the proof.
func serveUnsubscribe(notices *notify.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		var done string
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodPost:
			r.Body = http.MaxBytesReader(w, r.Body, 4096)
			if t := r.PostFormValue("token"); t != "" {
				token = t
			}
			var err error
			if done, err = notices.Unsubscribe(r.Context(), token); errors.Is(err, notify.ErrBadUnsubscribe) {
				httpx.WriteError(w, r, http.StatusBadRequest, apperr.CodeInvalid, "not an unsubscribe link of this server", nil)
				return
			} else if err != nil {
				log.ErrorContext(r.Context(), "unsubscribe failed", "err", err)
				httpx.WriteError(w, r, http.StatusInternalServerError, apperr.CodeInternal, "internal error", nil)
				return
			}
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			httpx.WriteError(w, r, http.StatusMethodNotAllowed, apperr.CodeBadRequest, "use GET or POST", nil)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer") // the token is in the URL
		_ = unsubscribePage.Execute(w, struct{ Token, Done string }{token, done})
	})
}
