package httpx

import (
	"compress/gzip"
	"net/http"
	"strings"
	"sync"
)

// Compress gzips responses of at least minBytes for clients that accept gzip. Event streams and
// WebSocket upgrades are never compressed (a stream must reach the client as it is written: it
// flushes before min bytes, or is text/event-stream), nor are responses that already carry a
// Content-Encoding. Whatever a request accepts, its answer decides: a client that accepts event
// streams too (urql) has its JSON answers compressed. minBytes 0 turns compression off.
func Compress(minBytes int, next http.Handler) http.Handler {
	if minBytes <= 0 {
		return next
	}
	writers := &sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Accept-Encoding")
		if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
			next.ServeHTTP(w, r)
			return
		}
		gw := &gzipWriter{ResponseWriter: w, min: minBytes, pool: writers}
		defer gw.finish()
		next.ServeHTTP(gw, r)
	})
}

// acceptsGzip reads Accept-Encoding: gzip (or *) with a non-zero quality.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// gzipWriter holds the start of a response until it knows whether it reaches min bytes.
type gzipWriter struct {
	http.ResponseWriter
	min     int
	pool    *sync.Pool
	status  int
	buf     []byte
	decided bool
	gz      *gzip.Writer
}

func (w *gzipWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *gzipWriter) WriteHeader(code int) {
	if w.decided || w.status != 0 {
		if w.decided && w.gz == nil {
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols { // informational: pass on, keep waiting
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
}

func (w *gzipWriter) Write(b []byte) (int, error) {
	if !w.decided {
		w.buf = append(w.buf, b...)
		if len(w.buf) < w.min {
			return len(b), nil
		}
		w.decide(true)
		return len(b), nil
	}
	if w.gz != nil {
		return w.gz.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// decide starts the response, compressed when big says it is large enough and nothing speaks
// against it, and writes what was held back.
func (w *gzipWriter) decide(big bool) {
	w.decided = true
	h := w.Header()
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if big && h.Get("Content-Encoding") == "" && !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") &&
		w.status != http.StatusNoContent && w.status != http.StatusNotModified {
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length")
		w.gz = w.pool.Get().(*gzip.Writer)
		w.gz.Reset(w.ResponseWriter)
	}
	w.ResponseWriter.WriteHeader(w.status)
	if len(w.buf) > 0 {
		if w.gz != nil {
			_, _ = w.gz.Write(w.buf)
		} else {
			_, _ = w.ResponseWriter.Write(w.buf)
		}
	}
	w.buf = nil
}

// Flush sends what is held: a response flushed before min bytes is a stream, sent as it is.
func (w *gzipWriter) Flush() {
	if !w.decided {
		w.decide(false)
	}
	if w.gz != nil {
		_ = w.gz.Flush()
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *gzipWriter) finish() {
	if !w.decided {
		if w.status == 0 && len(w.buf) == 0 {
			return // nothing written: leave the default to net/http
		}
		w.decide(false)
	}
	if w.gz != nil {
		_ = w.gz.Close()
		w.gz.Reset(nil)
		w.pool.Put(w.gz)
		w.gz = nil
	}
}
