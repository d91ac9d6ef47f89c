package storagetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// skipped holds the names of the tests that SkipWithoutMySQL skipped.
var skipped struct {
	sync.Mutex
	names []string
}

// SkipWithoutMySQL skips t when LATCHKEY_TEST_MYSQL_DSN is not set, and
// fails it instead when LATCHKEY_REQUIRE_MYSQL is set. Main reports the
// tests it skipped.
func SkipWithoutMySQL(t testing.TB) {
	t.Helper()
	if os.Getenv(MySQLDSNEnv) != "" {
		return
	}
	if os.Getenv(RequireMySQLEnv) != "" {
		t.Fatalf("%s is set but %s is not: the MariaDB tests must run", RequireMySQLEnv, MySQLDSNEnv)
	}
	skipped.Lock()
	skipped.names = append(skipped.names, t.Name())
	skipped.Unlock()
	t.Skip(MySQLDSNEnv + " not set")
}

// ExampleDSN is the DSN the skip note suggests: a local MariaDB or MySQL
// server's root user (each test creates and drops its own database).
const ExampleDSN = "root@tcp(127.0.0.1:3306)/test?parseTime=true"

// Main is the TestMain of a package with MariaDB/MySQL tests:
//
//	func TestMain(m *testing.M) { storagetest.Main(m) }
//
// It runs the tests and, when some were skipped for want of
// LATCHKEY_TEST_MYSQL_DSN, says so in one line, with the command that runs
// them. go test shows a passing package's output only with -v, so without
// -v the line goes to the terminal (/dev/tty) when there is one.
func Main(m *testing.M) {
	code := m.Run()
	skipped.Lock()
	note := SkipNote(packageDir(), skipped.names)
	skipped.Unlock()
	if note != "" {
		writeNote(note)
	}
	os.Exit(code)
}

// SkipNote is the line Main prints for the tests named in names, skipped in
// the package at dir (like ./storage/); "" when there are none.
func SkipNote(dir string, names []string) string {
	if len(names) == 0 {
		return ""
	}
	const shown = 3
	list := strings.Join(names[:min(shown, len(names))], ", ")
	if len(names) > shown {
		list += fmt.Sprintf(" and %d more", len(names)-shown)
	}
	tests := "tests"
	if len(names) == 1 {
		tests = "test"
	}
	return fmt.Sprintf("%s: %d MariaDB/MySQL %s skipped (%s) because %s is not set; to run them: %s='%s' go test %s",
		strings.TrimSuffix(strings.TrimPrefix(dir, "./"), "/"), len(names), tests, list, MySQLDSNEnv, MySQLDSNEnv, ExampleDSN, dir)
}

// packageDir is the directory of the package under test (go test runs its
// tests there) relative to the module root, like ./storage/.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for root := wd; ; {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			rel, err := filepath.Rel(root, wd)
			if err != nil || rel == "." {
				return "."
			}
			return "./" + filepath.ToSlash(rel) + "/"
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "."
		}
		root = parent
	}
}

// writeNote prints note where the person running the tests sees it: on
// stdout with -v (and -json), else on the terminal, else on stderr (which
// go test shows only for a failing package).
func writeNote(note string) {
	if testing.Verbose() {
		fmt.Println(note)
		return
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		fmt.Fprintln(tty, note)
		tty.Close()
		return
	}
	fmt.Fprintln(os.Stderr, note)
}
