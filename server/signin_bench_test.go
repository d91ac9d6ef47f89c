package server_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkAuthorizationCodeSignIn is one complete browser sign-in per
// iteration on an existing session: authorize with the session cookie and
// a fresh PKCE challenge, then the code exchange.
func BenchmarkAuthorizationCodeSignIn(b *testing.B) {
	f := newFixture(b, fixtureOpts{edit: browserClients})
	f.addUser("alice", alicePassword)
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Response {
		resp, err := client.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		return resp
	}
	// Sign in once, on the login page.
	resp := get(f.url(authorizeURL("web")))
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{"username": {"alice"}, "password": {alicePassword}}
	for _, m := range hiddenRe.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	resp, err := client.PostForm(f.url("/login"), form)
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in: %v %v", resp, err)
	}
	resp.Body.Close()

	b.SetParallelism(8) // 16 clients on 2 cores, as in the load harness
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var raw [32]byte
		for pb.Next() {
			_, _ = rand.Read(raw[:])
			verifier := base64.RawURLEncoding.EncodeToString(raw[:])
			sum := sha256.Sum256([]byte(verifier))
			q := url.Values{"client_id": {"web2"}, "response_type": {"code"}, "redirect_uri": {webRedirect}, "scope": {"openid"},
				"state": {"state-0123456789"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
			resp := get(f.url("/oauth2/authorize?" + q.Encode()))
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
				b.Fatalf("authorize: %d %v", resp.StatusCode, loc)
			}
			tok, err := client.Post(f.url("/oauth2/token"), "application/x-www-form-urlencoded", strings.NewReader(url.Values{
				"grant_type": {"authorization_code"}, "client_id": {"web2"}, "code": {loc.Query().Get("code")},
				"redirect_uri": {webRedirect}, "code_verifier": {verifier}}.Encode()))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, tok.Body)
			tok.Body.Close()
			if tok.StatusCode != http.StatusOK {
				b.Fatalf("token: %d", tok.StatusCode)
			}
		}
	})
}
