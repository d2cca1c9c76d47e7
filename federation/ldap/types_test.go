package ldap

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"
)

// MapperTypes lists exactly the mapper types parseMappers runs.
func TestMapperTypesMatchParse(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "mapper.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	var cases []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			for i, name := range n.Names {
				if i < len(n.Values) {
					if lit, ok := n.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						consts[name.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		case *ast.FuncDecl:
			if n.Name.Name != "parseMappers" {
				return false
			}
			ast.Inspect(n.Body, func(m ast.Node) bool {
				if cc, ok := m.(*ast.CaseClause); ok {
					for _, e := range cc.List {
						if id, ok := e.(*ast.Ident); ok {
							cases = append(cases, id.Name)
						}
					}
				}
				return true
			})
			return false
		}
		return true
	})
	var run []string
	for _, c := range cases {
		if v, ok := consts[c]; ok {
			run = append(run, v)
		}
	}
	listed := MapperTypes()
	slices.Sort(run)
	slices.Sort(listed)
	if len(run) == 0 || !slices.Equal(run, listed) {
		t.Errorf("parseMappers runs %v\nMapperTypes lists %v", run, listed)
	}
}
