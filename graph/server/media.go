package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/agora/agora/internal/apperr"
	"github.com/agora/agora/internal/httpx"
	"github.com/agora/agora/internal/media"
)

// uploadBodyBytes bounds a multipart request: one image at its limit plus the operation and map
// parts (AGORA_MAX_BODY_BYTES).
func (a *App) uploadBodyBytes() int64 { return a.cfg.Media.MaxBytes + a.cfg.HTTP.MaxBodyBytes }

// multipart reports whether r is a multipart/form-data POST: an upload by the GraphQL multipart
// request spec.
func multipart(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return r.Method == http.MethodPost && err == nil && mt == "multipart/form-data"
}

// limitUploads sends uploads to uploads with a body of at most max bytes, streamed rather than
// read into memory (413 PAYLOAD_TOO_LARGE at once when Content-Length says more), and every
// other request to other.
func limitUploads(max int64, other, uploads http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !multipart(r) {
			other.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			httpx.WriteError(w, r, http.StatusRequestEntityTooLarge, apperr.CodePayloadTooLarge,
				fmt.Sprintf("the upload is larger than %d bytes", max), map[string]any{"limit": "maxBytes", "max": max})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		uploads.ServeHTTP(w, r)
	})
}

// serveMedia serves image files under /media/. A public image's go to anyone, cacheable by
// browsers forever (its files never change under their key) and by shared caches for shared
// (s-maxage): then a CDN asks again with If-None-Match and gets 304 while the image is public, 404
// once it is not (hidden, its post hidden or made members-only). Any other's go only with a valid
// signed URL, cacheable by that browser until the URL expires. Files are sent as stored, with
// their type and nosniff, and a policy that runs nothing in them.
func serveMedia(images *media.Service, shared time.Duration, log *slog.Logger) http.Handler {
	public := "public, max-age=31536000, s-maxage=" + strconv.Itoa(int(shared.Seconds())) + ", immutable"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httpx.WriteError(w, r, http.StatusMethodNotAllowed, apperr.CodeBadRequest, "use GET", nil)
			return
		}
		key := strings.TrimPrefix(r.URL.Path, media.Prefix)
		f, err := images.Lookup(r.Context(), key, r.URL.Query())
		if err != nil {
			log.ErrorContext(r.Context(), "media: lookup failed", "err", err, "key", key)
			httpx.WriteError(w, r, http.StatusInternalServerError, apperr.CodeInternal, "internal error", nil)
			return
		}
		if f == nil {
			httpx.WriteError(w, r, http.StatusNotFound, apperr.CodeNotFound, "no such image, or not yours to see: ask the API for a fresh URL", nil)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.ContentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		// A file never changes under its key: its name is its version.
		etag := `"` + strings.ReplaceAll(strings.TrimPrefix(path.Dir(key), "images/"), "/", "-") + "-" + path.Base(key) + `"`
		h.Set("ETag", etag)
		if f.Public {
			h.Set("Cache-Control", public)
		} else {
			h.Set("Cache-Control", "private, max-age="+strconv.Itoa(max(0, int(time.Until(f.Expires).Seconds()))))
		}
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body, size, err := images.Store().Get(r.Context(), f.Key)
		if errors.Is(err, media.ErrNotExist) {
			h.Del("Cache-Control")
			httpx.WriteError(w, r, http.StatusNotFound, apperr.CodeNotFound, "no such image", nil)
			return
		}
		if err != nil {
			log.ErrorContext(r.Context(), "media: read failed", "err", err, "key", key)
			h.Del("Cache-Control")
			httpx.WriteError(w, r, http.StatusBadGateway, apperr.CodeUnavailable, "the image store did not answer: retry later", nil)
			return
		}
		defer body.Close()
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = io.Copy(w, body)
	})
}
