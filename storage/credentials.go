package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Credential types and statuses.
const (
	CredentialPassword = "password"
	CredentialFIDO2    = "fido2"
	CredentialActive   = "active"
	CredentialRevoked  = "revoked"
	// CredentialInactive: a passkey marked possibly cloned (its signature
	// counter went backwards, see [Store.RecordPasskeyUse]); like a
	// revoked one, it no longer signs in.
	CredentialInactive = "inactive"
)

// Column widths of credentials, in characters.
const (
	maxCredentialUUIDLen = 36
	maxCredentialKindLen = 16
)

// ErrLastCredential is returned by RevokeCredential for the last active
// credential of a user: a user keeps at least one way to log in.
var ErrLastCredential = errors.New("storage: the user's last active credential")

// Credential is a row of credentials: one way a user logs in, as a person
// sees it (a password's secret stays in users.password_hash).
type Credential struct {
	UUID, Realm, UserID  string
	Type                 string // CredentialPassword or CredentialFIDO2
	Name                 string
	Status               string // CredentialActive, CredentialRevoked or CredentialInactive
	CreatedAt, UpdatedAt time.Time
}

const credentialSelect = "SELECT uuid, realm, user_id, type, name, status, created_at, updated_at FROM credentials WHERE "

func checkCredentialFields(op string, c *Credential) error {
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"uuid", c.UUID, maxCredentialUUIDLen}, {"realm", c.Realm, maxUserTextLen}, {"user_id", c.UserID, maxUserIDLen},
		{"type", c.Type, maxCredentialKindLen}, {"name", c.Name, maxUserTextLen}, {"status", c.Status, maxCredentialKindLen},
	} {
		switch {
		case !utf8.ValidString(f.value):
			return fmt.Errorf("%w: %s: %s is not valid UTF-8", ErrInvalidInput, op, f.name)
		case f.value == "":
			return fmt.Errorf("%w: %s: %s is required", ErrInvalidInput, op, f.name)
		case utf8.RuneCountInString(f.value) > f.max:
			return fmt.Errorf("%w: %s: %s longer than %d characters", ErrInvalidInput, op, f.name, f.max)
		}
	}
	if c.CreatedAt.IsZero() || c.UpdatedAt.IsZero() {
		return fmt.Errorf("%w: %s: created_at and updated_at are required", ErrInvalidInput, op)
	}
	return nil
}

// CreateCredential inserts c; a uuid already taken is ErrAlreadyExists.
func (s *Store) CreateCredential(ctx context.Context, c *Credential) error {
	const op = "create credential"
	if err := checkCredentialFields(op, c); err != nil {
		return err
	}
	err := s.db(ctx).Exec("INSERT INTO credentials (uuid, realm, user_id, type, name, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
		c.UUID, c.Realm, c.UserID, c.Type, c.Name, c.Status, clampTime(c.CreatedAt), clampTime(c.UpdatedAt)).Error
	return mapErr(op, err)
}

// EnsurePasswordCredential inserts c, a password credential, if its user
// (c.Realm, c.UserID) has a password and no row has c.UUID yet; otherwise
// it changes nothing. One statement, so concurrent calls insert one row.
func (s *Store) EnsurePasswordCredential(ctx context.Context, c *Credential) error {
	const op = "ensure password credential"
	if c.Type != CredentialPassword {
		return fmt.Errorf("%w: %s: type must be %q", ErrInvalidInput, op, CredentialPassword)
	}
	if err := checkCredentialFields(op, c); err != nil {
		return err
	}
	conflict := " ON CONFLICT (uuid) DO NOTHING"
	if s.driver == DriverMySQL {
		conflict = " ON DUPLICATE KEY UPDATE uuid = uuid"
	}
	err := s.db(ctx).Exec("INSERT INTO credentials (uuid, realm, user_id, type, name, status, created_at, updated_at) "+
		"SELECT ?, ?, ?, ?, ?, ?, ?, ? FROM users WHERE realm = ? AND id = ? AND password_hash IS NOT NULL"+conflict,
		c.UUID, c.Realm, c.UserID, c.Type, c.Name, c.Status, clampTime(c.CreatedAt), clampTime(c.UpdatedAt), c.Realm, c.UserID).Error
	return mapErr(op, err)
}

// ListCredentials returns the credentials of user userID of realm, oldest
// first (none for an unknown user).
func (s *Store) ListCredentials(ctx context.Context, realm, userID string) ([]*Credential, error) {
	rows, err := s.reader(ctx).Raw(credentialSelect+"realm = ? AND user_id = ? ORDER BY created_at, uuid", realm, userID).Rows()
	if err != nil {
		return nil, mapErr("list credentials", err)
	}
	defer rows.Close()
	var out []*Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, mapErr("list credentials", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list credentials", err)
	}
	return out, nil
}

func scanCredential(sc interface{ Scan(...any) error }) (*Credential, error) {
	var c Credential
	if err := sc.Scan(&c.UUID, &c.Realm, &c.UserID, &c.Type, &c.Name, &c.Status, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return &c, nil
}

// GetCredential returns the credential uuid of realm, or ErrNotFound (also
// for another realm's, and for a uuid longer than the column).
func (s *Store) GetCredential(ctx context.Context, realm, uuid string) (*Credential, error) {
	if utf8.RuneCountInString(uuid) > maxCredentialUUIDLen {
		return nil, ErrNotFound
	}
	return takeCredential(s.reader(ctx), "get credential", "realm = ? AND uuid = ?", realm, uuid)
}

func takeCredential(db *gorm.DB, op, where string, args ...any) (*Credential, error) {
	rows, err := db.Raw(credentialSelect+where, args...).Rows()
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, mapErr(op, err)
		}
		return nil, ErrNotFound
	}
	c, err := scanCredential(rows)
	if err != nil {
		return nil, mapErr(op, err)
	}
	return c, rows.Close()
}

// RenameCredential sets the name of the credential uuid of realm and
// returns it; ErrNotFound when there is none.
func (s *Store) RenameCredential(ctx context.Context, realm, uuid, name string, now time.Time) (*Credential, error) {
	const op = "rename credential"
	if utf8.RuneCountInString(uuid) > maxCredentialUUIDLen {
		return nil, ErrNotFound
	}
	if !utf8.ValidString(name) || name == "" || utf8.RuneCountInString(name) > maxUserTextLen {
		return nil, fmt.Errorf("%w: %s: name must be 1 to %d characters of UTF-8", ErrInvalidInput, op, maxUserTextLen)
	}
	var out *Credential
	err := s.InTx(ctx, func(ctx context.Context) error {
		res := s.db(ctx).Exec("UPDATE credentials SET name = ?, updated_at = ? WHERE realm = ? AND uuid = ?", name, clampTime(now), realm, uuid)
		if res.Error != nil {
			return mapErr(op, res.Error)
		}
		var err error
		out, err = takeCredential(s.db(ctx), op, "realm = ? AND uuid = ?", realm, uuid)
		return err
	})
	return out, err
}

// RevokeCredential marks the credential uuid of realm revoked and returns
// it, in one transaction (the one in ctx, if any); revoking a password
// also removes the user's password hash, so the password stops working.
// The user's last active credential is ErrLastCredential — only
// credentials with status CredentialActive count, and a password the user
// has counts as one even before its row exists — and an unknown uuid
// ErrNotFound; revoking a revoked credential changes nothing, revoking an
// inactive one is always allowed. Concurrent
// revocations of one user's credentials serialise on the user's row.
func (s *Store) RevokeCredential(ctx context.Context, realm, uuid string, now time.Time) (*Credential, error) {
	const op = "revoke credential"
	if utf8.RuneCountInString(uuid) > maxCredentialUUIDLen {
		return nil, ErrNotFound
	}
	var out *Credential
	err := s.InTx(ctx, func(ctx context.Context) error {
		c, err := takeCredential(s.db(ctx), op, "realm = ? AND uuid = ?", realm, uuid)
		if err != nil {
			return err
		}
		if c.Status == CredentialRevoked {
			out = c
			return nil
		}
		lock := "SELECT CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END FROM users WHERE realm = ? AND id = ?"
		if s.driver == DriverMySQL {
			lock += " FOR UPDATE"
		}
		var hasPassword int
		if err := scanOne(s.db(ctx).Raw(lock, realm, c.UserID), &hasPassword); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return mapErr(op, err)
		}
		var active, passwordRows int64
		if err := scanOne(s.db(ctx).Raw("SELECT COUNT(*) FROM credentials WHERE realm = ? AND user_id = ? AND status = ?",
			realm, c.UserID, CredentialActive), &active); err != nil {
			return mapErr(op, err)
		}
		if err := scanOne(s.db(ctx).Raw("SELECT COUNT(*) FROM credentials WHERE realm = ? AND user_id = ? AND type = ?",
			realm, c.UserID, CredentialPassword), &passwordRows); err != nil {
			return mapErr(op, err)
		}
		if passwordRows == 0 && hasPassword == 1 {
			active++ // a password without its row yet
		}
		// Only active credentials count: revoking an inactive one (a
		// passkey that may be cloned) takes no way to log in away.
		if c.Status == CredentialActive && active <= 1 {
			return ErrLastCredential
		}
		if err := s.db(ctx).Exec("UPDATE credentials SET status = ?, updated_at = ? WHERE realm = ? AND uuid = ?",
			CredentialRevoked, clampTime(now), realm, uuid).Error; err != nil {
			return mapErr(op, err)
		}
		if c.Type == CredentialPassword {
			if err := s.db(ctx).Exec("UPDATE users SET password_hash = NULL, updated_at = ? WHERE realm = ? AND id = ?",
				clampTime(now), realm, c.UserID).Error; err != nil {
				return mapErr(op, err)
			}
		}
		c.Status, c.UpdatedAt = CredentialRevoked, clampTime(now).UTC()
		out = c
		return nil
	})
	return out, err
}

// DeleteCredentials deletes every credential of user userID of realm, and
// their passkeys, in one transaction (the one in ctx, if any: with the
// user, the one that deletes them).
func (s *Store) DeleteCredentials(ctx context.Context, realm, userID string) error {
	const op = "delete credentials"
	return s.InTx(ctx, func(ctx context.Context) error {
		if err := s.db(ctx).Exec("DELETE FROM passkeys WHERE realm = ? AND user_id = ?", realm, userID).Error; err != nil {
			return mapErr(op, err)
		}
		return mapErr(op, s.db(ctx).Exec("DELETE FROM credentials WHERE realm = ? AND user_id = ?", realm, userID).Error)
	})
}
