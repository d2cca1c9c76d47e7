package admin

// RoutePatterns lists every admin route's ServeMux pattern, for the
// authorization tests.
func RoutePatterns() []string {
	var out []string
	for _, r := range (&API{}).routes() {
		out = append(out, r.pattern)
	}
	return out
}
