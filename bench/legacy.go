package main

// The legacy REST API's scenarios: legacy_login (POST /users/token, one
// password login per iteration, bounded by argon2id like password) and
// legacy_refresh (POST /users/token/refresh, the same refresh rules as the
// OAuth refresh scenario, so it should run at its speed). Both speak JSON
// as the old clients do, at the root (compat.legacy.prefix of the
// development defaults), as the legacy client $DEMO_LEGACY_CLIENT_ID
// (default legacy-app).
//
// Each worker signs up its own user before the warm-up (not timed; an
// e-mail and a password that no other run uses), so that no two workers
// share a login name: the server's lockout takes a slot per login in
// flight and keys them by login name. Error keys: legacy_login
// "no_token"; legacy_refresh "no_refresh", "key_changed" (a refresh that
// answered another key) and "login_<status>" for a failed re-login after a
// broken chain.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func init() {
	scenarios = append(scenarios,
		scenario{
			// One legacy login per iteration, each worker as its own user.
			name:      "legacy_login",
			setup:     legacySetup,
			newWorker: newLegacyLoginWorker,
		},
		scenario{
			// Each worker follows its own chain of legacy refresh tokens.
			name:      "legacy_refresh",
			setup:     legacySetup,
			newWorker: newLegacyRefreshWorker,
		},
	)
}

// legacyClientEnv names the legacy client; defaultLegacyClient is the
// development defaults' one.
const (
	legacyClientEnv     = "DEMO_LEGACY_CLIENT_ID"
	defaultLegacyClient = "legacy-app"
)

// legacyClient is the client the legacy scenarios name.
func legacyClient() string {
	if id := os.Getenv(legacyClientEnv); id != "" {
		return id
	}
	return defaultLegacyClient
}

// legacyPost builds a JSON POST to a legacy route.
func legacyPost(ctx context.Context, t *target, path string, body any) (*http.Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.baseURL+path, strings.NewReader(string(b)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return req, nil
}

type legacyCredentials struct {
	Client   string `json:"client"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

type legacyRefreshRequest struct {
	Client  string `json:"client"`
	Key     string `json:"key"`
	Refresh string `json:"refresh"`
}

// legacyLogin is the part of a login's or refresh's answer the harness reads.
type legacyLogin struct {
	Key     string `json:"key"`
	Token   string `json:"token"`
	Refresh string `json:"refresh"`
}

// legacySetup checks, without writing anything, that the server has the
// legacy surface at the root and knows the client: a refresh with a token
// that cannot exist must be 401, not 404 (no surface) or 400
// invalid_client (another configuration).
func legacySetup(ctx context.Context, t *target, _ *fixture) error {
	client := legacyClient()
	req, err := legacyPost(ctx, t, "/users/token/refresh", legacyRefreshRequest{Client: client, Key: "bench-probe", Refresh: "bench-probe"})
	if err != nil {
		return err
	}
	status, body, err := do(t.client, req)
	if err != nil {
		return fmt.Errorf("POST /users/token/refresh: %w", err)
	}
	switch {
	case status == http.StatusUnauthorized:
		return nil
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return fmt.Errorf("%w: POST /users/token/refresh answers HTTP %d: no legacy surface at the root", errWrongServer, status)
	case status == http.StatusBadRequest && oauthError(body) == "invalid_client":
		return fmt.Errorf("%w: the server has no legacy client %q (set %s)", errWrongServer, client, legacyClientEnv)
	}
	return fmt.Errorf("POST /users/token/refresh with a made-up token: HTTP %d, want 401: %s", status, snippet(body))
}

// legacyUser is one worker's user and its current login.
type legacyUser struct {
	creds legacyCredentials
	login legacyLogin
}

// newLegacyCredentials makes an e-mail and a password that no other run
// uses (the password random enough for any password policy).
func newLegacyCredentials() legacyCredentials {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	h := hex.EncodeToString(b[:])
	return legacyCredentials{Client: legacyClient(), Email: "bench-" + h[:16] + "@bench.example", Password: "bench " + h[16:]}
}

// legacySignUp creates a user with a first login, retrying while the
// server answers 503 (its hashing queue is full while workers are made).
func legacySignUp(ctx context.Context, t *target) (*legacyUser, error) {
	u := &legacyUser{creds: newLegacyCredentials()}
	for busy := 0; ; busy++ {
		req, err := legacyPost(ctx, t, "/users", u.creds)
		if err != nil {
			return nil, err
		}
		status, body, err := do(t.client, req)
		switch {
		case err != nil:
			return nil, fmt.Errorf("sign-up: %w", err)
		case status == http.StatusCreated:
			if err := json.Unmarshal(body, &u.login); err != nil || u.login.Key == "" || u.login.Refresh == "" {
				return nil, fmt.Errorf("sign-up: an answer without key or refresh: %s", snippet(body))
			}
			return u, nil
		case status != http.StatusServiceUnavailable:
			return nil, fmt.Errorf("sign-up: HTTP %d: %s", status, snippet(body))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("sign-up: HTTP 503 %d times, then %w", busy+1, ctx.Err())
		case <-time.After(loginRetryDelay):
		}
	}
}

// newLegacyLoginWorker logs its own user in on every iteration.
func newLegacyLoginWorker(ctx context.Context, t *target, _ *fixture) (*worker, error) {
	u, err := legacySignUp(ctx, t)
	if err != nil {
		return nil, err
	}
	return &worker{
		request: func(ctx context.Context) (*http.Request, string, error) {
			req, err := legacyPost(ctx, t, "/users/token", u.creds)
			return req, "", err
		},
		check: checkUserToken,
	}, nil
}

// legacyRefreshWorker follows one chain of refresh tokens, each sent once
// (a used one would end the chain: reuse detection).
type legacyRefreshWorker struct {
	t *target
	u *legacyUser
}

func newLegacyRefreshWorker(ctx context.Context, t *target, _ *fixture) (*worker, error) {
	u, err := legacySignUp(ctx, t)
	if err != nil {
		return nil, err
	}
	w := &legacyRefreshWorker{t: t, u: u}
	return &worker{request: w.request, check: w.check}, nil
}

// logIn starts a new chain (a new key). It returns "" on success, or the
// key to count the failure under.
func (w *legacyRefreshWorker) logIn(ctx context.Context) string {
	req, err := legacyPost(ctx, w.t, "/users/token", w.u.creds)
	if err != nil {
		return "build"
	}
	status, body, err := do(w.t.client, req)
	switch {
	case err != nil:
		return "transport"
	case status != http.StatusOK:
		return strconv.Itoa(status)
	}
	var l legacyLogin
	if json.Unmarshal(body, &l) != nil || l.Key == "" || l.Refresh == "" {
		return "bad_json"
	}
	w.u.login = l
	return ""
}

// request sends the current refresh token, after logging in again (not
// timed) when the chain broke.
func (w *legacyRefreshWorker) request(ctx context.Context) (*http.Request, string, error) {
	if w.u.login.Refresh == "" {
		if key := w.logIn(ctx); key != "" {
			return nil, "login_" + key, nil
		}
	}
	body := legacyRefreshRequest{Client: w.u.creds.Client, Key: w.u.login.Key, Refresh: w.u.login.Refresh}
	w.u.login.Refresh = "" // spent, whatever the answer
	req, err := legacyPost(ctx, w.t, "/users/token/refresh", body)
	return req, "", err
}

// check keeps the rotated refresh token; the key must stay the same.
func (w *legacyRefreshWorker) check(body []byte) string {
	var l legacyLogin
	if json.Unmarshal(body, &l) != nil || l.Refresh == "" || l.Token == "" {
		return "no_refresh"
	}
	if l.Key != w.u.login.Key {
		return "key_changed"
	}
	w.u.login.Refresh = l.Refresh
	return ""
}
