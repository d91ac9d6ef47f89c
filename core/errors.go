package core

import (
	"errors"
	"fmt"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
)

// Errors of the core operations. Test with errors.Is.
var (
	// ErrUnauthenticated: the presented token is unknown, expired, revoked,
	// of a client no longer declared, not an access token, or its user is
	// gone or deactivated. Surfaces answer 401 and say no more.
	ErrUnauthenticated = errors.New("core: the token is not active")
	// ErrUnavailable: the database (or the bounded hasher) could not answer;
	// surfaces answer 503 with Retry-After, never "inactive" or 401.
	ErrUnavailable = errors.New("core: temporarily unavailable")
	// ErrNoSigningKey: no signing key of the algorithm asked for is
	// configured (a config the loader should have refused).
	ErrNoSigningKey = errors.New("core: no signing key of this algorithm")
)

// ErrInvalidTarget is RFC 8707 §2's error for an audience the client may not
// request (fosite has no such error).
var ErrInvalidTarget = &fosite.RFC6749Error{
	ErrorField:       "invalid_target",
	DescriptionField: "The requested audience is invalid, unknown, or not allowed for this client.",
	CodeField:        400,
}

// unavailable wraps a storage failure as ErrUnavailable, keeping the cause
// for the log.
func unavailable(op string, err error) error {
	return fmt.Errorf("core: %s: %w: %w", op, ErrUnavailable, err)
}

// ServerError turns an error from below into the RFC 6749 error fosite
// writes: a busy hasher is temporarily_unavailable (503); an RFC 6749 error
// stays as it is unless it is wrapped in ErrUnavailable; anything else — a storage failure — is
// temporarily_unavailable too, since the request may succeed when the
// database is back, with the cause kept for the log and never shown.
func ServerError(err error) error {
	if errors.Is(err, accounts.ErrBusy) {
		return fosite.ErrTemporarilyUnavailable.WithHint("Too many logins at once; retry in a moment.").WithWrap(err)
	}
	var rfc *fosite.RFC6749Error
	if !errors.Is(err, ErrUnavailable) && errors.As(err, &rfc) {
		return err
	}
	return fosite.ErrTemporarilyUnavailable.WithHint("The server could not complete the request; retry in a moment.").WithWrap(err).WithDebug(err.Error())
}
