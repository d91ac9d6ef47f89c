package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
		Errors: map[string]int{"transport": 2, "401": 3}, RSSMiB: 42.5, RSSPeakMiB: 97.25,
	}
	want := `{"scenario":"client_credentials_jwt","db":"sqlite","concurrency":16,"seconds":10,"rps":5123.4,"p50_ms":2.5,"p90_ms":4.25,"p99_ms":9.001,"errors":{"401":3,"transport":2},"rss_mib":42.5,"rss_peak_mib":97.25}`
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
	wantOrder := []string{"scenario", "db", "concurrency", "seconds", "rps", "p50_ms", "p90_ms", "p99_ms", "errors", "rss_mib", "rss_peak_mib"}
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

func TestParseVmHWM(t *testing.T) {
	// The shape of a real /proc/<pid>/status: VmHWM comes before VmRSS.
	status := "Name:\tlatchkey\nVmPeak:\t 1262364 kB\nVmSize:\t 1262364 kB\nVmLck:\t       0 kB\n" +
		"VmHWM:\t  205107 kB\nVmRSS:\t   51712 kB\nRssAnon:\t   40000 kB\n"
	got, err := parseVmHWM([]byte(status))
	if err != nil || got != 200.3 {
		t.Errorf("parseVmHWM = %v, %v; want 200.3", got, err)
	}
	if rss, err := parseVmRSS([]byte(status)); err != nil || rss != 50.5 {
		t.Errorf("parseVmRSS next to VmHWM = %v, %v; want 50.5", rss, err)
	}
	for _, bad := range []string{"Name:\tx\nVmRSS:\t1 kB\n", "VmHWM:\t12 MB\n", "VmHWM:\tlots kB\n", "VmHWM:\n"} {
		if v, err := parseVmHWM([]byte(bad)); err == nil {
			t.Errorf("parseVmHWM(%q) = %v, want an error", bad, v)
		}
	}
	// This process's own status has both, the peak at least the current.
	rss, peak, err := readMem(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if rss <= 0 || peak < rss {
		t.Errorf("readMem(self) = rss %v, peak %v", rss, peak)
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
	if o.username != "" || o.password != "" || o.haveUser() {
		t.Errorf("user without env = %q %q", o.username, o.password)
	}
	if len(o.scenarios) != len(scenarios) {
		t.Errorf("all selected %d scenarios, want %d", len(o.scenarios), len(scenarios))
	}
	o, err = parseOptions([]string{"-scenario", "password,refresh"}, env(map[string]string{
		"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "lk_s3cret",
		"DEMO_USERNAME": "demo", "DEMO_PASSWORD": "pw from env",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.username != "demo" || o.password != "pw from env" {
		t.Errorf("user from env = %q %q", o.username, o.password)
	}
}

func TestParseOptionsFlags(t *testing.T) {
	args := []string{
		"-url", "http://localhost:18080/", "-scenario", "introspect, jwks,introspect",
		"-concurrency", "4", "-duration", "3s", "-warmup", "0", "-db", "mysql",
		"-client-id", "c", "-client-secret", "s", "-server-pid", "123",
		"-username", "u", "-password", "p",
	}
	o, err := parseOptions(args, env(map[string]string{"DEMO_CLIENT_ID": "other", "DEMO_USERNAME": "other"}), io.Discard)
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
		o.warmup != 0 || o.db != "mysql" || o.clientID != "c" || o.clientSecret != "s" || o.serverPID != 123 ||
		o.username != "u" || o.password != "p" {
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
		{[]string{"-scenario", "refresh"}, env(nil), "needs client credentials"},
		{[]string{"-scenario", "password"}, creds, "needs a user"},
		{[]string{"-scenario", "jwks,refresh", "-username", "u"}, creds, "needs a user"},
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
	users := newFakeUsers(auth)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/oauth2/token" &&
			(r.PostFormValue("grant_type") == "password" || r.PostFormValue("grant_type") == "refresh_token"):
			users.ServeHTTP(w, r)
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

	parse := func(out string) map[string]result {
		t.Helper()
		got := map[string]result{}
		for _, ln := range strings.Split(strings.TrimSpace(out), "\n") {
			var r result
			if err := json.Unmarshal([]byte(ln), &r); err != nil {
				t.Fatalf("bad line %q: %v", ln, err)
			}
			got[r.Scenario] = r
		}
		return got
	}
	withUser := env(map[string]string{
		"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "lk_secret",
		"DEMO_USERNAME": fakeUsername, "DEMO_PASSWORD": fakePassword,
	})

	var stdout, stderr bytes.Buffer
	args := []string{"-url", srv.URL, "-scenario", "all", "-concurrency", "3",
		"-duration", "150ms", "-warmup", "20ms", "-db", "fake", "-server-pid", strconv.Itoa(os.Getpid())}
	code := run(args, withUser, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("run exit %d, stderr: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "skipping client_credentials_opaque") {
		t.Errorf("stderr does not say the opaque scenario was skipped: %s", stderr.String())
	}
	got := parse(stdout.String())
	if len(got) != 5 {
		t.Fatalf("got %d scenarios, want 5 (jwt, introspect, jwks, password, refresh): %s", len(got), stdout.String())
	}
	for _, name := range []string{"client_credentials_jwt", "introspect", "password", "refresh"} {
		r := got[name]
		if r.RPS <= 0 || len(r.Errors) != 0 || r.DB != "fake" || r.Concurrency != 3 || r.Seconds != 0.15 {
			t.Errorf("%s: %+v", name, r)
		}
	}
	if r := got["jwks"]; r.RPS != 0 || r.Errors["503"] == 0 {
		t.Errorf("jwks: %+v, want only 503 errors", r)
	}
	for name, r := range got {
		if r.RSSMiB <= 0 || r.RSSPeakMiB < r.RSSMiB {
			t.Errorf("%s: rss_mib %v, rss_peak_mib %v", name, r.RSSMiB, r.RSSPeakMiB)
		}
	}
	// Each refresh worker kept to its own chain: never a used token again.
	users.mu.Lock()
	reuses, refreshes := users.reuses, users.refreshes
	users.mu.Unlock()
	if reuses != 0 || refreshes == 0 {
		t.Errorf("fake server saw %d refreshes and %d reuses, want some and none", refreshes, reuses)
	}

	// Without a user, -scenario all skips the two that need one.
	stdout.Reset()
	stderr.Reset()
	// Without -server-pid this time.
	code = run(args[:len(args)-2], env(map[string]string{"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "lk_secret"}), &stdout, &stderr)
	if code != 0 || !strings.Contains(stderr.String(), "skipping password: no user") ||
		!strings.Contains(stderr.String(), "skipping refresh: no user") {
		t.Errorf("all without a user: exit %d, stderr %s", code, stderr.String())
	}
	got = parse(stdout.String())
	if _, ok := got["password"]; ok || len(got) != 3 {
		t.Errorf("all without a user ran %d scenarios: %s", len(got), stdout.String())
	}
	if r := got["jwks"]; r.RSSMiB != 0 || r.RSSPeakMiB != 0 {
		t.Errorf("without -server-pid: rss_mib %v, rss_peak_mib %v, want 0", r.RSSMiB, r.RSSPeakMiB)
	}

	// A wrong password fails in setup, once (no run full of failed logins).
	stderr.Reset()
	before := users.loginCount()
	code = run([]string{"-url", srv.URL, "-scenario", "refresh", "-concurrency", "3", "-duration", "50ms", "-warmup", "0"},
		env(map[string]string{"DEMO_CLIENT_ID": "demo-backend", "DEMO_CLIENT_SECRET": "lk_secret",
			"DEMO_USERNAME": fakeUsername, "DEMO_PASSWORD": "wrong"}), &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "refresh: setup: password login: HTTP 400") ||
		users.loginCount() != before+1 {
		t.Errorf("wrong password: exit %d, %d logins, stderr %s", code, users.loginCount()-before, stderr.String())
	}
	if strings.Contains(stderr.String(), "wrong") {
		t.Errorf("stderr shows the password: %s", stderr.String())
	}

	// Named explicitly, a scenario that does not fit the server fails loudly.
	stdout.Reset()
	stderr.Reset()
	args = args[:len(args)-2]
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

const (
	fakeUsername = "demo"
	fakePassword = "correct horse battery staple"
)

// fakeUsers stands in for the server's password and refresh_token grants:
// every login starts a chain; a refresh rotates the token, and presenting
// a used one revokes its whole chain (reuse detection), as Latchkey does.
type fakeUsers struct {
	auth string // the client's Basic auth

	mu        sync.Mutex
	next      int
	live      map[string]int // unused refresh token → chain
	used      map[string]int // used refresh token → chain
	logins    int
	refreshes int
	reuses    int
	busy      int // answer this many logins with 503
	noRefresh bool
	// unsupported answers every password grant with unsupported_grant_type.
	unsupported bool

	// loginDelay is how long a login takes (outside mu); inFlight and
	// maxInFlight count the logins under way.
	loginDelay  time.Duration
	inFlight    atomic.Int32
	maxInFlight atomic.Int32
}

func newFakeUsers(auth string) *fakeUsers {
	return &fakeUsers{auth: auth, live: map[string]int{}, used: map[string]int{}}
}

func (u *fakeUsers) loginCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.logins
}

// revokeAll ends every chain as the server's admin would.
func (u *fakeUsers) revokeAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	clear(u.live)
}

// issue answers with a new pair in chain; u.mu is held.
func (u *fakeUsers) issue(w http.ResponseWriter, chain int) {
	u.next++
	rt := fmt.Sprintf("rt/%d+%d", chain, u.next) // '/' and '+' must be form-encoded
	if u.noRefresh {
		fmt.Fprintf(w, `{"access_token":"at%d","token_type":"bearer","expires_in":900}`, u.next)
		return
	}
	u.live[rt] = chain
	fmt.Fprintf(w, `{"access_token":"at%d","token_type":"bearer","expires_in":900,"refresh_token":%q}`, u.next, rt)
}

func (u *fakeUsers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	oauthErr := func(status int, code string) {
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":%q}`, code)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/oauth2/token" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != u.auth {
		oauthErr(http.StatusUnauthorized, "invalid_client")
		return
	}
	if r.PostFormValue("grant_type") == "password" {
		n := u.inFlight.Add(1)
		defer u.inFlight.Add(-1)
		for m := u.maxInFlight.Load(); n > m && !u.maxInFlight.CompareAndSwap(m, n); m = u.maxInFlight.Load() {
		}
		time.Sleep(u.loginDelay)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	switch r.PostFormValue("grant_type") {
	case "password":
		u.logins++
		switch {
		case u.unsupported:
			oauthErr(http.StatusBadRequest, "unsupported_grant_type")
		case u.busy > 0:
			u.busy--
			w.Header().Set("Retry-After", "1")
			oauthErr(http.StatusServiceUnavailable, "temporarily_unavailable")
		case r.PostFormValue("username") != fakeUsername || r.PostFormValue("password") != fakePassword:
			oauthErr(http.StatusBadRequest, "invalid_grant")
		default:
			u.next++
			u.issue(w, u.next)
		}
	case "refresh_token":
		rt := r.PostFormValue("refresh_token")
		if chain, ok := u.used[rt]; ok {
			u.reuses++
			for tok, c := range u.live {
				if c == chain {
					delete(u.live, tok)
				}
			}
			oauthErr(http.StatusBadRequest, "invalid_grant")
			return
		}
		chain, ok := u.live[rt]
		if !ok {
			oauthErr(http.StatusBadRequest, "invalid_grant")
			return
		}
		delete(u.live, rt)
		u.used[rt] = chain
		u.refreshes++
		u.issue(w, chain)
	default:
		oauthErr(http.StatusBadRequest, "unsupported_grant_type")
	}
}

// iterate runs one iteration of w as load does and returns its key.
func iterate(t *testing.T, tg *target, w *worker) string {
	t.Helper()
	req, key, err := w.request(context.Background())
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if req == nil {
		return key
	}
	var buf bytes.Buffer
	return exchange(tg.client, req, w.check, &buf)
}

func TestRefreshWorkerChain(t *testing.T) {
	const auth = "Basic ZGVtby1iYWNrZW5kOmxrX3NlY3JldA==" // demo-backend:lk_secret
	users := newFakeUsers(auth)
	srv := httptest.NewServer(users)
	defer srv.Close()
	tg := &target{baseURL: srv.URL, clientID: "demo-backend", clientSecret: "lk_secret",
		username: fakeUsername, password: fakePassword, client: srv.Client()}
	ctx := context.Background()

	var f fixture
	if err := passwordSetup(true)(ctx, tg, &f); err != nil {
		t.Fatal(err)
	}
	w1, err := newRefreshWorker(ctx, tg, &f)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := newRefreshWorker(ctx, tg, &f)
	if err != nil {
		t.Fatal(err)
	}
	if users.logins != 3 {
		t.Errorf("setup and two workers logged in %d times, want 3", users.logins)
	}
	// Interleaved, each worker follows its own chain and every token is
	// sent once.
	for i := range 5 {
		for j, w := range []*worker{w1, w2} {
			if key := iterate(t, tg, w); key != "" {
				t.Fatalf("iteration %d, worker %d: %q", i, j+1, key)
			}
		}
	}
	if users.refreshes != 10 || users.reuses != 0 || users.logins != 3 {
		t.Errorf("refreshes %d, reuses %d, logins %d; want 10, 0, 3", users.refreshes, users.reuses, users.logins)
	}

	// The chain breaks (revoked on the server): that iteration counts as an
	// error, the next one logs in again and goes on.
	users.revokeAll()
	if key := iterate(t, tg, w1); key != "400" {
		t.Errorf("refresh with a revoked chain: %q, want 400", key)
	}
	for i := range 3 {
		if key := iterate(t, tg, w1); key != "" {
			t.Errorf("iteration %d after the break: %q", i, key)
		}
	}
	if users.logins != 4 || users.reuses != 0 {
		t.Errorf("after a break: logins %d, reuses %d; want 4, 0", users.logins, users.reuses)
	}

	// A re-login that fails is counted and retried on the next iteration.
	users.revokeAll()
	users.busy = 1
	for i, want := range []string{"400", "login_503", ""} {
		if key := iterate(t, tg, w2); key != want {
			t.Errorf("step %d: %q, want %q", i, key, want)
		}
	}
	if users.reuses != 0 {
		t.Errorf("%d reuses", users.reuses)
	}

	// A 2xx without a refresh token breaks the chain too.
	users.noRefresh = true
	if key := iterate(t, tg, w2); key != "no_refresh_token" {
		t.Errorf("answer without refresh_token: %q", key)
	}
	users.noRefresh = false
	if key := iterate(t, tg, w2); key != "" {
		t.Errorf("after no_refresh_token: %q", key)
	}
}

func TestNewRefreshWorkerRetriesBusy(t *testing.T) {
	const auth = "Basic ZGVtby1iYWNrZW5kOmxrX3NlY3JldA=="
	users := newFakeUsers(auth)
	srv := httptest.NewServer(users)
	defer srv.Close()
	tg := &target{baseURL: srv.URL, clientID: "demo-backend", clientSecret: "lk_secret",
		username: fakeUsername, password: fakePassword, client: srv.Client()}
	f := fixture{auth: tg.basicAuth(), login: passwordForm(tg)}
	defer func(d time.Duration) { loginRetryDelay = d }(loginRetryDelay)
	loginRetryDelay = time.Millisecond

	users.busy = 3
	if _, err := newRefreshWorker(context.Background(), tg, &f); err != nil || users.logins != 4 {
		t.Errorf("after three 503s: %v, %d logins; want success on the 4th", err, users.logins)
	}
	// Anything else is not retried.
	users.busy = 0
	before := users.loginCount()
	bad := fixture{auth: f.auth, login: "grant_type=password&username=demo&password=nope"}
	if _, err := newRefreshWorker(context.Background(), tg, &bad); err == nil || users.loginCount() != before+1 {
		t.Errorf("wrong password: %v after %d logins", err, users.loginCount()-before)
	}
	// Busy until the deadline: an error, not a hang.
	users.busy = 1 << 30
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := newRefreshWorker(ctx, tg, &f); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("always busy: %v", err)
	}
}

// TestRefreshWorkersLogInOneAtATime: concurrent logins of one user beyond
// the realm's max_failures would be refused by the lockout.
func TestRefreshWorkersLogInOneAtATime(t *testing.T) {
	const auth = "Basic ZGVtby1iYWNrZW5kOmxrX3NlY3JldA=="
	users := newFakeUsers(auth)
	users.loginDelay = 5 * time.Millisecond
	srv := httptest.NewServer(users)
	defer srv.Close()
	tg := &target{baseURL: srv.URL, clientID: "demo-backend", clientSecret: "lk_secret",
		username: fakeUsername, password: fakePassword, client: srv.Client()}
	f := fixture{auth: tg.basicAuth(), login: passwordForm(tg)}
	s, _ := findScenario("refresh")
	ws, err := newWorkers(context.Background(), tg, s, &f, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 5 || users.loginCount() != 5 || users.maxInFlight.Load() != 1 {
		t.Errorf("%d workers, %d logins, at most %d at once; want 5, 5, 1", len(ws), users.loginCount(), users.maxInFlight.Load())
	}
	users.unsupported = true
	if _, err := newWorkers(context.Background(), tg, s, &f, 5); err == nil || !strings.Contains(err.Error(), "worker 1 of 5") {
		t.Errorf("failing login: %v", err)
	}
}

func TestPasswordSetup(t *testing.T) {
	const auth = "Basic ZGVtby1iYWNrZW5kOmxrX3NlY3JldA=="
	users := newFakeUsers(auth)
	srv := httptest.NewServer(users)
	defer srv.Close()
	tg := &target{baseURL: srv.URL, clientID: "demo-backend", clientSecret: "lk_secret",
		username: fakeUsername, password: fakePassword, client: srv.Client()}
	ctx := context.Background()

	var f fixture
	if err := passwordSetup(false)(ctx, tg, &f); err != nil {
		t.Fatal(err)
	}
	if f.auth != auth || f.login != "grant_type=password&password=correct+horse+battery+staple&username=demo" {
		t.Errorf("fixture = %+v", f)
	}

	users.noRefresh = true
	if err := passwordSetup(false)(ctx, tg, &f); err != nil {
		t.Errorf("password without refresh tokens: %v", err)
	}
	if err := passwordSetup(true)(ctx, tg, &f); !errors.Is(err, errWrongServer) {
		t.Errorf("refresh without refresh tokens: %v, want errWrongServer", err)
	}
	users.noRefresh = false

	users.unsupported = true
	if err := passwordSetup(false)(ctx, tg, &f); !errors.Is(err, errWrongServer) {
		t.Errorf("server without the password grant: %v, want errWrongServer", err)
	}
	users.unsupported = false

	wrong := *tg
	wrong.password = "nope"
	err := passwordSetup(false)(ctx, &wrong, &f)
	if err == nil || errors.Is(err, errWrongServer) || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("wrong password: %v, want a plain error", err)
	}
}

func TestHelpHidesSecrets(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-h"}, env(map[string]string{"DEMO_CLIENT_SECRET": "s3cret-client", "DEMO_PASSWORD": "s3cret-user"}), &stdout, &stderr)
	if code != 0 || strings.Contains(stderr.String(), "s3cret") || !strings.Contains(stderr.String(), "-password") {
		t.Errorf("-h: exit %d, output %s", code, stderr.String())
	}
}
