package login

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// FuzzAcceptLanguage: the language picked from a browser's
// Accept-Language is the supported one that the tag of highest quality
// names (the first such tag on a tie), among the first maxLocaleHints
// parts; "*", q=0 and qualities that are not numbers are ignored.
func FuzzAcceptLanguage(f *testing.F) {
	for _, h := range []string{"", "*", "de;q=0", "it, fr;q=0.1", "en;q=0.5, de;q=0.9", "en;q=bad, fr", "DE-de", "fr;q=0.8, de;q=0.8, en;q=0.1",
		"de;q=0.5, en;q=NaN, fr;q=0.9", "fr;q=NaN, de", "en;q=Inf, de;q=1", "pt_BR;q=0.3, pt", "de ; q = 0.7 , fr;q=0.71", strings.Repeat("xx,", 40) + "fr"} {
		f.Add(h)
	}
	sup := []string{"en", "de", "fr", "pt-BR"}
	f.Fuzz(func(t *testing.T, header string) {
		got := acceptLanguage(sup, header)
		want, best := "", math.Inf(-1)
		for _, part := range strings.SplitN(header, ",", maxLocaleHints) {
			tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			q := 1.0
			if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || math.IsNaN(f) {
					continue
				}
				q = f
			}
			tag = strings.TrimSpace(tag)
			if tag == "" || tag == "*" || q <= 0 {
				continue
			}
			if l := matchLocale(sup, tag); l != "" && q > best {
				want, best = l, q
			}
		}
		if got != want {
			t.Fatalf("%q: %q, want %q", header, got, want)
		}
	})
}

// q=NaN parsed as a quality, and NaN compares false with every other:
// sorted among them it left "de;q=0.5" ahead of "fr;q=0.9". A quality
// that is not a number is ignored now, as "q=bad" was.
func TestAcceptLanguageNaNQuality(t *testing.T) {
	sup := []string{"en", "de", "fr"}
	for header, want := range map[string]string{
		"de;q=0.5, en;q=NaN, fr;q=0.9": "fr",
		"fr;q=NaN, de":                 "de",
		"en;q=nan":                     "",
	} {
		if got := acceptLanguage(sup, header); got != want {
			t.Errorf("%q: got %q, want %q", header, got, want)
		}
	}
}
