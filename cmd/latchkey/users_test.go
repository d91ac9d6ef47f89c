package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// usersConfig writes a config file with realm rl_a (password_min_length 10)
// and returns its path.
func usersConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "latchkey.yaml")
	key, err := config.GenerateKey(config.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := config.EncodePrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	testConfigFile(t, path, string(pemBytes), false, "c1")
	return path
}

// TestUsersCLI runs the users commands end to end on SQLite and, when
// LATCHKEY_TEST_MYSQL_DSN is set, on MySQL (through the LATCHKEY_DATABASE_*
// overrides).
func TestUsersCLI(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testUsersCLI(t, usersConfig(t)) })
	t.Run("mysql", func(t *testing.T) {
		dsn := storagetest.MySQLDSN(t)
		t.Setenv(config.EnvDatabaseDriver, "mysql")
		t.Setenv(config.EnvDatabaseDSN, dsn)
		testUsersCLI(t, usersConfig(t))
	})
}

func testUsersCLI(t *testing.T, cfg string) {
	const password = "zq8Lw2mR4t-blue"
	users := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, stdin, append(append([]string{"users"}, args...), "--config", cfg)...)
	}

	// create prints the id on its last line.
	code, out, errOut := users(password+"\n", "create", "--realm", "rl_a", "--username", "Sally", "--email", "sally@example.com", "--role", "admin")
	if code != 0 {
		t.Fatalf("create: exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	id := lines[len(lines)-1]
	if !regexp.MustCompile(`^usr_[0-9A-Za-z]{22}$`).MatchString(id) {
		t.Fatalf("create's last line %q is not a usr_ id (stdout %q)", id, out)
	}
	if errOut != "" {
		t.Errorf("create wrote to stderr: %q", errOut)
	}

	// list shows it.
	code, out, _ = users("", "list", "--realm", "rl_a")
	if code != 0 || !regexp.MustCompile(id+`\s+Sally\s+sally@example.com\s+admin\s+active\s`).MatchString(out) {
		t.Fatalf("list: exit %d:\n%s", code, out)
	}
	if !strings.HasPrefix(out, "ID ") {
		t.Errorf("list has no header:\n%s", out)
	}

	// A duplicate username, in another case, is refused.
	code, _, errOut = users(password, "create", "--realm", "rl_a", "--username", "SALLY")
	if code != 1 || !strings.Contains(errOut, "username is already taken in realm rl_a") || strings.Count(errOut, "\n") != 1 || strings.Contains(errOut, "accounts:") {
		t.Fatalf("duplicate username: exit %d, stderr %q; want 1 and one line saying it is taken", code, errOut)
	}

	// deactivate, activate, set-password.
	if code, out, errOut := users("", "deactivate", "--realm", "rl_a", "--username", "sally"); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("deactivate: exit %d, %q %q", code, out, errOut)
	}
	if _, out, _ := users("", "list", "--realm", "rl_a"); !strings.Contains(out, "deactivated") {
		t.Fatalf("list after deactivate:\n%s", out)
	}
	if code, _, errOut := users("", "activate", "--realm", "rl_a", "--email", "SALLY@example.com"); code != 0 {
		t.Fatalf("activate by e-mail: exit %d, %q", code, errOut)
	}
	const newPassword = "blue-ocean-42-zq8"
	if code, out, errOut := users(newPassword+"\r\n", "set-password", "--realm", "rl_a", "--username", "sally"); code != 0 || !strings.Contains(out, "password set") {
		t.Fatalf("set-password: exit %d, %q %q", code, out, errOut)
	}
	checkLogin(t, cfg, "sally", newPassword, nil)
	checkLogin(t, cfg, "sally", password, accounts.ErrInvalidCredentials)

	// Errors: one line on stderr each; 2 for the command line and values,
	// 1 for the database's state.
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"no realm", password, []string{"create", "--username", "bob"}, 2, "--realm is required"},
		{"unknown realm", password, []string{"create", "--realm", "rl_nope", "--username", "bob"}, 2, `realm "rl_nope" is not in the config`},
		{"no username", password, []string{"create", "--realm", "rl_a"}, 2, "give --username"},
		{"no password on stdin", "", []string{"create", "--realm", "rl_a", "--username", "bob"}, 2, "no password on stdin"},
		{"weak password", "password123", []string{"create", "--realm", "rl_a", "--username", "bob"}, 2, "password"},
		{"short password", "x", []string{"create", "--realm", "rl_a", "--username", "bob"}, 2, "at least 10 characters"},
		{"invalid email", password, []string{"create", "--realm", "rl_a", "--username", "bob", "--email", "bob"}, 2, "does not look like an e-mail"},
		{"password as an argument", "", []string{"create", "--realm", "rl_a", "--username", "bob", password}, 2, "accepts 0 arg"},
		{"password flag", "", []string{"create", "--realm", "rl_a", "--username", "bob", "--password", password}, 2, "unknown flag"},
		{"unknown user", "", []string{"deactivate", "--realm", "rl_a", "--username", "nobody"}, 1, `no user "nobody" in realm rl_a`},
		{"neither username nor email", "", []string{"activate", "--realm", "rl_a"}, 2, "give --username or --email"},
		{"both username and email", "", []string{"activate", "--realm", "rl_a", "--username", "sally", "--email", "sally@example.com"}, 2, "give only one of --username and --email"},
		{"set-password of an unknown user", password, []string{"set-password", "--realm", "rl_a", "--username", "nobody"}, 1, "no user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := users(tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want %d containing %q", code, errOut, tc.code, tc.msg)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "latchkey: ") {
				t.Errorf("stderr is not one line: %q", errOut)
			}
			if out != "" {
				t.Errorf("stdout %q on error", out)
			}
			if strings.Contains(errOut, password) {
				t.Error("the password reached stderr")
			}
			for _, internal := range []string{"accounts:", "storage:", "create user:"} {
				if strings.Contains(errOut, internal) {
					t.Errorf("stderr %q carries the internal prefix %q", errOut, internal)
				}
			}
		})
	}
	if _, out, _ := users("", "list", "--realm", "rl_a"); strings.Count(out, "\n") != 2 {
		t.Errorf("a failed command created a user:\n%s", out)
	}
}

// checkLogin opens the config's database and runs the password check.
func checkLogin(t *testing.T, cfg, login, password string, want error) {
	t.Helper()
	snap, err := config.Load(cfg, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(context.Background(), snap.Database.Driver, snap.Database.DSN, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := accounts.New(store, accounts.Options{})
	svc.SetPolicy(snap.Passwords)
	if _, err := svc.VerifyPassword(t.Context(), snap.Realm("rl_a"), login, password); !errors.Is(err, want) {
		t.Fatalf("VerifyPassword(%s) = %v, want %v", login, err, want)
	}
}

func TestUsersHelpShowsExamples(t *testing.T) {
	for _, sub := range []string{"create", "list", "activate", "deactivate", "set-password"} {
		code, out, _ := runCLI(t, "", "users", sub, "--help")
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "latchkey users "+sub) {
			t.Errorf("users %s --help: exit %d, no example:\n%s", sub, code, out)
		}
	}
}

// TestUsersWithoutConfig: without --config, the users commands use the
// development config only where `latchkey serve` made it; anywhere else they
// exit 2 with what to pass, and create nothing.
func TestUsersWithoutConfig(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{
		{"users", "list", "--realm", "rl_demo"},
		{"users", "deactivate", "--realm", "rl_demo", "--username", "demo"},
		{"users", "create", "--realm", "rl_demo", "--username", "sally"},
	} {
		code, out, errOut := runCLI(t, "zq8Lw2mR4t-blue", args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, "pass --config FILE") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and one line saying to pass --config", args, code, out, errOut)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the users commands wrote %d entries into the directory; want none", len(entries))
	}

	// Where the development config exists, they use it.
	if _, _, err := config.LoadDev(filepath.Join(dir, devDataDir), nil); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "", "users", "list", "--realm", "rl_demo"); code != 0 || !strings.HasPrefix(out, "ID ") {
		t.Fatalf("with ./data: exit %d, %q %q", code, out, errOut)
	}
}

func TestUsersRoleIsFreeText(t *testing.T) {
	code, out, _ := runCLI(t, "", "users", "create", "--help")
	if code != 0 || !strings.Contains(out, "free text") {
		t.Errorf("users create --help does not say what a role is:\n%s", out)
	}
}
