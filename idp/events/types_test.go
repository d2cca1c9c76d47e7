package events

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Types lists every event type constant of events.go.
func TestTypesListed(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "events.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var consts []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING && n.IsExported() {
					v, _ := strconv.Unquote(lit.Value)
					if v == strings.ToUpper(v) {
						consts = append(consts, v)
					}
				}
			}
		}
	}
	slices.Sort(consts)
	if len(consts) == 0 || !slices.Equal(consts, Types()) {
		t.Errorf("events.go declares %v\nTypes lists %v", consts, Types())
	}
}
