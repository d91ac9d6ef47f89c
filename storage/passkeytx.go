package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Passkey transaction statuses.
const (
	TxPending   = "pending"
	TxCompleted = "completed"
)

// Widths of passkey_transactions' columns: characters, and bytes for the
// payload.
const (
	maxPasskeyTxIDLen      = 64
	maxPasskeyTxTypeLen    = 16
	maxPasskeyTxNonceLen   = 255
	maxPasskeyTxStatusLen  = 16
	maxPasskeyTxPayloadLen = 16 << 10
)

// PasskeyTx is a transaction for a user to confirm with a passkey: pending
// until [Store.CompletePasskeyTx] completes it, once, before ExpiresAt.
type PasskeyTx struct {
	ID, Realm, UserID, Username string
	Type, Payload, Nonce        string // Payload: up to 16 KiB of UTF-8
	Status                      string // TxPending or TxCompleted; "" is stored as TxPending
	CreatedAt, ExpiresAt        time.Time
	CompletedAt                 time.Time // zero while pending
}

// CreatePasskeyTx inserts t; an id already taken is ErrAlreadyExists,
// fields the columns cannot hold ErrInvalidInput.
func (s *Store) CreatePasskeyTx(ctx context.Context, t *PasskeyTx) error {
	const op = "create passkey transaction"
	status := t.Status
	if status == "" {
		status = TxPending
	}
	if err := checkColumns(op, []column{
		{"id", t.ID, maxPasskeyTxIDLen, true},
		{"realm", t.Realm, maxUserTextLen, true},
		{"user_id", t.UserID, maxUserIDLen, true},
		{"username", t.Username, maxUserTextLen, false},
		{"type", t.Type, maxPasskeyTxTypeLen, true},
		{"nonce", t.Nonce, maxPasskeyTxNonceLen, false},
		{"status", status, maxPasskeyTxStatusLen, true},
	}...); err != nil {
		return err
	}
	switch {
	case !utf8.ValidString(t.Payload):
		return fmt.Errorf("%w: %s: payload is not valid UTF-8", ErrInvalidInput, op)
	case len(t.Payload) > maxPasskeyTxPayloadLen:
		return fmt.Errorf("%w: %s: payload longer than %d bytes", ErrInvalidInput, op, maxPasskeyTxPayloadLen)
	case status != TxPending && status != TxCompleted:
		return fmt.Errorf("%w: %s: status must be %q or %q", ErrInvalidInput, op, TxPending, TxCompleted)
	case t.CreatedAt.IsZero() || t.ExpiresAt.IsZero():
		return fmt.Errorf("%w: %s: created_at and expires_at are required", ErrInvalidInput, op)
	}
	return mapErr(op, s.db(ctx).Exec("INSERT INTO passkey_transactions (id, realm, user_id, username, type, payload, nonce, status, "+
		"created_at, completed_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
		t.ID, t.Realm, t.UserID, t.Username, t.Type, t.Payload, t.Nonce, status,
		clampTime(t.CreatedAt), dbTime(t.CompletedAt), clampTime(t.ExpiresAt)).Error)
}

// GetPasskeyTx returns the transaction id of realm, pending or completed;
// ErrNotFound when there is none, it is another realm's, or it expired
// (ExpiresAt at or before now).
func (s *Store) GetPasskeyTx(ctx context.Context, realm, id string, now time.Time) (*PasskeyTx, error) {
	const op = "get passkey transaction"
	if !fitsKey(id, maxPasskeyTxIDLen) || !fitsKey(realm, maxUserTextLen) {
		return nil, ErrNotFound
	}
	var t PasskeyTx
	var completed sql.NullTime
	err := scanOne(s.reader(ctx).Raw("SELECT id, realm, user_id, username, type, payload, nonce, status, created_at, completed_at, expires_at "+
		"FROM passkey_transactions WHERE realm = ? AND id = ? AND expires_at > ?", realm, id, clampTime(now)),
		&t.ID, &t.Realm, &t.UserID, &t.Username, &t.Type, &t.Payload, &t.Nonce, &t.Status, &t.CreatedAt, &completed, &t.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, mapErr(op, err)
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	if completed.Valid {
		t.CompletedAt = completed.Time.UTC()
	}
	return &t, nil
}

// CompletePasskeyTx moves the transaction id of realm from pending to
// completed, with CompletedAt now, if it has not expired: one conditional
// UPDATE, so of concurrent callers, on any number of replicas, exactly one
// succeeds and the others get ErrAlreadyUsed. A completed transaction is
// ErrAlreadyUsed; one that is missing, another realm's or expired is
// ErrNotFound.
func (s *Store) CompletePasskeyTx(ctx context.Context, realm, id string, now time.Time) error {
	const op = "complete passkey transaction"
	if !fitsKey(id, maxPasskeyTxIDLen) || !fitsKey(realm, maxUserTextLen) {
		return ErrNotFound
	}
	at := clampTime(now)
	res := s.db(ctx).Exec("UPDATE passkey_transactions SET status = ?, completed_at = ? WHERE realm = ? AND id = ? AND status = ? AND expires_at > ?",
		TxCompleted, at, realm, id, TxPending, at)
	if res.Error != nil {
		return mapErr(op, res.Error)
	}
	if res.RowsAffected > 0 {
		return nil
	}
	var n int64
	if err := scanOne(s.db(ctx).Raw("SELECT COUNT(*) FROM passkey_transactions WHERE realm = ? AND id = ? AND expires_at > ?",
		realm, id, at), &n); err != nil {
		return mapErr(op, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return fmt.Errorf("%w (passkey transaction)", ErrAlreadyUsed)
}
