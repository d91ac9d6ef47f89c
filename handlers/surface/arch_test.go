package surface_test

import (
	"go/build"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/latchkey/latchkey/"

// imports lists the direct imports of the package in dir (tests excluded).
func imports(t *testing.T, dir string) []string {
	t.Helper()
	pkg, err := build.ImportDir(dir, 0)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return pkg.Imports
}

// The house rules that keep surfaces apart: no surface imports storage or
// another surface, and nothing below the handlers knows gin.
func TestLayering(t *testing.T) {
	root := filepath.Join("..", "..")
	entries, err := os.ReadDir(filepath.Join(root, "handlers"))
	if err != nil {
		t.Fatal(err)
	}
	surfaces := 0
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || slices.Contains([]string{"surface", "grants", "oauth"}, name) {
			continue
		}
		surfaces++
		for _, imp := range imports(t, filepath.Join(root, "handlers", name)) {
			switch {
			case imp == module+"storage" || strings.HasPrefix(imp, module+"storage/"):
				t.Errorf("surface %s imports %s: surfaces reach storage only through core and accounts", name, imp)
			case strings.HasPrefix(imp, module+"handlers/") && imp != module+"handlers/surface":
				t.Errorf("surface %s imports %s: a surface never imports another handlers package", name, imp)
			}
		}
	}
	if surfaces < 3 {
		t.Fatalf("found %d surface packages under handlers/; the test is looking in the wrong place", surfaces)
	}
	for _, pkg := range []string{"config", "storage", "accounts", "inbound", "core"} {
		for _, imp := range imports(t, filepath.Join(root, pkg)) {
			if strings.HasPrefix(imp, "github.com/gin-gonic/") || strings.HasPrefix(imp, module+"handlers") || imp == module+"server" {
				t.Errorf("%s imports %s: it must know nothing of HTTP frameworks or the layers above it", pkg, imp)
			}
		}
	}
}
