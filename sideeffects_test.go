package hookd_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// processWide are the calls that change the whole process; only the
// commands (cmd/, internal/cli) may make them, never library code.
var processWide = map[string]bool{
	"debug.SetGCPercent":   true,
	"debug.FreeOSMemory":   true,
	"debug.SetMemoryLimit": true,
	"runtime.GOMAXPROCS":   true,
}

// TestNoProcessWideState reads every non-test Go file: no init(), no
// exported package variable other than a sentinel error (Err...), and no
// call that changes the runtime's settings outside the commands.
func TestNoProcessWideState(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		command := strings.HasPrefix(p, "cmd"+string(filepath.Separator)) || strings.HasPrefix(p, filepath.Join("internal", "cli")+string(filepath.Separator))
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.Name == "init" {
					t.Errorf("%s: func init(): build the state where it is used instead", fset.Position(d.Pos()))
				}
			case *ast.GenDecl:
				if d.Tok != token.VAR {
					continue
				}
				for _, spec := range d.Specs {
					for _, name := range spec.(*ast.ValueSpec).Names {
						if name.IsExported() && !strings.HasPrefix(name.Name, "Err") {
							t.Errorf("%s: exported package variable %s: make it a function or a constant", fset.Position(name.Pos()), name.Name)
						}
					}
				}
			}
		}
		if command {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && processWide[x.Name+"."+sel.Sel.Name] {
				t.Errorf("%s: %s.%s changes the whole process: leave it to the command", fset.Position(sel.Pos()), x.Name, sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
