package idp_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// isStore: x is the store, as keygate's handlers name it (st, a.st, h.st).
func isStore(x ast.Expr) bool {
	switch x := x.(type) {
	case *ast.Ident:
		return x.Name == "st"
	case *ast.SelectorExpr:
		return x.Sel.Name == "st"
	}
	return false
}

// TestSessionsEndThroughOIDC: an SSO session ended on purpose must tell
// its clients (back-channel logout), and only oidc.Provider's End* methods
// (EndSession, EndUserSessions, EndRealmSessions, EndOfflineSession) and its
// RevokeClientGrants (a consent revoked) do. So no code under idp/ calls the
// store's session deletes (offline sessions' too) itself, except inside the func it hands one of
// those (the write that ends the sessions), in idp/oidc/bclogout.go, or in
// the exceptions below.
func TestSessionsEndThroughOIDC(t *testing.T) {
	ending := map[string]bool{"DeleteSession": true, "DeleteUserSessions": true, "DeleteRealmSessions": true, "DeleteUser": true,
		"DeleteOfflineSession": true, "RevokeClientGrants": true}
	enders := map[string]bool{"EndSession": true, "EndUserSessions": true, "EndRealmSessions": true, "EndOfflineSession": true}
	exceptions := map[string]string{
		// Removing a user storage provider, or its imported users: bulk
		// deletes in one transaction, their clients untold (not built).
		"admin/federation.go": "DeleteUser",
		"oidc/bclogout.go":    "*",
	}
	// seen counts the calls let through, so that a walk that finds none
	// (another directory, the store named otherwise) fails rather than
	// passes.
	seen := map[string]int{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			stack = append(stack, n)
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !ending[sel.Sel.Name] || !isStore(sel.X) {
				return true
			}
			if ex := exceptions[filepath.ToSlash(path)]; ex == "*" || ex == sel.Sel.Name {
				seen["excepted"]++
				return true
			}
			// Inside a func literal that is an argument of an End* call?
			for i := len(stack) - 2; i > 0; i-- {
				lit, ok := stack[i].(*ast.FuncLit)
				if !ok {
					continue
				}
				if outer, ok := stack[i-1].(*ast.CallExpr); ok {
					if s, ok := outer.Fun.(*ast.SelectorExpr); ok && enders[s.Sel.Name] {
						for _, a := range outer.Args {
							if a == lit {
								seen["handed to End*"]++
								return true
							}
						}
					}
				}
			}
			t.Errorf("%s: %s called directly: end sessions through oidc.Provider's End* methods, so that their clients are told",
				fset.Position(call.Pos()), sel.Sel.Name)
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"excepted", "handed to End*"} {
		if seen[k] == 0 {
			t.Errorf("no store session delete %s found: the walk does not see keygate's code", k)
		}
	}
}
