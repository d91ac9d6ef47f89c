package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeBrowserSignIn is the part of a Latchkey server the
// authorization_code scenario drives: the login page, the session cookie,
// codes bound to their PKCE challenge, and the token endpoint.
type fakeBrowserSignIn struct {
	mu      sync.Mutex
	logins  int
	codes   map[string]string // code → challenge
	used    int
	bad     []string
	counter int
}

func (f *fakeBrowserSignIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = r.ParseForm()
	switch r.URL.Path {
	case "/oauth2/authorize":
		if r.Form.Get("client_id") != "demo-web" || r.Form.Get("code_challenge_method") != "S256" {
			f.bad = append(f.bad, "authorize "+r.Form.Encode())
		}
		if c, err := r.Cookie("latchkey_session"); err != nil || c.Value != "sess" {
			http.SetCookie(w, &http.Cookie{Name: "latchkey_form_req-1", Value: "c+1"})
			fmt.Fprint(w, `<form><input type="hidden" name="request" value="req-1"><input type="hidden" name="csrf" value="c&#43;1"></form>`)
			return
		}
		f.counter++
		code := fmt.Sprint("code-", f.counter)
		f.codes[code] = r.Form.Get("code_challenge")
		http.Redirect(w, r, r.Form.Get("redirect_uri")+"?code="+code, http.StatusSeeOther)
	case "/login":
		bound, _ := r.Cookie("latchkey_form_req-1")
		if r.PostForm.Get("request") != "req-1" || r.PostForm.Get("csrf") != "c+1" || r.PostForm.Get("username") != "demo" || bound == nil || bound.Value != "c+1" {
			f.bad = append(f.bad, "login "+r.PostForm.Encode())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.logins++
		http.SetCookie(w, &http.Cookie{Name: "latchkey_session", Value: "sess"})
		http.Redirect(w, r, "http://127.0.0.1:8081/callback?code=first", http.StatusSeeOther)
	case "/oauth2/token":
		challenge, ok := f.codes[r.PostForm.Get("code")]
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || challenge != base64.RawURLEncoding.EncodeToString(sum[:]) {
			f.bad = append(f.bad, "token "+r.PostForm.Encode())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		delete(f.codes, r.PostForm.Get("code"))
		f.used++
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": "at", "id_token": "it", "token_type": "bearer"})
	default:
		http.NotFound(w, r)
	}
}

func TestAuthorizationCodeScenarioAgainstFakeServer(t *testing.T) {
	fake := &fakeBrowserSignIn{codes: map[string]string{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	args := []string{"-url", srv.URL, "-scenario", "authorization_code", "-concurrency", "3",
		"-duration", "100ms", "-warmup", "10ms", "-db", "fake", "-username", "demo", "-password", "pw"}
	if code := run(args, env(nil), &stdout, &stderr); code != 0 {
		t.Fatalf("run exit %d, stderr: %s", code, stderr.String())
	}
	var r result
	if err := json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &r); err != nil {
		t.Fatal(err)
	}
	if r.Scenario != "authorization_code" || r.RPS <= 0 || len(r.Errors) != 0 {
		t.Errorf("result: %s", stdout.String())
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	// One login per worker, then sign-ins on the session, each code
	// exchanged once with its own verifier.
	if fake.logins != 3 || fake.used == 0 || len(fake.bad) != 0 {
		t.Errorf("fake server: %d logins, %d exchanges, bad %v", fake.logins, fake.used, fake.bad)
	}
}
