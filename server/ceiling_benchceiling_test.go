//go:build benchceiling

package server_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/latchkey/latchkey/config"
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
	// A client_credentials JWT has no row in any build; an opaque token
	// has one everywhere but here.
	opaque := newFixture(t, fixtureOpts{format: config.FormatOpaque})
	if m := opaque.introspect(opaque.ccToken("read"), "svc", opaque.secret); m["active"] != false {
		t.Fatalf("an opaque token of the benchmark build introspects %v: it was stored", m)
	}
}
