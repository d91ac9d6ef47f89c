// Command bench is Latchkey's load harness. It starts nothing itself: point it
// at a running server (loopback only, unless -allow-remote), name the
// scenarios, and it runs each for -warmup (not counted) plus -duration at
// -concurrency workers over keep-alive connections, then prints one JSON line
// per scenario on stdout:
//
//	{"scenario":"jwks","db":"sqlite","concurrency":16,"seconds":10,"rps":…,"p50_ms":…,"p90_ms":…,"p99_ms":…,"errors":{},"rss_mib":…,"rss_peak_mib":…}
//
// rps and the latency percentiles cover the good answers (2xx that pass the
// scenario's check) completed inside the measured window; errors counts the
// rest by HTTP status, "transport" for transport errors, or a scenario's own
// key (introspect: "inactive"; refresh: "login_<status>" for a failed
// re-login, "no_refresh_token"; apt_grant: "no_access_token"; users_me:
// "no_token"). Requests still in flight at the deadline are
// let finish (up to 2 s) but not counted. rss_mib is the VmRSS of
// -server-pid after the scenario, rss_peak_mib its VmHWM (the peak RSS since
// the server started; both 0 without -server-pid). Diagnostics go to stderr.
// Exit status: 0 ok, 1 a scenario could not be set up or run, 2 bad flags.
//
// The password and refresh scenarios log in as -username/-password
// ($DEMO_USERNAME/$DEMO_PASSWORD); with -scenario all they are skipped when no
// user is given.
//
// The Work API scenarios apt_grant (the jwt-bearer grant with an Account
// Provider Token) and users_me (GET /workapi/users/me) sign APTs for the
// environment -environment with the RSA key in -environment-key
// ($DEMO_ENVIRONMENT_GUID/$DEMO_ENVIRONMENT_KEY); with -scenario all they are
// skipped when no environment is given. Their setup creates one Work API
// user per worker. apt_grant pre-mints its APTs before the warm-up, enough
// for -apt-rate grants/s (× 1.5), so that no signing happens while it is
// measured (see workapi.go).
//
// bench/run.sh builds the server, starts it on a fresh database and runs the
// standard scenarios against it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method, or 0 for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// result is one output line. Field order is the output's key order.
type result struct {
	Scenario    string         `json:"scenario"`
	DB          string         `json:"db"`
	Concurrency int            `json:"concurrency"`
	Seconds     float64        `json:"seconds"`
	RPS         float64        `json:"rps"`
	P50         float64        `json:"p50_ms"`
	P90         float64        `json:"p90_ms"`
	P99         float64        `json:"p99_ms"`
	Errors      map[string]int `json:"errors"`
	RSSMiB      float64        `json:"rss_mib"`
	RSSPeakMiB  float64        `json:"rss_peak_mib"`
	// CeilingRPS and PctOfCeiling: the ceiling the scenario is read
	// against (-ceilings) and rps as a share of it, in percent.
	CeilingRPS   float64 `json:"ceiling_rps,omitempty"`
	PctOfCeiling float64 `json:"pct_of_ceiling,omitempty"`
}

// line renders r as one JSON line without the trailing newline; errors is
// always an object ({} when there were none), its keys sorted.
func (r result) line() string {
	if r.Errors == nil {
		r.Errors = map[string]int{}
	}
	b, err := json.Marshal(r)
	if err != nil { // cannot happen: every field is a plain value
		panic(err)
	}
	return string(b)
}

// summarize builds a result from the merged good latencies and error counts.
func summarize(name string, o *options, lat []time.Duration, errs map[string]int) result {
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }
	return result{
		Scenario:    name,
		DB:          o.db,
		Concurrency: o.concurrency,
		Seconds:     o.duration.Seconds(),
		RPS:         round(float64(len(lat))/o.duration.Seconds(), 1),
		P50:         ms(percentile(lat, 50)),
		P90:         ms(percentile(lat, 90)),
		P99:         ms(percentile(lat, 99)),
		Errors:      errs,
	}
}

func round(x float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(x*p) / p
}

// parseStatusMiB returns the value of a "Key:  N kB" line of a
// /proc/<pid>/status file in MiB.
func parseStatusMiB(status []byte, key string) (float64, error) {
	for _, ln := range strings.Split(string(status), "\n") {
		rest, ok := strings.CutPrefix(ln, key+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected %s line %q", key, ln)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected %s line %q", key, ln)
		}
		return round(float64(kb)/1024, 1), nil
	}
	return 0, fmt.Errorf("no %s line (a zombie or kernel thread?)", key)
}

// parseVmRSS returns the resident set size from a /proc/<pid>/status file
// in MiB.
func parseVmRSS(status []byte) (float64, error) { return parseStatusMiB(status, "VmRSS") }

// parseVmHWM returns the peak resident set size ("high water mark", since
// the process started) from a /proc/<pid>/status file in MiB.
func parseVmHWM(status []byte) (float64, error) { return parseStatusMiB(status, "VmHWM") }

// readMem returns the current and the peak RSS of pid in MiB.
func readMem(pid int) (rss, peak float64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	if rss, err = parseVmRSS(b); err != nil {
		return 0, 0, err
	}
	if peak, err = parseVmHWM(b); err != nil {
		return 0, 0, err
	}
	return rss, peak, nil
}

func newClient(concurrency int) *http.Client {
	tr := &http.Transport{
		Proxy: nil, // never through a proxy: the target is on this machine
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        2*concurrency + 8,
		MaxIdleConnsPerHost: 2*concurrency + 8, // ≥ concurrency: every worker keeps its connection
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	if o.serverPID > 0 {
		if _, _, err := readMem(o.serverPID); err != nil {
			fmt.Fprintf(stderr, "bench: -server-pid %d: %v\n", o.serverPID, err)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	client := newClient(o.concurrency)
	defer client.CloseIdleConnections()
	t := &target{
		baseURL: o.baseURL, clientID: o.clientID, clientSecret: o.clientSecret,
		username: o.username, password: o.password, client: client,
		concurrency: o.concurrency, window: o.warmup + o.duration, aptRate: o.aptRate, log: stderr,
	}
	if o.haveEnvironment() && slices.ContainsFunc(o.scenarios, func(s scenario) bool { return s.needsEnvironment }) {
		if t.apt, err = loadAPTSigner(o.environment, o.envKeyFile, o.aptTTL); err != nil {
			fmt.Fprintln(stderr, "bench: -environment-key:", err)
			return 2
		}
	}

	for _, s := range o.scenarios {
		if s.needsUser && !o.haveUser() { // only with -scenario all (parseOptions)
			fmt.Fprintf(stderr, "bench: skipping %s: no user (set -username/-password or DEMO_USERNAME/DEMO_PASSWORD)\n", s.name)
			continue
		}
		if s.needsEnvironment && t.apt == nil { // only with -scenario all (parseOptions)
			fmt.Fprintf(stderr, "bench: skipping %s: no environment (set -environment/-environment-key or DEMO_ENVIRONMENT_GUID/DEMO_ENVIRONMENT_KEY)\n", s.name)
			continue
		}
		var f fixture
		if s.setup != nil {
			setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
			err := s.setup(setupCtx, t, &f)
			cancel()
			if err != nil {
				if o.all && errors.Is(err, errWrongServer) {
					fmt.Fprintf(stderr, "bench: skipping %s: %v\n", s.name, err)
					continue
				}
				fmt.Fprintf(stderr, "bench: %s: setup: %v\n", s.name, err)
				return 1
			}
		}
		workers, err := newWorkers(ctx, t, s, &f, o.concurrency)
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "bench: interrupted")
			return 1
		}
		if err != nil {
			fmt.Fprintf(stderr, "bench: %s: setup: %v\n", s.name, err)
			return 1
		}
		if s.prepare != nil {
			err := s.prepare(ctx, t, &f)
			if ctx.Err() != nil {
				fmt.Fprintln(stderr, "bench: interrupted")
				return 1
			}
			if err != nil {
				fmt.Fprintf(stderr, "bench: %s: setup: %v\n", s.name, err)
				return 1
			}
		}
		lat, errs, err := load(ctx, t, workers, o)
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "bench: interrupted")
			return 1
		}
		if err != nil {
			fmt.Fprintf(stderr, "bench: %s: %v\n", s.name, err)
			return 1
		}
		r := summarize(s.name, o, lat, errs)
		if o.serverPID > 0 {
			rss, peak, err := readMem(o.serverPID)
			if err != nil {
				fmt.Fprintf(stderr, "bench: %s: server pid %d: %v (did the server die?)\n", s.name, o.serverPID, err)
				return 1
			}
			r.RSSMiB, r.RSSPeakMiB = rss, peak
		}
		fmt.Fprintln(stdout, r.withCeiling(o.ceilings).line())
	}
	return 0
}

// setupTimeout bounds a scenario's setup, and separately the making of
// each of its workers.
const setupTimeout = 30 * time.Second

// newWorkers makes the n workers of scenario s before its warm-up (not
// timed). Workers with their own state are made one after the other: for
// refresh each logs in as the same user, and the server's lockout takes a
// slot per login in flight, so n concurrent logins beyond the realm's
// max_failures are refused even with the right password.
func newWorkers(ctx context.Context, t *target, s scenario, f *fixture, n int) ([]*worker, error) {
	ws := make([]*worker, n)
	for i := range ws {
		if s.newWorker == nil {
			ws[i] = s.statelessWorker(t, f)
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, setupTimeout)
		w, err := s.newWorker(wctx, t, f)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("worker %d of %d: %w", i+1, n, err)
		}
		ws[i] = w
	}
	return ws, nil
}

// drainGrace is how long requests in flight at the deadline may take to
// finish before they are cancelled.
const drainGrace = 2 * time.Second

// workerStats is what one worker measured; only its own goroutine writes it.
type workerStats struct {
	lat  []time.Duration
	errs map[string]int
	buf  bytes.Buffer // body buffer for checked responses
}

// load runs one scenario with one goroutine per worker: warm-up, then the
// measured window, with every worker stopped at the deadline. It returns the
// good requests' latencies and the error counts, both from the measured
// window only.
func load(ctx context.Context, t *target, workers []*worker, o *options) ([]time.Duration, map[string]int, error) {
	measureStart := time.Now().Add(o.warmup)
	end := measureStart.Add(o.duration)
	// At end no worker starts another request; requests in flight get
	// drainGrace to finish (uncounted) before they are cut off, so that the
	// server does not see a burst of aborted requests.
	runCtx, cancel := context.WithDeadline(ctx, end.Add(drainGrace))
	defer cancel()

	// Preallocate for up to ~40,000 requests/s in all, so that appends do
	// not allocate while measuring; beyond that the slices simply grow.
	perWorker := int(o.duration.Seconds()*40000)/o.concurrency + 1024
	perWorker = min(perWorker, 1<<22)

	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		buildErr error
	)
	stats := make([]*workerStats, len(workers))
	for i, wk := range workers {
		w := &workerStats{lat: make([]time.Duration, 0, perWorker), errs: map[string]int{}}
		stats[i] = w
		wg.Go(func() {
			for runCtx.Err() == nil && time.Now().Before(end) {
				// Untimed: building the request, and whatever the worker
				// does first (refresh: log in again after a broken chain).
				req, key, err := wk.request(runCtx)
				if err == nil && req == nil && key == "" {
					err = errors.New("the worker built no request and gave no error key")
				}
				if err != nil {
					errOnce.Do(func() { buildErr = fmt.Errorf("building a request: %w", err) })
					cancel()
					return
				}
				start := time.Now()
				if req != nil {
					key = exchange(t.client, req, wk.check, &w.buf)
				}
				done := time.Now()
				if done.After(end) || (key == "transport" && runCtx.Err() != nil) {
					return // finished after the deadline, or cut off: not counted
				}
				if start.Before(measureStart) {
					continue // warm-up
				}
				if key != "" {
					w.errs[key]++
					continue
				}
				w.lat = append(w.lat, done.Sub(start))
			}
		})
	}
	wg.Wait()
	if buildErr != nil {
		return nil, nil, buildErr
	}

	total := 0
	for _, w := range stats {
		total += len(w.lat)
	}
	lat := make([]time.Duration, 0, total)
	errs := map[string]int{}
	for _, w := range stats {
		lat = append(lat, w.lat...)
		for k, n := range w.errs {
			errs[k] += n
		}
	}
	return lat, errs, nil
}

// exchange sends req, reads or drains the body and closes it, and returns ""
// for a good answer or the key to count it under.
func exchange(c *http.Client, req *http.Request, check func([]byte) string, buf *bytes.Buffer) string {
	resp, err := c.Do(req)
	if err != nil {
		return "transport"
	}
	defer resp.Body.Close()
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if ok && check != nil {
		buf.Reset()
		if _, err := buf.ReadFrom(io.LimitReader(resp.Body, 1<<20)); err != nil {
			return "transport"
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return "transport"
		}
		return check(buf.Bytes())
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "transport"
	}
	if !ok {
		return strconv.Itoa(resp.StatusCode)
	}
	return ""
}
