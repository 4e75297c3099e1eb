package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeListsMessageTypes: every message_type a command's --json
// output can carry is named in the README's paragraph on --json, which
// scripts dispatch on. The values are read from the code: a literal
// given to a "message_type" map key or a MessageType field, by name or by
// position, or a parameter of the function that builds the line,
// followed to the literals its callers pass. A value it cannot follow
// fails the test, so a new kind of line cannot slip past it.
func TestReadmeListsMessageTypes(t *testing.T) {
	types := messageTypes(t)
	if len(types) < 20 {
		t.Fatalf("found only %d message types in the code: %v", len(types), types)
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	para := ""
	for _, p := range strings.Split(string(b), "\n- ") {
		if strings.HasPrefix(p, "`--json` prints one JSON object per line") {
			para = p
		}
	}
	if para == "" {
		t.Fatal("the README has no item starting \"- `--json` prints one JSON object per line\"")
	}
	var missing []string
	for _, mt := range types {
		if !strings.Contains(para, "`"+mt+"`") {
			missing = append(missing, mt)
		}
	}
	if len(missing) > 0 {
		t.Errorf("the README's --json paragraph does not name the message_type %s (the code emits %s)", strings.Join(missing, ", "), strings.Join(types, ", "))
	}
}

// messageTypes returns, sorted, every message_type value in this
// package's non-test code.
func messageTypes(t *testing.T) []string {
	fset := token.NewFileSet()
	names, _ := filepath.Glob("*.go")
	var files []*ast.File
	structs := map[string]*ast.StructType{} // the package's struct types
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					structs[ts.Name.Name] = st
				}
			}
			return true
		})
	}
	found := map[string]bool{}
	// params: function name -> index of the parameter that is a message_type.
	params := map[string]int{}
	var unresolved []ast.Expr
	value := func(e ast.Expr, stack []ast.Node) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, _ := strconv.Unquote(lit.Value)
			found[s] = true
			return
		}
		if id, ok := e.(*ast.Ident); ok {
			if name, i := paramOf(id.Name, stack); name != "" {
				params[name] = i
				return
			}
		}
		unresolved = append(unresolved, e)
	}
	for _, f := range files {
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			stack = append(stack, n)
			cl, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			for _, el := range cl.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					switch k := kv.Key.(type) {
					case *ast.BasicLit:
						if k.Value == `"message_type"` {
							value(kv.Value, stack)
						}
					case *ast.Ident:
						if k.Name == "MessageType" {
							value(kv.Value, stack)
						}
					}
				}
			}
			// {"summary", st} for a struct whose first field is MessageType
			var st *ast.StructType
			switch ty := cl.Type.(type) {
			case *ast.StructType:
				st = ty
			case *ast.Ident:
				st = structs[ty.Name]
			}
			if st != nil && len(cl.Elts) > 0 && len(st.Fields.List) > 0 {
				if _, named := cl.Elts[0].(*ast.KeyValueExpr); !named {
					if fn := st.Fields.List[0].Names; len(fn) > 0 && fn[0].Name == "MessageType" {
						value(cl.Elts[0], stack)
					}
				}
			}
			return true
		})
	}
	// The literals passed for those parameters, by a function's or a
	// method's callers.
	called := map[string]bool{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var name string
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				name = fn.Name
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			default:
				return true
			}
			if i, ok := params[name]; ok && i < len(call.Args) {
				called[name] = true
				value(call.Args[i], nil)
			}
			return true
		})
	}
	for name := range params {
		if !called[name] {
			t.Errorf("%s takes a message_type, but no call of it was found to read the values from", name)
		}
	}
	for _, e := range unresolved {
		t.Errorf("%s: cannot tell which message_type this gives: make it a literal, or a parameter of a function called with literals", fset.Position(e.Pos()))
	}
	var out []string
	for mt := range found {
		out = append(out, mt)
	}
	sort.Strings(out)
	return out
}

// paramOf finds the innermost function on stack with a parameter called
// name, and returns the function's name (a declared function's, or the
// variable a function literal is assigned to) and the parameter's index.
func paramOf(name string, stack []ast.Node) (string, int) {
	for i := len(stack) - 1; i >= 0; i-- {
		var ft *ast.FuncType
		fname := ""
		switch fn := stack[i].(type) {
		case *ast.FuncDecl:
			ft, fname = fn.Type, fn.Name.Name
		case *ast.FuncLit:
			ft = fn.Type
			if i > 0 {
				if as, ok := stack[i-1].(*ast.AssignStmt); ok && len(as.Lhs) == 1 {
					if id, ok := as.Lhs[0].(*ast.Ident); ok {
						fname = id.Name
					}
				}
			}
		default:
			continue
		}
		idx := 0
		for _, field := range ft.Params.List {
			for _, n := range field.Names {
				if n.Name == name {
					if fname == "" {
						return "", 0
					}
					return fname, idx
				}
				idx++
			}
		}
	}
	return "", 0
}

// TestReadmeListsSummaryNames: the names a snapshot's --json summary adds
// for scripts written for restic (summaryJSON's own fields) are named in
// the README's --json paragraph, beside the stored names they repeat.
func TestReadmeListsSummaryNames(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	para := ""
	for _, p := range strings.Split(string(b), "\n- ") {
		if strings.HasPrefix(p, "`--json` prints one JSON object per line") {
			para = p
		}
	}
	ty := reflect.TypeOf(summaryJSON{})
	for i := 0; i < ty.NumField(); i++ {
		f := ty.Field(i)
		if f.Anonymous {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !strings.Contains(para, "`"+name+"`") {
			t.Errorf("the README's --json paragraph does not name the snapshot summary's %s", name)
		}
	}
}
