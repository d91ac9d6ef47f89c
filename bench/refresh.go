package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The refresh scenario's workers: one chain of refresh tokens each.

// refreshWorker follows one chain of refresh tokens. Each token is sent
// once: rotation makes it single-use, and sending a used one again would
// revoke the chain (reuse detection).
type refreshWorker struct {
	t *target
	f *fixture
	// token is the refresh token for the next iteration; "" when the last
	// one was spent without a new one coming back (the chain is broken).
	token string
}

// loginRetryDelay is the pause between logins when the server answers 503
// while the workers are being made.
var loginRetryDelay = 100 * time.Millisecond

// newRefreshWorker starts a worker's chain with a password login (retried
// while the server answers 503: its hashing queue is full when many
// workers log in at once).
func newRefreshWorker(ctx context.Context, t *target, f *fixture) (*worker, error) {
	w := &refreshWorker{t: t, f: f}
	for busy := 0; ; busy++ {
		key, err := w.logIn(ctx)
		switch {
		case key == "":
			return &worker{request: w.request, check: w.check}, nil
		case busy > 0 && ctx.Err() != nil:
			return nil, fmt.Errorf("password login: HTTP 503 %d times, then %w", busy, ctx.Err())
		case key != "503":
			return nil, fmt.Errorf("password login: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("password login: HTTP 503 %d times, then %w", busy+1, ctx.Err())
		case <-time.After(loginRetryDelay):
		}
	}
}

// logIn starts a new chain. It returns "" on success, or the key to count
// the failure under and an error describing it.
func (w *refreshWorker) logIn(ctx context.Context) (string, error) {
	status, body, err := postForm(ctx, w.t, w.f.auth, w.f.login)
	if err != nil {
		return "transport", err
	}
	if status != http.StatusOK {
		return strconv.Itoa(status), fmt.Errorf("HTTP %d: %s", status, snippet(body))
	}
	tr, err := parseTokenResponse(body)
	if err != nil {
		return "bad_json", err
	}
	if tr.RefreshToken == "" {
		return "no_refresh_token", errors.New("the answer carries no refresh_token")
	}
	w.token = tr.RefreshToken
	return "", nil
}

// request sends the current refresh token, after logging in again (not
// timed) when the chain broke. A failed login is counted as
// "login_<key>"; the next iteration tries again.
func (w *refreshWorker) request(ctx context.Context) (*http.Request, string, error) {
	if w.token == "" {
		if key, _ := w.logIn(ctx); key != "" {
			return nil, "login_" + key, nil
		}
	}
	body := "grant_type=refresh_token&refresh_token=" + url.QueryEscape(w.token)
	w.token = "" // spent, whatever the answer
	req, err := formPost(ctx, w.t.baseURL+"/oauth2/token", w.f.auth, body)
	return req, "", err
}

// check keeps the rotated refresh token for the next iteration.
func (w *refreshWorker) check(body []byte) string {
	var tr struct {
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal(body, &tr) != nil || tr.RefreshToken == "" {
		return "no_refresh_token"
	}
	w.token = tr.RefreshToken
	return ""
}
