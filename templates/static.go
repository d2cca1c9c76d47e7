package templates

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

//go:embed static/style.css
var styleCSS []byte

var styleSum = sha256.Sum256(styleCSS)

// StylesheetPath is where StaticHandler serves the pages' stylesheet; the
// file name carries the first 8 hex digits of the content's SHA-256, so it
// is cached forever and a new build gets a new URL. The server puts it
// (behind any path prefix) into Page.StylesheetURL.
var StylesheetPath = "/resources/keygate/style." + hex.EncodeToString(styleSum[:4]) + ".css"

const stylesheetDir = "/resources/keygate/"

// StaticHandler serves the stylesheet. Mount it at "GET /resources/" (with
// or without http.StripPrefix("/resources", ...)).
//
// StylesheetPath gets Cache-Control immutable for a year. Another
// style.<hash>.css (a page rendered by an older or newer build during a
// rolling upgrade) gets the current stylesheet uncached rather than a 404,
// so the page is never unstyled. Anything else is 404.
func StaticHandler() http.Handler {
	etag := `"` + hex.EncodeToString(styleSum[:]) + `"`
	size := strconv.Itoa(len(styleCSS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if !strings.HasPrefix(p, "/resources/") {
			p = "/resources" + p // mounted under StripPrefix
		}
		name, ok := strings.CutPrefix(p, stylesheetDir)
		if !ok || !strings.HasPrefix(name, "style.") || !strings.HasSuffix(name, ".css") || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", etag)
		if p == StylesheetPath {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", size)
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(styleCSS)
	})
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
