package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/latchkey/latchkey/storage"
)

// Transactions in the context: commit, rollback, InTx, and joining an outer
// transaction.

func testTransactions(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})

	// Rolled back: the write was made in the transaction (visible inside,
	// invisible outside) and is gone afterwards.
	txCtx, err := s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	createAccess(t, s, txCtx, sig("rolled-back"), r)
	if err := s.UseOnce(txCtx, storage.KindAPT, "env", "jti-tx", base); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAccessTokenSession(txCtx, sig("rolled-back"), &session{}); err != nil {
		t.Errorf("the transaction does not see its own write: %v", err)
	}
	wantNoAccess(t, s, sig("rolled-back")) // uncommitted, so invisible outside
	if err := s.Rollback(txCtx); err != nil {
		t.Fatal(err)
	}
	wantNoAccess(t, s, sig("rolled-back"))
	if err := s.UseOnce(ctx, storage.KindAPT, "env", "jti-tx", base); err != nil {
		t.Errorf("UseOnce after its rolled-back use: %v", err)
	}
	if err := s.Rollback(txCtx); err != nil {
		t.Errorf("second Rollback: %v, want nil", err)
	}

	// Committed.
	txCtx, err = s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	createAccess(t, s, txCtx, sig("committed"), r)
	createRefresh(t, s, txCtx, sig("committed"), sig("committed"), r)
	if err := s.Commit(txCtx); err != nil {
		t.Fatal(err)
	}
	wantAccess(t, s, sig("committed"))
	wantRefresh(t, s, sig("committed"), "active")
	if err := s.Commit(txCtx); err == nil {
		t.Error("second Commit succeeded")
	}
	if err := s.Rollback(txCtx); err != nil {
		t.Errorf("Rollback after Commit: %v, want nil", err)
	}

	// InTx.
	boom := errors.New("boom")
	err = s.InTx(ctx, func(ctx context.Context) error {
		createAccess(t, s, ctx, sig("intx-failed"), r)
		return boom
	})
	wantErrIs(t, "InTx", err, boom)
	wantNoAccess(t, s, sig("intx-failed"))
	if err := s.InTx(ctx, func(ctx context.Context) error {
		return s.CreateAccessTokenSession(ctx, sig("intx-ok"), r)
	}); err != nil {
		t.Fatal(err)
	}
	wantAccess(t, s, sig("intx-ok"))

	// A failed statement inside a transaction does not end it.
	if err := s.InTx(ctx, func(ctx context.Context) error {
		wantErrIs(t, "duplicate in tx", s.CreateAccessTokenSession(ctx, sig("intx-ok"), r), storage.ErrAlreadyExists)
		return s.CreateAccessTokenSession(ctx, sig("after-dup"), r)
	}); err != nil {
		t.Fatal(err)
	}
	wantAccess(t, s, sig("after-dup"))

	wantErrIs(t, "Commit without a transaction", s.Commit(ctx), storage.ErrNoTransaction)
	wantErrIs(t, "Rollback without a transaction", s.Rollback(ctx), storage.ErrNoTransaction)
}

func testNestedTransactions(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	r := newRequest(grant{id: "req-1"})

	// fosite's MaybeBeginTx inside our own InTx joins it.
	err := s.InTx(ctx, func(ctx context.Context) error {
		inner, err := s.BeginTX(ctx)
		if err != nil {
			return err
		}
		createAccess(t, s, inner, sig("nested"), r)
		if err := s.Commit(inner); err != nil { // does nothing yet
			return err
		}
		wantNoAccess(t, s, sig("nested"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantAccess(t, s, sig("nested"))

	// An inner rollback dooms the outer transaction.
	outer, err := s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := s.BeginTX(outer)
	if err != nil {
		t.Fatal(err)
	}
	createAccess(t, s, inner, sig("doomed"), r)
	if err := s.Rollback(inner); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, "outer Commit after an inner Rollback", s.Commit(outer), storage.ErrTxRolledBack)
	wantNoAccess(t, s, sig("doomed"))

	// An error inside a nested InTx rolls the whole transaction back.
	boom := errors.New("boom")
	err = s.InTx(ctx, func(ctx context.Context) error {
		createAccess(t, s, ctx, sig("outer"), r)
		return s.InTx(ctx, func(ctx context.Context) error {
			createAccess(t, s, ctx, sig("inner"), r)
			return boom
		})
	})
	wantErrIs(t, "nested InTx", err, boom)
	wantNoAccess(t, s, sig("outer"))
	wantNoAccess(t, s, sig("inner"))
}
