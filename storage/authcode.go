package storage

import (
	"context"

	"github.com/ory/fosite"
)

// Latchkey has no authorization code flow, but fosite's oauth2.CoreStorage
// (which the introspection and revocation factories assert) includes the
// code methods. They store nothing and find nothing.

// CreateAuthorizeCodeSession returns ErrCodeFlowUnsupported.
func (s *Store) CreateAuthorizeCodeSession(context.Context, string, fosite.Requester) error {
	return ErrCodeFlowUnsupported
}

// GetAuthorizeCodeSession returns fosite.ErrNotFound.
func (s *Store) GetAuthorizeCodeSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}

// InvalidateAuthorizeCodeSession returns fosite.ErrNotFound.
func (s *Store) InvalidateAuthorizeCodeSession(context.Context, string) error {
	return fosite.ErrNotFound
}
