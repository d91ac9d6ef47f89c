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
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	b.SetParallelism(8) // 16 clients on 2 cores, as in the load harness
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, f.url(path), strings.NewReader(body))
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
