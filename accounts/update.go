package accounts

import (
	"context"
	"errors"

	"github.com/latchkey/latchkey/config"
	"github.com/latchkey/latchkey/storage"
)

// Changes are the fields of a user that Update changes; a nil field stays
// as it is. Values are trimmed like NewUser's.
type Changes struct {
	// Email "" removes the e-mail. In a realm with username_is_email the
	// username changes with it: the two stay one value.
	Email               *string
	FirstName, LastName *string
	Role                *string // "" is DefaultRole
	// Password is the new plain password; it cannot be removed ("" is
	// refused).
	Password *string
}

// Update changes the user userID of realm. The changed fields are checked
// by the rules of Create, and the result by the rules between fields, with
// every problem at once (a *ValidationError: ErrInvalidUser, and
// ErrWeakPassword when the password is refused); a new password is hashed
// before any transaction (ErrBusy when the bound on hashes stays full;
// ErrHashInTransaction when ctx carries one). Then one transaction stores
// the changes and, when the password changed, revokes every grant of the
// user but keepGrantID ("" = all; SPEC §3) and frees the lockout slots of
// the user's old and new username and e-mail. A taken e-mail is
// ErrEmailTaken; an unknown user, or another realm's, ErrNotFound. It
// returns the user as stored; with no changes, as it is.
func (s *Service) Update(ctx context.Context, realm *config.Realm, userID string, ch Changes, keepGrantID string) (*User, error) {
	if realm == nil {
		return nil, invalid("no realm")
	}
	cur, err := s.store.GetUser(ctx, realm.ID, userID)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	in := NewUser{
		Username: cur.Username, Email: cur.Email, FirstName: cur.FirstName, LastName: cur.LastName, Role: cur.Role,
		ArbitraryID: cur.ArbitraryID, EnvironmentGUID: cur.EnvironmentGUID,
	}
	changed := map[string]bool{}
	for _, f := range []struct {
		field string
		dst   *string
		value *string
	}{
		{FieldEmail, &in.Email, ch.Email},
		{FieldFirstName, &in.FirstName, ch.FirstName},
		{FieldLastName, &in.LastName, ch.LastName},
		{FieldRole, &in.Role, ch.Role},
		{FieldPassword, &in.Password, ch.Password},
	} {
		if f.value != nil {
			*f.dst = *f.value
			changed[f.field] = true
		}
	}
	if realm.UsernameIsEmail && ch.Email != nil {
		// The username becomes the new e-mail: left blank, it takes the
		// e-mail's value and is checked once, as the e-mail.
		in.Username = ""
		changed[FieldUsername] = true
	}
	u, pw, err := validateUser(realm, candidate{
		in:            in,
		setPassword:   ch.Password != nil,
		keepsPassword: cur.PasswordHash != "",
		checked:       func(field string) bool { return changed[field] },
	})
	if err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return fromStorage(cur), nil
	}

	var p storage.ProfileUpdate
	if changed[FieldUsername] {
		p.Username, p.UsernameNorm = &u.Username, &u.UsernameNorm
	}
	if changed[FieldEmail] {
		p.Email, p.EmailNorm = &u.Email, &u.EmailNorm
	}
	if changed[FieldFirstName] {
		p.FirstName = &u.FirstName
	}
	if changed[FieldLastName] {
		p.LastName = &u.LastName
	}
	if changed[FieldRole] {
		p.Role = &u.Role
	}
	if ch.Password != nil {
		hash, err := s.hash(ctx, pw)
		if err != nil {
			return nil, err
		}
		p.PasswordHash = &hash
	}

	var updated *storage.User
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.UpdateUserProfile(ctx, realm.ID, userID, p, s.now()); err != nil {
			return err
		}
		if ch.Password != nil {
			if err := s.store.RevokeSubjectExcept(ctx, userID, keepGrantID); err != nil {
				return err
			}
			if err := s.store.ClearLogins(ctx, realm.ID, cur.UsernameNorm, cur.EmailNorm, u.UsernameNorm, u.EmailNorm); err != nil {
				return err
			}
		}
		var err error
		updated, err = s.store.GetUser(ctx, realm.ID, userID)
		return err
	})
	// In a username_is_email realm the username is the e-mail: whichever
	// unique key the new value hit, it is the e-mail that is taken.
	if realm.UsernameIsEmail && errors.Is(err, storage.ErrUsernameExists) {
		return nil, ErrEmailTaken
	}
	if err != nil {
		return nil, mapStoreErr(err)
	}
	return fromStorage(updated), nil
}

// Delete deletes the user userID of realmID, all their tokens and their
// lockout slots, in one transaction (SPEC §3: deleting a user revokes all
// their tokens in the same transaction); ErrNotFound for an unknown user or
// another realm's, and then nothing changes.
func (s *Service) Delete(ctx context.Context, realmID, userID string) error {
	return mapStoreErr(s.store.DeleteUser(ctx, realmID, userID))
}
