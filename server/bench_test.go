package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// benchPost runs one form POST per iteration, in parallel, over keep-alive
// connections to the fixture's loopback server.
func benchPost(b *testing.B, f *fixture, path string, form url.Values, user, pass string) {
	body := form.Encode()
	benchPostForms(b, f, path, func() string { return body }, user, pass)
}

// benchPostEach posts a new token-endpoint form per iteration.
func benchPostEach(b *testing.B, f *fixture, form func() url.Values, user, pass string) {
	benchPostForms(b, f, "/oauth2/token", func() string { return form().Encode() }, user, pass)
}

func benchPostForms(b *testing.B, f *fixture, path string, body func() string, user, pass string) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	b.SetParallelism(8) // 16 clients on 2 cores, as in the load harness
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, f.url(path), strings.NewReader(body()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(user, pass)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

func BenchmarkClientCredentialsJWT(b *testing.B) {
	f := newFixture(b, fixtureOpts{})
	benchPost(b, f, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", f.secret)
}

func BenchmarkClientCredentialsOpaque(b *testing.B) {
	f := newFixture(b, fixtureOpts{format: "opaque"})
	benchPost(b, f, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", f.secret)
}

func BenchmarkIntrospectJWT(b *testing.B) {
	f := newFixture(b, fixtureOpts{})
	token := f.ccToken()
	benchPost(b, f, "/oauth2/introspect", url.Values{"token": {token}}, "svc", f.secret)
}

// BenchmarkRefresh rotates refresh tokens: each of 16 clients keeps its own
// chain (a reused token would revoke the grant).
func BenchmarkRefresh(b *testing.B) {
	f := newFixture(b, fixtureOpts{})
	f.addUser("alice", alicePassword)
	const clients = 16
	chains := make(chan string, clients)
	for range clients {
		chains <- f.login("alice", alicePassword).RefreshToken
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rt := <-chains
		for pb.Next() {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"public-app"}}
			resp, err := client.PostForm(f.url("/oauth2/token"), form)
			if err != nil {
				b.Fatal(err)
			}
			var m map[string]any
			err = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("refresh: %d %v", resp.StatusCode, m)
			}
			rt = m["refresh_token"].(string)
		}
	})
}

// BenchmarkAPTGrant exchanges Work API APTs with the jwt-bearer grant (16
// clients); the APTs are signed before the timer starts. Run it with a fixed
// count, e.g. -benchtime 3000x: each RS256 signature costs the set-up ~1 ms.
func BenchmarkAPTGrant(b *testing.B) {
	f := newFixture(b, fixtureOpts{})
	if code, _ := f.workapi("POST", "/users", f.apt("bench-user", nil)); code != 201 {
		b.Fatal("create the user")
	}
	apts := make(chan string, b.N)
	for range b.N {
		apts <- f.apt("bench-user", nil)
	}
	close(apts)
	benchPostEach(b, f, func() url.Values {
		return url.Values{"grant_type": {jwtBearer}, "assertion": {<-apts}}
	}, "provider", f.providerSecret)
}
