package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAuthRocket stands in for the server's AuthRocket surface: it checks
// the API key and the bodies, stores signup tokens, converts each once, and
// can answer 503 to some creates (a full hasher) or fail conversions.
type fakeAuthRocket struct {
	key string

	mu       sync.Mutex
	tokens   map[string]string // id → username
	users    map[string]bool   // username
	creates  int
	converts int
	bad      []string
	// busyEvery > 0 answers every busyEvery-th create 503 with Retry-After.
	busyEvery int
	// convertStatus, when set, answers every conversion with it.
	convertStatus int
}

func newFakeAuthRocket(key string) *fakeAuthRocket {
	return &fakeAuthRocket{key: key, tokens: map[string]string{}, users: map[string]bool{}}
}

func (f *fakeAuthRocket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fail := func(status int, msg string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"errors":[%q]}`, msg)
	}
	if r.Header.Get("X-Authrocket-Api-Key") != f.key {
		fail(http.StatusUnauthorized, "The API key is not valid.")
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/authrocket/v1/user_tokens/"):
		fail(http.StatusNotFound, "No such signup token.")
	case r.Method == http.MethodPost && r.URL.Path == "/authrocket/v1/user_tokens":
		var in struct {
			UserToken *struct{ Username, Email, Password string } `json:"user_token"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.UserToken == nil || in.UserToken.Username == "" ||
			in.UserToken.Email != in.UserToken.Username+"@bench.example" || len(in.UserToken.Password) < 10 ||
			r.Header.Get("Content-Type") != "application/json" {
			f.bad = append(f.bad, string(body))
			fail(http.StatusBadRequest, "bad create")
			return
		}
		f.creates++
		if f.busyEvery > 0 && f.creates%f.busyEvery == 0 {
			w.Header().Set("Retry-After", "1")
			fail(http.StatusServiceUnavailable, "busy")
			return
		}
		for _, u := range f.tokens {
			if u == in.UserToken.Username {
				f.bad = append(f.bad, "a username sent twice: "+u)
			}
		}
		if f.users[in.UserToken.Username] {
			f.bad = append(f.bad, "a username of a user: "+in.UserToken.Username)
		}
		id := fmt.Sprintf("utk_%022d", f.creates)
		f.tokens[id] = in.UserToken.Username
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q,"first_name":null,"last_name":null,"email":%q,"username":%q,"object":"user_token","credential_type":"password"}`,
			id, in.UserToken.Email, in.UserToken.Username)
	case r.Method == http.MethodPost && r.URL.Path == "/authrocket/v1/users":
		var in struct {
			User *struct {
				UserToken string `json:"user_token"`
			} `json:"user"`
		}
		if err := json.Unmarshal(body, &in); err != nil || in.User == nil {
			f.bad = append(f.bad, string(body))
			fail(http.StatusBadRequest, "bad convert")
			return
		}
		if f.convertStatus != 0 {
			fail(f.convertStatus, "refused")
			return
		}
		u, ok := f.tokens[in.User.UserToken]
		if !ok {
			f.bad = append(f.bad, "a conversion of an unknown token "+in.User.UserToken)
			fail(http.StatusNotFound, "No such signup token.")
			return
		}
		delete(f.tokens, in.User.UserToken)
		f.users[u] = true
		f.converts++
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"usr_x","object":"user","username":%q}`, u)
	default:
		http.NotFound(w, r)
	}
}

func runSignup(t *testing.T, url string, extra ...string) (int, []result, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args := append([]string{"-url", url, "-scenario", "signup_token", "-concurrency", "3", "-duration", "60ms", "-warmup", "0", "-db", "fake"}, extra...)
	code := run(args, env(nil), &stdout, &stderr)
	var out []result
	for _, ln := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if ln == "" {
			continue
		}
		var r result
		if err := json.Unmarshal([]byte(ln), &r); err != nil {
			t.Fatalf("%q: %v", ln, err)
		}
		out = append(out, r)
	}
	return code, out, stderr.String()
}

func TestSignupScenarioAgainstFakeServer(t *testing.T) {
	const key = "lk_bench_key_0123456789abcdefghijklmnopqrstu"
	t.Setenv(apiKeyEnv, key)
	fake := newFakeAuthRocket(key)
	srv := httptest.NewServer(fake)
	defer srv.Close()

	code, res, stderr := runSignup(t, srv.URL)
	if code != 0 || len(res) != 1 {
		t.Fatalf("exit %d, results %+v, stderr %s", code, res, stderr)
	}
	if r := res[0]; r.Scenario != "signup_token" || r.RPS <= 0 || len(r.Errors) != 0 || r.Concurrency != 3 {
		t.Errorf("result %+v", r)
	}
	fake.mu.Lock()
	if len(fake.bad) != 0 || fake.creates == 0 || fake.converts != len(fake.users) || fake.converts < fake.creates-3 {
		// Up to one create per worker may be cut off at the deadline
		// before its conversion.
		t.Errorf("fake: %d creates, %d conversions, %d users, bad %q", fake.creates, fake.converts, len(fake.users), fake.bad)
	}
	fake.mu.Unlock()

	// A second run signs up other users (the fake refuses a name twice).
	if code, res, stderr := runSignup(t, srv.URL); code != 0 || len(res) != 1 || len(res[0].Errors) != 0 {
		t.Errorf("second run: exit %d, %+v, %s", code, res, stderr)
	}
	fake.mu.Lock()
	if len(fake.bad) != 0 {
		t.Errorf("second run: bad %q", fake.bad)
	}

	// A full hasher: its 503s are counted; the other signups go through.
	fake.busyEvery = 3
	fake.mu.Unlock()
	code, res, stderr = runSignup(t, srv.URL)
	if code != 0 || len(res) != 1 || res[0].Errors["503"] == 0 || res[0].RPS <= 0 || len(res[0].Errors) != 1 {
		t.Errorf("busy: exit %d, %+v, %s", code, res, stderr)
	}

	// A failed conversion is counted under its own key.
	fake.mu.Lock()
	fake.busyEvery, fake.convertStatus = 0, http.StatusConflict
	fake.mu.Unlock()
	code, res, _ = runSignup(t, srv.URL)
	if code != 0 || len(res) != 1 || res[0].Errors["convert_409"] == 0 || res[0].RPS != 0 {
		t.Errorf("failed conversions: exit %d, %+v", code, res)
	}
}

func TestSignupSetup(t *testing.T) {
	const key = "lk_bench_key_0123456789abcdefghijklmnopqrstu"
	fake := httptest.NewServer(newFakeAuthRocket(key))
	defer fake.Close()
	noSurface := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"not_found"}`)
	}))
	defer noSurface.Close()
	for _, tc := range []struct {
		name, key, url string
		wrongServer    bool // errWrongServer: skipped by -scenario all
		want           string
	}{
		{"ok", key, fake.URL, false, ""},
		{"no key", "", fake.URL, true, "no API key (set DEMO_API_KEY)"},
		{"wrong key", "nope", fake.URL, false, "refuses the API key in DEMO_API_KEY: HTTP 401"},
		{"no surface", key, noSurface.URL, true, "no AuthRocket surface there"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(apiKeyEnv, tc.key)
			tg := &target{baseURL: tc.url, client: newClient(1)}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := signupSetup(ctx, tg, &fixture{})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, errWrongServer) != tc.wrongServer {
				t.Errorf("signupSetup = %v, want %q (wrong server: %v)", err, tc.want, tc.wrongServer)
			}
		})
	}
	// Without a key the scenario stops a run that names it, with the reason.
	t.Setenv(apiKeyEnv, "")
	code, _, stderr := runSignup(t, fake.URL)
	if code != 1 || !strings.Contains(stderr, "signup_token: setup:") || !strings.Contains(stderr, "DEMO_API_KEY") {
		t.Errorf("no key: exit %d, stderr %s", code, stderr)
	}
}

func TestSignupNames(t *testing.T) {
	signupRun.runID = "r1"
	a, _ := newSignupWorker(context.Background(), &target{baseURL: "http://127.0.0.1:1"}, &fixture{})
	b, _ := newSignupWorker(context.Background(), &target{baseURL: "http://127.0.0.1:1"}, &fixture{})
	seen := map[string]bool{}
	for _, w := range []*worker{a, b, a, b} {
		req, key, err := w.request(context.Background())
		if err != nil || key != "" {
			t.Fatal(err, key)
		}
		var in map[string]signupFields
		b, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(b, &in); err != nil {
			t.Fatal(err)
		}
		name := in["user_token"].Username
		if seen[name] || !strings.HasPrefix(name, "bench-r1-") || in["user_token"].Email != name+"@bench.example" {
			t.Errorf("username %q (seen: %v)", name, seen[name])
		}
		seen[name] = true
	}
	for body, want := range map[string]string{
		`{"id":"utk_abc","object":"user_token"}`: "utk_abc",
		`{"id":"usr_abc","object":"user_token"}`: "",
		`{"id":"utk_abc","object":"user"}`:       "",
		`{"errors":["x"]}`:                       "",
		`not json`:                               "",
	} {
		if got := tokenID([]byte(body)); got != want {
			t.Errorf("tokenID(%s) = %q, want %q", body, got, want)
		}
	}
}
