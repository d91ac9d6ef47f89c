package storagetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/storage"
)

// Access and refresh token sessions: round trips, lookups, deletion, keys
// and the inputs the columns refuse.

func testAccessTokenRoundTrip(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	want := newRequest(grant{id: "req-1", subject: "user-42"})
	createAccess(t, s, ctx, sig("at-1"), want)
	got, err := s.GetAccessTokenSession(ctx, sig("at-1"), &session{})
	if err != nil {
		t.Fatalf("GetAccessTokenSession: %v", err)
	}
	checkRequest(t, got, want, fosite.AccessToken)
}

func testRefreshTokenRoundTrip(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	want := newRequest(grant{id: "req-1", subject: "user-42"})
	createRefresh(t, s, ctx, sig("rt-1"), sig("at-1"), want)
	got, err := s.GetRefreshTokenSession(ctx, sig("rt-1"), &session{})
	if err != nil {
		t.Fatalf("GetRefreshTokenSession: %v", err)
	}
	checkRequest(t, got, want, fosite.RefreshToken)

	// An empty access signature (a refresh token issued alone) is allowed.
	createRefresh(t, s, ctx, sig("rt-2"), "", want)
	wantRefresh(t, s, sig("rt-2"), "active")
}

// testNilSession: fosite's revocation handler looks tokens up with a nil
// session; the request comes back without one.
func testNilSession(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})
	createAccess(t, s, ctx, sig("at"), r)
	createRefresh(t, s, ctx, sig("rt"), sig("at"), r)
	got, err := s.GetAccessTokenSession(ctx, sig("at"), nil)
	if err != nil || got.GetID() != "req-1" || got.GetSession() != nil {
		t.Fatalf("GetAccessTokenSession(nil session) = %+v, %v", got, err)
	}
	got, err = s.GetRefreshTokenSession(ctx, sig("rt"), nil)
	if err != nil || got.GetID() != "req-1" || got.GetSession() != nil {
		t.Fatalf("GetRefreshTokenSession(nil session) = %+v, %v", got, err)
	}
	if err := s.RevokeRefreshToken(ctx, "req-1"); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetRefreshTokenSession(ctx, sig("rt"), nil)
	if !errors.Is(err, fosite.ErrInactiveToken) || got == nil || got.GetID() != "req-1" {
		t.Fatalf("GetRefreshTokenSession(inactive, nil session) = %+v, %v; want request and ErrInactiveToken", got, err)
	}
}

func testFormSanitized(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})
	secrets := []string{"password", "client_secret", "assertion", "client_assertion", "refresh_token"}
	for _, k := range secrets {
		r.Form.Set(k, "secret-"+k)
	}
	createAccess(t, s, ctx, sig("at"), r)
	createRefresh(t, s, ctx, sig("rt"), sig("at"), r)
	for _, got := range []fosite.Requester{
		wantAccess(t, s, sig("at")),
		func() fosite.Requester { r, _ := s.GetRefreshTokenSession(ctx, sig("rt"), &session{}); return r }(),
	} {
		form := got.GetRequestForm()
		for _, k := range secrets {
			if form.Has(k) {
				t.Errorf("form field %q was stored", k)
			}
		}
		for _, k := range []string{"grant_type", "username", "scope"} {
			if form.Get(k) != r.Form.Get(k) {
				t.Errorf("form field %q = %q, want %q", k, form.Get(k), r.Form.Get(k))
			}
		}
	}
	if !r.Form.Has("password") {
		t.Error("the caller's form was modified")
	}
}

func testNotFound(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r, err := s.GetAccessTokenSession(ctx, sig("nope"), &session{})
	wantErrIs(t, "GetAccessTokenSession", err, fosite.ErrNotFound)
	if r != nil {
		t.Errorf("request %v returned with not found", r)
	}
	r, err = s.GetRefreshTokenSession(ctx, sig("nope"), &session{})
	wantErrIs(t, "GetRefreshTokenSession", err, fosite.ErrNotFound)
	if r != nil {
		t.Errorf("request %v returned with not found", r)
	}
	// Revoking what does not exist is not an error.
	for name, err := range map[string]error{
		"RevokeAccessToken":  s.RevokeAccessToken(ctx, "nope"),
		"RevokeRefreshToken": s.RevokeRefreshToken(ctx, "nope"),
		"RevokeSubject":      s.RevokeSubject(ctx, "nope"),
	} {
		if err != nil {
			t.Errorf("%s(unknown): %v", name, err)
		}
	}
}

func testDeleteBySignature(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})
	createAccess(t, s, ctx, sig("at-1"), r)
	createAccess(t, s, ctx, sig("at-2"), r)
	createRefresh(t, s, ctx, sig("rt-1"), sig("at-1"), r)
	createRefresh(t, s, ctx, sig("rt-2"), sig("at-2"), r)
	if err := s.DeleteAccessTokenSession(ctx, sig("at-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRefreshTokenSession(ctx, sig("rt-1")); err != nil {
		t.Fatal(err)
	}
	wantNoAccess(t, s, sig("at-1"))
	wantAccess(t, s, sig("at-2"))
	wantRefresh(t, s, sig("rt-1"), "missing")
	wantRefresh(t, s, sig("rt-2"), "active")
	if err := s.DeleteAccessTokenSession(ctx, sig("at-1")); err != nil {
		t.Errorf("deleting a missing access token: %v", err)
	}
	if err := s.DeleteRefreshTokenSession(ctx, sig("rt-1")); err != nil {
		t.Errorf("deleting a missing refresh token: %v", err)
	}
}

func testDuplicateSignature(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})
	createAccess(t, s, ctx, sig("dup"), r)
	wantErrIs(t, "second CreateAccessTokenSession", s.CreateAccessTokenSession(ctx, sig("dup"), r), storage.ErrAlreadyExists)
	createRefresh(t, s, ctx, sig("dup"), sig("dup"), r) // another table: fine
	wantErrIs(t, "second CreateRefreshTokenSession", s.CreateRefreshTokenSession(ctx, sig("dup"), "", r), storage.ErrAlreadyExists)
}

func testInvalidInput(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})
	long := strings.Repeat("a", 65)
	wantErrIs(t, "long access signature", s.CreateAccessTokenSession(ctx, long, r), storage.ErrInvalidInput)
	wantErrIs(t, "empty access signature", s.CreateAccessTokenSession(ctx, "", r), storage.ErrInvalidInput)
	wantErrIs(t, "long refresh signature", s.CreateRefreshTokenSession(ctx, long, "", r), storage.ErrInvalidInput)
	wantErrIs(t, "long access signature of a refresh token", s.CreateRefreshTokenSession(ctx, sig("rt"), long, r), storage.ErrInvalidInput)
}

// testCaseSensitiveKeys catches a case-insensitive collation on a key
// column: "utk_aB" and "utk_Ab" are different ids.
func testCaseSensitiveKeys(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	lower, upper := sig("x"), strings.ToUpper(sig("x"))
	createAccess(t, s, ctx, lower, newRequest(grant{id: "req-a", subject: "alice"}))
	createAccess(t, s, ctx, upper, newRequest(grant{id: "req-A", subject: "Alice"}))
	if got := wantAccess(t, s, upper); got.GetID() != "req-A" {
		t.Errorf("lookup by upper-case signature found %q", got.GetID())
	}
	if err := s.RevokeAccessToken(ctx, "req-A"); err != nil {
		t.Fatal(err)
	}
	wantAccess(t, s, lower)
	wantNoAccess(t, s, upper)

	createRefresh(t, s, ctx, sig("rt-a"), "", newRequest(grant{id: "req-b", subject: "bob"}))
	createRefresh(t, s, ctx, sig("rt-B"), "", newRequest(grant{id: "req-B", subject: "Bob"}))
	if err := s.RevokeSubject(ctx, "Bob"); err != nil {
		t.Fatal(err)
	}
	wantRefresh(t, s, sig("rt-a"), "active")
	wantRefresh(t, s, sig("rt-B"), "inactive")

	exp := base.Add(time.Hour)
	for _, id := range []string{"utk_aB", "utk_Ab", "UTK_AB"} {
		if err := s.UseOnce(ctx, storage.KindAPT, "env-1", id, exp); err != nil {
			t.Errorf("UseOnce(%q): %v", id, err)
		}
	}
	if err := s.UseOnce(ctx, storage.KindAPT, "ENV-1", "utk_aB", exp); err != nil {
		t.Errorf("UseOnce with an issuer differing in case: %v", err)
	}
}

// testConcurrentAccessInserts: concurrent inserts outside a transaction are
// group-committed; every caller must still get its own row's outcome — all
// rows written, and a duplicate among them failing alone.
func testConcurrentAccessInserts(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	createAccess(t, s, ctx, sig("taken"), newRequest(grant{id: "taken"}))
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("bulk-", i)
			if i == n/2 {
				name = "taken"
			}
			errs[i] = s.CreateAccessTokenSession(ctx, sig(name), newRequest(grant{id: name}))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == n/2 {
			wantErrIs(t, "the duplicate in a group commit", err, storage.ErrAlreadyExists)
			continue
		}
		if err != nil {
			t.Fatalf("insert %d: %v", i, err)
		}
		wantAccess(t, s, sig(fmt.Sprint("bulk-", i)))
	}
}
