package store

// ASCIILower lower-cases the ASCII letters of s only. Identity strings
// compared for a link or a verification go through it, not strings.ToLower
// or EqualFold, which map non-ASCII letters onto ASCII ones (the Kelvin
// sign onto k, U+0130 onto i, U+017F onto s) and so would take one
// mailbox or name for another.
func ASCIILower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
