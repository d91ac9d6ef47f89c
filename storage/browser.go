package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The browser side of sign-in: pending authorization requests (the login
// page's request, waiting for a password) and browser sessions (single
// sign-on). Both are keyed by the SHA-256 of a random value that only the
// browser holds (the request id in the page, the session cookie), computed
// by the caller: the database never sees the value itself. Both live in the
// database, so any replica can show the page and another can take the form.

// LoginRequest is a pending authorization request.
type LoginRequest struct {
	IDHash   string // SHA-256 hex of the request id
	CSRFHash string // SHA-256 hex of the form's CSRF token
	ClientID string
	// Form is the authorization request's parameters, URL-encoded.
	Form      string
	CreatedAt time.Time
	ExpiresAt time.Time
	// Done is set once a login finished the request.
	Done bool
}

// CreateLoginRequest stores r.
func (s *Store) CreateLoginRequest(ctx context.Context, r *LoginRequest) error {
	const op = "create login request"
	if err := checkSignature(op, r.IDHash); err != nil {
		return err
	}
	return mapErr(op, s.db(ctx).Exec(
		"INSERT INTO login_requests (id_hash, csrf_hash, client_id, form, created_at, expires_at, done) VALUES (?,?,?,?,?,?,?)",
		r.IDHash, r.CSRFHash, r.ClientID, r.Form, clampTime(r.CreatedAt), clampTime(r.ExpiresAt), false).Error)
}

// GetLoginRequest returns the pending request under idHash, done or not,
// or ErrNotFound. Expiry is the caller's to check.
func (s *Store) GetLoginRequest(ctx context.Context, idHash string) (*LoginRequest, error) {
	var r LoginRequest
	err := scanOne(s.reader(ctx).Raw(
		"SELECT id_hash, csrf_hash, client_id, form, created_at, expires_at, done FROM login_requests WHERE id_hash = ?", idHash),
		&r.IDHash, &r.CSRFHash, &r.ClientID, &r.Form, &r.CreatedAt, &r.ExpiresAt, &r.Done)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, mapErr("get login request", err)
	}
	r.CreatedAt, r.ExpiresAt = r.CreatedAt.UTC(), r.ExpiresAt.UTC()
	return &r, nil
}

// FinishLoginRequest marks the request done, atomically: of any number of
// concurrent calls exactly one succeeds; the others, and a call for a done,
// expired (before now) or unknown request, get ErrAlreadyUsed.
func (s *Store) FinishLoginRequest(ctx context.Context, idHash string, now time.Time) error {
	res := s.db(ctx).Exec("UPDATE login_requests SET done = ? WHERE id_hash = ? AND done = ? AND expires_at > ?", true, idHash, false, clampTime(now))
	if res.Error != nil {
		return mapErr("finish login request", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w (login request)", ErrAlreadyUsed)
	}
	return nil
}

// maxAMRLen is the width of browser_sessions.amr, in characters.
const maxAMRLen = 64

// BrowserSession is a signed-in browser.
type BrowserSession struct {
	IDHash string // SHA-256 hex of the cookie value
	// SID is the session's public id (the ID token's sid).
	SID      string
	Realm    string
	UserID   string
	Username string
	AuthTime time.Time
	LastSeen time.Time
	// ExpiresAt is the absolute end (sessions.ttl after AuthTime).
	ExpiresAt time.Time
	// AMR is how the user authenticated: RFC 8176 values separated by
	// spaces ("pwd", "hwk user"), at most 64 characters; "" for none.
	AMR string
	// UserStatus is the user's status when the session was read ("" when
	// the user is gone); CreateBrowserSession ignores it.
	UserStatus string
}

// CreateBrowserSession stores b.
func (s *Store) CreateBrowserSession(ctx context.Context, b *BrowserSession) error {
	const op = "create browser session"
	if err := checkSignature(op, b.IDHash); err != nil {
		return err
	}
	if err := checkColumns(op, column{"amr", b.AMR, maxAMRLen, false}); err != nil {
		return err
	}
	return mapErr(op, s.db(ctx).Exec(
		"INSERT INTO browser_sessions (id_hash, sid, realm, user_id, username, auth_time, last_seen, expires_at, amr) VALUES (?,?,?,?,?,?,?,?,?)",
		b.IDHash, b.SID, b.Realm, b.UserID, b.Username, clampTime(b.AuthTime), clampTime(b.LastSeen), clampTime(b.ExpiresAt), b.AMR).Error)
}

// GetBrowserSession returns the session under idHash with its user's
// status, or ErrNotFound. Expiry and idleness are the caller's to check.
func (s *Store) GetBrowserSession(ctx context.Context, idHash string) (*BrowserSession, error) {
	var b BrowserSession
	var status sql.NullString
	// One read gives the session and its user's status.
	err := scanOne(s.reader(ctx).Raw(
		"SELECT b.id_hash, b.sid, b.realm, b.user_id, b.username, b.auth_time, b.last_seen, b.expires_at, b.amr, u.status "+
			"FROM browser_sessions b LEFT JOIN users u ON u.id = b.user_id AND u.realm = b.realm WHERE b.id_hash = ?", idHash),
		&b.IDHash, &b.SID, &b.Realm, &b.UserID, &b.Username, &b.AuthTime, &b.LastSeen, &b.ExpiresAt, &b.AMR, &status)
	b.UserStatus = status.String
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, mapErr("get browser session", err)
	}
	b.AuthTime, b.LastSeen, b.ExpiresAt = b.AuthTime.UTC(), b.LastSeen.UTC(), b.ExpiresAt.UTC()
	return &b, nil
}

// TouchBrowserSession records that the session was used at now.
func (s *Store) TouchBrowserSession(ctx context.Context, idHash string, now time.Time) error {
	return mapErr("touch browser session", s.db(ctx).Exec("UPDATE browser_sessions SET last_seen = ? WHERE id_hash = ?", clampTime(now), idHash).Error)
}

// DeleteBrowserSession ends the session under idHash; a missing one is
// not an error.
func (s *Store) DeleteBrowserSession(ctx context.Context, idHash string) error {
	return mapErr("delete browser session", s.db(ctx).Exec("DELETE FROM browser_sessions WHERE id_hash = ?", idHash).Error)
}

// loginRequestColumns and browserSessionColumns are the tables of
// migration 6.
func loginRequestColumns(bin, datetime string) string {
	return `
	id_hash    VARCHAR(64)` + bin + ` NOT NULL PRIMARY KEY,
	csrf_hash  VARCHAR(64)` + bin + ` NOT NULL,
	client_id  VARCHAR(255)` + bin + ` NOT NULL,
	form       TEXT NOT NULL,
	created_at ` + datetime + ` NOT NULL,
	expires_at ` + datetime + ` NOT NULL,
	done       BOOLEAN NOT NULL`
}

func browserSessionColumns(bin, datetime string) string {
	return `
	id_hash    VARCHAR(64)` + bin + ` NOT NULL PRIMARY KEY,
	sid        VARCHAR(64)` + bin + ` NOT NULL,
	realm      VARCHAR(255)` + bin + ` NOT NULL,
	user_id    VARCHAR(64)` + bin + ` NOT NULL,
	username   VARCHAR(255) NOT NULL,
	auth_time  ` + datetime + ` NOT NULL,
	last_seen  ` + datetime + ` NOT NULL,
	expires_at ` + datetime + ` NOT NULL`
}
