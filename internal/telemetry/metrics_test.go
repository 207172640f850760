package telemetry

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// series returns the series of the metric name, by their label values joined with "/".
func series(t *testing.T, m *Metrics, name string) map[string]*dto.Metric {
	t.Helper()
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.Metric{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			var values []string
			for _, l := range s.GetLabel() {
				values = append(values, l.GetValue())
			}
			out[strings.Join(values, "/")] = s
		}
	}
	return out
}

// TestOperationNamesBounded: clients choose operation names, so past MaxOperationNames
// distinct ones (or one too long) they are counted as "other" and add no series.
func TestOperationNamesBounded(t *testing.T) {
	m := New()
	for i := range MaxOperationNames + 50 {
		m.Operation("Op"+strconv.Itoa(i), "query", nil, time.Millisecond)
	}
	m.Operation("Op0", "query", nil, time.Millisecond)                    // known: its own series still
	m.Operation(strings.Repeat("x", 101), "query", nil, time.Millisecond) // too long
	m.Operation("", "mutation", []string{"BAD_USER_INPUT", "INTERNAL_SERVER_ERROR"}, -1)

	requests := series(t, m, "agora_graphql_requests_total")
	if n := len(requests); n != MaxOperationNames+2 { // + other + anonymous
		t.Errorf("%d series, want %d", n, MaxOperationNames+2)
	}
	for key, want := range map[string]float64{"Op0/ok/query": 2, "other/ok/query": 51, "anonymous/server_error/mutation": 1} {
		if s := requests[key]; s == nil || s.GetCounter().GetValue() != want {
			t.Errorf("%s: want %v, got %v", key, want, s)
		}
	}
	if n := len(series(t, m, "agora_graphql_duration_seconds")); n != MaxOperationNames+1 { // an unknown duration is not observed
		t.Errorf("%d latency series, want %d", n, MaxOperationNames+1)
	}
	errs := series(t, m, "agora_graphql_errors_total")
	if len(errs) != 2 || errs["BAD_USER_INPUT"].GetCounter().GetValue() != 1 {
		t.Errorf("errors: %v", errs)
	}
}

// TestMetricsUncompressed: the metrics page is sent as it is, even to a scraper that asks for gzip.
func TestMetricsUncompressed(t *testing.T) {
	m := New()
	m.Operation("Op", "query", nil, time.Millisecond)
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusOK || w.Header().Get("Content-Encoding") != "" ||
		!strings.Contains(w.Body.String(), `agora_graphql_requests_total{operation="Op"`) {
		t.Errorf("%d, Content-Encoding %q:\n%.300s", w.Code, w.Header().Get("Content-Encoding"), w.Body.String())
	}
}
