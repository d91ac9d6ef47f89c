package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Consents (what a user allowed a client, remembered per user and client)
// and the grants made through a browser session (so that logging out ends
// them).

// GetConsent returns the scopes user userID of realm allowed client
// clientID, or ErrNotFound when they never decided.
func (s *Store) GetConsent(ctx context.Context, realm, userID, clientID string) ([]string, error) {
	var raw string
	err := scanOne(s.reader(ctx).Raw("SELECT scopes FROM consents WHERE realm = ? AND user_id = ? AND client_id = ?", realm, userID, clientID), &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, mapErr("get consent", err)
	}
	var scopes []string
	if err := json.Unmarshal([]byte(raw), &scopes); err != nil {
		return nil, fmt.Errorf("storage: get consent: decode scopes: %w", err)
	}
	return scopes, nil
}

// SaveConsent records that the user allowed the client scopes (replacing
// what was recorded: the caller passes the union it wants kept).
func (s *Store) SaveConsent(ctx context.Context, realm, userID, clientID string, scopes []string, now time.Time) error {
	if scopes == nil {
		scopes = []string{}
	}
	raw, err := json.Marshal(scopes)
	if err != nil {
		return fmt.Errorf("storage: save consent: %w", err)
	}
	upsert := " ON CONFLICT (realm, user_id, client_id) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at"
	if s.driver == DriverMySQL {
		upsert = " ON DUPLICATE KEY UPDATE scopes = VALUES(scopes), updated_at = VALUES(updated_at)"
	}
	return mapErr("save consent", s.db(ctx).Exec(
		"INSERT INTO consents (realm, user_id, client_id, scopes, updated_at) VALUES (?,?,?,?,?)"+upsert,
		realm, userID, clientID, string(raw), clampTime(now)).Error)
}

// DeleteConsents forgets every consent of a user.
func (s *Store) DeleteConsents(ctx context.Context, realm, userID string) error {
	return mapErr("delete consents", s.db(ctx).Exec("DELETE FROM consents WHERE realm = ? AND user_id = ?", realm, userID).Error)
}

// AddSessionGrant records that grant requestID was made through the browser
// session sid; the row is purged after expiresAt (the grant's last expiry).
// Recording it twice is not an error.
func (s *Store) AddSessionGrant(ctx context.Context, sid, requestID string, expiresAt time.Time) error {
	ignore := " ON CONFLICT (sid, request_id) DO NOTHING"
	if s.driver == DriverMySQL {
		ignore = " ON DUPLICATE KEY UPDATE sid = sid"
	}
	return mapErr("add session grant", s.db(ctx).Exec(
		"INSERT INTO session_grants (sid, request_id, expires_at) VALUES (?,?,?)"+ignore, sid, requestID, clampTime(expiresAt)).Error)
}

// SessionGrants returns the ids of the grants made through session sid.
func (s *Store) SessionGrants(ctx context.Context, sid string) ([]string, error) {
	var ids []string
	err := s.reader(ctx).Raw("SELECT request_id FROM session_grants WHERE sid = ? ORDER BY request_id", sid).Scan(&ids).Error
	return ids, mapErr("session grants", err)
}

func consentColumns(bin, datetime string) string {
	return `
	realm      VARCHAR(255)` + bin + ` NOT NULL,
	user_id    VARCHAR(64)` + bin + ` NOT NULL,
	client_id  VARCHAR(255)` + bin + ` NOT NULL,
	scopes     TEXT NOT NULL,
	updated_at ` + datetime + ` NOT NULL,
	PRIMARY KEY (realm, user_id, client_id)`
}

func sessionGrantColumns(bin, datetime string) string {
	return `
	sid        VARCHAR(64)` + bin + ` NOT NULL,
	request_id VARCHAR(255)` + bin + ` NOT NULL,
	expires_at ` + datetime + ` NOT NULL,
	PRIMARY KEY (sid, request_id)`
}
