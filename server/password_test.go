package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/accounts"
)

const alicePassword = "correct horse battery staple"

// addUser creates a user in rl_test and returns its id.
func (f *fixture) addUser(username, password string) string {
	f.t.Helper()
	u, err := f.srv.Accounts().Create(f.ctx(), f.snap.Realm("rl_test"), accounts.NewUser{
		Username: username, Email: username + "@example.test", Password: password, FirstName: "Al", LastName: "Ice",
	})
	if err != nil {
		f.t.Fatalf("create user %s: %v", username, err)
	}
	return u.ID
}

// publicApp is the public client, as golang.org/x/oauth2 drives it.
func (f *fixture) publicApp(scopes ...string) *oauth2.Config {
	return &oauth2.Config{ClientID: "public-app", Scopes: scopes,
		Endpoint: oauth2.Endpoint{TokenURL: f.url("/oauth2/token"), AuthStyle: oauth2.AuthStyleInParams}}
}

func (f *fixture) login(user, password string) *oauth2.Token {
	f.t.Helper()
	tok, err := f.publicApp().PasswordCredentialsToken(f.ctx(), user, password)
	if err != nil {
		f.t.Fatalf("password login: %v", err)
	}
	return tok
}

// refresh presents a refresh token by hand and returns the status and body.
func (f *fixture) refresh(rt string, extra ...string) (int, map[string]any) {
	f.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"public-app"}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	resp, m := f.post("/oauth2/token", form, "", "")
	return resp.StatusCode, m
}

func (f *fixture) userinfo(token string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.url("/oauth2/userinfo"), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, m := f.do(req)
	return resp.StatusCode, m
}

func (f *fixture) active(token string) bool {
	f.t.Helper()
	return f.introspect(token, "svc", f.secret)["active"] == true
}

func TestPasswordLoginRefreshAndUserinfo(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	id := f.addUser("alice", alicePassword)
	tok := f.login("alice", alicePassword)
	if tok.RefreshToken == "" || !strings.HasPrefix(tok.RefreshToken, "lk_rt_") {
		t.Fatalf("no refresh token: %+v", tok)
	}
	code, info := f.userinfo(tok.AccessToken)
	if code != 200 || info["sub"] != id || info["preferred_username"] != "alice" || info["email"] != "alice@example.test" || info["name"] != "Al Ice" {
		t.Fatalf("userinfo: %d %v", code, info)
	}
	_, claims := f.verifyJWT(tok.AccessToken)
	if claims["sub"] != id || claims["client_id"] != "public-app" || claims["scope"] != "profile email" {
		t.Fatalf("claims: %v", claims)
	}

	// golang.org/x/oauth2 refreshes an expired token by itself.
	tok.Expiry = time.Now().Add(-time.Minute)
	next, err := f.publicApp().TokenSource(f.ctx(), tok).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.AccessToken == tok.AccessToken || next.RefreshToken == tok.RefreshToken || next.RefreshToken == "" {
		t.Fatal("refresh did not rotate both tokens")
	}
	if !f.active(tok.AccessToken) {
		t.Error("the previous access token must stay valid until its exp")
	}

	// Reuse of the rotated token revokes the whole grant (RFC 9700 §4.14.2).
	if code, m := f.refresh(tok.RefreshToken); code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", code, m)
	}
	for name, tk := range map[string]string{"new access": next.AccessToken, "old access": tok.AccessToken} {
		if f.active(tk) {
			t.Errorf("%s token still active after reuse", name)
		}
	}
	if code, m := f.refresh(next.RefreshToken); code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("the successor refresh token survived reuse: %d %v", code, m)
	}
}

func TestPasswordLoginFailures(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.addUser("alice", alicePassword)
	f.addUser("bob", alicePassword)
	wrong := func(user, pass string) map[string]any {
		t.Helper()
		_, err := f.publicApp().PasswordCredentialsToken(f.ctx(), user, pass)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != 400 || re.ErrorCode != "invalid_grant" {
			t.Fatalf("%s/%s: %v; want 400 invalid_grant", user, pass, err)
		}
		return map[string]any{"description": re.ErrorDescription}
	}
	a := wrong("alice", "wrong password here")
	b := wrong("nobody", "wrong password here")
	if a["description"] != b["description"] {
		t.Errorf("unknown user and wrong password answer differently: %v vs %v", a, b)
	}
	// Three failures lock bob's login (max_failures 3): even the right password is refused.
	for range 3 {
		wrong("bob", "not bob's password")
	}
	wrong("bob", alicePassword)
	// The scope check runs before the password check.
	if _, err := f.publicApp("admin").PasswordCredentialsToken(f.ctx(), "alice", alicePassword); err == nil || !strings.Contains(err.Error(), "invalid_scope") {
		t.Fatalf("disallowed scope: %v", err)
	}
	// A client without the password grant.
	resp, m := f.post("/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePassword}}, "svc", f.secret)
	if resp.StatusCode != 400 || m["error"] != "unauthorized_client" {
		t.Fatalf("client without the grant: %d %v", resp.StatusCode, m)
	}
}

func TestConfidentialClientPasswordGrant(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.addUser("alice", alicePassword)
	cfg := &oauth2.Config{ClientID: "app", ClientSecret: f.appSecret, Endpoint: oauth2.Endpoint{TokenURL: f.url("/oauth2/token")}}
	tok, err := cfg.PasswordCredentialsToken(f.ctx(), "alice", alicePassword)
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("login: %v", err)
	}
	// The refresh token is bound to its client.
	if code, m := f.refresh(tok.RefreshToken); code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("another client's refresh token: %d %v", code, m)
	}
	if !f.active(tok.AccessToken) {
		t.Fatal("a refresh attempt by another client must not revoke the grant")
	}
}

func TestRefreshCannotWidenScope(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.addUser("alice", alicePassword)
	tok, err := f.publicApp("profile").PasswordCredentialsToken(f.ctx(), "alice", alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	if code, m := f.refresh(tok.RefreshToken, "scope", "profile email"); code != 400 || m["error"] != "invalid_scope" {
		t.Fatalf("widening: %d %v", code, m)
	}
	if code, m := f.refresh(tok.RefreshToken, "scope", "profile"); code != 200 || m["scope"] != "profile" {
		t.Fatalf("same scope: %d %v", code, m)
	}
}

func TestRevokingRefreshTokenRevokesAccessTokens(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.addUser("alice", alicePassword)
	tok := f.login("alice", alicePassword)
	resp, _ := f.post("/oauth2/revoke", url.Values{"token": {tok.RefreshToken}, "client_id": {"public-app"}}, "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if f.active(tok.AccessToken) {
		t.Fatal("the access token survived the revocation of its refresh token")
	}
	if code, _ := f.refresh(tok.RefreshToken); code != 400 {
		t.Fatalf("revoked refresh token: %d", code)
	}
}

func TestDeactivatedUser(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	id := f.addUser("alice", alicePassword)
	tok := f.login("alice", alicePassword)
	if err := f.srv.Accounts().SetStatus(f.ctx(), "rl_test", id, accounts.StatusDeactivated); err != nil {
		t.Fatal(err)
	}
	if code, m := f.refresh(tok.RefreshToken); code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("refresh of a deactivated user: %d %v", code, m)
	}
	if code, _ := f.userinfo(tok.AccessToken); code != 401 {
		t.Fatalf("userinfo of a deactivated user: %d", code)
	}
	if _, err := f.publicApp().PasswordCredentialsToken(f.ctx(), "alice", alicePassword); err == nil {
		t.Fatal("a deactivated user logged in")
	}
}

func TestUserinfoRefusesClientTokens(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	code, m := f.userinfo(f.ccToken())
	if code != 401 || m["error"] != "invalid_token" {
		t.Fatalf("client_credentials token on userinfo: %d %v", code, m)
	}
	if code, _ := f.userinfo("lk_at_nonsense"); code != 401 {
		t.Fatalf("unknown token: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, f.url("/oauth2/userinfo"), nil)
	resp, _ := f.do(req)
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// concurrentRefresh presents one refresh token n times at once, spread over
// the given servers, and returns the statuses and the winners' bodies.
func concurrentRefresh(t *testing.T, servers []*fixture, rt string, n int) (codes map[int]int, wins []map[string]any) {
	codes = map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, m := servers[i%len(servers)].refresh(rt)
			mu.Lock()
			defer mu.Unlock()
			codes[code]++
			if code == 200 {
				wins = append(wins, m)
			}
		}()
	}
	wg.Wait()
	return codes, wins
}

func checkOneWinner(t *testing.T, f *fixture, codes map[int]int, wins []map[string]any, n int) {
	t.Helper()
	if codes[200] != 1 || codes[400] != n-1 {
		t.Fatalf("statuses %v; want exactly one 200 and %d invalid_grant", codes, n-1)
	}
	// The losers' reuse revoked the winner's new pair too (SPEC §3).
	if code, _ := f.refresh(wins[0]["refresh_token"].(string)); code != 400 {
		t.Fatalf("the winner's refresh token survived the losers' reuse: %d", code)
	}
}

func TestConcurrentRefresh(t *testing.T) {
	for _, mysql := range []bool{false, true} {
		name := "sqlite"
		if mysql {
			name = "mariadb"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{mysql: mysql})
			f.addUser("alice", alicePassword)
			tok := f.login("alice", alicePassword)
			codes, wins := concurrentRefresh(t, []*fixture{f}, tok.RefreshToken, 10)
			checkOneWinner(t, f, codes, wins, 10)
		})
	}
}

func TestRefreshGrace(t *testing.T) {
	f := newFixture(t, fixtureOpts{grace: "30s"})
	f.addUser("alice", alicePassword)
	a := f.login("alice", alicePassword)
	code, b := f.refresh(a.RefreshToken)
	if code != 200 {
		t.Fatalf("first refresh: %d %v", code, b)
	}
	// The response was "lost": the client presents A again within the grace.
	code, c := f.refresh(a.RefreshToken)
	if code != 200 {
		t.Fatalf("re-presentation within the grace: %d %v", code, c)
	}
	if f.active(b["access_token"].(string)) {
		t.Error("the pair issued before the grace refresh must end")
	}
	if code, _ := f.refresh(b["refresh_token"].(string)); code != 400 {
		t.Error("B's refresh token is still live: the grant has two live refresh tokens")
	}
	// B's presentation was reuse outside grace rules (B was never rotated):
	// the grant is revoked, C included.
	if code, _ := f.refresh(c["refresh_token"].(string)); code != 400 {
		t.Error("C survived a reuse")
	}
}

// TestReplicas runs two servers on one MariaDB database: a refresh token used
// on one is dead on the other, concurrent refreshes split across both have
// exactly one winner, and lockout counts across both.
func TestReplicas(t *testing.T) {
	a := newFixture(t, fixtureOpts{mysql: true})
	b := newFixture(t, fixtureOpts{replicaOf: a})
	a.addUser("alice", alicePassword)
	a.addUser("bob", alicePassword)

	tok := a.login("alice", alicePassword)
	if code, _ := a.refresh(tok.RefreshToken); code != 200 {
		t.Fatalf("refresh on A: %d", code)
	}
	if code, m := b.refresh(tok.RefreshToken); code != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("reuse on B: %d %v", code, m)
	}

	tok = b.login("alice", alicePassword)
	codes, wins := concurrentRefresh(t, []*fixture{a, b}, tok.RefreshToken, 10)
	checkOneWinner(t, a, codes, wins, 10)

	// Lockout: 3 failures spread over both replicas lock bob everywhere.
	for i, f := range []*fixture{a, b, a} {
		if _, err := f.publicApp().PasswordCredentialsToken(context.Background(), "bob", "wrong guess number "+string(rune('0'+i))); err == nil {
			t.Fatal("a wrong password logged in")
		}
	}
	if _, err := b.publicApp().PasswordCredentialsToken(context.Background(), "bob", alicePassword); err == nil {
		t.Fatal("bob logged in on B after 3 failures across replicas (max_failures 3)")
	}
}
