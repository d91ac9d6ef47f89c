package storage

import (
	"context"
	"fmt"

	"github.com/ory/fosite"
)

// Authorization codes (RFC 6749 §4.1) live in authorization_codes, a table
// of the one token-session row shape, keyed by the code's signature (the
// SHA-256 of the whole code: the code itself is never stored). The row
// holds everything the code is bound to: its client, the request's
// redirect_uri and PKCE code_challenge (in the sanitized form), the granted
// scopes and audience, and the session (user, auth_time, nonce, session id).
// A code is single-use: InvalidateAuthorizeCodeSession is one conditional
// UPDATE, so of any number of concurrent exchanges of one code exactly one
// succeeds, on every replica.

// CreateAuthorizeCodeSession stores request under signature (fosite
// oauth2.AuthorizeCodeStorage); the expiry is the session's
// authorize-code expiry. A signature already present is ErrAlreadyExists.
func (s *Store) CreateAuthorizeCodeSession(ctx context.Context, signature string, request fosite.Requester) error {
	const op = "create authorization code"
	if err := checkSignature(op, signature); err != nil {
		return err
	}
	row, err := newTokenRow(signature, request, fosite.AuthorizeCode)
	if err != nil {
		return fmt.Errorf("storage: %s: %w", op, err)
	}
	return mapErr(op, insertTokenRow(s.db(ctx), "authorization_codes", &row))
}

// GetAuthorizeCodeSession returns the request stored under signature, its
// session decoded into session (which may be nil). For a code already used
// it returns the request together with fosite.ErrInvalidatedAuthorizeCode:
// the caller then revokes every token issued from it (RFC 6749 §4.1.2). An
// unknown code is fosite.ErrNotFound. Expiry is the caller's to check.
func (s *Store) GetAuthorizeCodeSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	req, err := s.getToken(ctx, "get authorization code", "authorization_codes", signature, session)
	if err == fosite.ErrInactiveToken { //nolint:errorlint // getToken returns the sentinel itself
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, err
}

// InvalidateAuthorizeCodeSession marks the code signature used, atomically:
// of any number of concurrent calls for one code exactly one succeeds; the
// others, and a call for a used or unknown code, get an error wrapping
// fosite.ErrInvalidatedAuthorizeCode. Run it in the transaction that stores
// the tokens issued for the code.
func (s *Store) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	const op = "invalidate authorization code"
	res := s.db(ctx).Exec("UPDATE authorization_codes SET active = ? WHERE signature = ? AND active = ?", false, signature, true)
	if res.Error != nil {
		return mapErr(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("storage: %s: %w", op, fosite.ErrInvalidatedAuthorizeCode)
	}
	return nil
}
