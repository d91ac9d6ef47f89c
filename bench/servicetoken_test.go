package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeLoginID answers the retrieve of one user and refuses a reused nonce,
// as the server would.
type fakeLoginID struct {
	mu     sync.Mutex
	nonces map[string]bool
}

func (f *fakeLoginID) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(token, ".")
	if r.URL.Path != "/loginid/manage/users/retrieve" || !ok || len(parts) != 3 || r.Header.Get("X-Client-ID") != "cred_demo" {
		http.Error(w, `{"code":"unauthorized","message":"no"}`, http.StatusUnauthorized)
		return
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		ClientID string `json:"client_id"`
		Type     string `json:"type"`
		Nonce    string `json:"nonce"`
		Username string `json:"username"`
	}
	_ = json.Unmarshal(payload, &claims)
	f.mu.Lock()
	reused := f.nonces[claims.Nonce]
	f.nonces[claims.Nonce] = true
	f.mu.Unlock()
	if reused || claims.ClientID != "cred_demo" || claims.Type != "users.retrieve" || claims.Username != "demo" {
		http.Error(w, `{"code":"unauthorized","message":"no"}`, http.StatusUnauthorized)
		return
	}
	_, _ = w.Write([]byte(`{"id":"usr_1","username":"demo","status":"active"}`))
}

func TestServiceTokenScenarioAgainstFakeServer(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "credential-key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DEMO_CREDENTIAL_ID", "cred_demo")
	t.Setenv("DEMO_CREDENTIAL_KEY", keyFile)
	srv := httptest.NewServer(&fakeLoginID{nonces: map[string]bool{}})
	defer srv.Close()
	vars := map[string]string{"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "s", "DEMO_USERNAME": "demo", "DEMO_PASSWORD": "p"}
	var stdout, stderr bytes.Buffer
	args := []string{"-url", srv.URL, "-scenario", "service_token", "-concurrency", "3", "-duration", "50ms", "-warmup", "0", "-db", "fake"}
	if code := run(args, env(vars), &stdout, &stderr); code != 0 {
		t.Fatalf("run exit %d, stderr: %s", code, stderr.String())
	}
	var r result
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &r); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if r.Scenario != "service_token" || r.RPS <= 0 || len(r.Errors) != 0 {
		t.Errorf("result %+v: want requests and no errors (each token new)", r)
	}
}
