package admin

import "net/http"

// WriteMiss answers a request under /admin/ that names no endpoint (404)
// or names one with another method (405) with Keycloak's JSON error, not
// net/http's text: admin clients parse every answer as JSON.
func WriteMiss(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	msg := `{"error":"Unable to find matching target resource method","error_description":"For more on this error consult the server log."}`
	if status == http.StatusMethodNotAllowed {
		msg = `{"error":"HTTP 405 Method Not Allowed","error_description":"For more on this error consult the server log."}`
	}
	_, _ = w.Write([]byte(msg))
}

// serveOrMiss serves r with mux, answering what mux has no route for with
// WriteMiss (keeping the Allow header of a 405).
func serveOrMiss(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	h, pattern := mux.Handler(r)
	if pattern != "" {
		mux.ServeHTTP(w, r)
		return
	}
	rec := &missRecorder{header: http.Header{}, status: http.StatusOK}
	h.ServeHTTP(rec, r)
	if rec.status != http.StatusNotFound && rec.status != http.StatusMethodNotAllowed {
		mux.ServeHTTP(w, r) // a redirect to the clean path, say
		return
	}
	if a := rec.header.Get("Allow"); a != "" {
		w.Header().Set("Allow", a)
	}
	WriteMiss(w, rec.status)
}

// missRecorder keeps the status and headers of net/http's own 404 and 405
// answers and drops their text.
type missRecorder struct {
	header http.Header
	status int
}

func (m *missRecorder) Header() http.Header         { return m.header }
func (m *missRecorder) WriteHeader(code int)        { m.status = code }
func (m *missRecorder) Write(b []byte) (int, error) { return len(b), nil }
