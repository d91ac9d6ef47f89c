package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"gorm.io/gorm"
)

// txKey is the context key for the transaction a Store's methods use.
type txKey struct{}

// txState is one transaction as seen by one BeginTX caller. Nested callers
// share root's transaction: their Commit does nothing and their Rollback
// marks the root so that its Commit rolls back instead.
type txState struct {
	store *Store
	db    *gorm.DB
	root  *txState // nil for the outermost
	mu    sync.Mutex
	// on the root only
	done         bool
	rollbackOnly bool
}

func (s *Store) txFrom(ctx context.Context) *txState {
	if st, ok := ctx.Value(txKey{}).(*txState); ok && st.store == s {
		return st
	}
	return nil
}

// BeginTX starts a transaction and returns a context carrying it; every
// method of this Store called with that context runs in it (fosite's
// storage.Transactional). On SQLite the transaction begins IMMEDIATE: it
// holds the write lock from the start, so writers are serialised at BEGIN and
// a read-then-write never fails upgrading its lock.
//
// If ctx already carries a transaction of this Store, the new one joins it:
// its Commit does nothing and its Rollback makes the outer Commit roll back
// and return [ErrTxRolledBack].
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if outer := s.txFrom(ctx); outer != nil {
		root := outer.rootState()
		return context.WithValue(ctx, txKey{}, &txState{store: s, db: root.db, root: root}), nil
	}
	tx := s.write.WithContext(ctx).Begin()
	if tx.Error != nil {
		return ctx, mapErr("begin transaction", tx.Error)
	}
	return context.WithValue(ctx, txKey{}, &txState{store: s, db: tx}), nil
}

func (st *txState) rootState() *txState {
	if st.root != nil {
		return st.root
	}
	return st
}

// Commit commits the transaction in ctx. It is an error to commit twice.
func (s *Store) Commit(ctx context.Context) error {
	st := s.txFrom(ctx)
	if st == nil {
		return ErrNoTransaction
	}
	if st.root != nil {
		return nil // the outermost caller commits
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done {
		return fmt.Errorf("storage: commit: %w", errTxDone)
	}
	st.done = true
	if st.rollbackOnly {
		if err := st.db.Rollback().Error; err != nil {
			return fmt.Errorf("storage: rollback: %w", err)
		}
		return ErrTxRolledBack
	}
	return mapErr("commit", st.db.Commit().Error)
}

// Rollback rolls the transaction in ctx back. Rolling back a transaction
// that is already committed or rolled back does nothing, so it can be
// deferred.
func (s *Store) Rollback(ctx context.Context) error {
	st := s.txFrom(ctx)
	if st == nil {
		return ErrNoTransaction
	}
	root := st.rootState()
	root.mu.Lock()
	defer root.mu.Unlock()
	if root.done {
		return nil
	}
	if st.root != nil {
		root.rollbackOnly = true
		return nil
	}
	root.done = true
	return mapErr("rollback", root.db.Rollback().Error)
}

var errTxDone = errors.New("transaction already committed or rolled back")

// InTx runs fn in a transaction: committed if fn returns nil, rolled back
// if it returns an error or panics. If ctx already carries a transaction of
// this Store, fn joins it and the outermost caller decides. fn must use the
// context it is given.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if s.txFrom(ctx) != nil {
		return fn(ctx)
	}
	txCtx, err := s.BeginTX(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = s.Rollback(txCtx)
			panic(p)
		}
	}()
	if err := fn(txCtx); err != nil {
		if rbErr := s.Rollback(txCtx); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		return err
	}
	return s.Commit(txCtx)
}
