package server_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/internal/softauthn"
)

// The hosted login page over real HTTP: the page and its headers, the
// form's CSRF token and pending request, the one password check, the
// session cookie and single sign-on, prompt=none|login.

const (
	webRedirect  = "http://127.0.0.1:5173/cb"
	pkceVerifier = "dBjftJeZ4CK-pP1XqzLOy5rAuIoV5sbY0Tc2eNXtNLA1"
)

// browserClients adds two browser clients of rl_test to the fixture.
func browserClients(yaml string) string {
	return strings.Replace(yaml, "clients:\n", `clients:
  - id: web
    name: Example Web App
    realm: rl_test
    auth_method: none
    grant_types: [authorization_code, refresh_token]
    redirect_uris: [`+webRedirect+`]
    post_logout_redirect_uris: [http://127.0.0.1:5173/bye]
    scopes: [openid, profile, email]
  - id: web3
    name: Third-Party App
    realm: rl_test
    auth_method: none
    grant_types: [authorization_code]
    redirect_uris: [`+webRedirect+`]
    scopes: [openid, profile]
    consent: required
  - id: web2
    name: Second App
    realm: rl_test
    auth_method: none
    grant_types: [authorization_code]
    redirect_uris: [`+webRedirect+`]
    scopes: [openid]
`, 1)
}

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t      *testing.T
	f      *fixture
	client *http.Client
}

func newBrowser(t *testing.T, f *fixture) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, f: f, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
	loc    *url.URL
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, header: resp.Header, body: string(body)}
	if l := resp.Header.Get("Location"); l != "" {
		p.loc, _ = url.Parse(l)
	}
	return p
}

func (b *browser) get(path string) page {
	req, _ := http.NewRequest(http.MethodGet, b.f.url(path), nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	req, _ := http.NewRequest(http.MethodPost, b.f.url(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func authorizeURL(client string, extra ...string) string {
	sum := sha256.Sum256([]byte(pkceVerifier))
	q := url.Values{"client_id": {client}, "response_type": {"code"}, "redirect_uri": {webRedirect}, "scope": {"openid profile"},
		"state": {"state-0123456789"}, "nonce": {"nonce-0123"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	if client == "web2" {
		q.Set("scope", "openid")
	}
	if client == "web" {
		q.Set("scope", "openid profile email")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/oauth2/authorize?" + q.Encode()
}

var externalRe = regexp.MustCompile(`(src|href|action)="(https?:)?//`)

var hiddenRe = regexp.MustCompile(`name="(request|csrf)" value="([^"]*)"`)

// loginForm reads the hidden fields of a login page.
func loginForm(t *testing.T, p page) url.Values {
	t.Helper()
	if p.status != http.StatusOK && p.status != http.StatusUnauthorized {
		t.Fatalf("login page = %d %s", p.status, p.body)
	}
	form := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(p.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("request") == "" || form.Get("csrf") == "" {
		t.Fatalf("login page lacks its hidden fields: %s", p.body)
	}
	return form
}

func wantHTMLHeaders(t *testing.T, p page) {
	t.Helper()
	for k, want := range map[string]string{
		"Cache-Control":   "no-store",
		"X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer",
		"Content-Type":    "text/html; charset=utf-8",
	} {
		if got := p.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	csp := p.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if strings.Contains(p.body, "<script") || externalRe.MatchString(p.body) {
		t.Errorf("the page has a script or an external asset: %s", p.body)
	}
}

func (b *browser) exchange(code, client string) (int, map[string]any) {
	b.t.Helper()
	resp, m := b.f.post("/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {client}, "code": {code},
		"redirect_uri": {webRedirect}, "code_verifier": {pkceVerifier}}, "", "")
	return resp.StatusCode, m
}

func TestLoginPageSignInAndSSO(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: browserClients})
	f.addUser("alice", alicePassword)
	b := newBrowser(t, f)

	p := b.get(authorizeURL("web", "login_hint", "alice"))
	wantHTMLHeaders(t, p)
	for _, want := range []string{`<label for="username">Username</label>`, `<label for="password">Password</label>`, "Example Web App", "Test", `value="alice"`, `name="viewport"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	form := loginForm(t, p)

	// A wrong password: the page again, with the one generic message.
	wrong := cloneForm(form, "username", "alice", "password", "wrong password!")
	p = b.post("/login", wrong)
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, `role="alert"`) || !strings.Contains(p.body, "incorrect") {
		t.Fatalf("wrong password = %d %s", p.status, p.body)
	}
	wantHTMLHeaders(t, p)

	// CSRF token missing, or another request's: the error page.
	other := loginForm(t, newBrowser(t, f).get(authorizeURL("web")))
	for name, bad := range map[string]url.Values{
		"csrf missing":            cloneForm(form, "csrf", "", "username", "alice", "password", alicePassword),
		"csrf of another request": cloneForm(form, "csrf", other.Get("csrf"), "username", "alice", "password", alicePassword),
		"request missing":         cloneForm(form, "request", "", "username", "alice", "password", alicePassword),
		"unknown request":         cloneForm(form, "request", "nope", "username", "alice", "password", alicePassword),
	} {
		p = b.post("/login", bad)
		if p.status != http.StatusBadRequest || p.loc != nil || !strings.Contains(p.body, "Sign-in problem") {
			t.Errorf("%s = %d %v %s, want the error page", name, p.status, p.loc, p.body)
		}
	}

	// Login CSRF: another browser (one that never saw the page, as when a
	// hostile site posts the form) cannot use the form, right values and all.
	if p := newBrowser(t, f).post("/login", cloneForm(form, "username", "alice", "password", alicePassword)); p.status != http.StatusBadRequest || p.loc != nil {
		t.Errorf("the form posted from another browser = %d %v, want the error page", p.status, p.loc)
	}

	// The right password: a session cookie and the code.
	p = b.post("/login", cloneForm(form, "username", "alice", "password", alicePassword))
	if p.status != http.StatusSeeOther || p.loc == nil || p.loc.Query().Get("code") == "" {
		t.Fatalf("login = %d %v %s", p.status, p.loc, p.body)
	}
	if q := p.loc.Query(); q.Get("state") != "state-0123456789" || q.Get("iss") != f.snap.Issuer {
		t.Errorf("redirect = %v", p.loc)
	}
	var setCookie string
	for _, sc := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "latchkey_session=") {
			setCookie = sc
		}
	}
	for _, want := range []string{"latchkey_session=", "Path=/", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", setCookie, want)
		}
	}
	if strings.Contains(setCookie, "Secure") {
		t.Errorf("Set-Cookie %q is Secure on an http issuer", setCookie)
	}
	status, tok := b.exchange(p.loc.Query().Get("code"), "web")
	if status != http.StatusOK || tok["id_token"] == nil || tok["refresh_token"] == nil {
		t.Fatalf("exchange = %d %v", status, tok)
	}

	// The form posted again to the finished request: the error page.
	p = b.post("/login", cloneForm(form, "username", "alice", "password", alicePassword))
	if p.status != http.StatusBadRequest || p.loc != nil {
		t.Errorf("form posted to a finished request = %d %v", p.status, p.loc)
	}

	// Single sign-on: another client of the realm, no password.
	p = b.get(authorizeURL("web2"))
	if p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
		t.Fatalf("SSO into web2 = %d %v %s", p.status, p.loc, p.body)
	}
	if status, tok := b.exchange(p.loc.Query().Get("code"), "web2"); status != http.StatusOK || tok["id_token"] == nil {
		t.Fatalf("web2 exchange = %d %v", status, tok)
	}
	// prompt=none with a session: a code; prompt=login: the page.
	if p = b.get(authorizeURL("web", "prompt", "none")); p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
		t.Errorf("prompt=none with a session = %d %v", p.status, p.loc)
	}
	if p = b.get(authorizeURL("web", "prompt", "login")); p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
		t.Errorf("prompt=login = %d %s", p.status, p.body)
	}
	// max_age: a session younger than it goes on; max_age=0 signs in again.
	if p = b.get(authorizeURL("web", "max_age", "3600")); p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
		t.Errorf("max_age=3600 with a fresh session = %d %v", p.status, p.loc)
	}
	if p = b.get(authorizeURL("web", "max_age", "0")); p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
		t.Errorf("max_age=0 = %d %v", p.status, p.loc)
	}
	// prompt=none without a session: login_required, with state and iss.
	p = newBrowser(t, f).get(authorizeURL("web", "prompt", "none"))
	if p.status != http.StatusSeeOther || p.loc.Query().Get("error") != "login_required" || p.loc.Query().Get("state") != "state-0123456789" || p.loc.Query().Get("iss") != f.snap.Issuer {
		t.Errorf("prompt=none without a session = %d %v", p.status, p.loc)
	}
	// An unregistered redirect URI: the error page, never a redirect.
	p = b.get(authorizeURL("web", "redirect_uri", "http://127.0.0.1:5174/cb"))
	if p.status != http.StatusBadRequest || p.loc != nil {
		t.Errorf("unregistered redirect_uri = %d %v", p.status, p.loc)
	}
	wantHTMLHeaders(t, p)
}

// A locked-out user sees the same generic message as a wrong password,
// even with the right one.
func TestLoginPageLockout(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: browserClients})
	f.addUser("bob", alicePassword)
	b := newBrowser(t, f)
	form := loginForm(t, b.get(authorizeURL("web")))
	var first string
	for i := range 3 {
		p := b.post("/login", cloneForm(form, "username", "bob", "password", "wrong password!"))
		if p.status != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d", i, p.status)
		}
		first = p.body
	}
	p := b.post("/login", cloneForm(form, "username", "bob", "password", alicePassword))
	if p.status != http.StatusUnauthorized || p.body != first {
		t.Fatalf("locked out, right password = %d; want the same 401 page as a wrong password", p.status)
	}
}

// The cookie is Secure when the issuer is https.
func TestLoginCookieSecureOnHTTPS(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: func(y string) string {
		return regexp.MustCompile(`issuer: http://\S+`).ReplaceAllString(browserClients(y), "issuer: https://id.example.test")
	}})
	f.addUser("alice", alicePassword)
	b := newBrowser(t, f)
	p := b.post("/login", cloneForm(loginForm(t, b.get(authorizeURL("web"))), "username", "alice", "password", alicePassword))
	if p.status != http.StatusSeeOther || !strings.Contains(strings.Join(p.header.Values("Set-Cookie"), "\n"), "Secure") {
		t.Fatalf("login on an https issuer = %d, Set-Cookie %q", p.status, p.header.Values("Set-Cookie"))
	}
}

// Two replicas on one MariaDB serve one login: the page from A, the form
// posted to B, the code exchanged at A, SSO at B.
func TestLoginAcrossReplicasOnMariaDB(t *testing.T) {
	a := newFixture(t, fixtureOpts{mysql: true, edit: browserClients})
	b := newFixture(t, fixtureOpts{replicaOf: a})
	a.addUser("alice", alicePassword)
	br := newBrowser(t, a)
	form := loginForm(t, br.get(authorizeURL("web")))
	br.f = b
	p := br.post("/login", cloneForm(form, "username", "alice", "password", alicePassword))
	if p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
		t.Fatalf("form posted to the replica = %d %v %s", p.status, p.loc, p.body)
	}
	br.f = a
	if status, tok := br.exchange(p.loc.Query().Get("code"), "web"); status != http.StatusOK {
		t.Fatalf("exchange at A = %d %v", status, tok)
	}
	// The cookie was set by B's address; send it to A by hand.
	req, _ := http.NewRequest(http.MethodGet, a.url(authorizeURL("web2")), nil)
	for _, c := range br.client.Jar.Cookies(mustURL(t, b.url("/"))) {
		req.AddCookie(c)
	}
	if p := br.do(req); p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
		t.Fatalf("SSO at A with B's session = %d %v", p.status, p.loc)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func cloneForm(f url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// Bad input on the browser routes is a 4xx page, never a 500, and
// whatever the user typed is escaped.
func TestLoginPageBadInput(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: browserClients})
	f.addUser("alice", alicePassword)
	b := newBrowser(t, f)

	// The authorization request as a form POST works like the GET.
	sum := sha256.Sum256([]byte(pkceVerifier))
	post := url.Values{"client_id": {"web"}, "response_type": {"code"}, "redirect_uri": {webRedirect}, "scope": {"openid"},
		"state": {"state-0123456789"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"login_hint": {`"><script>alert(1)</script>`}}
	p := b.post("/oauth2/authorize", post)
	if p.status != http.StatusOK || strings.Contains(p.body, "<script>") || !strings.Contains(p.body, "&lt;script&gt;") {
		t.Fatalf("POST authorize with a hostile login_hint = %d %s", p.status, p.body)
	}
	form := loginForm(t, p)

	for name, tc := range map[string]struct {
		path, body string
		status     int
	}{
		"malformed form":      {"/login", "request=%zz", http.StatusBadRequest},
		"oversized form":      {"/login", "username=" + strings.Repeat("a", 70<<10), http.StatusRequestEntityTooLarge},
		"empty form":          {"/login", "", http.StatusBadRequest},
		"malformed authorize": {"/oauth2/authorize", "client_id=%zz", http.StatusBadRequest},
		"huge request id":     {"/login", "request=" + strings.Repeat("x", 10<<10) + "&csrf=y", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(http.MethodPost, f.url(tc.path), strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		p := b.do(req)
		if p.status != tc.status {
			t.Errorf("%s = %d %.200s, want %d", name, p.status, p.body, tc.status)
		}
	}

	// Two concurrent posts of one form: one sign-in, the other the error page.
	good := cloneForm(form, "username", "alice", "password", alicePassword)
	var wg sync.WaitGroup
	results := make([]page, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = b.post("/login", good)
		}()
	}
	wg.Wait()
	codes := 0
	for _, r := range results {
		switch {
		case r.status == http.StatusSeeOther && r.loc.Query().Get("code") != "":
			codes++
		case r.status != http.StatusBadRequest:
			t.Errorf("concurrent post = %d %s", r.status, r.body)
		}
	}
	if codes != 1 {
		t.Fatalf("%d of 2 concurrent posts of one form signed in, want 1", codes)
	}
}

var consentRe = regexp.MustCompile(`<li>([^<]*)</li>`)

// signIn runs the login page for client and returns the redirect.
func (b *browser) signIn(client, user string) *url.URL {
	b.t.Helper()
	p := b.post("/login", cloneForm(loginForm(b.t, b.get(authorizeURL(client))), "username", user, "password", alicePassword))
	if p.status != http.StatusSeeOther || p.loc == nil || p.loc.Query().Get("code") == "" {
		b.t.Fatalf("sign in to %s = %d %v %s", client, p.status, p.loc, p.body)
	}
	return p.loc
}

// The consent page: Deny redirects access_denied and is not remembered;
// Allow is remembered per user and client; prompt=consent asks again.
func TestConsentPage(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: browserClients})
	f.addUser("alice", alicePassword)
	b := newBrowser(t, f)
	b.signIn("web", "alice")

	p := b.get(authorizeURL("web3"))
	wantHTMLHeaders(t, p)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Third-Party App") || !strings.Contains(p.body, `value="deny"`) {
		t.Fatalf("consent page = %d %s", p.status, p.body)
	}
	var scopes []string
	for _, m := range consentRe.FindAllStringSubmatch(p.body, -1) {
		scopes = append(scopes, m[1])
	}
	if strings.Join(scopes, " ") != "openid profile" {
		t.Errorf("consent page lists %v", scopes)
	}
	form := loginForm(t, p)
	// Another request's CSRF token, and no session: the error page.
	other := loginForm(t, b.get(authorizeURL("web3")))
	if p := b.post("/consent", cloneForm(form, "csrf", other.Get("csrf"), "decision", "allow")); p.status != http.StatusBadRequest || p.loc != nil {
		t.Errorf("consent with another request's CSRF = %d %v", p.status, p.loc)
	}
	if p := newBrowser(t, f).post("/consent", cloneForm(other, "decision", "allow")); p.status != http.StatusBadRequest || p.loc != nil {
		t.Errorf("consent without a session = %d %v", p.status, p.loc)
	}
	p = b.post("/consent", cloneForm(form, "decision", "deny"))
	if p.status != http.StatusSeeOther || p.loc.Query().Get("error") != "access_denied" || p.loc.Query().Get("state") != "state-0123456789" || p.loc.Query().Get("iss") != f.snap.Issuer {
		t.Fatalf("deny = %d %v", p.status, p.loc)
	}
	if p := b.post("/consent", cloneForm(form, "decision", "allow")); p.status != http.StatusBadRequest {
		t.Errorf("the consent form posted twice = %d %v", p.status, p.loc)
	}
	// Denied is not remembered; prompt=none then says consent_required.
	if p := b.get(authorizeURL("web3", "prompt", "none")); p.status != http.StatusSeeOther || p.loc.Query().Get("error") != "consent_required" {
		t.Errorf("prompt=none before consent = %d %v", p.status, p.loc)
	}
	p = b.post("/consent", cloneForm(loginForm(t, b.get(authorizeURL("web3"))), "decision", "allow"))
	if p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
		t.Fatalf("allow = %d %v %s", p.status, p.loc, p.body)
	}
	if status, tok := b.exchange(p.loc.Query().Get("code"), "web3"); status != http.StatusOK {
		t.Fatalf("exchange after consent = %d %v", status, tok)
	}
	// Remembered: straight back with a code, prompt=none too.
	if p := b.get(authorizeURL("web3", "prompt", "none")); p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
		t.Errorf("after consent = %d %v", p.status, p.loc)
	}
	// prompt=consent asks even a first-party client.
	if p := b.get(authorizeURL("web", "prompt", "consent")); p.status != http.StatusOK || !strings.Contains(p.body, `value="allow"`) {
		t.Errorf("prompt=consent = %d", p.status)
	}
}

// RP-initiated logout ends the session and the grants made through it.
func TestLogout(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: browserClients})
	f.addUser("alice", alicePassword)
	b := newBrowser(t, f)
	status, tok := b.exchange(b.signIn("web", "alice").Query().Get("code"), "web")
	if status != http.StatusOK {
		t.Fatalf("exchange = %d %v", status, tok)
	}
	idToken, refresh := tok["id_token"].(string), tok["refresh_token"].(string)

	// Bad requests: the error page, and the session lives on.
	for name, q := range map[string]url.Values{
		"unregistered post_logout_redirect_uri": {"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example.com/"}},
		"post-logout URI of another client":     {"client_id": {"web2"}, "post_logout_redirect_uri": {"http://127.0.0.1:5173/bye"}},
		"post-logout URI without a client":      {"post_logout_redirect_uri": {"http://127.0.0.1:5173/bye"}},
		"hint for another client":               {"id_token_hint": {idToken}, "client_id": {"web2"}},
		"garbage hint":                          {"id_token_hint": {"eyJhbGciOiJub25lIn0.e30."}},
		"an access token as the hint":           {"id_token_hint": {tok["access_token"].(string)}},
		"unknown client":                        {"client_id": {"nope"}},
	} {
		p := b.get("/oauth2/logout?" + q.Encode())
		if p.status != http.StatusBadRequest || p.loc != nil {
			t.Errorf("%s = %d %v, want the error page", name, p.status, p.loc)
		}
	}
	if p := b.get(authorizeURL("web", "prompt", "none")); p.loc == nil || p.loc.Query().Get("code") == "" {
		t.Fatalf("a refused logout ended the session: %d %v", p.status, p.loc)
	}

	p := b.get("/oauth2/logout?" + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"http://127.0.0.1:5173/bye"}, "state": {"bye state"}}.Encode())
	if p.status != http.StatusSeeOther || p.loc.String() != "http://127.0.0.1:5173/bye?state=bye+state" {
		t.Fatalf("logout = %d %v %s", p.status, p.loc, p.body)
	}
	if sc := p.header.Get("Set-Cookie"); !strings.Contains(sc, "latchkey_session=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("logout Set-Cookie = %q", sc)
	}
	if status, body := f.refresh(refresh, "client_id", "web"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh after logout = %d %v", status, body)
	}
	if p := b.get(authorizeURL("web", "prompt", "none")); p.loc == nil || p.loc.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none after logout = %d %v", p.status, p.loc)
	}
	// Without a session or parameters: the signed-out page.
	p = newBrowser(t, f).get("/oauth2/logout")
	wantHTMLHeaders(t, p)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Signed out") {
		t.Errorf("logout without parameters = %d %s", p.status, p.body)
	}
}

// A browser session of a user deactivated since signs nobody in.
func TestSessionOfDeactivatedUser(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: browserClients})
	id := f.addUser("alice", alicePassword)
	b := newBrowser(t, f)
	b.signIn("web", "alice")
	if err := f.srv.Accounts().SetStatus(f.ctx(), "rl_test", id, "deactivated"); err != nil {
		t.Fatal(err)
	}
	if p := b.get(authorizeURL("web", "prompt", "none")); p.loc == nil || p.loc.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none with a deactivated user's session = %d %v", p.status, p.loc)
	}
}

// In a realm where the username is the e-mail, the page asks for the
// e-mail, and an e-mail signs in.
func TestLoginPageEmailRealm(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: func(y string) string {
		return strings.Replace(browserClients(y), "{id: rl_test, name: Test,", "{id: rl_test, name: Test, username_is_email: true,", 1)
	}})
	if !f.snap.Realm("rl_test").UsernameIsEmail {
		t.Fatal("the realm is not username_is_email")
	}
	if _, err := f.srv.Accounts().Create(f.ctx(), f.snap.Realm("rl_test"), accounts.NewUser{Email: "erin@example.test", Password: alicePassword}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, f)
	p := b.get(authorizeURL("web"))
	if !strings.Contains(p.body, `<label for="username">E-mail</label>`) || !strings.Contains(p.body, `type="email"`) {
		t.Fatalf("login page of an e-mail realm: %s", p.body)
	}
	p = b.post("/login", cloneForm(loginForm(t, p), "username", "Erin@Example.test", "password", alicePassword))
	if p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
		t.Fatalf("sign in by e-mail = %d %v %s", p.status, p.loc, p.body)
	}
}

// Passkeys on the login page, over real HTTP with a software
// authenticator: the pages and their CSP, the JSON routes bound to the
// pending request like the password form, the add-passkey offer after a
// password sign-in (Add, Skip remembered, never to a user with a passkey),
// and the ID token's amr.

const passkeyOrigin = "http://localhost:8080"

// passkeyClients is browserClients in a realm with passkeys (relying
// party localhost, whose origin the software authenticator names), plus a
// browser client of rl_other, which has none.
func passkeyClients(yaml string) string {
	y := strings.Replace(browserClients(yaml), "{id: rl_test, name: Test,", "{id: rl_test, name: Test, passkeys: true,", 1)
	y = strings.Replace(y, "clients:\n", `clients:
  - id: web-other
    name: Other Realm App
    realm: rl_other
    auth_method: none
    grant_types: [authorization_code]
    redirect_uris: [`+webRedirect+`]
    scopes: [openid, profile]
`, 1)
	return y + "webauthn: {rp_id: localhost, origins: [\"" + passkeyOrigin + "\"]}\n"
}

// postJSON posts body as JSON and returns the answer and its JSON object.
func (b *browser) postJSON(path string, body any) (page, map[string]any) {
	b.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		b.t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, b.f.url(path), bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	p := b.do(req)
	var m map[string]any
	if err := json.Unmarshal([]byte(p.body), &m); err != nil {
		b.t.Fatalf("POST %s = %d, not a JSON object: %s", path, p.status, p.body)
	}
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		b.t.Errorf("POST %s: Cache-Control %q, want no-store", path, cc)
	}
	return p, m
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// pendingOf is the JSON body naming form's pending request, with extra.
func pendingOf(form url.Values, extra map[string]any) map[string]any {
	m := map[string]any{"request": form.Get("request"), "csrf": form.Get("csrf")}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// optionsOf returns the publicKey options of a begin answer, as JSON, and
// their challenge.
func optionsOf(t *testing.T, p page, m map[string]any) ([]byte, string) {
	t.Helper()
	pk, ok := m["publicKey"].(map[string]any)
	if p.status != http.StatusOK || !ok {
		t.Fatalf("begin = %d %s", p.status, p.body)
	}
	raw, _ := json.Marshal(pk)
	challenge, _ := pk["challenge"].(string)
	return raw, challenge
}

// answerPasskey begins the login page's passkey sign-in of form and
// answers it with auth: the body the page's script would post to finish.
func (b *browser) answerPasskey(form url.Values, auth *softauthn.Authenticator) map[string]any {
	b.t.Helper()
	p, m := b.postJSON("/login/passkey/begin", pendingOf(form, nil))
	opts, challenge := optionsOf(b.t, p, m)
	if strings.Contains(string(opts), "allowCredentials") {
		b.t.Errorf("a discoverable sign-in names credentials: %s", opts)
	}
	as, err := auth.Assert(opts)
	if err != nil {
		b.t.Fatalf("Assert: %v", err)
	}
	return pendingOf(form, map[string]any{"challenge": challenge, "id": b64u(as.CredentialID), "rawId": b64u(as.CredentialID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64u(as.ClientDataJSON), "authenticatorData": b64u(as.AuthenticatorData),
			"signature": b64u(as.Signature), "userHandle": b64u(as.UserHandle)}})
}

// addPasskey runs the offer page's Add with auth and returns the finish.
func (b *browser) addPasskey(offer url.Values, auth *softauthn.Authenticator) (page, map[string]any) {
	b.t.Helper()
	p, m := b.postJSON("/login/passkey/add/begin", pendingOf(offer, nil))
	opts, challenge := optionsOf(b.t, p, m)
	att, err := auth.Register(opts)
	if err != nil {
		b.t.Fatalf("Register: %v", err)
	}
	return b.postJSON("/login/passkey/add/finish", pendingOf(offer, map[string]any{"challenge": challenge, "credentialUUID": m["credentialUUID"],
		"id": b64u(att.CredentialID), "rawId": b64u(att.CredentialID), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64u(att.ClientDataJSON), "attestationObject": b64u(att.AttestationObject), "transports": []string{"internal"}}}))
}

// codeOf returns the code of a JSON answer's location (the client's
// redirect), failing otherwise.
func codeOf(t *testing.T, what string, p page, m map[string]any) string {
	t.Helper()
	loc, _ := m["location"].(string)
	u, err := url.Parse(loc)
	if p.status != http.StatusOK || err != nil || !strings.HasPrefix(loc, webRedirect+"?") || u.Query().Get("code") == "" {
		t.Fatalf("%s = %d %s, want the client's redirect with a code", what, p.status, p.body)
	}
	if u.Query().Get("state") != "state-0123456789" {
		t.Errorf("%s: redirect %s lacks the state", what, loc)
	}
	return u.Query().Get("code")
}

// amrOf exchanges code and returns the ID token's subject and amr.
func (b *browser) amrOf(code, client string) (string, string) {
	b.t.Helper()
	status, tok := b.exchange(code, client)
	idt, _ := tok["id_token"].(string)
	if status != http.StatusOK || idt == "" {
		b.t.Fatalf("exchange = %d %v", status, tok)
	}
	_, claims := b.f.verifyJWT(idt)
	var amr []string
	list, _ := claims["amr"].([]any)
	for _, v := range list {
		s, _ := v.(string)
		amr = append(amr, s)
	}
	sub, _ := claims["sub"].(string)
	return sub, strings.Join(amr, " ")
}

var (
	scriptTagRe = regexp.MustCompile(`<script[^>]*>`)
	handlerRe   = regexp.MustCompile(`\son[a-z]+\s*=`)
	integrityRe = regexp.MustCompile(`integrity="(sha384-[^"]+)"`)
)

// wantPasskeyPage checks a page with the passkey script: the strict CSP
// plus our own script and fetches, one script tag with src and integrity,
// nothing inline.
func wantPasskeyPage(t *testing.T, p page) {
	t.Helper()
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows unsafe sources", csp)
	}
	tags := scriptTagRe.FindAllString(p.body, -1)
	if len(tags) != 1 || !strings.HasPrefix(tags[0], `<script src="/login/assets/passkeys.js" integrity="sha384-`) ||
		!strings.Contains(p.body, tags[0]+"</script>") {
		t.Errorf("script tags %q, want the one embedded script, by src, empty", tags)
	}
	if handlerRe.MatchString(p.body) || externalRe.MatchString(p.body) || strings.Contains(p.body, "javascript:") {
		t.Errorf("the page has an inline handler or an external asset: %s", p.body)
	}
	if p.header.Get("X-Frame-Options") != "DENY" || p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", p.header)
	}
}

func eachBackend(t *testing.T, run func(t *testing.T, mysql bool)) {
	t.Run("sqlite", func(t *testing.T) { run(t, false) })
	t.Run("mysql", func(t *testing.T) { run(t, true) })
}

func sessionCookieSet(p page) string {
	for _, sc := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "latchkey_session=") && !strings.HasPrefix(sc, "latchkey_session=;") {
			return sc
		}
	}
	return ""
}

func TestPasskeyLoginPage(t *testing.T) {
	eachBackend(t, func(t *testing.T, mysql bool) {
		f := newFixture(t, fixtureOpts{mysql: mysql, edit: passkeyClients})
		aliceID := f.addUser("alice", alicePassword)
		b := newBrowser(t, f)

		// The login page offers a passkey: the button, the autofill, the
		// script under a CSP that allows only it.
		p := b.get(authorizeURL("web"))
		wantPasskeyPage(t, p)
		for _, want := range []string{`id="passkey-button"`, `autocomplete="username webauthn"`, `name="password"`, `data-begin="/login/passkey/begin"`} {
			if !strings.Contains(p.body, want) {
				t.Errorf("login page lacks %s", want)
			}
		}
		js := b.get("/login/assets/passkeys.js")
		sum := sha512.Sum384([]byte(js.body))
		if m := integrityRe.FindStringSubmatch(p.body); js.status != http.StatusOK || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") ||
			m == nil || html.UnescapeString(m[1]) != "sha384-"+base64.StdEncoding.EncodeToString(sum[:]) {
			t.Errorf("passkeys.js = %d %q, integrity %v", js.status, js.header.Get("Content-Type"), m)
		}

		// A password sign-in: the offer, not yet the code.
		form := loginForm(t, p)
		p = b.post("/login", cloneForm(form, "username", "alice", "password", alicePassword))
		if p.status != http.StatusOK || !strings.Contains(p.body, "Add a passkey for faster sign-in?") || !strings.Contains(p.body, `id="skip"`) {
			t.Fatalf("password sign-in = %d %v %s, want the add-passkey offer", p.status, p.loc, p.body)
		}
		if sessionCookieSet(p) == "" {
			t.Errorf("the offer comes without the session cookie: %q", p.header.Values("Set-Cookie"))
		}
		wantPasskeyPage(t, p)
		offer := loginForm(t, p)
		// The offer's routes take the offer's request only: not a login
		// page's, even in the signed-in browser.
		other := loginForm(t, b.get(authorizeURL("web", "prompt", "login")))
		if p, m := b.postJSON("/login/passkey/add/begin", pendingOf(other, nil)); p.status != http.StatusForbidden {
			t.Errorf("add/begin with a login page's request = %d %v", p.status, m)
		}
		if p := b.post("/login/passkey/skip", other); p.status != http.StatusForbidden || p.loc != nil {
			t.Errorf("skip with a login page's request = %d %v", p.status, p.loc)
		}
		// Add: a passkey, then the code; the ID token says password.
		auth := softauthn.New("localhost", passkeyOrigin, softauthn.Options{})
		p, m := b.addPasskey(offer, auth)
		if sub, amr := b.amrOf(codeOf(t, "add/finish", p, m), "web"); sub != aliceID || amr != "pwd" {
			t.Errorf("after the password sign-in: sub %s amr %q, want %s [pwd]", sub, amr, aliceID)
		}
		if p, m := b.postJSON("/login/passkey/add/begin", pendingOf(offer, nil)); p.status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(m["error_description"]), "already used") {
			t.Errorf("the used offer again = %d %v", p.status, m)
		}

		// A passkey sign-in in a new browser: no username, no password; a
		// session cookie like a password's, and the code.
		b2 := newBrowser(t, f)
		form2 := loginForm(t, b2.get(authorizeURL("web")))
		answer := b2.answerPasskey(form2, auth)
		p, m = b2.postJSON("/login/passkey/finish", answer)
		code := codeOf(t, "finish", p, m)
		sc := sessionCookieSet(p)
		for _, want := range []string{"Path=/", "HttpOnly", "SameSite=Lax"} {
			if !strings.Contains(sc, want) {
				t.Errorf("passkey sign-in Set-Cookie %q lacks %s", sc, want)
			}
		}
		if sub, amr := b2.amrOf(code, "web"); sub != aliceID || amr != "hwk user" {
			t.Errorf("after the passkey sign-in: sub %s amr %q, want %s [hwk user]", sub, amr, aliceID)
		}
		if p := b2.get(authorizeURL("web2")); p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
			t.Errorf("single sign-on after a passkey sign-in = %d %v", p.status, p.loc)
		} else if _, amr := b2.amrOf(p.loc.Query().Get("code"), "web2"); amr != "hwk user" {
			t.Errorf("single sign-on's amr %q, want the session's [hwk user]", amr)
		}
		// The finished request: the password form's answer.
		if p, m := b2.postJSON("/login/passkey/begin", pendingOf(form2, nil)); p.status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(m["error_description"]), "expired or was already used") {
			t.Errorf("begin on a finished request = %d %v", p.status, m)
		}
		if p, m := b2.postJSON("/login/passkey/finish", answer); p.status != http.StatusBadRequest || m["location"] != nil {
			t.Errorf("finish posted again = %d %v", p.status, m)
		}

		// A replayed challenge, on another request: refused; the request
		// lives on and a fresh ceremony signs in.
		b3 := newBrowser(t, f)
		form3 := loginForm(t, b3.get(authorizeURL("web")))
		p, m = b3.postJSON("/login/passkey/finish", cloneMap(answer, "request", form3.Get("request"), "csrf", form3.Get("csrf")))
		if p.status != http.StatusUnauthorized || m["error"] != "passkey_refused" || !strings.Contains(fmt.Sprint(m["error_description"]), "challenge") || sessionCookieSet(p) != "" {
			t.Errorf("replayed challenge = %d %v", p.status, m)
		}
		p, m = b3.postJSON("/login/passkey/finish", b3.answerPasskey(form3, auth))
		codeOf(t, "finish after a refusal", p, m)

		// A challenge begun on one pending request of a browser, finished
		// on another of the same browser: refused (the ceremony is bound
		// to its request).
		bb := newBrowser(t, f)
		formA := loginForm(t, bb.get(authorizeURL("web")))
		formB := loginForm(t, bb.get(authorizeURL("web2")))
		onA := bb.answerPasskey(formA, auth)
		p, m = bb.postJSON("/login/passkey/finish", cloneMap(onA, "request", formB.Get("request"), "csrf", formB.Get("csrf")))
		if p.status != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(m["error_description"]), "another ceremony") || sessionCookieSet(p) != "" {
			t.Errorf("a challenge of another request = %d %v", p.status, m)
		}

		// CSRF: the token missing or another request's, or the right
		// values from a browser that never saw the page: 403.
		b4 := newBrowser(t, f)
		form4 := loginForm(t, b4.get(authorizeURL("web")))
		foreign := loginForm(t, newBrowser(t, f).get(authorizeURL("web")))
		for name, tc := range map[string]struct {
			b    *browser
			body map[string]any
		}{
			"csrf missing":            {b4, pendingOf(cloneForm(form4, "csrf", ""), nil)},
			"csrf of another request": {b4, pendingOf(cloneForm(form4, "csrf", foreign.Get("csrf")), nil)},
			"another browser":         {newBrowser(t, f), pendingOf(form4, nil)},
		} {
			for _, path := range []string{"/login/passkey/begin", "/login/passkey/finish", "/login/passkey/add/begin", "/login/passkey/add/finish"} {
				if p, m := tc.b.postJSON(path, tc.body); p.status != http.StatusForbidden || m["error"] != "invalid_request" {
					t.Errorf("%s: %s = %d %v, want 403", name, path, p.status, m)
				}
			}
		}
		if p, m := b4.postJSON("/login/passkey/begin", pendingOf(cloneForm(form4, "request", "nope"), nil)); p.status != http.StatusBadRequest {
			t.Errorf("unknown request = %d %v", p.status, m)
		}
		// Bodies: JSON only, under the cap, of the right shape.
		for name, tc := range map[string]struct {
			ctype, body string
			status      int
		}{
			"a form":         {"application/x-www-form-urlencoded", "request=" + form4.Get("request") + "&csrf=" + form4.Get("csrf"), http.StatusUnsupportedMediaType},
			"malformed JSON": {"application/json", `{"request":`, http.StatusBadRequest},
			"oversized":      {"application/json", `{"request":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
			"bad base64url": {"application/json", mustJSONString(t, pendingOf(form4, map[string]any{"challenge": "x", "rawId": "***",
				"response": map[string]any{"clientDataJSON": "e30"}})), http.StatusBadRequest},
		} {
			path := "/login/passkey/finish"
			req, _ := http.NewRequest(http.MethodPost, f.url(path), strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			if p := b4.do(req); p.status != tc.status {
				t.Errorf("%s = %d %.200s, want %d", name, p.status, p.body, tc.status)
			}
		}
		// Still usable after all that.
		p, m = b4.postJSON("/login/passkey/finish", b4.answerPasskey(form4, auth))
		codeOf(t, "finish after the refusals", p, m)

		// alice has a passkey now: her next password sign-in goes straight
		// to the client.
		b5 := newBrowser(t, f)
		if p := b5.post("/login", cloneForm(loginForm(t, b5.get(authorizeURL("web"))), "username", "alice", "password", alicePassword)); p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
			t.Errorf("password sign-in of a user with a passkey = %d %s, want no offer", p.status, p.body)
		}

		// A client that needs consent: the script is sent to the consent
		// page, which this browser alone can open.
		b6 := newBrowser(t, f)
		form6 := loginForm(t, b6.get(authorizeURL("web3")))
		p, m = b6.postJSON("/login/passkey/finish", b6.answerPasskey(form6, auth))
		loc, _ := m["location"].(string)
		if p.status != http.StatusOK || !strings.HasPrefix(loc, "/consent?request=") {
			t.Fatalf("passkey sign-in to a consent client = %d %v", p.status, m)
		}
		if p := newBrowser(t, f).get(loc); p.status != http.StatusBadRequest || strings.Contains(p.body, `value="allow"`) {
			t.Errorf("the consent page in another browser = %d", p.status)
		}
		p = b6.get(loc)
		wantHTMLHeaders(t, p)
		if p.status != http.StatusOK || !strings.Contains(p.body, "Third-Party App") || !strings.Contains(p.body, "alice") {
			t.Fatalf("consent page = %d %s", p.status, p.body)
		}
		p = b6.post("/consent", cloneForm(loginForm(t, p), "decision", "allow"))
		if p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
			t.Fatalf("allow = %d %v %s", p.status, p.loc, p.body)
		}
		if _, amr := b6.amrOf(p.loc.Query().Get("code"), "web3"); amr != "hwk user" {
			t.Errorf("amr after consent %q, want [hwk user]", amr)
		}
	})
}

// Skip is a plain form post, remembered for the user on this browser; a
// passkey that did not verify the user is amr ["hwk"]; a realm without
// passkeys has no passkey routes or script.
func TestPasskeyOfferSkipAndRealms(t *testing.T) {
	eachBackend(t, func(t *testing.T, mysql bool) {
		f := newFixture(t, fixtureOpts{mysql: mysql, edit: passkeyClients})
		bobID := f.addUser("bob", alicePassword)
		f.addUser("carol", alicePassword)
		b := newBrowser(t, f)
		offerFor := func(b *browser, user string, extra ...string) (page, url.Values) {
			t.Helper()
			p := b.post("/login", cloneForm(loginForm(t, b.get(authorizeURL("web", extra...))), "username", user, "password", alicePassword))
			if p.status != http.StatusOK || !strings.Contains(p.body, "Add a passkey") {
				return p, nil
			}
			return p, loginForm(t, p)
		}
		_, offer := offerFor(b, "bob")
		if offer == nil {
			t.Fatal("no offer after bob's first password sign-in")
		}
		// Skip without the offer's browser, then Skip.
		if p := newBrowser(t, f).post("/login/passkey/skip", offer); p.status == http.StatusSeeOther {
			t.Errorf("skip from another browser = %d %v", p.status, p.loc)
		}
		p := b.post("/login/passkey/skip", offer)
		if p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
			t.Fatalf("skip = %d %v %s", p.status, p.loc, p.body)
		}
		var skipCookie string
		for _, sc := range p.header.Values("Set-Cookie") {
			if strings.HasPrefix(sc, "latchkey_pkskip_") {
				skipCookie = sc
			}
		}
		if !strings.Contains(skipCookie, "Max-Age=") || !strings.Contains(skipCookie, "HttpOnly") || strings.Contains(skipCookie, bobID) {
			t.Errorf("skip cookie %q: want a long-lived HttpOnly cookie that does not show the user id", skipCookie)
		}
		if sub, amr := b.amrOf(p.loc.Query().Get("code"), "web"); sub != bobID || amr != "pwd" {
			t.Errorf("after skip: %s %q", sub, amr)
		}
		if p := b.post("/login/passkey/skip", offer); p.status != http.StatusBadRequest || p.loc != nil {
			t.Errorf("skip posted twice = %d %v", p.status, p.loc)
		}
		// Remembered on this browser, for bob only; a new browser asks once.
		if p, offer := offerFor(b, "bob", "prompt", "login"); offer != nil || p.status != http.StatusSeeOther {
			t.Errorf("bob's next sign-in on the same browser = %d, want no offer", p.status)
		}
		if _, offer := offerFor(b, "carol", "prompt", "login"); offer == nil {
			t.Errorf("carol on bob's browser was not offered a passkey")
		}
		if _, offer := offerFor(newBrowser(t, f), "bob"); offer == nil {
			t.Errorf("bob on a new browser was not offered a passkey")
		}

		// carol adds a passkey with an authenticator that does not verify
		// the user: her passkey sign-ins are amr ["hwk"].
		b2 := newBrowser(t, f)
		_, offer = offerFor(b2, "carol")
		if offer == nil {
			t.Fatal("no offer for carol")
		}
		auth := softauthn.New("localhost", passkeyOrigin, softauthn.Options{UserNotVerified: true})
		p, m := b2.addPasskey(offer, auth)
		codeOf(t, "carol's add/finish", p, m)
		b3 := newBrowser(t, f)
		p, m = b3.postJSON("/login/passkey/finish", b3.answerPasskey(loginForm(t, b3.get(authorizeURL("web"))), auth))
		if _, amr := b3.amrOf(codeOf(t, "carol's passkey sign-in", p, m), "web"); amr != "hwk" {
			t.Errorf("a passkey sign-in without user verification: amr %q, want [hwk]", amr)
		}
		// A realm without passkeys, beside one that has them: its page has
		// no script, and its requests get 404 from the passkey routes.
		bo := newBrowser(t, f)
		po := bo.get(authorizeURL("web-other"))
		wantHTMLHeaders(t, po)
		if strings.Contains(po.body, "passkey") || strings.Contains(po.body, "webauthn") {
			t.Errorf("the login page of a realm without passkeys mentions them: %s", po.body)
		}
		formO := loginForm(t, po)
		for _, path := range []string{"/login/passkey/begin", "/login/passkey/finish", "/login/passkey/add/begin", "/login/passkey/add/finish"} {
			if p, m := bo.postJSON(path, pendingOf(formO, nil)); p.status != http.StatusNotFound {
				t.Errorf("%s for a realm without passkeys = %d %v", path, p.status, m)
			}
		}
	})
}

// A snapshot without any passkey realm: the routes answer 404, the pages
// stay script-free (wantHTMLHeaders in the tests above).
func TestPasskeyRoutesWithoutPasskeys(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: browserClients})
	f.addUser("alice", alicePassword)
	b := newBrowser(t, f)
	form := loginForm(t, b.get(authorizeURL("web")))
	if p, m := b.postJSON("/login/passkey/begin", pendingOf(form, nil)); p.status != http.StatusNotFound {
		t.Errorf("begin without passkeys = %d %v", p.status, m)
	}
	p := b.post("/login", cloneForm(form, "username", "alice", "password", alicePassword))
	if p.status != http.StatusSeeOther || p.loc.Query().Get("code") == "" {
		t.Errorf("password sign-in without passkeys = %d %s, want no offer", p.status, p.body)
	}
}

func cloneMap(m map[string]any, kv ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func mustJSONString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
