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
	srv      *httptest.Server
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	provider *oidc.Provider

	mu      sync.Mutex
	pending map[string][2]string // state → nonce, PKCE verifier
	result  chan rpResult
}

type rpResult struct {
	err      error
	subject  string
	nonce    string
	username string
	email    string
	refresh  bool
}

func newRelyingParty(t *testing.T) *relyingParty {
	rp := &relyingParty{t: t, pending: map[string][2]string{}, result: make(chan rpResult, 1)}
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
	rp.verifier = rp.provider.Verifier(&oidc.Config{ClientID: "rp"})
	rp.oauth = &oauth2.Config{ClientID: "rp", Endpoint: rp.provider.Endpoint(), RedirectURL: rp.redirectURI(),
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
		http.Redirect(w, r, rp.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	case "/callback":
		res := rp.callback(r)
		rp.result <- res
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
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
		return rpResult{err: fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))}
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
		Username string `json:"preferred_username"`
		Email    string `json:"email"`
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
	return rpResult{subject: idt.Subject, nonce: idt.Nonce, username: claims.Username, email: claims.Email, refresh: true}
}

func TestBrowserSignIn(t *testing.T) {
	chrome := chromiumPath(t)
	rp := newRelyingParty(t)
	f := newFixture(t, fixtureOpts{edit: func(y string) string {
		return strings.Replace(y, "clients:\n", `clients:
  - id: rp
    name: Browser Test App
    realm: rl_test
    auth_method: none
    grant_types: [authorization_code, refresh_token]
    redirect_uris: [`+rp.redirectURI()+`]
    scopes: [openid, profile, email]
`, 1)
	}})
	userID := f.addUser("alice", alicePassword)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	rp.start(ctx, f.snap.Issuer)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-gpu", true), chromedp.WindowSize(390, 844))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	err := chromedp.Do(bctx,
		chromedp.Navigate(rp.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	if err != nil {
		t.Fatalf("browser: open the relying party: %v", err)
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "Sign in to Browser Test App" {
		t.Errorf("login page title = %q", title)
	}
	err = chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), alicePassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("result")),
	)
	if err != nil {
		t.Fatalf("browser: sign in: %v", err)
	}
	result, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("result")))
	if err != nil {
		t.Fatal(err)
	}
	res := <-rp.result
	if res.err != nil {
		t.Fatalf("relying party: %v (page: %q)", res.err, result)
	}
	if res.subject != userID || res.username != "alice" || res.email != "alice@example.test" || !res.refresh {
		t.Fatalf("relying party saw %+v, want user %s", res, userID)
	}
	if result != "signed in as alice" {
		t.Errorf("page = %q", result)
	}

	// Single sign-on: a second sign-in in the same browser needs no password.
	err = chromedp.Do(bctx,
		chromedp.Navigate(rp.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("result")),
	)
	if err != nil {
		t.Fatalf("browser, second sign-in: %v", err)
	}
	if res := <-rp.result; res.err != nil || res.subject != userID {
		t.Fatalf("second sign-in: %+v", res)
	}
}
