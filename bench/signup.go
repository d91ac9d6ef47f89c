package main

// The AuthRocket scenario signup_token: one whole signup per iteration —
// POST /authrocket/v1/user_tokens (the password is hashed with argon2id on
// arrival: this is the cost) and then POST /authrocket/v1/users converting
// the token into a user — both timed, so rps is signups (conversions) per
// second, to set beside the raw argon2id rate (go test -bench Argon2id
// ./accounts/) as the password scenario is. The API key comes from
// $DEMO_API_KEY (the development defaults' key, with the read and write
// permissions); with -scenario all the scenario is skipped without one.
//
// Every iteration signs up a new user: a username no other run or worker
// uses, and a random password fixed per run. Error keys: the create's
// HTTP status (503 when the server's bound on hashes stayed full, which a
// burst above passwords.max_concurrent_hashes is meant to show),
// "no_token_id" (a 2xx create without a utk_ id), and "convert_<status>"
// or "convert_transport" for a failed conversion.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func init() {
	scenarios = append(scenarios, scenario{
		// A signup token created (one argon2id hash) and converted per
		// iteration.
		name:      "signup_token",
		setup:     signupSetup,
		newWorker: newSignupWorker,
	})
}

const (
	// apiKeyEnv names the AuthRocket API key.
	apiKeyEnv = "DEMO_API_KEY"
	// authRocketPrefix is compat.authrocket.prefix of the development
	// defaults.
	authRocketPrefix = "/authrocket"
)

// signupRun is what signupSetup prepares: the key, and a run id and a
// password that make every run's usernames new.
var signupRun struct {
	apiKey   string
	runID    string
	password string
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}

// signupSetup checks, writing nothing, that the server has the AuthRocket
// surface and takes the key: a get of a token that cannot exist must be a
// 404 in AuthRocket's error shape.
func signupSetup(ctx context.Context, t *target, _ *fixture) error {
	key := os.Getenv(apiKeyEnv)
	if key == "" {
		return fmt.Errorf("%w: no API key (set %s)", errWrongServer, apiKeyEnv)
	}
	signupRun.apiKey, signupRun.runID, signupRun.password = key, randomHex(4), "bench-"+randomHex(12)
	req, err := authRocketRequest(ctx, t, http.MethodGet, "/v1/user_tokens/utk_0000000000000000000000", nil)
	if err != nil {
		return err
	}
	status, body, err := do(t.client, req)
	if err != nil {
		return fmt.Errorf("GET /authrocket/v1/user_tokens: %w", err)
	}
	switch {
	case status == http.StatusNotFound && bytes.Contains(body, []byte(`"errors"`)):
		return nil
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return fmt.Errorf("%w: GET %s/v1/user_tokens answers HTTP %d: no AuthRocket surface there", errWrongServer, authRocketPrefix, status)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("the server refuses the API key in %s: HTTP %d: %s", apiKeyEnv, status, snippet(body))
	}
	return fmt.Errorf("GET a made-up signup token: HTTP %d, want 404: %s", status, snippet(body))
}

// authRocketRequest builds a request to an AuthRocket route with the key,
// and body as JSON when it is not nil.
func authRocketRequest(ctx context.Context, t *target, method, path string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.baseURL+authRocketPrefix+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Authrocket-Api-Key", signupRun.apiKey)
	return req, nil
}

type signupFields struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// signupWorker signs up users named bench-<run>-<worker>-<n>.
type signupWorker struct {
	t      *target
	prefix string
	n      int
	// ctx is the context of the iteration in flight: the conversion in
	// check runs under it.
	ctx context.Context
}

func newSignupWorker(_ context.Context, t *target, _ *fixture) (*worker, error) {
	w := &signupWorker{t: t, prefix: "bench-" + signupRun.runID + "-" + randomHex(3) + "-"}
	return &worker{request: w.request, check: w.check}, nil
}

// request builds the create of the next signup token.
func (w *signupWorker) request(ctx context.Context) (*http.Request, string, error) {
	w.ctx = ctx
	w.n++
	name := w.prefix + strconv.Itoa(w.n)
	req, err := authRocketRequest(ctx, w.t, http.MethodPost, "/v1/user_tokens", map[string]signupFields{
		"user_token": {Username: name, Email: name + "@bench.example", Password: signupRun.password},
	})
	return req, "", err
}

// check converts the token just created (inside the timed iteration).
func (w *signupWorker) check(body []byte) string {
	id := tokenID(body)
	if id == "" {
		return "no_token_id"
	}
	req, err := authRocketRequest(w.ctx, w.t, http.MethodPost, "/v1/users", map[string]map[string]string{"user": {"user_token": id}})
	if err != nil {
		return "convert_transport"
	}
	resp, err := w.t.client.Do(req)
	if err != nil {
		return "convert_transport"
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return "convert_transport"
	}
	if resp.StatusCode != http.StatusCreated {
		return "convert_" + strconv.Itoa(resp.StatusCode)
	}
	return ""
}

// tokenID returns the utk_ id of a create's answer, or "".
func tokenID(body []byte) string {
	var tok struct {
		ID     string `json:"id"`
		Object string `json:"object"`
	}
	if json.Unmarshal(body, &tok) != nil || tok.Object != "user_token" || !strings.HasPrefix(tok.ID, "utk_") {
		return ""
	}
	return tok.ID
}
