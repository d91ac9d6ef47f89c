package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseCeilings(t *testing.T) {
	got, err := parseCeilings("sign=19500.5, client_credentials=28000,client_credentials_opaque=30000")
	if err != nil || got[ceilingSign] != 19500.5 || got[ceilingIssue] != 28000 || got[ceilingOpaque] != 30000 || len(got) != 3 {
		t.Fatalf("parseCeilings = %v, %v", got, err)
	}
	if got, err := parseCeilings(""); err != nil || len(got) != 0 {
		t.Fatalf("parseCeilings(\"\") = %v, %v", got, err)
	}
	for _, bad := range []string{"sign", "sign=", "sign=0", "sign=-3", "sign=x", "jwks=10", "sign=+Inf"} {
		if _, err := parseCeilings(bad); err == nil {
			t.Errorf("parseCeilings(%q) accepted", bad)
		}
	}
}

func TestWithCeiling(t *testing.T) {
	c := map[string]float64{ceilingSign: 20000, ceilingIssue: 10000, ceilingOpaque: 12000}
	for _, tc := range []struct {
		scenario  string
		rps       float64
		ceil, pct float64
	}{
		{"client_credentials_jwt", 6543, 10000, 65.4},
		{"introspect", 15000, 20000, 75},
		{"passkey_login", 500, 10000, 5},
		{"client_credentials_opaque", 6000, 12000, 50},
		{"password", 80, 0, 0},
		{"jwks", 50000, 0, 0},
	} {
		r := result{Scenario: tc.scenario, RPS: tc.rps}.withCeiling(c)
		if r.CeilingRPS != tc.ceil || r.PctOfCeiling != tc.pct {
			t.Errorf("%s: ceiling %v pct %v, want %v %v", tc.scenario, r.CeilingRPS, r.PctOfCeiling, tc.ceil, tc.pct)
		}
		if line := r.line(); (tc.ceil == 0) == strings.Contains(line, "ceiling_rps") {
			t.Errorf("%s: line %s: ceiling_rps shown %v, want %v", tc.scenario, line, !(tc.ceil == 0), tc.ceil != 0)
		}
	}
}

// TestCeilingScenariosAgainstFakeServer: ceiling_sign needs the benchmark
// build's route; a server without it is the wrong server; the later lines
// carry the ceilings passed with -ceilings.
func TestCeilingScenariosAgainstFakeServer(t *testing.T) {
	ceilingBuild := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/bench/sign" && ceilingBuild:
			_, _ = w.Write([]byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2ln"))
		case r.URL.Path == "/oauth2/token":
			_, _ = w.Write([]byte(`{"access_token":"a.b.c","token_type":"bearer"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	vars := map[string]string{"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "s", "DEMO_USERNAME": "demo", "DEMO_PASSWORD": "p"}
	run1 := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"-url", srv.URL, "-concurrency", "2", "-duration", "50ms", "-warmup", "0", "-db", "fake"}, args...), env(vars), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := run1("-scenario", "ceiling_sign,ceiling_client_credentials")
	if code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("run exit %d, out %s, stderr %s", code, out, errOut)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r result
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.RPS <= 0 || len(r.Errors) != 0 {
			t.Errorf("line %s: %v", l, err)
		}
	}
	code, out, _ = run1("-scenario", "client_credentials_jwt", "-ceilings", "sign=100000,client_credentials=200000")
	var r result
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r); code != 0 || err != nil || r.CeilingRPS != 200000 || r.PctOfCeiling <= 0 {
		t.Fatalf("client_credentials_jwt with ceilings: exit %d %s", code, out)
	}
	ceilingBuild = false
	if code, _, errOut := run1("-scenario", "ceiling_sign"); code == 0 || !strings.Contains(errOut, "benchceiling") {
		t.Fatalf("ceiling_sign against a normal server: exit %d, stderr %s", code, errOut)
	}
}
