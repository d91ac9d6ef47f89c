package storagetest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// Single-use ids (UseOnce): one INSERT against a unique key.

func testUseOnce(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	exp := base.Add(5 * time.Minute)
	if err := s.UseOnce(ctx, storage.KindClientAssertion, "client-1", "jti-1", exp); err != nil {
		t.Fatalf("first use: %v", err)
	}
	err := s.UseOnce(ctx, storage.KindClientAssertion, "client-1", "jti-1", exp)
	wantErrIs(t, "second use", err, storage.ErrAlreadyUsed)
	for _, tc := range []struct{ kind, issuer, id string }{
		{storage.KindClientAssertion, "client-2", "jti-1"}, // another issuer
		{storage.KindAPT, "client-1", "jti-1"},             // another kind
		{storage.KindClientAssertion, "", "jti-1"},         // no issuer
		{storage.KindClientAssertion, "client-1", "jti-2"},
	} {
		if err := s.UseOnce(ctx, tc.kind, tc.issuer, tc.id, exp); err != nil {
			t.Errorf("UseOnce(%q, %q, %q): %v", tc.kind, tc.issuer, tc.id, err)
		}
	}

	// Limits are characters, checked before the database.
	maxID := strings.Repeat("é", 255)
	if err := s.UseOnce(ctx, storage.KindAPT, "env", maxID, exp); err != nil {
		t.Errorf("UseOnce of a 255-character id: %v", err)
	}
	wantErrIs(t, "id of the same 255 characters", s.UseOnce(ctx, storage.KindAPT, "env", maxID, exp), storage.ErrAlreadyUsed)
	for name, err := range map[string]error{
		"256-character id":     s.UseOnce(ctx, storage.KindAPT, "env", strings.Repeat("a", 256), exp),
		"256-character issuer": s.UseOnce(ctx, storage.KindAPT, strings.Repeat("a", 256), "x", exp),
		"33-character kind":    s.UseOnce(ctx, strings.Repeat("k", 33), "env", "x", exp),
		"empty id":             s.UseOnce(ctx, storage.KindAPT, "env", "", exp),
		"empty kind":           s.UseOnce(ctx, "", "env", "x", exp),
		"zero expiry":          s.UseOnce(ctx, storage.KindAPT, "env", "x", time.Time{}),
		"invalid UTF-8":        s.UseOnce(ctx, storage.KindAPT, "env", "\xff", exp),
	} {
		wantErrIs(t, name, err, storage.ErrInvalidInput)
	}
}

func testUseOnceConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.UseOnce(ctx, storage.KindAPT, "env-1", "jti-race", base.Add(time.Minute))
		})
	}
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, storage.ErrAlreadyUsed):
			t.Errorf("use %d: %v, want nil or ErrAlreadyUsed", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d concurrent uses succeeded, want exactly 1", winners, n)
	}
}
