package store

import "testing"

func TestASCIILower(t *testing.T) {
	for in, want := range map[string]string{
		"Alice@Example.COM":     "alice@example.com",
		"alice":                 "alice",
		"\u212Aate@x":           "\u212Aate@x", // Kelvin sign stays: not k
		"\u017Fam":              "\u017Fam",    // long s stays: not s
		"\u0130lker":            "\u0130lker",  // dotted I stays: not i
		"J\u00d6RG@Example.org": "j\u00d6rg@example.org",
		"":                      "",
	} {
		if got := ASCIILower(in); got != want {
			t.Errorf("ASCIILower(%q) = %q, want %q", in, got, want)
		}
	}
}
