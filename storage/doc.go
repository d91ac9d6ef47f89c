// Package storage keeps Latchkey's dynamic state in SQL through GORM, on
// SQLite (pure Go, for one process) or MySQL/MariaDB (for replicas).
//
// One type, [Store], implements fosite's storage interfaces for token
// sessions (oauth2.CoreStorage, oauth2.TokenRevocationStorage and
// storage.Transactional) and Latchkey's own needs: single-use ids
// ([Store.UseOnce]), revocation by subject, transactions carried in the
// context ([Store.BeginTX], [Store.InTx]) and expired-row cleanup
// ([Store.PurgeExpired], [Store.RunPurger]).
//
// Token sessions are keyed by the signature the caller passes, which in
// Latchkey is the SHA-256 hex of the whole token; raw tokens never reach the
// database. Storage errors are mapped once, here: a missing row is
// fosite.ErrNotFound, a duplicate key is [ErrAlreadyExists], a used id is
// [ErrAlreadyUsed]; everything else is wrapped with "storage: <operation>".
// None of them carries an HTTP status: callers handing an error to fosite
// wrap it as fosite.ErrServerError.WithWrap(err).
//
// Every method takes its context to the database, and uses the transaction
// the context carries when it carries one of this Store's. Inside a
// transaction, pass the transaction's context to every call: on SQLite a
// write outside it waits for the transaction's own lock.
//
// The behaviour both backends must share is pinned by the conformance suite
// in storage/storagetest. See docs/storage.md for the settings and tables.
package storage
