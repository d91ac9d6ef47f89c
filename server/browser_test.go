package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// A real browser signs in through the hosted login page: headless Chromium
// (Debian's chromium package) driven by chromedp opens a relying party
// built on golang.org/x/oauth2 (PKCE S256) and go-oidc, which sends it to
// Latchkey's login page; the user types a password; the relying party
// exchanges the code, verifies the ID token and its nonce against the
// JWKS, calls userinfo and refreshes.

// RequireBrowserEnv, when set (CI sets it), makes a missing Chromium a
// failure instead of a skip.
const RequireBrowserEnv = "LATCHKEY_REQUIRE_BROWSER"

// chromiumPath finds a Chromium to drive, or skips (fails under
// LATCHKEY_REQUIRE_BROWSER).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found (looked for chromium, chromium-browser, google-chrome): install Debian's chromium package (apt-get install -y chromium) to run the browser tests"
	if os.Getenv(RequireBrowserEnv) != "" {
		t.Fatal(msg + "; " + RequireBrowserEnv + " is set, so this is a failure")
	}
	t.Skip(msg + "; set " + RequireBrowserEnv + "=1 to make this a failure")
	return ""
}

// relyingParty is a web app that signs its users in with Latchkey, as a
// real one would with golang.org/x/oauth2 and go-oidc.
type relyingParty struct {
	t        *testing.T
	clientID string
	srv      *httptest.Server
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	provider *oidc.Provider

	mu      sync.Mutex
	pending map[string][2]string // state → nonce, PKCE verifier
	result  chan rpResult
	// last holds the tokens of the last sign-in (for logout and refresh).
	last *oauth2.Token
}

type rpResult struct {
	err      error
	subject  string
	nonce    string
	username string
	email    string
	refresh  bool
	// amr is the ID token's amr claim (RFC 8176): how the user signed in.
	amr []string
	// authError is the error of an authorization response (access_denied,
	// login_required), when that was the answer.
	authError string
}

func newRelyingParty(t *testing.T, clientID string) *relyingParty {
	rp := &relyingParty{t: t, clientID: clientID, pending: map[string][2]string{}, result: make(chan rpResult, 1)}
	rp.srv = httptest.NewUnstartedServer(http.HandlerFunc(rp.serve))
	return rp
}

// redirectURI is the relying party's callback on its loopback address.
func (rp *relyingParty) redirectURI() string {
	return "http://" + rp.srv.Listener.Addr().String() + "/callback"
}

func (rp *relyingParty) start(ctx context.Context, issuer string) {
	var err error
	if rp.provider, err = oidc.NewProvider(ctx, issuer); err != nil {
		rp.t.Fatalf("OpenID Connect discovery: %v", err)
	}
	rp.verifier = rp.provider.Verifier(&oidc.Config{ClientID: rp.clientID})
	rp.oauth = &oauth2.Config{ClientID: rp.clientID, Endpoint: rp.provider.Endpoint(), RedirectURL: rp.redirectURI(),
		Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	rp.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	rp.srv.Start()
	rp.t.Cleanup(rp.srv.Close)
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (rp *relyingParty) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
		rp.mu.Lock()
		rp.pending[state] = [2]string{nonce, verifier}
		rp.mu.Unlock()
		opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
		if p := r.URL.Query().Get("prompt"); p != "" {
			opts = append(opts, oauth2.SetAuthURLParam("prompt", p))
		}
		http.Redirect(w, r, rp.oauth.AuthCodeURL(state, opts...), http.StatusFound)
	case "/logout":
		rp.mu.Lock()
		idToken, _ := rp.last.Extra("id_token").(string)
		rp.mu.Unlock()
		end := strings.TrimSuffix(rp.provider.Endpoint().AuthURL, "/authorize") + "/logout"
		http.Redirect(w, r, end+"?"+url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {rp.srv.URL + "/bye"}, "state": {"bye-state"}}.Encode(), http.StatusFound)
	case "/bye":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<p id=bye>signed out, state %s</p>", html.EscapeString(r.URL.Query().Get("state")))
	case "/callback":
		res := rp.callback(r)
		rp.result <- res
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if res.authError != "" {
			fmt.Fprintf(w, "<p id=result>refused: %s</p>", html.EscapeString(res.authError))
			return
		}
		if res.err != nil {
			fmt.Fprintf(w, "<p id=result>error: %s</p>", html.EscapeString(res.err.Error()))
			return
		}
		fmt.Fprintf(w, "<p id=result>signed in as %s</p>", html.EscapeString(res.username))
	default:
		http.NotFound(w, r)
	}
}

func (rp *relyingParty) callback(r *http.Request) rpResult {
	ctx := r.Context()
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return rpResult{authError: e, err: fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))}
	}
	rp.mu.Lock()
	p, ok := rp.pending[q.Get("state")]
	delete(rp.pending, q.Get("state"))
	rp.mu.Unlock()
	if !ok {
		return rpResult{err: errors.New("unknown state")}
	}
	if q.Get("iss") != rp.provider.Endpoint().AuthURL[:len(rp.provider.Endpoint().AuthURL)-len("/oauth2/authorize")] {
		return rpResult{err: fmt.Errorf("iss %q is not the issuer", q.Get("iss"))}
	}
	tok, err := rp.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p[1]))
	if err != nil {
		return rpResult{err: fmt.Errorf("exchange: %w", err)}
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		return rpResult{err: fmt.Errorf("verify ID token: %w", err)}
	}
	if idt.Nonce != p[0] {
		return rpResult{err: fmt.Errorf("nonce %q, want %q", idt.Nonce, p[0])}
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		return rpResult{err: fmt.Errorf("at_hash: %w", err)}
	}
	var claims struct {
		Username string   `json:"preferred_username"`
		Email    string   `json:"email"`
		AMR      []string `json:"amr"`
	}
	if err := idt.Claims(&claims); err != nil {
		return rpResult{err: err}
	}
	ui, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return rpResult{err: fmt.Errorf("userinfo: %w", err)}
	}
	if ui.Subject != idt.Subject {
		return rpResult{err: fmt.Errorf("userinfo sub %q, ID token sub %q", ui.Subject, idt.Subject)}
	}
	// Refresh: an expired token makes the token source use the refresh token.
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	fresh, err := rp.oauth.TokenSource(ctx, &old).Token()
	if err != nil {
		return rpResult{err: fmt.Errorf("refresh: %w", err)}
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
		return rpResult{err: errors.New("refresh returned the same tokens")}
	}
	rp.mu.Lock()
	rp.last = fresh
	if _, ok := fresh.Extra("id_token").(string); !ok {
		rp.last = fresh.WithExtra(map[string]any{"id_token": raw})
	}
	rp.mu.Unlock()
	return rpResult{subject: idt.Subject, nonce: idt.Nonce, username: claims.Username, email: claims.Email, refresh: true, amr: claims.AMR}
}

// browserClient is the config of a relying party's client.
func browserClient(id, name, redirectBase, consent string) string {
	return `  - id: ` + id + `
    name: ` + name + `
    realm: rl_test
    auth_method: none
    grant_types: [authorization_code, refresh_token]
    redirect_uris: [` + redirectBase + `/callback]
    post_logout_redirect_uris: [` + redirectBase + `/bye]
    scopes: [openid, profile, email]
    consent: ` + consent + `
`
}

// tab is one browser tab's steps, failing the test on error.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (b tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

func (b tab) text(id string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		b.t.Fatalf("browser: read #%s: %v", id, err)
	}
	return s
}

func TestBrowserSignIn(t *testing.T) {
	chrome := chromiumPath(t)
	rp := newRelyingParty(t, "rp")
	rp2 := newRelyingParty(t, "rp2")
	base := func(r *relyingParty) string { return "http://" + r.srv.Listener.Addr().String() }
	f := newFixture(t, fixtureOpts{edit: func(y string) string {
		return strings.Replace(y, "clients:\n", "clients:\n"+
			browserClient("rp", "Browser Test App", base(rp), "none")+
			browserClient("rp2", "Second Browser App", base(rp2), "required"), 1)
	}})
	userID := f.addUser("alice", alicePassword)
	f.addUser("mallory", alicePassword)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	rp.start(ctx, f.snap.Issuer)
	rp2.start(ctx, f.snap.Issuer)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-gpu", true), chromedp.WindowSize(390, 844))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	b := tab{t: t, ctx: bctx}
	signedIn := func(r *relyingParty) {
		t.Helper()
		res := <-r.result
		if res.err != nil {
			t.Fatalf("%s: %v (page: %q)", r.clientID, res.err, b.text("result"))
		}
		if res.subject != userID || res.username != "alice" || res.email != "alice@example.test" || !res.refresh {
			t.Fatalf("%s saw %+v, want user %s", r.clientID, res, userID)
		}
		if strings.Join(res.amr, " ") != "pwd" {
			t.Fatalf("%s saw amr %q, want [pwd]: every sign-in here is a password's (single sign-on keeps it)", r.clientID, res.amr)
		}
	}
	refused := func(r *relyingParty, want string) {
		t.Helper()
		if res := <-r.result; res.authError != want {
			t.Fatalf("%s got %+v, want the error %s", r.clientID, res, want)
		}
	}

	// Sign in through the login page.
	b.do("open the relying party", chromedp.Navigate(rp.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("username")))
	if title, err := chromedp.Run(bctx, chromedp.Title()); err != nil || title != "Sign in to Browser Test App" {
		t.Errorf("login page title = %q, %v", title, err)
	}
	if dir := os.Getenv("LATCHKEY_SCREENSHOT_DIR"); dir != "" {
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+"/login-page.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.do("sign in",
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), alicePassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("result")))
	signedIn(rp)
	if got := b.text("result"); got != "signed in as alice" {
		t.Errorf("page = %q", got)
	}

	// prompt=none with the session: back at once.
	b.do("prompt=none", chromedp.Navigate(rp.srv.URL+"/?prompt=none"), chromedp.WaitVisible(chromedp.ID("result")))
	signedIn(rp)
	// prompt=login: the login page again.
	b.do("prompt=login", chromedp.Navigate(rp.srv.URL+"/?prompt=login"), chromedp.WaitVisible(chromedp.ID("password")))

	// Single sign-on into the second client, which asks for consent: no
	// password; Deny is access_denied, Allow signs in.
	b.do("consent, deny", chromedp.Navigate(rp2.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("deny")),
		chromedp.Click(chromedp.ID("deny")), chromedp.WaitVisible(chromedp.ID("result")))
	refused(rp2, "access_denied")
	b.do("consent, allow", chromedp.Navigate(rp2.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("allow")),
		chromedp.Click(chromedp.ID("allow")), chromedp.WaitVisible(chromedp.ID("result")))
	signedIn(rp2)
	b.do("consent remembered", chromedp.Navigate(rp2.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("result")))
	signedIn(rp2)

	// Logout from the first client: the session and its grants end.
	rp.mu.Lock()
	refresh := rp.last.RefreshToken
	rp.mu.Unlock()
	b.do("logout", chromedp.Navigate(rp.srv.URL+"/logout"), chromedp.WaitVisible(chromedp.ID("bye")))
	if got := b.text("bye"); got != "signed out, state bye-state" {
		t.Errorf("after logout: %q", got)
	}
	if status, body := f.refresh(refresh, "client_id", "rp"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh after logout = %d %v", status, body)
	}
	b.do("prompt=none after logout", chromedp.Navigate(rp.srv.URL+"/?prompt=none"), chromedp.WaitVisible(chromedp.ID("result")))
	refused(rp, "login_required")

	// A locked-out user sees the one generic message, even with the right
	// password.
	b.do("open the login page", chromedp.Navigate(rp.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("username")))
	var messages []string
	for i, pw := range []string{"wrong-1", "wrong-2", "wrong-3", alicePassword} {
		b.do(fmt.Sprint("attempt ", i),
			chromedp.SetValue(chromedp.ID("username"), "mallory"),
			chromedp.SetValue(chromedp.ID("password"), pw),
			// Marks this page, so the wait below sees the next one.
			chromedp.SetAttributeValue(chromedp.ID("username"), "data-old", "1"),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS("#username:not([data-old])")),
			chromedp.WaitVisible(chromedp.ID("login-error")))
		messages = append(messages, b.text("login-error"))
	}
	for _, m := range messages {
		if m != messages[0] || !strings.Contains(m, "incorrect") {
			t.Fatalf("login messages = %q, want one generic message", messages)
		}
	}
}
