package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/secrethash"
	"github.com/latchkey/latchkey/storage/storagetest"
)

// TestMain runs the tests and, when the MariaDB/MySQL ones were skipped
// (LATCHKEY_TEST_MYSQL_DSN not set), says so in one line, even without -v.
func TestMain(m *testing.M) { storagetest.Main(m) }

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"help", []string{"--help"}, 0},
		{"unknown command", []string{"frobnicate"}, 2},
		{"unknown flag", []string{"serve", "--nope"}, 2},
		{"missing config file", []string{"config", "check", "/nonexistent/latchkey.yaml"}, 2},
		{"config check without a file", []string{"config", "check"}, 2},
		{"keys generate with a bad alg", []string{"keys", "generate", "--alg", "HS256"}, 2},
		{"keys generate without --alg", []string{"keys", "generate"}, 2},
		{"serve with a bad log level", []string{"serve", "--log-level", "loud"}, 2},
		{"keys generate with an unknown use", []string{"keys", "generate", "--alg", "ES256", "--use", "tls"}, 2},
		{"keys generate of an RS256 credential key", []string{"keys", "generate", "--alg", "RS256", "--use", "credential"}, 2},
		{"version", []string{"version"}, 0},
		{"--version", []string{"--version"}, 0},
		{"healthcheck with a bad address", []string{"healthcheck", "--address", "nowhere"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, stderr := runCLI(t, "", tc.args...); code != tc.code {
				t.Fatalf("exit %d; want %d (stderr %q)", code, tc.code, stderr)
			}
		})
	}
}

func TestHelpShowsExamples(t *testing.T) {
	for _, cmd := range [][]string{{"serve"}, {"migrate"}, {"config", "check"}, {"keys", "generate"}, {"secret", "hash"}, {"version"}, {"healthcheck"}} {
		_, out, _ := runCLI(t, "", append(cmd, "--help")...)
		if !strings.Contains(out, "Examples:") || !strings.Contains(out, "latchkey "+cmd[0]) {
			t.Errorf("%v --help has no example:\n%s", cmd, out)
		}
	}
}

func TestSecretHash(t *testing.T) {
	long := strings.Repeat("s", 40)
	code, out, _ := runCLI(t, long+"\n", "secret", "hash")
	if code != 0 || !strings.HasPrefix(out, "sha256:") {
		t.Fatalf("exit %d, %q", code, out)
	}
	if ok, _ := secrethash.Verify(strings.TrimSpace(out), long); !ok {
		t.Fatal("the hash does not verify the secret with its trailing newline dropped")
	}
	if _, out, _ := runCLI(t, "short\n", "secret", "hash"); !strings.HasPrefix(out, "$argon2id$") {
		t.Fatalf("short secret: %q; want argon2id", out)
	}
	_, out, _ = runCLI(t, "", "secret", "hash", "--generate")
	m := regexp.MustCompile(`secret: (lk_\S{43})\nsecret_hash: (sha256:[0-9a-f]{64})\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("--generate output: %q", out)
	}
	if ok, _ := secrethash.Verify(m[2], m[1]); !ok {
		t.Fatal("generated secret does not match its hash")
	}
}

// TestKeysGenerateUse: the snippet is the one for the use asked, and only it.
func TestKeysGenerateUse(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"--alg", "ES256"}, "signing_keys:\n  - kid: ", "public_keys:"},
		{[]string{"--alg", "RS256", "--use", "environment"}, "# Config snippet for an environment's public_keys", "signing_keys:"},
		{[]string{"--alg", "EdDSA", "--use", "client"}, "# Config snippet for a client's public_keys (auth_method: private_key_jwt)", "signing_keys:"},
		{[]string{"--alg", "ES256", "--use", "credential"}, "# Config snippet for an API credential's public_keys", "signing_keys:"},
	} {
		code, out, errOut := runCLI(t, "", append([]string{"keys", "generate"}, tc.args...)...)
		if code != 0 || !strings.Contains(out, tc.want) || strings.Contains(out, tc.not) {
			t.Errorf("%v: exit %d (%q); want %q and no %q in:\n%s", tc.args, code, errOut, tc.want, tc.not, out)
		}
		if m := regexp.MustCompile(`public_keys: \[\{kid: \S+, alg: (\w+), pem: "([^"]+)"\}\]`).FindStringSubmatch(out); m != nil {
			pub, err := config.ParsePublicKeyPEM([]byte(strings.ReplaceAll(m[2], `\n`, "\n")))
			if err != nil || config.CheckKeyAlg(m[1], pub) != nil {
				t.Errorf("%v: the snippet's key does not parse as a %s public key: %v", tc.args, m[1], err)
			}
		} else if tc.not == "signing_keys:" {
			t.Errorf("%v: no public_keys snippet in:\n%s", tc.args, out)
		}
	}
}

func TestKeysGenerate(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		code, out, _ := runCLI(t, "", "keys", "generate", "--alg", alg)
		if code != 0 {
			t.Fatalf("%s: exit %d", alg, code)
		}
		start := strings.Index(out, "-----BEGIN PRIVATE KEY-----")
		end := strings.Index(out, "-----END PRIVATE KEY-----")
		if start < 0 || end < 0 {
			t.Fatalf("%s: no private key PEM in %q", alg, out)
		}
		key, err := config.ParsePrivateKeyPEM([]byte(out[start : end+len("-----END PRIVATE KEY-----")]))
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		kid, _ := config.Thumbprint(key.Public())
		if !strings.Contains(out, "kid: "+kid) {
			t.Errorf("%s: snippet does not use the thumbprint kid %s", alg, kid)
		}
	}
}

// testConfigFile writes a config with one client per name in clients (each
// with the returned secret), or with an extra unknown key when broken.
func testConfigFile(t *testing.T, path, keyPEM string, broken bool, clients ...string) map[string]string {
	t.Helper()
	secrets := map[string]string{}
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:0\ndatabase: {driver: sqlite, dsn: %q}\n", filepath.Join(filepath.Dir(path), "lk.db"))
	fmt.Fprintf(&b, "signing_keys:\n  - {kid: k1, alg: ES256, pem: %q}\nrealms:\n  - {id: rl_a, name: A}\nclients:\n", keyPEM)
	for _, id := range clients {
		secrets[id] = secrethash.Generate()
		h, _ := secrethash.Hash(secrets[id])
		fmt.Fprintf(&b, "  - {id: %s, realm: rl_a, secret_hash: %q, auth_method: client_secret_basic, grant_types: [client_credentials], scopes: [read]}\n", id, h)
	}
	if broken {
		b.WriteString("colour: blue\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return secrets
}

func waitFor(t *testing.T, log *syncBuffer, pattern string) []string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("log never matched %q:\n%s", pattern, log.String())
	return nil
}

func tokenStatus(t *testing.T, base, id, secret string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeReloadAndShutdown runs the real serve command: SIGHUP with a
// broken file keeps the running config, SIGHUP with a valid one swaps it
// (a removed client stops working at once), and cancelling shuts down
// cleanly with exit 0.
func TestServeReloadAndShutdown(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "latchkey.yaml")
	key, _ := config.GenerateKey(config.AlgES256)
	pemBytes, _ := config.EncodePrivateKeyPEM(key)
	keyPEM := string(pemBytes)
	first := testConfigFile(t, path, keyPEM, false, "one")

	ctx, cancel := context.WithCancel(t.Context())
	log := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", path}, strings.NewReader(""), &bytes.Buffer{}, log)
	}()
	base := "http://" + waitFor(t, log, `msg="latchkey listening" address=http://(127\.0\.0\.1:\d+)`)[1]
	if got := tokenStatus(t, base, "one", first["one"]); got != 200 {
		t.Fatalf("token for client one: %d", got)
	}

	testConfigFile(t, path, keyPEM, true, "one")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, log, `config reload rejected`)
	if got := tokenStatus(t, base, "one", first["one"]); got != 200 {
		t.Fatalf("after a rejected reload, client one gets %d; want the old config in force", got)
	}

	second := testConfigFile(t, path, keyPEM, false, "two")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, log, `msg="config reloaded"`)
	if got := tokenStatus(t, base, "one", first["one"]); got != 401 {
		t.Errorf("removed client one gets %d; want 401", got)
	}
	if got := tokenStatus(t, base, "two", second["two"]); got != 200 {
		t.Errorf("new client two gets %d; want 200", got)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d:\n%s", code, log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(log.String(), "latchkey stopped") {
		t.Errorf("no clean stop in the log:\n%s", log.String())
	}
	for _, s := range []string{first["one"], second["two"]} {
		if strings.Contains(log.String(), s) {
			t.Fatal("a client secret reached the log")
		}
	}
}

// TestVersion: version and --version print the same, from the build
// information (go test binaries have no VCS stamp, and say so).
func TestVersion(t *testing.T) {
	_, out, _ := runCLI(t, "", "version")
	_, flag, _ := runCLI(t, "", "--version")
	if out != flag {
		t.Errorf("version %q and --version %q differ", out, flag)
	}
	for _, want := range []string{"latchkey ", "\ncommit:  ", "\ngo:      go1."} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
	v := versionInfo{Version: "v1.2.3", Commit: "abc123", Time: "2026-11-21T22:00:07Z", Modified: true, Go: "go1.26.8 linux/amd64"}
	want := "latchkey v1.2.3\ncommit:  abc123, with uncommitted changes\ndate:    2026-11-21T22:00:07Z (of the commit)\ngo:      go1.26.8 linux/amd64\n"
	if got := v.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestHealthcheck probes a server that is ready, one that is not, and an
// address where nothing listens.
func TestHealthcheck(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer ready.Close()
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
	}))
	defer notReady.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedAddr := closed.Listener.Addr().String()
	closed.Close()

	addr := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	if code, out, errOut := runCLI(t, "", "healthcheck", "--address", addr(ready)); code != 0 || !strings.Contains(out, "ready") {
		t.Errorf("ready server: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "", "healthcheck", "--address", addr(notReady)); code != exitRuntime || !strings.Contains(errOut, "503") {
		t.Errorf("unready server: exit %d, %q; want 1 naming the 503", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "healthcheck", "--address", closedAddr, "--timeout", "2s"); code != exitRuntime || !strings.Contains(errOut, "is the server running there?") {
		t.Errorf("no server: exit %d, %q", code, errOut)
	}
	// LATCHKEY_LISTEN is the default, with a wildcard host probed on 127.0.0.1.
	_, port, _ := net.SplitHostPort(addr(ready))
	t.Setenv(config.EnvListen, "0.0.0.0:"+port)
	if code, _, errOut := runCLI(t, "", "healthcheck"); code != 0 {
		t.Errorf("LATCHKEY_LISTEN=0.0.0.0:%s: exit %d, %q", port, code, errOut)
	}
}
