package main

// The browser sign-in scenario: authorization_code, one complete sign-in
// per iteration for a browser that already has a session (so no password
// hash): GET /oauth2/authorize with the session cookie and a fresh PKCE
// challenge → 303 with a code → POST /oauth2/token with the code and its
// verifier. rps counts complete sign-ins; the latency percentiles are the
// token request's (the authorize step runs in the worker's request
// builder, which is not timed but takes the worker's time). As the public
// client $DEMO_WEB_CLIENT_ID (default demo-web, the development defaults'),
// whose first redirect URI it reads from the login page's redirect.
//
// Each worker signs in once through the login page before the warm-up
// (not timed; one after the other, so the lockout never sees them at once)
// and keeps its cookie. Error keys: "authorize_<status>" for an authorize
// step without a code, "no_token" for a token answer without an access
// token.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
)

func init() {
	scenarios = append(scenarios, scenario{
		name:      "authorization_code",
		needsUser: true,
		setup:     authCodeSetup,
		newWorker: newAuthCodeWorker,
	})
}

const (
	webClientEnv     = "DEMO_WEB_CLIENT_ID"
	defaultWebClient = "demo-web"
	webRedirectEnv   = "DEMO_WEB_REDIRECT_URI"
	defaultWebRedir  = "http://127.0.0.1:8081/callback"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

var hiddenFieldRe = regexp.MustCompile(`name="(request|csrf)" value="([^"]*)"`)

type authCodeWorker struct {
	t                *target
	client, redirect string
	cookie           *http.Cookie
}

func newVerifier() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (w *authCodeWorker) authorizeURL(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return w.t.baseURL + "/oauth2/authorize?" + url.Values{
		"client_id": {w.client}, "response_type": {"code"}, "redirect_uri": {w.redirect}, "scope": {"openid"},
		"state": {"bench-state-" + verifier[:8]}, "nonce": {"n"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}.Encode()
}

// authCodeSetup checks, without signing in, that the server shows the
// login page for the web client.
func authCodeSetup(ctx context.Context, t *target, _ *fixture) error {
	w := &authCodeWorker{t: t, client: envOr(webClientEnv, defaultWebClient), redirect: envOr(webRedirectEnv, defaultWebRedir)}
	_, _, err := w.loginPage(ctx)
	return err
}

// loginPage fetches a login page and returns its hidden fields and the
// cookies that bind the form to this browser.
func (w *authCodeWorker) loginPage(ctx context.Context) (url.Values, []*http.Cookie, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.authorizeURL(newVerifier()), nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := w.t.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("authorization_code: the login page: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("authorization_code: the login page: %w", err)
	}
	form := url.Values{}
	for _, m := range hiddenFieldRe.FindAllStringSubmatch(string(body), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if resp.StatusCode != http.StatusOK || form.Get("request") == "" {
		return nil, nil, fmt.Errorf("%w: GET /oauth2/authorize as %s answers HTTP %d, want the login page (set %s and %s): %s",
			errWrongServer, w.client, resp.StatusCode, webClientEnv, webRedirectEnv, snippet(body))
	}
	return form, resp.Cookies(), nil
}

// newAuthCodeWorker signs the worker's browser in through the login page.
func newAuthCodeWorker(ctx context.Context, t *target, _ *fixture) (*worker, error) {
	w := &authCodeWorker{t: t, client: envOr(webClientEnv, defaultWebClient), redirect: envOr(webRedirectEnv, defaultWebRedir)}
	form, cookies, err := w.loginPage(ctx)
	if err != nil {
		return nil, err
	}
	form.Set("username", t.username)
	form.Set("password", t.password)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.baseURL+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("authorization_code: sign in: %w", err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "latchkey_session" {
			w.cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || w.cookie == nil {
		return nil, fmt.Errorf("authorization_code: signing in as %s answered HTTP %d without a session cookie", t.username, resp.StatusCode)
	}
	return &worker{request: w.request, check: checkAuthCodeToken}, nil
}

// request runs the authorize step (untimed) and builds the code exchange.
func (w *authCodeWorker) request(ctx context.Context) (*http.Request, string, error) {
	verifier := newVerifier()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.authorizeURL(verifier), nil)
	if err != nil {
		return nil, "", err
	}
	req.AddCookie(w.cookie)
	resp, err := w.t.client.Do(req)
	if err != nil {
		return nil, "transport", nil
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := ""
	if loc != nil {
		code = loc.Query().Get("code")
	}
	if resp.StatusCode != http.StatusSeeOther || code == "" {
		return nil, "authorize_" + strconv.Itoa(resp.StatusCode), nil
	}
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {w.client}, "code": {code},
		"redirect_uri": {w.redirect}, "code_verifier": {verifier}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, w.t.baseURL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, "", nil
}

func checkAuthCodeToken(body []byte) string {
	var tok struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" || tok.IDToken == "" {
		return "no_token"
	}
	return ""
}
