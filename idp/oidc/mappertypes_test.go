package oidc

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// The mapper types serverinfo lists are exactly those claims.go runs: a
// type added to one and not the other fails here.
func TestMapperTypesMatchClaims(t *testing.T) {
	src, err := os.ReadFile("claims.go")
	if err != nil {
		t.Fatal(err)
	}
	var inCode []string
	for _, m := range regexp.MustCompile(`"(oidc-[a-z-]+-mapper)"`).FindAllSubmatch(src, -1) {
		if id := string(m[1]); !slices.Contains(inCode, id) {
			inCode = append(inCode, id)
		}
	}
	var listed []string
	for _, mt := range MapperTypes() {
		if slices.Contains(listed, mt.ID) {
			t.Errorf("%s listed twice", mt.ID)
		}
		listed = append(listed, mt.ID)
		if mt.Name == "" || mt.Category == "" || mt.HelpText == "" || mt.Properties == nil {
			t.Errorf("%s: incomplete: %+v", mt.ID, mt)
		}
	}
	slices.Sort(inCode)
	slices.Sort(listed)
	if !slices.Equal(inCode, listed) {
		t.Errorf("claims.go runs %v\nserverinfo lists %v", inCode, listed)
	}
}
