package core

import (
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/accounts"
)

// Subject kinds recorded in a Session.
const (
	KindClient = "client" // a client_credentials token: the subject is the client id
	KindUser   = "user"   // a user token: the subject is the user's usr_ id
)

// Session is what Latchkey stores with every token. Unlike fosite's JWT
// session it has JSON tags (it is stored as JSON) and carries no frozen
// claims: the JWT claims are built fresh each time a token is issued.
type Session struct {
	Subject  string `json:"sub"`
	Kind     string `json:"kind"`
	Realm    string `json:"realm"`
	Username string `json:"username,omitempty"`
	// Environment is the Work API environment a user token was issued for.
	Environment string                         `json:"env,omitempty"`
	ExpiresAt   map[fosite.TokenType]time.Time `json:"exp,omitempty"`
	// UData, when set, is put in the JWT access token as "udata" (LoginID's
	// SDKs compare it with the username).
	UData *string `json:"udata,omitempty"`
	// AuthTime, SID and Nonce are set on grants made through the
	// authorization endpoint: when the user signed in, the browser
	// session's id, and the authorization request's nonce (all for the ID
	// token).
	AuthTime time.Time `json:"auth_time,omitzero"`
	// AMR are the sign-in methods (RFC 8176) for the ID token's amr.
	AMR   []string `json:"amr,omitempty"`
	SID   string   `json:"sid,omitempty"`
	Nonce string   `json:"nonce,omitempty"`

	// user is the user read while a code exchange was checked, for its ID
	// token; never stored.
	user *accounts.User
}

var _ fosite.Session = (*Session)(nil)

// NewSession returns an empty session ready for a token request.
func NewSession() *Session { return &Session{} }

// SetExpiresAt records when the token of the given type expires.
func (s *Session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.ExpiresAt == nil {
		s.ExpiresAt = make(map[fosite.TokenType]time.Time, 2)
	}
	s.ExpiresAt[key] = exp.UTC()
}

// GetExpiresAt returns when the token of the given type expires, or the zero time.
func (s *Session) GetExpiresAt(key fosite.TokenType) time.Time {
	return s.ExpiresAt[key]
}

// GetUsername returns the user's login name, if any.
func (s *Session) GetUsername() string { return s.Username }

// GetSubject returns the token's subject.
func (s *Session) GetSubject() string { return s.Subject }

// Clone returns a deep copy.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := *s
	c.AMR = slices.Clone(s.AMR)
	if s.UData != nil {
		u := *s.UData
		c.UData = &u
	}
	if s.ExpiresAt != nil {
		c.ExpiresAt = make(map[fosite.TokenType]time.Time, len(s.ExpiresAt))
		for k, v := range s.ExpiresAt {
			c.ExpiresAt[k] = v
		}
	}
	return &c
}
