//go:build benchceiling

package server_test

import (
	"io"
	"net/http"
	"testing"
)

// TestCeilingBuild: the benchmark build signs a fresh ES256 JWT on
// GET /bench/sign and stores no issued token.
func TestCeilingBuild(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	seen := map[string]bool{}
	for range 2 {
		resp, err := http.Get(f.url("/bench/sign"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || seen[string(body)] {
			t.Fatalf("GET /bench/sign = %d %q: want a new JWT each time", resp.StatusCode, body)
		}
		seen[string(body)] = true
		if hdr, claims := f.verifyJWT(string(body)); hdr.Algorithm != "ES256" || claims["iss"] != f.snap.Issuer {
			t.Errorf("signed %v %v, want ES256 by the issuer", hdr, claims)
		}
	}
	if m := f.introspect(f.ccToken("read"), "svc", f.secret); m["active"] != false {
		t.Fatalf("a token of the benchmark build introspects %v: it was stored", m)
	}
}
