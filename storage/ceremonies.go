package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Widths of webauthn_ceremonies' columns: characters, and bytes for data.
const (
	maxCeremonyIDLen      = 64 // hex SHA-256
	maxCeremonyPurposeLen = 32
	maxCeremonyDataLen    = 64 << 10
)

// Ceremony is a started WebAuthn ceremony (a registration or a login),
// single-use: [Store.TakeCeremony] returns it once.
type Ceremony struct {
	ID string // hex SHA-256 of the challenge
	// UserID and Username are empty for a login that does not know its
	// user yet (a discoverable credential); CredentialUUID may be empty.
	Realm, UserID, Username, Purpose, CredentialUUID string
	Data                                             []byte // up to 64 KiB
	ExpiresAt                                        time.Time
}

// CreateCeremony inserts c; an id already taken is ErrAlreadyExists,
// fields the columns cannot hold ErrInvalidInput.
func (s *Store) CreateCeremony(ctx context.Context, c *Ceremony) error {
	const op = "create ceremony"
	if err := checkColumns(op, []column{
		{"id", c.ID, maxCeremonyIDLen, true},
		{"realm", c.Realm, maxUserTextLen, true},
		{"user_id", c.UserID, maxUserIDLen, false},
		{"username", c.Username, maxUserTextLen, false},
		{"purpose", c.Purpose, maxCeremonyPurposeLen, true},
		{"credential_uuid", c.CredentialUUID, maxCredentialUUIDLen, false},
	}...); err != nil {
		return err
	}
	if len(c.Data) > maxCeremonyDataLen {
		return fmt.Errorf("%w: %s: data longer than %d bytes", ErrInvalidInput, op, maxCeremonyDataLen)
	}
	if c.ExpiresAt.IsZero() {
		return fmt.Errorf("%w: %s: expires_at is required", ErrInvalidInput, op)
	}
	return mapErr(op, s.db(ctx).Exec("INSERT INTO webauthn_ceremonies (id, realm, user_id, username, purpose, credential_uuid, data, expires_at) "+
		"VALUES (?,?,?,?,?,?,?,?)", c.ID, c.Realm, c.UserID, c.Username, c.Purpose, c.CredentialUUID, nonNil(c.Data), clampTime(c.ExpiresAt)).Error)
}

// TakeCeremony returns the ceremony id and deletes it. It reads the row,
// then deletes it by id: the DELETE that removes the row is the one taker
// that gets it, so of concurrent takers, on any number of replicas, exactly
// one does and the others get ErrNotFound, without locks on either
// backend. A ceremony that expired (ExpiresAt at or before now) is
// ErrNotFound, and deleted too.
func (s *Store) TakeCeremony(ctx context.Context, id string, now time.Time) (*Ceremony, error) {
	const op = "take ceremony"
	if !fitsKey(id, maxCeremonyIDLen) {
		return nil, ErrNotFound
	}
	var c Ceremony
	err := scanOne(s.reader(ctx).Raw("SELECT id, realm, user_id, username, purpose, credential_uuid, data, expires_at "+
		"FROM webauthn_ceremonies WHERE id = ?", id),
		&c.ID, &c.Realm, &c.UserID, &c.Username, &c.Purpose, &c.CredentialUUID, &c.Data, &c.ExpiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, mapErr(op, err)
	}
	res := s.db(ctx).Exec("DELETE FROM webauthn_ceremonies WHERE id = ?", id)
	if res.Error != nil {
		return nil, mapErr(op, res.Error)
	}
	c.ExpiresAt = c.ExpiresAt.UTC()
	if res.RowsAffected != 1 || !c.ExpiresAt.After(clampTime(now)) {
		return nil, ErrNotFound
	}
	return &c, nil
}
