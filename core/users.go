package core

import (
	"context"

	"github.com/latchkey/latchkey/accounts"
)

// VerifyPassword is the one password check (lockout, bounded hashing, one
// answer for every failure) for a login in realm realmID of this snapshot:
// login is matched against usernames (and e-mails in a username_is_email
// realm). Its errors are accounts'.
func (c *Core) VerifyPassword(ctx context.Context, realmID, login, password string) (*accounts.User, error) {
	return c.accounts.VerifyPassword(ctx, c.snap.Realm(realmID), login, password)
}

// ActiveUserID returns the id of the user userID of realmID — or, when
// arbitraryID is set, of environment guid's user with that arbitrary_id —
// if the user exists and is active; else accounts.ErrNotFound or
// accounts.ErrUserDeactivated. It reads only a user's id and status.
func (c *Core) ActiveUserID(ctx context.Context, realmID, userID, guid, arbitraryID string) (string, error) {
	return c.accounts.ActiveID(ctx, realmID, userID, guid, arbitraryID)
}
