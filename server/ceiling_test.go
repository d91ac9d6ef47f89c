//go:build !benchceiling

package server_test

import (
	"net/http"
	"testing"
)

// TestNoCeilingRoutesInProduction: a normal build has no GET /bench/sign
// and stores every token it issues (the benchmark build, tag
// benchceiling, does neither).
func TestNoCeilingRoutesInProduction(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	resp, err := http.Get(f.url("/bench/sign"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /bench/sign = %d, want 404 outside the benchmark build", resp.StatusCode)
	}
	if m := f.introspect(f.ccToken("read"), "svc", f.secret); m["active"] != true {
		t.Fatalf("a client_credentials token introspects %v: the token was not stored", m)
	}
}
