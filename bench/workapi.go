package main

// The Work API scenarios (SPEC §4): apt_grant and users_me. Both need an
// environment (-environment/-environment-key, default
// $DEMO_ENVIRONMENT_GUID/$DEMO_ENVIRONMENT_KEY) to sign Account Provider
// Tokens (APTs) with.
//
// Signing an RS256 APT costs the harness about 1 ms of CPU, as much as the
// server spends on a whole grant, on the same two cores. So apt_grant signs
// nothing while it is measured: after its setup it pre-mints a pool of APTs
// (untimed, on every core) sized for the run, and each iteration only takes
// the next one. A signing goroutine running ahead of the workers would have
// kept the pool small, but its CPU would be taken from the server during the
// measured window, which is what must not happen. The price is that warm-up,
// duration and minting must together fit in an APT's lifetime (-apt-ttl,
// 60 s by default, the development max_apt_ttl): the pool is spent oldest
// first, and an APT about to expire stops the run with an error, as does an
// empty pool, rather than counting requests that were never sent.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// workAPIPrefix is the Work API's route prefix (compat.workapi.prefix of
	// the development defaults).
	workAPIPrefix = "/workapi"
	// aptGrantForm starts the body of a jwt-bearer token request (RFC 7523
	// §2.1); the APT follows. An APT is base64url and dots: nothing in it
	// needs escaping.
	aptGrantForm = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="
	// aptHeader is base64url({"alg":"RS256"}), the Ruby SDK's header.
	aptHeader = "eyJhbGciOiJSUzI1NiJ9"

	// defaultAPTRate is -apt-rate's default: an estimate of the APT grants
	// per second the server answers, the goal (measured: about
	// 2,000/s on SQLite at concurrency 16). With aptPoolSlack the pool holds
	// 4,500/s; a faster server empties it and the run stops with an error.
	defaultAPTRate = 3000
	// aptPoolSlack is how much larger than the estimate the pool is made.
	aptPoolSlack = 1.5
	// minAPTPool and maxAPTPool bound the pool (an APT with its form prefix
	// is about 600 bytes, so the cap is about 60 MB).
	minAPTPool = 64
	maxAPTPool = 100_000
	// aptExpiryMargin is how long before its exp a pre-minted APT is no
	// longer sent.
	aptExpiryMargin = 5 * time.Second
)

var (
	errAPTPoolExhausted = errors.New("the pool of pre-minted APTs is exhausted")
	errAPTExpiring      = errors.New("the pre-minted APTs are about to expire")
)

// aptSigner mints RS256 APTs for one environment. Its fields are only read,
// so many goroutines may use it at once.
type aptSigner struct {
	guid string
	key  *rsa.PrivateKey
	ttl  time.Duration // exp - iat; whole seconds
}

// aptClaims is an APT's payload, in the Ruby SDK's order (exp, iat first).
type aptClaims struct {
	Exp             int64  `json:"exp"`
	Iat             int64  `json:"iat"`
	EnvironmentGUID string `json:"environment_guid"`
	ArbitraryID     string `json:"arbitrary_id"`
	JTI             string `json:"jti"`
}

// mint returns an APT for the user arbitraryID issued at now, with a random
// jti (the server accepts each jti once), and its expiry.
func (s *aptSigner) mint(arbitraryID string, now time.Time) (string, time.Time, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", time.Time{}, err
	}
	iat := now.Unix()
	exp := iat + int64(s.ttl/time.Second)
	payload, err := json.Marshal(aptClaims{
		Exp: exp, Iat: iat, EnvironmentGUID: s.guid, ArbitraryID: arbitraryID,
		JTI: base64.RawURLEncoding.EncodeToString(jti[:]),
	})
	if err != nil {
		return "", time.Time{}, err
	}
	signed := aptHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign APT: %w", err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), time.Unix(exp, 0), nil
}

// loadAPTSigner reads the environment's private key from path.
func loadAPTSigner(guid, path string, ttl time.Duration) (*aptSigner, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := parseRSAPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &aptSigner{guid: guid, key: key, ttl: ttl}, nil
}

// parseRSAPrivateKey returns the first private key of PEM data: PKCS#8
// ("PRIVATE KEY", as the development defaults write it) or PKCS#1 ("RSA
// PRIVATE KEY"). It must be RSA: the scenarios sign RS256.
func parseRSAPrivateKey(data []byte) (*rsa.PrivateKey, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PRIVATE KEY or RSA PRIVATE KEY PEM block")
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("a %T, not an RSA key: the APT scenarios sign RS256", k)
			}
			return rk, nil
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("an encrypted private key; decrypt it first")
		case "EC PRIVATE KEY":
			return nil, errors.New("an EC key, not an RSA key: the APT scenarios sign RS256")
		}
	}
}

// pooledAPT is one pre-minted apt_grant request body and its APT's expiry.
type pooledAPT struct {
	body string
	exp  time.Time
}

// aptPool hands out pre-minted APTs, each once, in the order they were
// minted (oldest first). take is safe for concurrent use.
type aptPool struct {
	items []pooledAPT
	next  atomic.Int64
	rate  float64 // the -apt-rate the pool was sized for, for messages
}

// aptPoolSize is the number of APTs to pre-mint for rate requests per
// second over window (warm-up plus duration), with aptPoolSlack to spare,
// between minAPTPool and maxAPTPool.
func aptPoolSize(rate float64, window time.Duration) int {
	n := math.Ceil(rate * window.Seconds() * aptPoolSlack)
	return int(min(max(n, minAPTPool), maxAPTPool))
}

// take returns the next request body, or an error when the pool is spent or
// its next APT expires within aptExpiryMargin of now.
func (p *aptPool) take(now time.Time) (string, error) {
	i := p.next.Add(1) - 1
	if i >= int64(len(p.items)) {
		hint := "rerun with a higher -apt-rate"
		if len(p.items) >= maxAPTPool {
			hint = fmt.Sprintf("the pool is at its cap of %d; rerun with a shorter -duration", maxAPTPool)
		}
		return "", fmt.Errorf("%w: all %d were sent (sized for -apt-rate %g/s × %g over warm-up + duration; the server was faster): %s",
			errAPTPoolExhausted, len(p.items), p.rate, aptPoolSlack, hint)
	}
	it := p.items[i]
	if left := it.exp.Sub(now); left < aptExpiryMargin {
		return "", fmt.Errorf("%w: APT %d of %d expires in %v (minting and the run take longer than -apt-ttl): lower -apt-rate or -duration",
			errAPTExpiring, i+1, len(p.items), left.Round(time.Millisecond))
	}
	return it.body, nil
}

// mintPool signs n apt_grant request bodies for users (round robin) on
// workers goroutines. Each APT is issued when it is signed.
func mintPool(ctx context.Context, s *aptSigner, users []string, n, workers int, rate float64) (*aptPool, error) {
	if len(users) == 0 {
		return nil, errors.New("no users to mint APTs for")
	}
	p := &aptPool{items: make([]pooledAPT, n), rate: rate}
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		mintErr error
	)
	for range max(workers, 1) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				apt, exp, err := s.mint(users[i%len(users)], time.Now())
				if err != nil {
					errOnce.Do(func() { mintErr = err })
					return
				}
				p.items[i] = pooledAPT{body: aptGrantForm + apt, exp: exp}
			}
		})
	}
	wg.Wait()
	if mintErr != nil {
		return nil, mintErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// workUser is a Work API user created in setup.
type workUser struct {
	arbitraryID string
	token       string // the user token of the 201 answer
}

// newArbitraryID returns a fresh "bench-<16 hex digits>".
func newArbitraryID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "bench-" + hex.EncodeToString(b[:])
}

// createWorkUser creates a user with POST /workapi/users and a fresh APT.
func createWorkUser(ctx context.Context, t *target) (workUser, error) {
	u := workUser{arbitraryID: newArbitraryID()}
	apt, _, err := t.apt.mint(u.arbitraryID, time.Now())
	if err != nil {
		return u, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.baseURL+workAPIPrefix+"/users", nil)
	if err != nil {
		return u, err
	}
	req.Header.Set("Authorization", "Bearer "+apt)
	req.Header.Set("Accept", "application/json")
	status, body, err := do(t.client, req)
	if err != nil {
		return u, fmt.Errorf("POST %s/users: %w", workAPIPrefix, err)
	}
	switch status {
	case http.StatusCreated:
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return u, fmt.Errorf("%w: POST %s/users: HTTP %d (is compat.workapi enabled with prefix %s?)",
			errWrongServer, workAPIPrefix, status, workAPIPrefix)
	default:
		return u, fmt.Errorf("POST %s/users: HTTP %d, want 201: %s", workAPIPrefix, status, snippet(body))
	}
	var ur struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &ur); err != nil || ur.Token == "" {
		return u, fmt.Errorf("POST %s/users: a 201 without a token: %s", workAPIPrefix, snippet(body))
	}
	u.token = ur.Token
	return u, nil
}

// createWorkUsers creates one user per worker (one after the other: these
// are few, and setup is not timed).
func createWorkUsers(ctx context.Context, t *target, f *fixture) error {
	f.users = make([]workUser, 0, t.concurrency)
	for i := range t.concurrency {
		u, err := createWorkUser(ctx, t)
		if err != nil {
			if i == 0 {
				return err
			}
			return fmt.Errorf("user %d of %d: %w", i+1, t.concurrency, err)
		}
		f.users = append(f.users, u)
	}
	return nil
}

// aptGrantSetup creates the users and sends one jwt-bearer grant, so that a
// server without the grant fails (or, with -scenario all, is skipped) here.
func aptGrantSetup(ctx context.Context, t *target, f *fixture) error {
	if t.window >= t.apt.ttl-aptExpiryMargin {
		return fmt.Errorf("warm-up + duration (%v) must be shorter than -apt-ttl (%v) less %v: the APTs are minted before the run",
			t.window, t.apt.ttl, aptExpiryMargin)
	}
	f.auth = t.basicAuth()
	if err := createWorkUsers(ctx, t, f); err != nil {
		return err
	}
	apt, _, err := t.apt.mint(f.users[0].arbitraryID, time.Now())
	if err != nil {
		return err
	}
	status, body, err := postForm(ctx, t, f.auth, aptGrantForm+apt)
	if err != nil {
		return fmt.Errorf("jwt-bearer grant: %w", err)
	}
	if status != http.StatusOK {
		err := fmt.Errorf("jwt-bearer grant: HTTP %d: %s", status, snippet(body))
		if status == http.StatusBadRequest || status == http.StatusUnauthorized {
			switch oauthError(body) {
			case "unsupported_grant_type", "unauthorized_client":
				return fmt.Errorf("%w: %w", errWrongServer, err)
			}
		}
		return err
	}
	if _, err := parseTokenResponse(body); err != nil {
		return fmt.Errorf("jwt-bearer grant: %w", err)
	}
	return nil
}

// mintAPTPool pre-mints apt_grant's APTs after setup (untimed, on every
// core, and without setup's time limit).
func mintAPTPool(ctx context.Context, t *target, f *fixture) error {
	ids := make([]string, len(f.users))
	for i, u := range f.users {
		ids[i] = u.arbitraryID
	}
	n := aptPoolSize(t.aptRate, t.window)
	workers := runtime.GOMAXPROCS(0)
	fmt.Fprintf(t.log, "bench: apt_grant: pre-minting %d APTs for %d users on %d cores (untimed; -apt-rate %g/s)\n",
		n, len(ids), workers, t.aptRate)
	start := time.Now()
	p, err := mintPool(ctx, t.apt, ids, n, workers, t.aptRate)
	if err != nil {
		return fmt.Errorf("pre-minting APTs: %w", err)
	}
	took := time.Since(start)
	fmt.Fprintf(t.log, "bench: apt_grant: minted %d APTs in %.1fs (%.0f/s)\n", n, took.Seconds(), float64(n)/took.Seconds())
	f.apts = p
	return nil
}

func aptGrantRequest(ctx context.Context, t *target, f *fixture) (*http.Request, error) {
	body, err := f.apts.take(time.Now())
	if err != nil {
		return nil, err
	}
	return formPost(ctx, t.baseURL+"/oauth2/token", f.auth, body)
}

var (
	accessTokenMember = []byte(`"access_token":"`)
	tokenMember       = []byte(`"token":"`)
)

// hasStringMember reports whether the JSON object body has a non-empty
// string member name (quick look first, then a real parse).
func hasStringMember(body, quick []byte, name string) bool {
	if i := bytes.Index(body, quick); i >= 0 && i+len(quick) < len(body) && body[i+len(quick)] != '"' {
		return true
	}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	s, ok := m[name].(string)
	return ok && s != ""
}

// checkAccessToken counts a token answer without an access_token as
// "no_access_token".
func checkAccessToken(body []byte) string {
	if hasStringMember(body, accessTokenMember, "access_token") {
		return ""
	}
	return "no_access_token"
}

// checkUserToken counts a Work API user object without a token as
// "no_token".
func checkUserToken(body []byte) string {
	if hasStringMember(body, tokenMember, "token") {
		return ""
	}
	return "no_token"
}

// usersMeSetup creates one user per worker and reads /users/me once with
// the first one's token.
func usersMeSetup(ctx context.Context, t *target, f *fixture) error {
	if err := createWorkUsers(ctx, t, f); err != nil {
		return err
	}
	req, err := usersMeRequest(ctx, t, "Bearer "+f.users[0].token)
	if err != nil {
		return err
	}
	status, body, err := do(t.client, req)
	if err != nil {
		return fmt.Errorf("GET %s/users/me: %w", workAPIPrefix, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s/users/me: HTTP %d: %s", workAPIPrefix, status, snippet(body))
	}
	if checkUserToken(body) != "" {
		return fmt.Errorf("GET %s/users/me: an answer without a token: %s", workAPIPrefix, snippet(body))
	}
	return nil
}

// newUsersMeWorker gives the next worker its own user (workers are made
// one after the other) and sends that user's first token every time: the
// route issues a fresh token but leaves the old one valid until it expires
// (user_token_ttl, 24 h in the development defaults).
func newUsersMeWorker(ctx context.Context, t *target, f *fixture) (*worker, error) {
	if f.nextUser >= len(f.users) {
		return nil, fmt.Errorf("only %d users were created", len(f.users))
	}
	auth := "Bearer " + f.users[f.nextUser].token
	f.nextUser++
	return &worker{
		request: func(ctx context.Context) (*http.Request, string, error) {
			req, err := usersMeRequest(ctx, t, auth)
			return req, "", err
		},
		check: checkUserToken,
	}, nil
}

func usersMeRequest(ctx context.Context, t *target, auth string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.baseURL+workAPIPrefix+"/users/me", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	return req, nil
}
