package storage

import "context"

// DeleteUser deletes the user id of realm and everything that is only
// theirs, in one transaction (the caller's, when ctx carries one): the user
// row, every access and refresh token whose subject is the user (deleted,
// not deactivated: with the user gone there is no reuse left to detect),
// their credentials and passkeys, one-time codes, browser sessions,
// consents, WebAuthn ceremonies and passkey transactions, and the
// failure slots of the user's username and e-mail, which are freed
// (marked stale, as ClearLoginAttempts does) so that whoever takes the name
// next does not inherit a lock. No such user — also another realm's — is
// ErrNotFound, and nothing is touched. If any step fails, the transaction
// rolls back and everything stays.
func (s *Store) DeleteUser(ctx context.Context, realm, id string) error {
	const op = "delete user"
	return s.InTx(ctx, func(ctx context.Context) error {
		// Read the norms under the row's lock (SQLite's transaction holds
		// the write lock already), so that a concurrent update cannot move
		// the user to names whose slots are not freed.
		where := "realm = ? AND id = ?"
		if s.driver == DriverMySQL {
			where += " FOR UPDATE"
		}
		u, err := s.takeUser(ctx, op, where, realm, id)
		if err != nil {
			return err
		}
		res := s.db(ctx).Where("realm = ? AND id = ?", realm, id).Delete(&userRow{})
		if res.Error != nil {
			return mapErr(op, res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := s.db(ctx).Where("subject = ?", id).Delete(&accessTokenRow{}).Error; err != nil {
			return mapErr(op, err)
		}
		if err := s.db(ctx).Where("subject = ?", id).Delete(&refreshTokenRow{}).Error; err != nil {
			return mapErr(op, err)
		}
		if err := s.DeleteCredentials(ctx, realm, id); err != nil {
			return err
		}
		if _, err := s.DeleteOneTimeCodes(ctx, realm, id, ""); err != nil {
			return err
		}
		if err := s.db(ctx).Exec("DELETE FROM browser_sessions WHERE realm = ? AND user_id = ?", realm, id).Error; err != nil {
			return mapErr(op, err)
		}
		if err := s.DeleteConsents(ctx, realm, id); err != nil {
			return err
		}
		for _, q := range []string{
			"DELETE FROM webauthn_ceremonies WHERE realm = ? AND user_id = ?",
			"DELETE FROM passkey_transactions WHERE realm = ? AND user_id = ?",
		} {
			if err := s.db(ctx).Exec(q, realm, id).Error; err != nil {
				return mapErr(op, err)
			}
		}
		return s.ClearLogins(ctx, realm, u.UsernameNorm, u.EmailNorm)
	})
}
