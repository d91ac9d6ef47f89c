package storagetest

import (
	"testing"

	"github.com/latchkey/latchkey/storage"
)

// Revocation by grant (request id) and by subject.

func testRevokeByRequestID(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	a := newRequest(grant{id: "req-a"})
	b := newRequest(grant{id: "req-b"})
	createAccess(t, s, ctx, sig("at-a1"), a)
	createAccess(t, s, ctx, sig("at-a2"), a)
	createRefresh(t, s, ctx, sig("rt-a1"), sig("at-a1"), a)
	createRefresh(t, s, ctx, sig("rt-a2"), sig("at-a2"), a)
	createAccess(t, s, ctx, sig("at-b"), b)
	createRefresh(t, s, ctx, sig("rt-b"), sig("at-b"), b)

	if err := s.RevokeRefreshToken(ctx, "req-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAccessToken(ctx, "req-a"); err != nil {
		t.Fatal(err)
	}
	wantNoAccess(t, s, sig("at-a1"))
	wantNoAccess(t, s, sig("at-a2"))
	wantRefresh(t, s, sig("rt-a1"), "inactive") // kept for reuse detection
	wantRefresh(t, s, sig("rt-a2"), "inactive")
	wantAccess(t, s, sig("at-b"))
	wantRefresh(t, s, sig("rt-b"), "active")
}

func testRevokeSubject(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for _, g := range []grant{
		{id: "req-1", subject: "alice"},
		{id: "req-2", subject: "alice"},
		{id: "req-3", subject: "bob"},
	} {
		r := newRequest(g)
		createAccess(t, s, ctx, sig("at-"+g.id), r)
		createRefresh(t, s, ctx, sig("rt-"+g.id), sig("at-"+g.id), r)
	}
	if err := s.RevokeSubject(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"req-1", "req-2"} {
		wantNoAccess(t, s, sig("at-"+id))
		wantRefresh(t, s, sig("rt-"+id), "inactive")
	}
	wantAccess(t, s, sig("at-req-3"))
	wantRefresh(t, s, sig("rt-req-3"), "active")
}
