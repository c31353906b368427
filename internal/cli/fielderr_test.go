package cli

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestFieldFlagsCoverValidate: every field engine and fetch can name in a
// *fetch.FieldError has an entry in fieldFlags, so that a new check cannot
// show a CLI user a Go field name instead of a flag; and every entry is
// still named by some check. It reads the checks from the source: each
// calls fieldError with the field's name as a literal, or sets a
// FieldError's Field to a literal.
func TestFieldFlagsCoverValidate(t *testing.T) {
	t.Parallel()
	found := map[string]bool{}
	for _, pkg := range []struct{ dir, prefix string }{{"engine", ""}, {"fetch", "Request."}} {
		files, err := filepath.Glob(filepath.Join("..", "..", pkg.dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no source (%v)", pkg.dir, err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				var lit ast.Expr
				switch n := n.(type) {
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "fieldError" && len(n.Args) > 0 {
						lit = n.Args[0]
					}
				case *ast.KeyValueExpr:
					if id, ok := n.Key.(*ast.Ident); ok && id.Name == "Field" {
						lit = n.Value
					}
				}
				if lit == nil {
					return true
				}
				if b, ok := lit.(*ast.BasicLit); ok && b.Kind == token.STRING {
					s, _ := strconv.Unquote(b.Value)
					found[pkg.prefix+s] = true
				}
				return true
			})
		}
	}
	// As many as there are checks today: fewer means the scan above no
	// longer sees them (a helper renamed), not that they are gone.
	if len(found) < len(fieldFlags) {
		t.Errorf("found %d fields named in engine and fetch, want at least %d: %v", len(found), len(fieldFlags), found)
	}
	for f := range found {
		if _, ok := fieldFlags[f]; !ok {
			t.Errorf("%s can be named by Validate but has no entry in fieldFlags: add its flag (or \"\" if no flag sets it)", f)
		}
	}
	for f := range fieldFlags {
		if !found[f] {
			t.Errorf("fieldFlags has %s, which no check names", f)
		}
	}
}

// TestValidateErrorsNameFlags: the CLI reports engine's and fetch's
// configuration errors, which name Go fields, with the flag that set the
// field, as before the library named fields.
func TestValidateErrorsNameFlags(t *testing.T) {
	t.Parallel()
	target := "http://127.0.0.1:1/" // never fetched: the flags are refused first
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-c", "0", "--per-host", "0"}, "fanout: --concurrency must be at least 1, got 0\nfanout: --per-host must be at least 1, got 0\n"},
		{[]string{"--rate", "-1"}, "fanout: --rate must be a number not below 0 (0 is unlimited), got -1\n"},
		{[]string{"--host-rate", "NaN"}, "fanout: --host-rate must be a number not below 0 (0 is unlimited), got NaN\n"},
		{[]string{"--window", "-1"}, "fanout: --window must not be negative, got -1\n"},
		{[]string{"--retries", "-1"}, "fanout: --retries must not be negative, got -1\n"},
		{[]string{"--max-retry-wait", "-1s"}, "fanout: --max-retry-wait must not be negative, got -1s\n"},
		{[]string{"-X", "G T"}, "fanout: -X \"G T\" is not a valid HTTP method\n"},
		{[]string{"-H", "X-A: a\x01b"}, "fanout: -H \"X-A\": the value has a control character \"\\x01\" at byte 1\n"},
		{[]string{"-A", "a\x01b"}, "fanout: --user-agent \"a\\x01b\": invalid header value\n"},
		{[]string{"-x", "ftp://127.0.0.1:21"}, "fanout: --proxy \"ftp://127.0.0.1:21\": scheme must be http, https or socks5\n"},
		{[]string{"--max-redirects", "-1"}, "fanout: --max-redirects must not be negative (got -1)\n"},
		{[]string{"--timeout", "0", "--connect-timeout", "0"}, "fanout: --timeout must be positive (got 0s)\nfanout: --connect-timeout must be positive (got 0s)\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runCLI(t, "", append(append([]string{"-q"}, tc.args...), target)...)
			if code != ExitUsage || !strings.HasPrefix(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, ExitUsage, tc.want)
			}
		})
	}
}
