package storagetest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/storage"
)

// Authorization codes: the row and what it binds (client, redirect_uri,
// PKCE challenge, session), and fosite's invalidated-code contract — a used
// code comes back with its request and ErrInvalidatedAuthorizeCode, so the
// token endpoint can revoke what the first exchange issued — single-use
// under concurrency and across a rolled-back transaction.

// newCodeRequest is an authorization request as the authorize endpoint
// stores it: the form carries the redirect_uri, the PKCE challenge and the
// nonce; the code expires in 60 s.
func newCodeRequest(id string) *fosite.Request {
	r := newRequest(grant{id: id})
	r.Session.SetExpiresAt(fosite.AuthorizeCode, base.Add(60*time.Second))
	r.Form.Set("response_type", "code")
	r.Form.Set("redirect_uri", "https://app.example.com/callback")
	r.Form.Set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
	r.Form.Set("code_challenge_method", "S256")
	r.Form.Set("nonce", "n-0S6_WzA2Mj")
	r.Form.Set("state", "af0ifjsldkj")
	r.Form.Del("grant_type")
	r.Form.Del("username")
	return r
}

// testAuthorizeCodes runs the code tests on one store; each names its rows
// after itself.
func testAuthorizeCodes(t *testing.T, s *storage.Store) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *storage.Store)
	}{
		{"RoundTrip", testAuthorizeCodeRoundTrip},
		{"Invalidated", testAuthorizeCodeInvalidated},
		{"Concurrent", testAuthorizeCodeConcurrent},
		{"Rollback", testAuthorizeCodeRollback},
		{"Purge", testAuthorizeCodePurge},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, s) })
	}
}

// csig is a signature unique to the test.
func csig(t *testing.T, name string) string { return sig(t.Name() + "/" + name) }

func createCode(t *testing.T, s *storage.Store, signature string, r fosite.Requester) {
	t.Helper()
	if err := s.CreateAuthorizeCodeSession(t.Context(), signature, r); err != nil {
		t.Fatalf("CreateAuthorizeCodeSession: %v", err)
	}
}

func testAuthorizeCodeRoundTrip(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	want := newCodeRequest("req-code")
	stored := *want
	stored.Form = cloneForm(want.Form)
	stored.Form.Set("code", "the-code-itself")
	stored.Form.Set("code_verifier", "a-verifier")
	createCode(t, s, csig(t, "code-1"), &stored)
	got, err := s.GetAuthorizeCodeSession(ctx, csig(t, "code-1"), &session{})
	if err != nil {
		t.Fatalf("GetAuthorizeCodeSession: %v", err)
	}
	// The code and a verifier never reach the row; the challenge, the
	// redirect_uri and the nonce, which the code is bound to, do.
	checkRequest(t, got, want, fosite.AuthorizeCode)
	for k, v := range map[string]string{"code_challenge": want.Form.Get("code_challenge"), "redirect_uri": "https://app.example.com/callback", "nonce": "n-0S6_WzA2Mj"} {
		if got.GetRequestForm().Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, got.GetRequestForm().Get(k), v)
		}
	}

	_, err = s.GetAuthorizeCodeSession(ctx, csig(t, "unknown"), &session{})
	wantErrIs(t, "GetAuthorizeCodeSession(unknown)", err, fosite.ErrNotFound)
	wantErrIs(t, "a second code under one signature", s.CreateAuthorizeCodeSession(ctx, csig(t, "code-1"), want), storage.ErrAlreadyExists)
	wantErrIs(t, "an empty signature", s.CreateAuthorizeCodeSession(ctx, "", want), storage.ErrInvalidInput)
	// Codes and access tokens are separate tables: a code's signature is
	// no access token.
	wantNoAccess(t, s, csig(t, "code-1"))
}

// testAuthorizeCodeInvalidated is fosite's contract: after its first use a
// code comes back with its request (so the grant can be revoked by its
// request id) and ErrInvalidatedAuthorizeCode; a second invalidation fails.
func testAuthorizeCodeInvalidated(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createCode(t, s, csig(t, "code"), newCodeRequest("req-inv"))
	if err := s.InvalidateAuthorizeCodeSession(ctx, csig(t, "code")); err != nil {
		t.Fatalf("InvalidateAuthorizeCodeSession: %v", err)
	}
	got, err := s.GetAuthorizeCodeSession(ctx, csig(t, "code"), &session{})
	if !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) || got == nil || got.GetID() != "req-inv" {
		t.Fatalf("GetAuthorizeCodeSession(used) = %v, %v; want the request and ErrInvalidatedAuthorizeCode", got, err)
	}
	if got.GetSession().(*session).Subject != "user-1" {
		t.Errorf("the used code's session was not decoded: %+v", got.GetSession())
	}
	wantErrIs(t, "a second invalidation", s.InvalidateAuthorizeCodeSession(ctx, csig(t, "code")), fosite.ErrInvalidatedAuthorizeCode)
	wantErrIs(t, "invalidating an unknown code", s.InvalidateAuthorizeCodeSession(ctx, csig(t, "nope")), fosite.ErrInvalidatedAuthorizeCode)

	// The revocation that a replay triggers ends the tokens of the code's
	// grant (its request id) and nothing else.
	createAccess(t, s, ctx, csig(t, "at"), newRequest(grant{id: "req-inv"}))
	createRefresh(t, s, ctx, csig(t, "rt"), csig(t, "at"), newRequest(grant{id: "req-inv"}))
	createAccess(t, s, ctx, csig(t, "other"), newRequest(grant{id: "req-other"}))
	if err := s.RevokeGrant(ctx, got.GetID()); err != nil {
		t.Fatal(err)
	}
	wantNoAccess(t, s, csig(t, "at"))
	wantRefresh(t, s, csig(t, "rt"), "inactive")
	wantAccess(t, s, csig(t, "other"))
}

// testAuthorizeCodeConcurrent: of many concurrent exchanges of one code,
// exactly one invalidates it.
func testAuthorizeCodeConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createCode(t, s, csig(t, "code"), newCodeRequest("req-code"))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.InTx(ctx, func(ctx2 context.Context) error {
				if err := s.InvalidateAuthorizeCodeSession(ctx2, csig(t, "code")); err != nil {
					return err
				}
				return s.CreateAccessTokenSession(ctx2, csig(t, fmt.Sprint("at-", i)), newRequest(grant{id: "req-code"}))
			})
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, fosite.ErrInvalidatedAuthorizeCode), storage.IsRetryable(err):
		default:
			t.Errorf("exchange %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent exchanges won, want exactly 1", won, n)
	}
}

// testAuthorizeCodeRollback: an invalidation in a transaction that rolls
// back (the token insert failed) leaves the code usable.
func testAuthorizeCodeRollback(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createCode(t, s, csig(t, "code"), newCodeRequest("req-code"))
	boom := errors.New("token insert failed")
	err := s.InTx(ctx, func(ctx context.Context) error {
		if err := s.InvalidateAuthorizeCodeSession(ctx, csig(t, "code")); err != nil {
			return err
		}
		return boom
	})
	wantErrIs(t, "InTx", err, boom)
	if _, err := s.GetAuthorizeCodeSession(ctx, csig(t, "code"), &session{}); err != nil {
		t.Fatalf("after a rolled-back exchange the code is %v, want usable", err)
	}
}

// testAuthorizeCodePurge: expired codes are purged, live ones kept.
func testAuthorizeCodePurge(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	old := newCodeRequest("req-old")
	old.Session.SetExpiresAt(fosite.AuthorizeCode, base.Add(-time.Second))
	createCode(t, s, csig(t, "old"), old)
	createCode(t, s, csig(t, "new"), newCodeRequest("req-new"))
	if _, err := s.PurgeExpired(ctx, base, 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetAuthorizeCodeSession(ctx, csig(t, "old"), &session{})
	wantErrIs(t, "expired code after purge", err, fosite.ErrNotFound)
	if _, err := s.GetAuthorizeCodeSession(ctx, csig(t, "new"), &session{}); err != nil {
		t.Fatalf("live code after purge: %v", err)
	}
}

func cloneForm(f url.Values) url.Values {
	out := make(url.Values, len(f))
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	return out
}
