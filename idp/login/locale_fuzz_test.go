package login

import (
	"regexp"
	"strings"
	"testing"
)

// rfcLanguagePart is one element of a well-formed Accept-Language list
// (RFC 9110 12.4.2 and 12.5.4): a language range and an optional weight,
// whose qvalue is 0 to 1 with at most three decimals.
var rfcLanguagePart = regexp.MustCompile(`^[ \t]*(\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)(?:[ \t]*;[ \t]*[qQ]=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?))?[ \t]*$`)

// thousandths reads a well-formed qvalue digit by digit, so the oracle
// shares no number parsing with the code under test.
func thousandths(qv string) int {
	if qv == "" {
		return 1000
	}
	n, scale := 0, 1000
	for _, c := range qv {
		if c == '.' {
			continue
		}
		n += int(c-'0') * scale
		scale /= 10
	}
	return n
}

// FuzzAcceptLanguage: on a well-formed header (every part matches the
// RFC grammar, at most maxLocaleHints parts) the language picked is the
// supported one that the range of highest weight names, the first such on
// a tie, with "*" and q=0 ignored; that oracle parses the header its own
// way. On any header the pick is "" or a supported language.
func FuzzAcceptLanguage(f *testing.F) {
	for _, h := range []string{"", "*", "de;q=0", "it, fr;q=0.1", "en;q=0.5, de;q=0.9", "en;q=bad, fr", "DE-de", "fr;q=0.8, de;q=0.8, en;q=0.1",
		"de;q=0.5, en;q=NaN, fr;q=0.9", "fr;q=NaN, de", "en;q=Inf, de;q=1", "pt_BR;q=0.3, pt", "de ; q = 0.7 , fr;q=0.71", strings.Repeat("xx,", 40) + "fr",
		"en;Q=0.2, de;q=0.3", "fr;q=1.000, de;q=0.999", "pt-BR;q=0.001, en;q=0"} {
		f.Add(h)
	}
	sup := []string{"en", "de", "fr", "pt-BR"}
	f.Fuzz(func(t *testing.T, header string) {
		got := acceptLanguage(sup, header)
		if got != "" && matchLocale(sup, got) != got {
			t.Fatalf("%q: %q is not a supported language", header, got)
		}
		parts := strings.Split(header, ",")
		if header == "" || len(parts) > maxLocaleHints {
			return
		}
		want, best := "", 0
		for _, part := range parts {
			m := rfcLanguagePart.FindStringSubmatch(part)
			if m == nil {
				return // not well-formed: only the property above holds
			}
			q := thousandths(m[2])
			if m[1] == "*" || q == 0 {
				continue
			}
			if l := matchLocale(sup, m[1]); l != "" && q > best {
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
		"en;Q=0.2, de;q=0.3, fr;Q=0.4": "fr", // "Q=" was read as no weight, so q=1
	} {
		if got := acceptLanguage(sup, header); got != want {
			t.Errorf("%q: got %q, want %q", header, got, want)
		}
	}
}
