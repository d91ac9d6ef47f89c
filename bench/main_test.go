package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one p50", ms(7), 50, 7 * time.Millisecond},
		{"one p99", ms(7), 99, 7 * time.Millisecond},
		{"two p50", ms(1, 2), 50, 1 * time.Millisecond},
		{"two p90", ms(1, 2), 90, 2 * time.Millisecond},
		{"hundred p50", hundred, 50, 50 * time.Millisecond},
		{"hundred p90", hundred, 90, 90 * time.Millisecond},
		{"hundred p99", hundred, 99, 99 * time.Millisecond},
		{"hundred p100", hundred, 100, 100 * time.Millisecond},
		{"ten p99", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"ten p1", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 1, 1 * time.Millisecond},
	}
	for _, c := range cases {
		if got := percentile(c.sorted, c.p); got != c.want {
			t.Errorf("%s: percentile(p=%v) = %v, want %v", c.name, c.p, got, c.want)
		}
	}
}

func TestSummarizeSortsAndRounds(t *testing.T) {
	o := &options{db: "mysql", concurrency: 4, duration: 2 * time.Second}
	lat := []time.Duration{3 * time.Millisecond, 1 * time.Millisecond, 2*time.Millisecond + 123456}
	r := summarize("jwks", o, lat, map[string]int{"500": 1})
	want := result{
		Scenario: "jwks", DB: "mysql", Concurrency: 4, Seconds: 2, RPS: 1.5,
		P50: 2.123, P90: 3, P99: 3, Errors: map[string]int{"500": 1},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("summarize = %+v, want %+v", r, want)
	}
}

func TestResultLineShape(t *testing.T) {
	r := result{
		Scenario: "client_credentials_jwt", DB: "sqlite", Concurrency: 16, Seconds: 10,
		RPS: 5123.4, P50: 2.5, P90: 4.25, P99: 9.001,
		Errors: map[string]int{"transport": 2, "401": 3}, RSSMiB: 42.5,
	}
	want := `{"scenario":"client_credentials_jwt","db":"sqlite","concurrency":16,"seconds":10,"rps":5123.4,"p50_ms":2.5,"p90_ms":4.25,"p99_ms":9.001,"errors":{"401":3,"transport":2},"rss_mib":42.5}`
	if got := r.line(); got != want {
		t.Errorf("line:\n got %s\nwant %s", got, want)
	}

	empty := result{Scenario: "jwks", DB: "sqlite", Concurrency: 1, Seconds: 0.5}
	got := empty.line()
	if !strings.Contains(got, `"errors":{}`) || strings.Contains(got, "\n") {
		t.Errorf("line without errors = %s, want an errors object and one line", got)
	}
	keys := regexp.MustCompile(`"([a-z0-9_]+)":`).FindAllStringSubmatch(got, -1)
	var order []string
	for _, k := range keys {
		order = append(order, k[1])
	}
	wantOrder := []string{"scenario", "db", "concurrency", "seconds", "rps", "p50_ms", "p90_ms", "p99_ms", "errors", "rss_mib"}
	if !reflect.DeepEqual(order, wantOrder) {
		t.Errorf("key order = %v, want %v", order, wantOrder)
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tlatchkey\nVmPeak:\t  999 kB\nVmRSS:\t   51712 kB\nRssAnon:\t 1 kB\n"
	got, err := parseVmRSS([]byte(status))
	if err != nil || got != 50.5 {
		t.Errorf("parseVmRSS = %v, %v; want 50.5", got, err)
	}
	if _, err := parseVmRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("parseVmRSS without VmRSS: no error")
	}
	if _, err := parseVmRSS([]byte("VmRSS:\t12 MB\n")); err == nil {
		t.Error("parseVmRSS with an odd unit: no error")
	}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseOptionsDefaults(t *testing.T) {
	o, err := parseOptions(nil, env(map[string]string{
		"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "lk_s3cret",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.baseURL != "http://127.0.0.1:8080" || o.concurrency != 16 || o.duration != 10*time.Second ||
		o.warmup != time.Second || o.db != "sqlite" || o.serverPID != 0 || !o.all {
		t.Errorf("defaults = %+v", o)
	}
	if o.clientID != "demo-backend" || o.clientSecret != "lk_s3cret" {
		t.Errorf("credentials from env = %q %q", o.clientID, o.clientSecret)
	}
	if len(o.scenarios) != len(scenarios) {
		t.Errorf("all selected %d scenarios, want %d", len(o.scenarios), len(scenarios))
	}
}

func TestParseOptionsFlags(t *testing.T) {
	args := []string{
		"-url", "http://localhost:18080/", "-scenario", "introspect, jwks,introspect",
		"-concurrency", "4", "-duration", "3s", "-warmup", "0", "-db", "mysql",
		"-client-id", "c", "-client-secret", "s", "-server-pid", "123",
	}
	o, err := parseOptions(args, env(map[string]string{"DEMO_CLIENT_ID": "other"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range o.scenarios {
		names = append(names, s.name)
	}
	if !reflect.DeepEqual(names, []string{"introspect", "jwks"}) || o.all {
		t.Errorf("scenarios = %v (all=%v)", names, o.all)
	}
	if o.baseURL != "http://localhost:18080" || o.concurrency != 4 || o.duration != 3*time.Second ||
		o.warmup != 0 || o.db != "mysql" || o.clientID != "c" || o.clientSecret != "s" || o.serverPID != 123 {
		t.Errorf("options = %+v", o)
	}
}

func TestParseOptionsErrors(t *testing.T) {
	creds := env(map[string]string{"DEMO_CLIENT_ID": "c", "DEMO_CLIENT_SECRET": "s"})
	cases := []struct {
		args []string
		get  func(string) string
		want string
	}{
		{[]string{"-url", "http://10.0.0.5:8080"}, creds, "not loopback"},
		{[]string{"-url", "http://example.com"}, creds, "not loopback"},
		{[]string{"-url", "ftp://127.0.0.1"}, creds, "http or https"},
		{[]string{"-url", "127.0.0.1:8080"}, creds, "-url"},
		{[]string{"-url", "localhost:8080"}, creds, "http or https"},
		{[]string{"-scenario", "nope"}, creds, `unknown scenario "nope"`},
		{[]string{"-scenario", ","}, creds, "no scenario"},
		{[]string{"-concurrency", "0"}, creds, "-concurrency"},
		{[]string{"-duration", "0s"}, creds, "-duration"},
		{[]string{"-warmup", "-1s"}, creds, "-warmup"},
		{[]string{"-server-pid", "-3"}, creds, "-server-pid"},
		{[]string{"-scenario", "introspect"}, env(nil), "needs client credentials"},
		{[]string{"extra"}, creds, "unexpected arguments"},
	}
	for _, c := range cases {
		_, err := parseOptions(c.args, c.get, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseOptions(%q) error = %v, want it to contain %q", c.args, err, c.want)
		}
	}
	// jwks needs no client credentials.
	if _, err := parseOptions([]string{"-scenario", "jwks"}, env(nil), io.Discard); err != nil {
		t.Errorf("jwks without credentials: %v", err)
	}
}

func TestLoopbackCheck(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "localhost": true, "LOCALHOST": true,
		"0.0.0.0": false, "10.0.0.1": false, "192.168.1.1": false, "example.com": false,
		"localhost.example.com": false, "": false, "::": false,
	} {
		if got := isLoopbackHost(host); got != want {
			t.Errorf("isLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
	if u, err := checkURL("http://[::1]:8080", false); err != nil || u != "http://[::1]:8080" {
		t.Errorf("checkURL([::1]) = %q, %v", u, err)
	}
	if _, err := checkURL("http://192.0.2.1:8080", true); err != nil {
		t.Errorf("checkURL with allowRemote: %v", err)
	}
}

func TestTokenFormat(t *testing.T) {
	for tok, want := range map[string]string{
		"eyJh.eyJz.sig": "jwt",
		"lk_at_abc":     "opaque",
		"lk_at_a.b.c":   "opaque",
		"abc":           "unknown",
		"a.b":           "unknown",
	} {
		if got := tokenFormat(tok); got != want {
			t.Errorf("tokenFormat(%q) = %q, want %q", tok, got, want)
		}
	}
}

func TestCheckActive(t *testing.T) {
	for body, want := range map[string]string{
		`{"active":true,"client_id":"c"}`:   "",
		`{"client_id":"c", "active": true}`: "",
		`{"active":false}`:                  "inactive",
		`not json`:                          "inactive",
		``:                                  "inactive",
	} {
		if got := checkActive([]byte(body)); got != want {
			t.Errorf("checkActive(%s) = %q, want %q", body, got, want)
		}
	}
}

func TestBasicAuthIsFormEncoded(t *testing.T) {
	tg := &target{clientID: "my client", clientSecret: "a:b+c%"}
	// RFC 6749 §2.3.1: each part form-urlencoded, then joined with ':'.
	want := "Basic " + "bXkrY2xpZW50OmElM0FiJTJCYyUyNQ=="
	if got := tg.basicAuth(); got != want {
		t.Errorf("basicAuth = %q, want %q", got, want)
	}
}

// TestRunAgainstFakeServer runs every scenario briefly against a stand-in
// server and checks the output's shape and error counting (not its numbers).
func TestRunAgainstFakeServer(t *testing.T) {
	const auth = "Basic ZGVtby1iYWNrZW5kOmxrX3NlY3JldA==" // demo-backend:lk_secret
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/oauth2/token":
			if r.Header.Get("Authorization") != auth || r.PostFormValue("grant_type") != "client_credentials" {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
				return
			}
			_, _ = io.WriteString(w, `{"access_token":"aaa.bbb.ccc","token_type":"bearer","expires_in":900}`)
		case r.Method == http.MethodPost && r.URL.Path == "/oauth2/introspect":
			if r.Header.Get("Authorization") != auth {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			_, _ = io.WriteString(w, `{"active":`+map[bool]string{true: "true", false: "false"}[r.PostFormValue("token") == "aaa.bbb.ccc"]+`}`)
		case r.Method == http.MethodGet && r.URL.Path == "/.well-known/jwks.json":
			w.WriteHeader(http.StatusServiceUnavailable) // counted as error "503"
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	var stdout, stderr bytes.Buffer
	args := []string{"-url", srv.URL, "-scenario", "all", "-concurrency", "2",
		"-duration", "150ms", "-warmup", "20ms", "-db", "fake"}
	code := run(args, env(map[string]string{"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "lk_secret"}), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("run exit %d, stderr: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "skipping client_credentials_opaque") {
		t.Errorf("stderr does not say the opaque scenario was skipped: %s", stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	got := map[string]result{}
	for _, ln := range lines {
		var r result
		if err := json.Unmarshal([]byte(ln), &r); err != nil {
			t.Fatalf("bad line %q: %v", ln, err)
		}
		got[r.Scenario] = r
	}
	if len(got) != 3 {
		t.Fatalf("got %d lines, want 3 (jwt, introspect, jwks): %s", len(lines), stdout.String())
	}
	for _, name := range []string{"client_credentials_jwt", "introspect"} {
		r := got[name]
		if r.RPS <= 0 || len(r.Errors) != 0 || r.DB != "fake" || r.Concurrency != 2 || r.Seconds != 0.15 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if r := got["jwks"]; r.RPS != 0 || r.Errors["503"] == 0 {
		t.Errorf("jwks: %+v, want only 503 errors", r)
	}

	// Named explicitly, a scenario that does not fit the server fails loudly.
	stdout.Reset()
	stderr.Reset()
	args[3] = "client_credentials_opaque"
	code = run(args, env(map[string]string{"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "lk_secret"}), &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "expected opaque access tokens") {
		t.Errorf("opaque against a JWT server: exit %d, stderr %s", code, stderr.String())
	}

	// Wrong credentials fail in setup.
	stderr.Reset()
	args[3] = "introspect"
	code = run(args, env(map[string]string{"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "wrong"}), &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "HTTP 401") {
		t.Errorf("wrong secret: exit %d, stderr %s", code, stderr.String())
	}
}
