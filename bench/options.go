package main

// The harness's command line: flags, the environment's defaults, the
// scenario list and the target URL (loopback only unless -allow-remote).

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// options are the parsed and validated command-line flags.
type options struct {
	baseURL      string
	scenarios    []scenario
	all          bool // -scenario all: skip scenarios that do not fit the server
	concurrency  int
	duration     time.Duration
	warmup       time.Duration
	db           string
	clientID     string
	clientSecret string
	username     string
	password     string
	serverPID    int
	allowRemote  bool
	environment  string             // Work API environment GUID
	envKeyFile   string             // its private key (PEM)
	aptRate      float64            // apt_grant's rate estimate, to size the APT pool
	aptTTL       time.Duration      // exp - iat of the APTs
	ceilings     map[string]float64 // -ceilings: the stack's ceilings measured in this run
}

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: bench [flags]\n\nRuns load scenarios against a running Latchkey server and prints one JSON line per scenario.\nScenarios: %s (or all)\n\nFlags:\n", strings.Join(scenarioNames(), ", "))
		fs.PrintDefaults()
	}
	var (
		o        options
		rawURL   string
		scenList string
	)
	fs.StringVar(&rawURL, "url", "http://127.0.0.1:8080", "base `URL` of the server under test")
	fs.StringVar(&scenList, "scenario", "all", "comma-separated scenario `names`, or all")
	fs.IntVar(&o.concurrency, "concurrency", 16, "number of concurrent workers (one request in flight each)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "warm-up time per scenario before measuring (not counted)")
	fs.StringVar(&o.db, "db", "sqlite", "database `label` copied into the output")
	// The secret's default comes from the environment after parsing, so that
	// -h never prints it.
	fs.StringVar(&o.clientID, "client-id", "", "OAuth client `id` (default $DEMO_CLIENT_ID)")
	fs.StringVar(&o.clientSecret, "client-secret", "", "OAuth client `secret` (default $DEMO_CLIENT_SECRET; prefer the variable: flags show in ps)")
	fs.StringVar(&o.username, "username", "", "user `name` for the password and refresh scenarios (default $DEMO_USERNAME)")
	fs.StringVar(&o.password, "password", "", "the user's `password` (default $DEMO_PASSWORD; prefer the variable: flags show in ps)")
	fs.IntVar(&o.serverPID, "server-pid", 0, "`pid` of the server process, to report its VmRSS and VmHWM (0: report 0)")
	fs.StringVar(&o.environment, "environment", "", "Work API environment `GUID` for apt_grant and users_me (default $DEMO_ENVIRONMENT_GUID)")
	fs.StringVar(&o.envKeyFile, "environment-key", "", "`file` with the environment's RSA private key, PEM PKCS#8 or PKCS#1 (default $DEMO_ENVIRONMENT_KEY)")
	fs.Float64Var(&o.aptRate, "apt-rate", defaultAPTRate, "expected apt_grant `rate` (per second): APTs for 1.5 times this over warm-up + duration are signed before the run")
	fs.DurationVar(&o.aptTTL, "apt-ttl", 60*time.Second, "APT lifetime, exp - iat (at most the environment's max_apt_ttl; whole seconds)")
	var ceilings string
	fs.StringVar(&ceilings, "ceilings", "", "the `ceilings` measured in this run, as name=rps pairs ("+ceilingNames()+"): each scenario line then has ceiling_rps and pct_of_ceiling")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow a -url host that is not loopback (load on other hosts is forbidden here)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var err error
	if o.ceilings, err = parseCeilings(ceilings); err != nil {
		return nil, err
	}
	if o.clientID == "" {
		o.clientID = getenv("DEMO_CLIENT_ID")
	}
	if o.clientSecret == "" {
		o.clientSecret = getenv("DEMO_CLIENT_SECRET")
	}
	if o.username == "" {
		o.username = getenv("DEMO_USERNAME")
	}
	if o.password == "" {
		o.password = getenv("DEMO_PASSWORD")
	}
	if o.environment == "" {
		o.environment = getenv("DEMO_ENVIRONMENT_GUID")
	}
	if o.envKeyFile == "" {
		o.envKeyFile = getenv("DEMO_ENVIRONMENT_KEY")
	}

	base, err := checkURL(rawURL, o.allowRemote)
	if err != nil {
		return nil, err
	}
	o.baseURL = base

	o.scenarios, o.all, err = parseScenarios(scenList)
	if err != nil {
		return nil, err
	}
	switch {
	case o.concurrency < 1:
		return nil, fmt.Errorf("-concurrency must be at least 1, got %d", o.concurrency)
	case o.duration <= 0:
		return nil, fmt.Errorf("-duration must be positive, got %v", o.duration)
	case o.warmup < 0:
		return nil, fmt.Errorf("-warmup must not be negative, got %v", o.warmup)
	case o.serverPID < 0:
		return nil, fmt.Errorf("-server-pid must not be negative, got %d", o.serverPID)
	case o.db == "":
		return nil, errors.New("-db must not be empty")
	case !(o.aptRate > 0) || math.IsInf(o.aptRate, 0):
		return nil, fmt.Errorf("-apt-rate must be positive, got %v", o.aptRate)
	case o.aptTTL < 2*aptExpiryMargin || o.aptTTL%time.Second != 0:
		return nil, fmt.Errorf("-apt-ttl must be whole seconds and at least %v, got %v", 2*aptExpiryMargin, o.aptTTL)
	}
	for _, s := range o.scenarios {
		if s.needsClient && (o.clientID == "" || o.clientSecret == "") {
			return nil, fmt.Errorf("scenario %s needs client credentials: set -client-id/-client-secret or DEMO_CLIENT_ID/DEMO_CLIENT_SECRET", s.name)
		}
		// With -scenario all, run skips them instead.
		if s.needsUser && !o.all && !o.haveUser() {
			return nil, fmt.Errorf("scenario %s needs a user: set -username/-password or DEMO_USERNAME/DEMO_PASSWORD", s.name)
		}
		if s.needsEnvironment && !o.all && !o.haveEnvironment() {
			return nil, fmt.Errorf("scenario %s needs an environment: set -environment/-environment-key or DEMO_ENVIRONMENT_GUID/DEMO_ENVIRONMENT_KEY", s.name)
		}
	}
	return &o, nil
}

func (o *options) haveUser() bool { return o.username != "" && o.password != "" }

func (o *options) haveEnvironment() bool { return o.environment != "" && o.envKeyFile != "" }

// parseScenarios resolves a comma-separated list of scenario names; "all"
// anywhere in it selects every scenario.
func parseScenarios(list string) ([]scenario, bool, error) {
	var out []scenario
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		if name == "all" {
			return slices.Clone(scenarios), true, nil
		}
		s, ok := findScenario(name)
		if !ok {
			return nil, false, fmt.Errorf("unknown scenario %q (known: %s, all)", name, strings.Join(scenarioNames(), ", "))
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, false, errors.New("-scenario names no scenario")
	}
	return out, false, nil
}

// checkURL validates the server URL and returns it without a trailing slash.
// Unless allowRemote, its host must be loopback: "localhost" or a literal
// address in 127.0.0.0/8 or ::1 (no other names are resolved).
func checkURL(raw string, allowRemote bool) (string, error) {
	u, err := parseHTTPURL(raw)
	if err != nil {
		return "", err
	}
	if !allowRemote && !isLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("-url host %q is not loopback; load on other hosts is forbidden here (use -allow-remote only where it is allowed)", u.Hostname())
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func parseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-url %q: want http or https://HOST[:PORT]", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("-url %q: no user info, query or fragment", raw)
	}
	return u, nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
