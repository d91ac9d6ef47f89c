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
)

// fakeLegacy stands in for the server's legacy routes: sign-up, login and
// refresh of JSON bodies, with rotation and reuse detection (a used
// refresh token ends its grant), as Latchkey does.
type fakeLegacy struct {
	client string

	mu        sync.Mutex
	next      int
	users     map[string]string // e-mail → password
	live      map[string]string // unused refresh token → key
	used      map[string]string // used refresh token → key
	signups   int
	logins    int
	refreshes int
	reuses    int
	bad       []string
	busy      int // answer this many sign-ups with 503
}

func newFakeLegacy(client string) *fakeLegacy {
	return &fakeLegacy{client: client, users: map[string]string{}, live: map[string]string{}, used: map[string]string{}}
}

func (f *fakeLegacy) issue(w http.ResponseWriter, status int, key string) {
	f.next++
	if key == "" {
		key = fmt.Sprintf("grant-%d", f.next)
	}
	rt := fmt.Sprintf("lk_rt_%d", f.next)
	f.live[rt] = key
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"role":"user","key":%q,"token":"at%d","refresh":%q,"expires":"2030-01-01T00:00:00Z"}`, key, f.next, rt)
}

func (f *fakeLegacy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fail := func(status int, code string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":%q,"message":"x"}`, code)
	}
	var in struct{ Client, Email, Password, Key, Refresh string }
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/users") {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&in) != nil {
		fail(http.StatusBadRequest, "invalid_request")
		return
	}
	if in.Client != f.client {
		fail(http.StatusBadRequest, "invalid_client")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/users":
		if f.busy > 0 {
			f.busy--
			fail(http.StatusServiceUnavailable, "temporarily_unavailable")
			return
		}
		if _, ok := f.users[in.Email]; ok || in.Email == "" || len(in.Password) < 10 {
			f.bad = append(f.bad, "sign-up "+in.Email)
			fail(http.StatusConflict, "email_taken")
			return
		}
		f.users[in.Email] = in.Password
		f.signups++
		f.issue(w, http.StatusCreated, "")
	case "/users/token":
		if pw, ok := f.users[in.Email]; !ok || pw != in.Password {
			f.bad = append(f.bad, "login "+in.Email)
			fail(http.StatusUnauthorized, "invalid_credentials")
			return
		}
		f.logins++
		f.issue(w, http.StatusOK, "")
	case "/users/token/refresh":
		if key, ok := f.used[in.Refresh]; ok {
			f.reuses++
			for rt, k := range f.live {
				if k == key {
					delete(f.live, rt)
				}
			}
			fail(http.StatusUnauthorized, "invalid_grant")
			return
		}
		key, ok := f.live[in.Refresh]
		if !ok || key != in.Key {
			fail(http.StatusUnauthorized, "invalid_grant")
			return
		}
		delete(f.live, in.Refresh)
		f.used[in.Refresh] = key
		f.refreshes++
		f.issue(w, http.StatusOK, key)
	default:
		http.NotFound(w, r)
	}
}

func TestLegacyScenariosAgainstFakeServer(t *testing.T) {
	t.Setenv(legacyClientEnv, "old-app")
	fake := newFakeLegacy("old-app")
	fake.busy = 2 // the first sign-ups meet a full hashing queue
	saved := loginRetryDelay
	loginRetryDelay = 0
	t.Cleanup(func() { loginRetryDelay = saved })
	srv := httptest.NewServer(fake)
	defer srv.Close()

	var stdout, stderr bytes.Buffer
	args := []string{"-url", srv.URL, "-scenario", "legacy_login,legacy_refresh", "-concurrency", "3",
		"-duration", "100ms", "-warmup", "10ms", "-db", "fake"}
	if code := run(args, env(nil), &stdout, &stderr); code != 0 {
		t.Fatalf("run exit %d, stderr: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2: %s", len(lines), stdout.String())
	}
	for i, name := range []string{"legacy_login", "legacy_refresh"} {
		var r result
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatal(err)
		}
		if r.Scenario != name || r.RPS <= 0 || len(r.Errors) != 0 || r.Concurrency != 3 {
			t.Errorf("%s: %s", name, lines[i])
		}
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	// One user per worker and scenario, never a used refresh token again,
	// no refused login.
	if fake.signups != 6 || fake.reuses != 0 || len(fake.bad) != 0 || fake.logins == 0 || fake.refreshes == 0 {
		t.Errorf("fake server: %d sign-ups, %d logins, %d refreshes, %d reuses, bad %v",
			fake.signups, fake.logins, fake.refreshes, fake.reuses, fake.bad)
	}
}

func TestLegacySetupFindsTheWrongServer(t *testing.T) {
	t.Setenv(legacyClientEnv, "")
	if legacyClient() != defaultLegacyClient {
		t.Fatalf("default client %q", legacyClient())
	}
	fake := newFakeLegacy("another-app")
	srv := httptest.NewServer(fake)
	defer srv.Close()
	none := httptest.NewServer(http.NotFoundHandler())
	defer none.Close()
	tg := func(u string) *target { return &target{baseURL: u, client: newClient(1)} }
	ctx := context.Background()
	// errWrongServer: -scenario all skips the scenario (TestRunAgainstFakeServer
	// runs all against a server without the legacy routes).
	if err := legacySetup(ctx, tg(srv.URL), &fixture{}); !errors.Is(err, errWrongServer) || !strings.Contains(err.Error(), `no legacy client "legacy-app"`) {
		t.Errorf("unknown client: %v", err)
	}
	if err := legacySetup(ctx, tg(none.URL), &fixture{}); !errors.Is(err, errWrongServer) || !strings.Contains(err.Error(), "no legacy surface") {
		t.Errorf("no surface: %v", err)
	}
	// Named explicitly, the scenario fails loudly.
	var stderr bytes.Buffer
	args := []string{"-url", none.URL, "-scenario", "legacy_refresh", "-concurrency", "1", "-duration", "20ms", "-warmup", "0"}
	if code := run(args, env(nil), io.Discard, &stderr); code != 1 || !strings.Contains(stderr.String(), "legacy_refresh: setup") {
		t.Errorf("named: exit %d, stderr %s", code, stderr.String())
	}
}

// A worker whose chain broke logs in again (untimed), and its refreshes
// carry the new key.
func TestLegacyRefreshWorkerRecovers(t *testing.T) {
	t.Setenv(legacyClientEnv, "old-app")
	fake := newFakeLegacy("old-app")
	srv := httptest.NewServer(fake)
	defer srv.Close()
	tg := &target{baseURL: srv.URL, client: newClient(1)}
	w, err := newLegacyRefreshWorker(context.Background(), tg, &fixture{})
	if err != nil {
		t.Fatal(err)
	}
	if key := iterate(t, tg, w); key != "" {
		t.Fatalf("first refresh: %q", key)
	}
	fake.mu.Lock()
	clear(fake.live) // an admin ends every grant
	fake.mu.Unlock()
	if key := iterate(t, tg, w); key != "401" {
		t.Fatalf("refresh of a revoked chain: %q, want 401", key)
	}
	if key := iterate(t, tg, w); key != "" {
		t.Fatalf("refresh after the re-login: %q", key)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.logins != 1 || fake.reuses != 0 {
		t.Errorf("%d logins, %d reuses; want one re-login and no reuse", fake.logins, fake.reuses)
	}
}
