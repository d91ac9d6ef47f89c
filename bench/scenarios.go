package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// target is the server under test and what the scenarios need to talk to it.
type target struct {
	baseURL      string // no trailing slash
	clientID     string
	clientSecret string
	username     string // the user of the password and refresh scenarios
	password     string
	client       *http.Client

	// For the Work API scenarios: the environment's APT signer (nil without
	// an environment), the number of workers, warm-up plus duration, the
	// -apt-rate estimate, and where progress notes go.
	apt         *aptSigner
	concurrency int
	window      time.Duration
	aptRate     float64
	log         io.Writer
}

// basicAuth is the Authorization header value for the client's credentials,
// each form-urlencoded before joining (RFC 6749 §2.3.1).
func (t *target) basicAuth() string {
	raw := url.QueryEscape(t.clientID) + ":" + url.QueryEscape(t.clientSecret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}

// fixture holds what a scenario's setup prepared for its requests. It is
// written only by setup, newWorker and prepare, before any worker starts,
// and read-only afterwards (apts hands out its APTs by itself). Later
// scenarios add the fields they need.
type fixture struct {
	auth  string // Authorization header value (client Basic auth)
	token string // an access token obtained in setup
	login string // the password grant's form body (user credentials)

	users    []workUser // Work API users, one per worker
	nextUser int        // users[nextUser] goes to the next worker made
	apts     *aptPool   // apt_grant's pre-minted APTs
}

// scenario is one named load pattern. Without newWorker, request builds one
// request per iteration; it runs concurrently in every worker and must not
// mutate f. With newWorker, each worker has its own state instead.
type scenario struct {
	name string
	// needsClient says the scenario needs -client-id and -client-secret.
	needsClient bool
	// needsUser says the scenario needs -username and -password.
	needsUser bool
	// needsEnvironment says the scenario signs APTs: it needs -environment
	// and -environment-key.
	needsEnvironment bool
	// setup, when set, runs once before the warm-up and fills f. An error
	// wrapping errWrongServer means the server runs another configuration than
	// the scenario is meant for.
	setup func(ctx context.Context, t *target, f *fixture) error
	// request builds the request of one iteration.
	request func(ctx context.Context, t *target, f *fixture) (*http.Request, error)
	// check, when set, inspects the body of a 2xx response and returns the
	// error key to count it under, or "" when the response is good. Without
	// check, the body is drained unread.
	check func(body []byte) string
	// newWorker, when set, makes one worker's own state after setup and
	// before the warm-up (not timed; one worker after the other); request
	// and check are then unused.
	newWorker func(ctx context.Context, t *target, f *fixture) (*worker, error)
	// prepare, when set, runs after the workers are made and right before
	// the warm-up, not timed and without setup's time limit (apt_grant
	// pre-mints its APTs there).
	prepare func(ctx context.Context, t *target, f *fixture) error
}

// worker is one load worker's view of a scenario. Only that worker's
// goroutine uses it, so it may keep state from one iteration to the next.
type worker struct {
	// request builds the next iteration's request; what it does before
	// returning is not timed. When it cannot build one for a reason the run
	// goes on with, it returns no request and the key to count the
	// iteration under instead. An error stops the run.
	request func(ctx context.Context) (req *http.Request, key string, err error)
	// check is as scenario.check.
	check func(body []byte) string
}

// statelessWorker is the worker of a scenario without newWorker: every
// worker shares f and builds its requests with s.request.
func (s scenario) statelessWorker(t *target, f *fixture) *worker {
	return &worker{
		request: func(ctx context.Context) (*http.Request, string, error) {
			req, err := s.request(ctx, t, f)
			return req, "", err
		},
		check: s.check,
	}
}

// errWrongServer marks a setup failure caused by the server's configuration
// not fitting the scenario (e.g. JWT tokens where opaque ones were expected).
var errWrongServer = errors.New("server configuration does not fit the scenario")

// scenarios lists every scenario in the order `-scenario all` runs them.
var scenarios = []scenario{
	{
		name:        "client_credentials_jwt",
		needsClient: true,
		setup:       tokenFormatSetup("jwt"),
		request:     clientCredentialsRequest,
	},
	{
		name:        "client_credentials_opaque",
		needsClient: true,
		setup:       tokenFormatSetup("opaque"),
		request:     clientCredentialsRequest,
	},
	{
		name:        "introspect",
		needsClient: true,
		setup:       introspectSetup,
		request:     introspectRequest,
		check:       checkActive,
	},
	{
		name:    "jwks",
		request: jwksRequest,
	},
	{
		// One password login per iteration: bounded by argon2id by design.
		name:        "password",
		needsClient: true,
		needsUser:   true,
		setup:       passwordSetup(false),
		request:     passwordRequest,
	},
	{
		// Each worker follows its own rotating chain of refresh tokens.
		name:        "refresh",
		needsClient: true,
		needsUser:   true,
		setup:       passwordSetup(true),
		newWorker:   newRefreshWorker,
	},
	{
		// A jwt-bearer grant per iteration, each with a new APT taken from a
		// pool minted before the warm-up (workapi.go).
		name:             "apt_grant",
		needsClient:      true,
		needsEnvironment: true,
		setup:            aptGrantSetup,
		prepare:          mintAPTPool,
		request:          aptGrantRequest,
		check:            checkAccessToken,
	},
	{
		// Each worker reads /users/me as its own user.
		name:             "users_me",
		needsEnvironment: true,
		setup:            usersMeSetup,
		newWorker:        newUsersMeWorker,
	},
}

// findScenario returns the scenario with the given name.
func findScenario(name string) (scenario, bool) {
	for _, s := range scenarios {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}

func scenarioNames() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}

const clientCredentialsBody = "grant_type=client_credentials"

func clientCredentialsRequest(ctx context.Context, t *target, f *fixture) (*http.Request, error) {
	return formPost(ctx, t.baseURL+"/oauth2/token", f.auth, clientCredentialsBody)
}

func introspectRequest(ctx context.Context, t *target, f *fixture) (*http.Request, error) {
	return formPost(ctx, t.baseURL+"/oauth2/introspect", f.auth, "token="+url.QueryEscape(f.token))
}

func jwksRequest(ctx context.Context, t *target, _ *fixture) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodGet, t.baseURL+"/.well-known/jwks.json", nil)
}

func passwordRequest(ctx context.Context, t *target, f *fixture) (*http.Request, error) {
	return formPost(ctx, t.baseURL+"/oauth2/token", f.auth, f.login)
}

// passwordForm is the body of a password grant request for t's user.
func passwordForm(t *target) string {
	return url.Values{
		"grant_type": {"password"},
		"username":   {t.username},
		"password":   {t.password},
	}.Encode()
}

// passwordSetup logs in once, so that wrong credentials or a server without
// the password grant fail here rather than as a run full of errors (or a
// locked account). With wantRefresh, the answer must carry a refresh token.
func passwordSetup(wantRefresh bool) func(context.Context, *target, *fixture) error {
	return func(ctx context.Context, t *target, f *fixture) error {
		f.auth = t.basicAuth()
		f.login = passwordForm(t)
		status, body, err := postForm(ctx, t, f.auth, f.login)
		if err != nil {
			return fmt.Errorf("password login: %w", err)
		}
		if status != http.StatusOK {
			err := fmt.Errorf("password login: HTTP %d: %s", status, snippet(body))
			if status == http.StatusBadRequest || status == http.StatusUnauthorized {
				switch oauthError(body) {
				case "unsupported_grant_type", "unauthorized_client":
					return fmt.Errorf("%w: %w", errWrongServer, err)
				}
			}
			return err
		}
		tr, err := parseTokenResponse(body)
		if err != nil {
			return fmt.Errorf("password login: %w", err)
		}
		if wantRefresh && tr.RefreshToken == "" {
			return fmt.Errorf("%w: the password login answers no refresh_token (has the client the refresh_token grant?)", errWrongServer)
		}
		return nil
	}
}

// postForm sends a setup-style form POST to the token endpoint.
func postForm(ctx context.Context, t *target, auth, body string) (int, []byte, error) {
	req, err := formPost(ctx, t.baseURL+"/oauth2/token", auth, body)
	if err != nil {
		return 0, nil, err
	}
	return do(t.client, req)
}

// tokenResponse is the part of a token endpoint answer the harness reads.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
}

func parseTokenResponse(body []byte) (tokenResponse, error) {
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return tr, fmt.Errorf("token response: %w: %s", err, snippet(body))
	}
	if tr.AccessToken == "" {
		return tr, fmt.Errorf("token response without access_token: %s", snippet(body))
	}
	return tr, nil
}

// oauthError returns the "error" member of an OAuth error answer, or "".
func oauthError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error
}

func formPost(ctx context.Context, u, auth, body string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req, nil
}

// tokenFormatSetup fetches one token and checks it has the expected format:
// a JWT has exactly two dots, an opaque Latchkey token starts with lk_at_.
func tokenFormatSetup(format string) func(context.Context, *target, *fixture) error {
	return func(ctx context.Context, t *target, f *fixture) error {
		f.auth = t.basicAuth()
		tok, err := fetchToken(ctx, t, f.auth)
		if err != nil {
			return err
		}
		if got := tokenFormat(tok); got != format {
			return fmt.Errorf("%w: expected %s access tokens, the server issues %s ones",
				errWrongServer, format, got)
		}
		return nil
	}
}

// tokenFormat classifies an access token as "jwt", "opaque" or "unknown".
func tokenFormat(tok string) string {
	switch {
	case strings.HasPrefix(tok, "lk_at_"):
		return "opaque"
	case strings.Count(tok, ".") == 2:
		return "jwt"
	default:
		return "unknown"
	}
}

func introspectSetup(ctx context.Context, t *target, f *fixture) error {
	f.auth = t.basicAuth()
	tok, err := fetchToken(ctx, t, f.auth)
	if err != nil {
		return err
	}
	f.token = tok
	// One introspection up front, so a misconfiguration fails loudly here
	// rather than as a run full of errors.
	req, err := introspectRequest(ctx, t, f)
	if err != nil {
		return err
	}
	status, body, err := do(t.client, req)
	if err != nil {
		return fmt.Errorf("introspect: %w", err)
	}
	if status/100 != 2 {
		return fmt.Errorf("introspect: HTTP %d: %s", status, snippet(body))
	}
	if key := checkActive(body); key != "" {
		return fmt.Errorf("introspect: a fresh token is not active: %s", snippet(body))
	}
	return nil
}

// fetchToken gets one access token by client_credentials.
func fetchToken(ctx context.Context, t *target, auth string) (string, error) {
	req, err := formPost(ctx, t.baseURL+"/oauth2/token", auth, clientCredentialsBody)
	if err != nil {
		return "", err
	}
	status, body, err := do(t.client, req)
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("token request: HTTP %d: %s", status, snippet(body))
	}
	tr, err := parseTokenResponse(body)
	if err != nil {
		return "", err
	}
	return tr.AccessToken, nil
}

var activeTrue = []byte(`"active":true`)

// checkActive counts an introspection answer without "active": true as
// "inactive".
func checkActive(body []byte) string {
	if bytes.Contains(body, activeTrue) {
		return ""
	}
	var ir struct {
		Active bool `json:"active"`
	}
	if json.Unmarshal(body, &ir) == nil && ir.Active {
		return ""
	}
	return "inactive"
}

// do sends a setup request and returns its status and (bounded) body.
func do(c *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, body, err
}

func snippet(b []byte) string {
	const max = 300
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
