// Command webapp is a complete web application that signs its users in
// with Latchkey: OpenID Connect authorization code flow with PKCE (S256)
// through golang.org/x/oauth2, the ID token verified by go-oidc against
// Latchkey's JWKS, userinfo, and RP-initiated logout.
//
// Run it beside a development server (latchkey serve, no --config), whose
// demo-web client it uses, and open http://127.0.0.1:8081:
//
//	go run ./examples/webapp
//
// It keeps its sessions in memory; a real application would keep them in
// its own store, and would be served over https.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"html/template"
	"log"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo Web App</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
<h1>Demo Web App</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
{{if .User}}
<p id="user">Signed in as <strong>{{.User.Name}}</strong> ({{.User.Subject}}).</p>
<p>E-mail from userinfo: {{or .User.Email "none"}}</p>
<p><a href="/logout">Sign out</a></p>
{{else}}
<p><a id="login" href="/login">Sign in with Latchkey</a></p>
{{end}}
</body></html>`))

// user is what the app keeps of a signed-in user.
type user struct {
	Subject, Name, Email string
	IDToken              string
}

// app is the relying party.
type app struct {
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	provider *oidc.Provider
	endSess  string
	base     string

	mu       sync.Mutex
	pending  map[string]pendingLogin // by state
	sessions map[string]*user        // by session cookie
}

type pendingLogin struct {
	nonce, verifier string
	created         time.Time
}

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:8080", "Latchkey's issuer URL")
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve the app on")
	clientID := flag.String("client-id", "demo-web", "the app's client_id (a public client with this redirect URI)")
	flag.Parse()

	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, *issuer) // OpenID Connect Discovery
	if err != nil {
		log.Fatalf("webapp: discovery of %s: %v (is latchkey serve running?)", *issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		log.Fatal(err)
	}
	base := "http://" + *listen
	a := &app{
		oauth: &oauth2.Config{
			ClientID: *clientID, Endpoint: provider.Endpoint(), RedirectURL: base + "/callback",
			Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: *clientID}),
		provider: provider, endSess: meta.EndSession, base: base,
		pending: map[string]pendingLogin{}, sessions: map[string]*user{},
	}
	a.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInParams // a public client sends client_id in the form
	http.HandleFunc("/", a.home)
	http.HandleFunc("/login", a.login)
	http.HandleFunc("/callback", a.callback)
	http.HandleFunc("/logout", a.logout)
	log.Printf("webapp: open %s (signing in with %s as %s)", base, *issuer, *clientID)
	srv := &http.Server{Addr: *listen, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func (a *app) current(r *http.Request) *user {
	c, err := r.Cookie("webapp_session")
	if err != nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sessions[c.Value]
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	_ = page.Execute(w, map[string]any{"User": a.current(r), "Error": r.URL.Query().Get("error")})
}

// login sends the browser to Latchkey with a fresh state, nonce and PKCE
// verifier (RFC 7636, S256).
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	a.mu.Lock()
	a.pending[state] = pendingLogin{nonce: nonce, verifier: verifier, created: time.Now()}
	a.mu.Unlock()
	http.Redirect(w, r, a.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// callback exchanges the code, verifies the ID token and its nonce, reads
// userinfo and starts the app's own session.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	fail := func(msg string) { http.Redirect(w, r, "/?"+url.Values{"error": {msg}}.Encode(), http.StatusFound) }
	a.mu.Lock()
	p, ok := a.pending[q.Get("state")]
	delete(a.pending, q.Get("state"))
	a.mu.Unlock()
	switch {
	case !ok || time.Since(p.created) > 10*time.Minute:
		fail("unknown or stale state; sign in again")
		return
	case q.Get("error") != "":
		fail("sign-in failed: " + q.Get("error") + ": " + q.Get("error_description"))
		return
	}
	tok, err := a.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		fail("code exchange: " + err.Error())
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, rawID)
	if err != nil || idt.Nonce != p.nonce {
		fail("the ID token did not verify")
		return
	}
	var claims struct {
		Name     string `json:"name"`
		Username string `json:"preferred_username"`
	}
	_ = idt.Claims(&claims)
	info, err := a.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		fail("userinfo: " + err.Error())
		return
	}
	name := claims.Name
	if name == "" {
		name = claims.Username
	}
	sid := random()
	a.mu.Lock()
	a.sessions[sid] = &user{Subject: idt.Subject, Name: name, Email: info.Email, IDToken: rawID}
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "webapp_session", Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusFound)
}

// logout ends the app's session and Latchkey's (RP-initiated logout).
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	u := a.current(r)
	if c, err := r.Cookie("webapp_session"); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: "webapp_session", Path: "/", MaxAge: -1})
	if u == nil || a.endSess == "" {
		http.Redirect(w, r, "/", http.StatusFound)
		return
	}
	http.Redirect(w, r, a.endSess+"?"+url.Values{"id_token_hint": {u.IDToken}, "post_logout_redirect_uri": {a.base + "/"}}.Encode(), http.StatusFound)
}
