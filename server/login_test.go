package server_test

import (
	"crypto/sha256"
	"encoding/base64"
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
