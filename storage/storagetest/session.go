package storagetest

import (
	"maps"
	"time"

	"github.com/ory/fosite"
)

// session is a small fosite.Session with JSON tags, standing in for the
// server's own session type.
type session struct {
	Subject   string                         `json:"sub"`
	Username  string                         `json:"username,omitempty"`
	ExpiresAt map[fosite.TokenType]time.Time `json:"exp,omitempty"`
	Extra     map[string]string              `json:"extra,omitempty"`
}

var _ fosite.Session = (*session)(nil)

func (s *session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.ExpiresAt == nil {
		s.ExpiresAt = map[fosite.TokenType]time.Time{}
	}
	s.ExpiresAt[key] = exp
}

func (s *session) GetExpiresAt(key fosite.TokenType) time.Time { return s.ExpiresAt[key] }
func (s *session) GetUsername() string                         { return s.Username }
func (s *session) GetSubject() string                          { return s.Subject }

func (s *session) Clone() fosite.Session {
	c := *s
	c.ExpiresAt = maps.Clone(s.ExpiresAt)
	c.Extra = maps.Clone(s.Extra)
	return &c
}
