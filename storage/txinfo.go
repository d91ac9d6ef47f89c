package storage

import "context"

// InTransaction reports whether ctx carries a transaction of this Store, so
// that every method called with ctx runs in it. Callers use it to refuse
// slow work (a password hash takes tens of milliseconds) while a transaction
// holds its locks — on SQLite, the one write lock.
func (s *Store) InTransaction(ctx context.Context) bool { return s.txFrom(ctx) != nil }
