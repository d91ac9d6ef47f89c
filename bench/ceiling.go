package main

// Ceilings: what this stack does on this machine with the database out of
// the way, measured in the same run as the scenarios so that a figure is
// read as a ratio, not as an absolute time on a noisy machine. run.sh
// builds the server a second time with the benchmark-only build tag
// benchceiling — which adds GET /bench/sign and stores no issued token —
// runs ceiling_sign and ceiling_client_credentials against it, and passes
// their rates to every later run as -ceilings; each scenario line then
// carries ceiling_rps and pct_of_ceiling.
//
// Which ceiling a scenario is read against (ceilingOf): the scenarios that
// issue a token against the client_credentials path without its write
// (client_credentials_opaque against that path with opaque tokens, run by
// run.sh in its opaque phase); the ones that verify or read against the
// signature route; the argon2id-bound ones and jwks against none.

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Ceiling names, as -ceilings takes them.
const (
	ceilingSign   = "sign"
	ceilingIssue  = "client_credentials"
	ceilingOpaque = "client_credentials_opaque" // the same on a config with opaque access tokens
	ceilingPrefix = "ceiling_"
)

// ceilingOf maps a scenario to the ceiling it is read against.
var ceilingOf = map[string]string{
	"client_credentials_jwt": ceilingIssue, "client_credentials_opaque": ceilingOpaque, "refresh": ceilingIssue,
	"legacy_refresh": ceilingIssue, "apt_grant": ceilingIssue, "authorization_code": ceilingIssue, "passkey_login": ceilingIssue,
	"introspect": ceilingSign, "users_me": ceilingSign, "service_token": ceilingSign,
}

func init() {
	scenarios = append(scenarios,
		scenario{
			// GET /bench/sign: one ES256 JWT through gin, nothing else.
			name:    ceilingPrefix + ceilingSign,
			setup:   ceilingSetup,
			request: ceilingSignRequest,
			check:   checkCeilingJWT,
		},
		scenario{
			// The client_credentials grant of client_credentials_jwt on the
			// benchmark build, which stores no token.
			name:        ceilingPrefix + ceilingIssue,
			needsClient: true,
			setup:       ceilingSetup,
			request:     clientCredentialsRequest,
		},
		scenario{
			// The same on the benchmark build with opaque access tokens
			// (run.sh's phase 2 config): client_credentials_opaque's ceiling.
			name:        ceilingPrefix + ceilingOpaque,
			needsClient: true,
			setup:       ceilingSetup,
			request:     clientCredentialsRequest,
		},
	)
}

// ceilingSetup checks that the server is the benchmark build, and fills
// f as client_credentials_jwt's setup does.
func ceilingSetup(ctx context.Context, t *target, f *fixture) error {
	req, err := ceilingSignRequest(ctx, t, f)
	if err != nil {
		return err
	}
	status, body, err := do(t.client, req)
	switch {
	case err != nil:
		return fmt.Errorf("GET /bench/sign: %w", err)
	case status != http.StatusOK || checkCeilingJWT(body) != "":
		return fmt.Errorf("%w: GET /bench/sign answers HTTP %d: not the benchmark build (go build -tags benchceiling)", errWrongServer, status)
	}
	if t.clientID != "" {
		f.auth = t.basicAuth()
	}
	return nil
}

func ceilingSignRequest(ctx context.Context, t *target, _ *fixture) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodGet, t.baseURL+"/bench/sign", nil)
}

func checkCeilingJWT(body []byte) string {
	if bytes.Count(body, []byte(".")) != 2 {
		return "no_jwt"
	}
	return ""
}

// parseCeilings reads -ceilings: name=rps pairs, comma-separated.
func parseCeilings(s string) (map[string]float64, error) {
	out := map[string]float64{}
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		name, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		rps, err := strconv.ParseFloat(v, 64)
		if !ok || (name != ceilingSign && name != ceilingIssue && name != ceilingOpaque) || err != nil || rps <= 0 || math.IsInf(rps, 0) {
			return nil, fmt.Errorf("-ceilings: %q is not NAME=RPS with NAME one of %s and RPS > 0", kv, ceilingNames())
		}
		out[name] = rps
	}
	return out, nil
}

// withCeiling adds the scenario's ceiling and its share of it to r.
func (r result) withCeiling(ceilings map[string]float64) result {
	if c, ok := ceilings[ceilingOf[r.Scenario]]; ok && c > 0 {
		r.CeilingRPS = c
		r.PctOfCeiling = math.Round(r.RPS/c*1000) / 10
	}
	return r
}

// ceilingNames lists the known ceilings, for help texts.
func ceilingNames() string {
	names := []string{ceilingSign, ceilingIssue, ceilingOpaque}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
