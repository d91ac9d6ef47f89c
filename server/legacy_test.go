package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/accounts"
)

// legacyClients adds the legacy clients to the test config: legacy-app
// (JWT access tokens of two weeks, as the original wiki's "a couple weeks") and
// legacy-two, both of realm rl_test, and names them in compat.legacy.
func legacyClients(prefix string) func(string) string {
	return func(y string) string {
		y = strings.Replace(y, "clients:\n", `clients:
  - id: legacy-app
    realm: rl_test
    auth_method: none
    grant_types: [password, refresh_token]
    scopes: [profile]
    access_token_ttl: 336h
    refresh_token_ttl: 720h
  - id: legacy-two
    realm: rl_test
    auth_method: none
    grant_types: [password, refresh_token]
    scopes: [profile]
`, 1)
		return y + fmt.Sprintf("compat:\n  legacy: {enabled: true, prefix: %q, clients: [legacy-app, legacy-two]}\n", prefix)
	}
}

func newLegacyFixture(t *testing.T, o fixtureOpts) *fixture {
	t.Helper()
	o.edit = legacyClients("")
	return newFixture(t, o)
}

// legacyCall is one request of an old client: the body as JSON, or as a
// form when form is set; auth is "" or a full Authorization value.
type legacyCall struct {
	f    *fixture
	form bool
}

func (l legacyCall) do(method, path, auth string, fields map[string]string) (*http.Response, map[string]any) {
	l.f.t.Helper()
	var body io.Reader
	ct := "application/json"
	if l.form {
		v := url.Values{}
		for k, s := range fields {
			v.Set(k, s)
		}
		body, ct = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
	} else if fields != nil {
		b, _ := json.Marshal(fields)
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(l.f.ctx(), method, l.f.url(path), body)
	if err != nil {
		l.f.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", ct)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return l.f.do(req)
}

// basic is the wiki's header: base64(key + ":" + token).
func basic(key, token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"+token))
}

// login is a legacy login's answer.
type legacyLogin struct{ role, key, token, refresh, expires string }

func asLogin(t *testing.T, m map[string]any) legacyLogin {
	t.Helper()
	s := func(k string) string { v, _ := m[k].(string); return v }
	l := legacyLogin{s("role"), s("key"), s("token"), s("refresh"), s("expires")}
	if l.key == "" || l.token == "" || l.refresh == "" || l.expires == "" {
		t.Fatalf("not a login: %v", m)
	}
	return l
}

// wantError checks a legacy error answer: status, code, the two fields,
// and the Basic challenge on a 401.
func wantError(t *testing.T, what string, resp *http.Response, m map[string]any, status int, code string) {
	t.Helper()
	if resp.StatusCode != status || m["error"] != code || len(m) != 2 || m["message"] == "" {
		t.Errorf("%s: %d %v, want %d %s with a message", what, resp.StatusCode, m, status, code)
	}
	if status == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("%s: 401 with WWW-Authenticate %q", what, resp.Header.Get("WWW-Authenticate"))
	}
}

// The original wiki's whole walk, as an unmodified old client does it: sign up,
// log in, PATCH with Basic key:token, refresh, the old refresh token
// refused, log out, and the logged-out Basic and refresh refused — with a
// JSON client and with a form client, on SQLite and on MariaDB.
func TestLegacySeedWalk(t *testing.T) {
	for _, db := range []string{"sqlite", "mariadb"} {
		for _, form := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/form=%v", db, form), func(t *testing.T) {
				f := newLegacyFixture(t, fixtureOpts{mysql: db == "mariadb"})
				legacySeedWalk(t, f, legacyCall{f: f, form: form})
			})
		}
	}
}

func legacySeedWalk(t *testing.T, f *fixture, c legacyCall) {
	const email, password = "Ada@Example.com", "analytical engine 1843"
	before := time.Now().Truncate(time.Second)

	// Sign up: a user, and a first login.
	resp, m := c.do("POST", "/users", "", map[string]string{"client": "legacy-app", "email": email, "password": password,
		"first_name": "Ada", "last_name": "Lovelace"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-up: %d %v", resp.StatusCode, m)
	}
	signup := asLogin(t, m)
	if signup.role != accounts.DefaultRole {
		t.Errorf("sign-up role %q", signup.role)
	}

	// Step 1: log in (the e-mail in another case is the same user).
	resp, m = c.do("POST", "/users/token", "", map[string]string{"client": "legacy-app", "email": "ada@example.COM", "password": password})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %v", resp.StatusCode, m)
	}
	login := asLogin(t, m)
	if login.role != "user" || login.key == signup.key || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("login %+v (sign-up key %s), Cache-Control %q", login, signup.key, resp.Header.Get("Cache-Control"))
	}
	exp, err := time.Parse(time.RFC3339, login.expires)
	if err != nil || !strings.HasSuffix(login.expires, "Z") || exp.Before(before.Add(336*time.Hour)) || exp.After(before.Add(336*time.Hour+5*time.Second)) {
		t.Errorf("expires %q: want RFC 3339 UTC, the client's access_token_ttl (336h) from now", login.expires)
	}
	_, claims := f.verifyJWT(login.token)
	if claims["client_id"] != "legacy-app" || !strings.HasPrefix(claims["sub"].(string), "usr_") {
		t.Errorf("token claims %v", claims)
	}
	if info := f.introspect(login.refresh, "svc", f.secret); info["active"] != true || info["token_use"] != "refresh_token" ||
		int64(info["exp"].(float64)) < before.Add(720*time.Hour).Unix() {
		t.Errorf("refresh token introspects as %v; want active, of the client's refresh_token_ttl (720h)", info)
	}

	// Step 2: an authorized PATCH /users.
	resp, m = c.do("PATCH", "/users", basic(login.key, login.token), map[string]string{"email": "ada@lovelace.example", "first_name": "Augusta Ada"})
	if resp.StatusCode != http.StatusOK || m["email"] != "ada@lovelace.example" || m["first_name"] != "Augusta Ada" ||
		m["last_name"] != "Lovelace" || m["role"] != "user" || m["id"] != claims["sub"] || len(m) != 5 {
		t.Fatalf("PATCH /users: %d %v", resp.StatusCode, m)
	}

	// Step 3: refresh. The key stays; token and refresh are new.
	resp, m = c.do("POST", "/users/token/refresh", "", map[string]string{"client": "legacy-app", "key": login.key, "refresh": login.refresh})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d %v", resp.StatusCode, m)
	}
	refreshed := asLogin(t, m)
	if refreshed.key != login.key || refreshed.token == login.token || refreshed.refresh == login.refresh || m["role"] != nil || len(m) != 4 {
		t.Fatalf("refresh answered %v", m)
	}
	if exp, err := time.Parse(time.RFC3339, refreshed.expires); err != nil || exp.Before(before.Add(336*time.Hour)) {
		t.Errorf("refreshed expires %q: want the client's access_token_ttl (336h) from now", refreshed.expires)
	}
	if resp, m := c.do("PATCH", "/users", basic(refreshed.key, refreshed.token), map[string]string{"last_name": "King"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH with the refreshed token: %d %v", resp.StatusCode, m)
	}
	// The previous access token stays valid until it expires.
	if resp, m := c.do("PATCH", "/users", basic(login.key, login.token), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("PATCH with the previous token: %d %v", resp.StatusCode, m)
	}

	// The old refresh token is dead: presenting it again is reuse, which
	// ends the whole grant (RFC 9700 §4.14.2), its new pair included.
	resp, m = c.do("POST", "/users/token/refresh", "", map[string]string{"client": "legacy-app", "key": login.key, "refresh": login.refresh})
	wantError(t, "old refresh token", resp, m, http.StatusUnauthorized, "invalid_grant")
	resp, m = c.do("PATCH", "/users", basic(refreshed.key, refreshed.token), nil)
	wantError(t, "Basic of a grant ended by reuse", resp, m, http.StatusUnauthorized, "invalid_token")
	resp, m = c.do("POST", "/users/token/refresh", "", map[string]string{"client": "legacy-app", "key": refreshed.key, "refresh": refreshed.refresh})
	wantError(t, "refresh of a grant ended by reuse", resp, m, http.StatusUnauthorized, "invalid_grant")

	// Log out the sign-up's login: its token and refresh stop working.
	if resp, m := c.do("PATCH", "/users", basic(signup.key, signup.token), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH with the sign-up's login: %d %v", resp.StatusCode, m)
	}
	resp, m = c.do("DELETE", "/users/token", basic(signup.key, signup.token), map[string]string{"client": "legacy-app"})
	if resp.StatusCode != http.StatusNoContent || m != nil {
		t.Fatalf("logout: %d %v", resp.StatusCode, m)
	}
	resp, m = c.do("PATCH", "/users", basic(signup.key, signup.token), map[string]string{"first_name": "Mallory"})
	wantError(t, "Basic after logout", resp, m, http.StatusUnauthorized, "invalid_token")
	resp, m = c.do("POST", "/users/token/refresh", "", map[string]string{"client": "legacy-app", "key": signup.key, "refresh": signup.refresh})
	wantError(t, "refresh after logout", resp, m, http.StatusUnauthorized, "invalid_grant")
	resp, m = c.do("DELETE", "/users/token", basic(signup.key, signup.token), nil)
	wantError(t, "a second logout", resp, m, http.StatusUnauthorized, "invalid_token")
	if f.active(signup.token) || f.active(signup.refresh) {
		t.Error("a logged-out token still introspects as active")
	}

	// The new e-mail logs in; the old one no longer does.
	if resp, m := c.do("POST", "/users/token", "", map[string]string{"client": "legacy-app", "email": "ada@lovelace.example", "password": password}); resp.StatusCode != http.StatusOK {
		t.Errorf("login with the new e-mail: %d %v", resp.StatusCode, m)
	}
	resp, m = c.do("POST", "/users/token", "", map[string]string{"client": "legacy-app", "email": email, "password": password})
	wantError(t, "login with the old e-mail", resp, m, http.StatusUnauthorized, "invalid_credentials")
}

// The attacks on the Basic middleware and on refresh: a valid token with
// another login's key, a stolen refresh token with a wrong key, another
// client's tokens, a deactivated user.
func TestLegacyAttacks(t *testing.T) {
	f := newLegacyFixture(t, fixtureOpts{})
	c := legacyCall{f: f}
	const password = "analytical engine 1843"
	signup := func(email string) legacyLogin {
		t.Helper()
		resp, m := c.do("POST", "/users", "", map[string]string{"client": "legacy-app", "email": email, "password": password})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("sign-up %s: %d %v", email, resp.StatusCode, m)
		}
		return asLogin(t, m)
	}
	ada, bob := signup("ada@example.com"), signup("bob@example.com")

	// Two valid logins, crossed: Bob's token under Ada's key, and the
	// other way round.
	for _, auth := range []string{basic(ada.key, bob.token), basic(bob.key, ada.token)} {
		resp, m := c.do("PATCH", "/users", auth, map[string]string{"email": "eve@example.com"})
		wantError(t, "crossed key and token", resp, m, http.StatusUnauthorized, "invalid_token")
		resp, m = c.do("DELETE", "/users/token", auth, nil)
		wantError(t, "crossed key and token on logout", resp, m, http.StatusUnauthorized, "invalid_token")
	}
	// The Basic parts are taken as they are: a percent-escaped key is no key.
	resp, m := c.do("PATCH", "/users", basic(fmt.Sprintf("%%%02X", ada.key[0])+ada.key[1:], ada.token), nil)
	wantError(t, "altered key", resp, m, http.StatusUnauthorized, "invalid_token")
	// The token alone, or as a Bearer token, is not enough.
	for _, auth := range []string{"Bearer " + ada.token, "Basic " + base64.StdEncoding.EncodeToString([]byte(ada.token)),
		basic("", ada.token), basic(ada.key, ""), "Basic " + ada.key + ":" + ada.token} {
		resp, m := c.do("PATCH", "/users", auth, nil)
		wantError(t, "malformed credentials "+auth[:12], resp, m, http.StatusUnauthorized, "invalid_token")
	}

	// Bob's refresh token under Ada's key: refused, and nothing changes —
	// Bob's next refresh, with his key, works.
	resp, m = c.do("POST", "/users/token/refresh", "", map[string]string{"client": "legacy-app", "key": ada.key, "refresh": bob.refresh})
	wantError(t, "refresh under another key", resp, m, http.StatusUnauthorized, "invalid_grant")
	resp, m = c.do("POST", "/users/token/refresh", "", map[string]string{"client": "legacy-app", "key": bob.key, "refresh": bob.refresh})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Bob's own refresh after the attempt: %d %v", resp.StatusCode, m)
	}
	bob = asLogin(t, m)

	// A legacy refresh token under another legacy client, or at the OAuth
	// token endpoint as another client: bound to its client.
	resp, m = c.do("POST", "/users/token/refresh", "", map[string]string{"client": "legacy-two", "key": bob.key, "refresh": bob.refresh})
	wantError(t, "refresh as another legacy client", resp, m, http.StatusUnauthorized, "invalid_grant")
	if code, m := f.refresh(bob.refresh); code != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("legacy refresh token at /oauth2/token as public-app: %d %v", code, m)
	}

	// An OAuth login of the same user, by a client that is not a legacy
	// client: its tokens do not open the legacy routes.
	f.addUser("carol", password)
	oauth := f.login("carol", password)
	resp, m = c.do("PATCH", "/users", basic("anything", oauth.AccessToken), nil)
	wantError(t, "an OAuth client's token", resp, m, http.StatusUnauthorized, "invalid_token")
	resp, m = c.do("POST", "/users/token/refresh", "", map[string]string{"client": "legacy-app", "key": "anything", "refresh": oauth.RefreshToken})
	wantError(t, "an OAuth client's refresh token", resp, m, http.StatusUnauthorized, "invalid_grant")
	resp, m = c.do("PATCH", "/users", basic("anything", f.ccToken()), nil)
	wantError(t, "a client_credentials token", resp, m, http.StatusUnauthorized, "invalid_token")

	// A role is an administrator's: neither sign-up nor PATCH sets it.
	resp, m = c.do("POST", "/users", "", map[string]string{"client": "legacy-app", "email": "eve@example.com", "password": password, "role": "admin"})
	wantError(t, "sign-up with a role", resp, m, http.StatusBadRequest, "invalid_request")
	resp, m = c.do("PATCH", "/users", basic(ada.key, ada.token), map[string]string{"role": "admin"})
	wantError(t, "PATCH with a role", resp, m, http.StatusBadRequest, "invalid_request")
	if u, err := f.srv.Accounts().GetByEmail(f.ctx(), "rl_test", "ada@example.com"); err != nil || u.Role != "user" {
		t.Errorf("Ada's role after the attempts: %+v %v", u, err)
	}

	// Another user's e-mail: 409, in any case.
	resp, m = c.do("PATCH", "/users", basic(ada.key, ada.token), map[string]string{"email": "BOB@example.com"})
	wantError(t, "PATCH to a taken e-mail", resp, m, http.StatusConflict, "email_taken")
	resp, m = c.do("POST", "/users", "", map[string]string{"client": "legacy-app", "email": " Bob@Example.com ", "password": password})
	wantError(t, "sign-up with a taken e-mail", resp, m, http.StatusConflict, "email_taken")

	// A deactivated user: no Basic, no refresh, no login.
	if err := f.srv.Accounts().SetStatus(f.ctx(), "rl_test", asUserID(t, f, "bob@example.com"), accounts.StatusDeactivated); err != nil {
		t.Fatal(err)
	}
	resp, m = c.do("PATCH", "/users", basic(bob.key, bob.token), nil)
	wantError(t, "Basic of a deactivated user", resp, m, http.StatusUnauthorized, "invalid_token")
	resp, m = c.do("POST", "/users/token/refresh", "", map[string]string{"client": "legacy-app", "key": bob.key, "refresh": bob.refresh})
	wantError(t, "refresh of a deactivated user", resp, m, http.StatusUnauthorized, "invalid_grant")
	resp, m = c.do("POST", "/users/token", "", map[string]string{"client": "legacy-app", "email": "bob@example.com", "password": password})
	wantError(t, "login of a deactivated user", resp, m, http.StatusUnauthorized, "invalid_credentials")
}

func asUserID(t *testing.T, f *fixture, email string) string {
	t.Helper()
	u, err := f.srv.Accounts().GetByEmail(f.ctx(), "rl_test", email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// An unknown e-mail and a wrong password get the same answer; so does the
// right password once the login is locked out (lockout.max_failures 3).
func TestLegacyLoginFailuresAreOneAnswer(t *testing.T) {
	f := newLegacyFixture(t, fixtureOpts{})
	c := legacyCall{f: f}
	const password = "analytical engine 1843"
	if resp, m := c.do("POST", "/users", "", map[string]string{"client": "legacy-app", "email": "ada@example.com", "password": password}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-up: %d %v", resp.StatusCode, m)
	}
	var bodies []string
	for _, creds := range [][2]string{{"nobody@example.com", password}, {"ada@example.com", "wrong password here"},
		{"ada@example.com", "wrong password again"}, {"ada@example.com", "and a third wrong one"}, {"ada@example.com", password}} {
		resp, m := c.do("POST", "/users/token", "", map[string]string{"client": "legacy-app", "email": creds[0], "password": creds[1]})
		wantError(t, "login "+creds[0], resp, m, http.StatusUnauthorized, "invalid_credentials")
		b, _ := json.Marshal(m)
		bodies = append(bodies, string(b))
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("login failures differ: %q vs %q", b, bodies[0])
		}
	}
}

// A new password revokes every other login of the user; the login that
// changed it stays valid.
func TestLegacyPasswordChangeRevokesOtherLogins(t *testing.T) {
	f := newLegacyFixture(t, fixtureOpts{})
	c := legacyCall{f: f, form: true}
	const email, old, next = "ada@example.com", "analytical engine 1843", "difference engine 1822"
	resp, m := c.do("POST", "/users", "", map[string]string{"client": "legacy-app", "email": email, "password": old})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-up: %d %v", resp.StatusCode, m)
	}
	other := asLogin(t, m)
	resp, m = c.do("POST", "/users/token", "", map[string]string{"client": "legacy-two", "email": email, "password": old})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %v", resp.StatusCode, m)
	}
	this := asLogin(t, m)

	resp, m = c.do("PATCH", "/users", basic(this.key, this.token), map[string]string{"password": "short"})
	wantError(t, "a weak password", resp, m, http.StatusBadRequest, "invalid_user")
	resp, m = c.do("PATCH", "/users", basic(this.key, this.token), map[string]string{"password": next})
	if resp.StatusCode != http.StatusOK || m["email"] != email {
		t.Fatalf("PATCH password: %d %v", resp.StatusCode, m)
	}
	resp, m = c.do("PATCH", "/users", basic(other.key, other.token), nil)
	wantError(t, "the other login's Basic", resp, m, http.StatusUnauthorized, "invalid_token")
	resp, m = c.do("POST", "/users/token/refresh", "", map[string]string{"client": "legacy-app", "key": other.key, "refresh": other.refresh})
	wantError(t, "the other login's refresh", resp, m, http.StatusUnauthorized, "invalid_grant")
	if resp, m := c.do("PATCH", "/users", basic(this.key, this.token), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the login that changed the password: %d %v", resp.StatusCode, m)
	}
	if resp, m := c.do("POST", "/users/token/refresh", "", map[string]string{"client": "legacy-two", "key": this.key, "refresh": this.refresh}); resp.StatusCode != http.StatusOK {
		t.Errorf("refresh of the login that changed the password: %d %v", resp.StatusCode, m)
	}
	resp, m = c.do("POST", "/users/token", "", map[string]string{"client": "legacy-app", "email": email, "password": old})
	wantError(t, "login with the old password", resp, m, http.StatusUnauthorized, "invalid_credentials")
	if resp, m := c.do("POST", "/users/token", "", map[string]string{"client": "legacy-app", "email": email, "password": next}); resp.StatusCode != http.StatusOK {
		t.Errorf("login with the new password: %d %v", resp.StatusCode, m)
	}
}

// Of N concurrent refreshes of one legacy refresh token exactly one wins,
// and the losers' reuse ends the grant: the refresh grant's rules, on
// SQLite and MariaDB.
func TestLegacyConcurrentRefresh(t *testing.T) {
	for _, db := range []string{"sqlite", "mariadb"} {
		t.Run(db, func(t *testing.T) {
			f := newLegacyFixture(t, fixtureOpts{mysql: db == "mariadb"})
			c := legacyCall{f: f}
			resp, m := c.do("POST", "/users", "", map[string]string{"client": "legacy-app", "email": "ada@example.com", "password": "analytical engine 1843"})
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("sign-up: %d %v", resp.StatusCode, m)
			}
			l := asLogin(t, m)
			const n = 8
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				codes = map[int]int{}
				wins  []legacyLogin
			)
			for range n {
				wg.Go(func() {
					body := fmt.Sprintf(`{"client":"legacy-app","key":%q,"refresh":%q}`, l.key, l.refresh)
					resp, err := http.Post(f.url("/users/token/refresh"), "application/json", strings.NewReader(body))
					if err != nil {
						t.Error(err)
						return
					}
					defer resp.Body.Close()
					var m map[string]any
					_ = json.NewDecoder(resp.Body).Decode(&m)
					mu.Lock()
					defer mu.Unlock()
					codes[resp.StatusCode]++
					if resp.StatusCode == http.StatusOK {
						wins = append(wins, legacyLogin{key: m["key"].(string), token: m["token"].(string), refresh: m["refresh"].(string)})
					}
				})
			}
			wg.Wait()
			if codes[http.StatusOK] != 1 || codes[http.StatusUnauthorized] != n-1 {
				t.Fatalf("status counts %v, want one 200 and %d 401", codes, n-1)
			}
			if resp, m := c.do("PATCH", "/users", basic(wins[0].key, wins[0].token), nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("the winner's token after the losers' reuse: %d %v, want 401", resp.StatusCode, m)
			}
		})
	}
}

// Bad input is a clear 4xx, never a 500: bodies, clients, methods.
func TestLegacyBadInput(t *testing.T) {
	f := newLegacyFixture(t, fixtureOpts{})
	c := legacyCall{f: f}
	post := func(path, contentType, body string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, f.url(path), strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		return f.do(req)
	}
	resp, m := post("/users/token", "application/json", `{"client":"legacy-app","email":`)
	wantError(t, "malformed JSON", resp, m, http.StatusBadRequest, "invalid_request")
	resp, m = post("/users/token", "application/json", `{"client":"legacy-app","email":["a"],"password":"p"}`)
	wantError(t, "an array for the e-mail", resp, m, http.StatusBadRequest, "invalid_request")
	resp, m = post("/users", "application/x-www-form-urlencoded", "client=legacy-app&email=%zz")
	wantError(t, "a malformed form", resp, m, http.StatusBadRequest, "invalid_request")
	resp, m = post("/users", "application/json", `{"client":"legacy-app","email":"`+strings.Repeat("a", 70<<10)+`"}`)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized body: %d %v", resp.StatusCode, m)
	}
	resp, m = c.do("POST", "/users/token", "", map[string]string{"client": "demo-backend", "email": "a@example.com", "password": "p"})
	wantError(t, "a client that is not declared", resp, m, http.StatusBadRequest, "invalid_client")
	resp, m = c.do("POST", "/users/token", "", map[string]string{"client": "public-app", "email": "a@example.com", "password": "p"})
	wantError(t, "a client that is not a legacy client", resp, m, http.StatusBadRequest, "invalid_client")
	resp, m = c.do("POST", "/users", "", map[string]string{"client": "legacy-app", "email": "not an address", "password": "password"})
	wantError(t, "an invalid sign-up", resp, m, http.StatusBadRequest, "invalid_user")
	if msg := m["message"].(string); !strings.Contains(msg, "e-mail address") || !strings.Contains(msg, "password") {
		t.Errorf("the sign-up's problems are not all named: %q", msg)
	}
	resp, m = c.do("POST", "/users", "", map[string]string{"client": "legacy-app", "email": "a@example.com", "password": "analytical engine 1843", "first_name": "A\x00"})
	wantError(t, "a control character in a name", resp, m, http.StatusBadRequest, "invalid_user")
	req, _ := http.NewRequest(http.MethodGet, f.url("/users/token"), nil)
	if resp, _ := f.do(req); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /users/token: %d, want 405", resp.StatusCode)
	}
	if n := f.userCount(); n != 0 {
		t.Errorf("%d users were created by refused requests", n)
	}
}

// A database that does not answer is 503 with Retry-After on every route,
// never 401 or 500.
func TestLegacyStorageOutage(t *testing.T) {
	f := newLegacyFixture(t, fixtureOpts{})
	c := legacyCall{f: f}
	resp, m := c.do("POST", "/users", "", map[string]string{"client": "legacy-app", "email": "ada@example.com", "password": "analytical engine 1843"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-up: %d %v", resp.StatusCode, m)
	}
	l := asLogin(t, m)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		method, path, auth string
		body               map[string]string
	}{
		{"POST", "/users", "", map[string]string{"client": "legacy-app", "email": "bob@example.com", "password": "analytical engine 1843"}},
		{"POST", "/users/token", "", map[string]string{"client": "legacy-app", "email": "ada@example.com", "password": "analytical engine 1843"}},
		{"POST", "/users/token/refresh", "", map[string]string{"client": "legacy-app", "key": l.key, "refresh": l.refresh}},
		{"PATCH", "/users", basic(l.key, l.token), map[string]string{"first_name": "A"}},
		{"DELETE", "/users/token", basic(l.key, l.token), nil},
	} {
		resp, m := c.do(r.method, r.path, r.auth, r.body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || m["error"] != "temporarily_unavailable" {
			t.Errorf("%s %s during an outage: %d %v (Retry-After %q), want 503", r.method, r.path, resp.StatusCode, m, resp.Header.Get("Retry-After"))
		}
	}
}

// compat.legacy moves the routes or switches them off.
func TestLegacyPrefixAndSwitch(t *testing.T) {
	f := newFixture(t, fixtureOpts{edit: legacyClients("/v1")})
	c := legacyCall{f: f}
	body := map[string]string{"client": "legacy-app", "email": "ada@example.com", "password": "analytical engine 1843"}
	if resp, m := c.do("POST", "/v1/users", "", body); resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-up under /v1: %d %v", resp.StatusCode, m)
	}
	if resp, _ := c.do("POST", "/users/token", "", body); resp.StatusCode != http.StatusNotFound {
		t.Errorf("login at the root with prefix /v1: %d, want 404", resp.StatusCode)
	}
	off := newFixture(t, fixtureOpts{edit: func(y string) string {
		return strings.Replace(legacyClients("")(y), "legacy: {enabled: true", "legacy: {enabled: false", 1)
	}})
	if resp, _ := (legacyCall{f: off}).do("POST", "/users", "", body); resp.StatusCode != http.StatusNotFound {
		t.Errorf("sign-up with the surface off: %d, want 404", resp.StatusCode)
	}
}
