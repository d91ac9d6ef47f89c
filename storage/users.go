package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/ory/fosite"
	sqlitedriver "modernc.org/sqlite"
)

// ErrNotFound is the error of every lookup that finds no row. It is
// fosite.ErrNotFound itself (fosite compares it), named here so that callers
// outside the OAuth code need not import fosite to test for it.
var ErrNotFound = fosite.ErrNotFound

// Which unique key of users a CreateUser collided with. Each wraps
// ErrAlreadyExists.
var (
	ErrUsernameExists    = fmt.Errorf("%w: username", ErrAlreadyExists)
	ErrEmailExists       = fmt.Errorf("%w: email", ErrAlreadyExists)
	ErrArbitraryIDExists = fmt.Errorf("%w: arbitrary_id", ErrAlreadyExists)
)

// Column widths of users, in characters.
const (
	maxUserIDLen    = 64
	maxUserTextLen  = 255 // realm, username, email, names, arbitrary_id, environment_guid and the norms
	maxRoleLen      = 64
	maxStatusLen    = 16
	maxPasswordHash = 255
)

// User is a row of users. The caller (package accounts) validates and
// normalises; the store only refuses what its columns cannot hold. Empty
// UsernameNorm, EmailNorm, ArbitraryID, EnvironmentGUID and PasswordHash are
// stored as NULL, so that empty values never collide in the unique keys.
type User struct {
	ID    string
	Realm string
	// Username and Email are as the user gave them; the *Norm columns hold
	// the NFC-normalised, lower-cased forms that are unique within a realm.
	Username, UsernameNorm string
	Email, EmailNorm       string
	// ArbitraryID is unique within EnvironmentGUID, byte for byte.
	ArbitraryID, EnvironmentGUID string
	FirstName, LastName          string
	Role                         string
	Status                       string
	PasswordHash                 string // a PHC string, or "" for none
	CreatedAt, UpdatedAt         time.Time
}

// userRow is a User as GORM reads and writes it: the nullable columns as
// pointers.
type userRow struct {
	ID              string    `gorm:"column:id;primaryKey"`
	Realm           string    `gorm:"column:realm"`
	Username        string    `gorm:"column:username"`
	UsernameNorm    *string   `gorm:"column:username_norm"`
	Email           string    `gorm:"column:email"`
	EmailNorm       *string   `gorm:"column:email_norm"`
	ArbitraryID     *string   `gorm:"column:arbitrary_id"`
	EnvironmentGUID *string   `gorm:"column:environment_guid"`
	FirstName       string    `gorm:"column:first_name"`
	LastName        string    `gorm:"column:last_name"`
	Role            string    `gorm:"column:role"`
	Status          string    `gorm:"column:status"`
	PasswordHash    *string   `gorm:"column:password_hash"`
	CreatedAt       time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt       time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (userRow) TableName() string { return "users" }

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func emptyIfNull(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (r *userRow) user() *User {
	return &User{
		ID:              r.ID,
		Realm:           r.Realm,
		Username:        r.Username,
		UsernameNorm:    emptyIfNull(r.UsernameNorm),
		Email:           r.Email,
		EmailNorm:       emptyIfNull(r.EmailNorm),
		ArbitraryID:     emptyIfNull(r.ArbitraryID),
		EnvironmentGUID: emptyIfNull(r.EnvironmentGUID),
		FirstName:       r.FirstName,
		LastName:        r.LastName,
		Role:            r.Role,
		Status:          r.Status,
		PasswordHash:    emptyIfNull(r.PasswordHash),
		CreatedAt:       r.CreatedAt.UTC(),
		UpdatedAt:       r.UpdatedAt.UTC(),
	}
}

// checkUserFields refuses, before any query, what the columns cannot hold.
func checkUserFields(op string, u *User) error {
	if err := checkColumns(op, []column{
		{"id", u.ID, maxUserIDLen, true},
		{"realm", u.Realm, maxUserTextLen, true},
		{"username", u.Username, maxUserTextLen, false},
		{"username_norm", u.UsernameNorm, maxUserTextLen, false},
		{"email", u.Email, maxUserTextLen, false},
		{"email_norm", u.EmailNorm, maxUserTextLen, false},
		{"arbitrary_id", u.ArbitraryID, maxUserTextLen, false},
		{"environment_guid", u.EnvironmentGUID, maxUserTextLen, false},
		{"first_name", u.FirstName, maxUserTextLen, false},
		{"last_name", u.LastName, maxUserTextLen, false},
		{"role", u.Role, maxRoleLen, true},
		{"status", u.Status, maxStatusLen, true},
		{"password_hash", u.PasswordHash, maxPasswordHash, false},
	}...); err != nil {
		return err
	}
	if (u.ArbitraryID == "") != (u.EnvironmentGUID == "") {
		return fmt.Errorf("%w: %s: arbitrary_id and environment_guid go together", ErrInvalidInput, op)
	}
	if u.CreatedAt.IsZero() || u.UpdatedAt.IsZero() {
		return fmt.Errorf("%w: %s: created_at and updated_at are required", ErrInvalidInput, op)
	}
	return nil
}

// CreateUser inserts u. A collision on a unique key gives ErrUsernameExists,
// ErrEmailExists or ErrArbitraryIDExists (each an ErrAlreadyExists); an id
// already taken gives ErrAlreadyExists. Values the columns cannot hold are
// ErrInvalidInput, before any query.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	const op = "create user"
	if err := checkUserFields(op, u); err != nil {
		return err
	}
	row := &userRow{
		ID:              u.ID,
		Realm:           u.Realm,
		Username:        u.Username,
		UsernameNorm:    nullIfEmpty(u.UsernameNorm),
		Email:           u.Email,
		EmailNorm:       nullIfEmpty(u.EmailNorm),
		ArbitraryID:     nullIfEmpty(u.ArbitraryID),
		EnvironmentGUID: nullIfEmpty(u.EnvironmentGUID),
		FirstName:       u.FirstName,
		LastName:        u.LastName,
		Role:            u.Role,
		Status:          u.Status,
		PasswordHash:    nullIfEmpty(u.PasswordHash),
		CreatedAt:       clampTime(u.CreatedAt),
		UpdatedAt:       clampTime(u.UpdatedAt),
	}
	return mapUserErr(op, s.db(ctx).Create(row).Error)
}

// mapUserErr is mapErr for writes of users: a collision on one of its
// unique keys names the key (ErrUsernameExists, ErrEmailExists,
// ErrArbitraryIDExists).
func mapUserErr(op string, err error) error {
	if err != nil && isDuplicate(err) {
		switch duplicateKey(err) {
		case "username_norm":
			return fmt.Errorf("storage: %s: %w", op, ErrUsernameExists)
		case "email_norm":
			return fmt.Errorf("storage: %s: %w", op, ErrEmailExists)
		case "arbitrary_id":
			return fmt.Errorf("storage: %s: %w", op, ErrArbitraryIDExists)
		}
	}
	return mapErr(op, err)
}

// duplicateKey names the unique key of users that a duplicate-key error is
// about, from the driver's message: MySQL says "Duplicate entry '…' for key
// 'users_username_norm'" (MySQL 8 prefixes the table), SQLite "UNIQUE
// constraint failed: users.realm, users.username_norm". Only the part naming
// the key is read, never the duplicate value (which may be any text).
func duplicateKey(err error) string {
	var keyPart string
	if myErr, ok := errors.AsType[*gomysql.MySQLError](err); ok {
		i := strings.LastIndex(myErr.Message, " for key ")
		if i < 0 {
			return ""
		}
		keyPart = myErr.Message[i:]
	} else if liteErr, ok := errors.AsType[*sqlitedriver.Error](err); ok {
		msg := liteErr.Error()
		i := strings.Index(msg, "constraint failed: ")
		if i < 0 {
			return ""
		}
		keyPart = msg[i:]
	}
	for _, key := range []string{"username_norm", "email_norm", "arbitrary_id"} {
		if strings.Contains(keyPart, key) {
			return key
		}
	}
	return ""
}

// GetUser returns the user id of realm, or ErrNotFound (also when the user
// belongs to another realm).
func (s *Store) GetUser(ctx context.Context, realm, id string) (*User, error) {
	return s.takeUser(ctx, "get user", "realm = ? AND id = ?", realm, id)
}

// userSelect reads every column of users; takeUser scans them directly
// (every token refresh, userinfo and APT grant reads a user: GORM's
// reflective Take was over a third of an APT grant's CPU).
const userSelect = "SELECT id, realm, username, username_norm, email, email_norm, arbitrary_id, environment_guid, " +
	"first_name, last_name, role, status, password_hash, created_at, updated_at FROM users WHERE "

// takeUser returns the one user matching where (a constant of this package)
// with args, or ErrNotFound.
func (s *Store) takeUser(ctx context.Context, op, where string, args ...any) (*User, error) {
	var r userRow
	err := scanOne(s.reader(ctx).Raw(userSelect+where, args...), &r.ID, &r.Realm, &r.Username, &r.UsernameNorm,
		&r.Email, &r.EmailNorm, &r.ArbitraryID, &r.EnvironmentGUID, &r.FirstName, &r.LastName, &r.Role, &r.Status,
		&r.PasswordHash, &r.CreatedAt, &r.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, mapErr(op, err)
	}
	return r.user(), nil
}

// FindUserByArbitraryID returns the Work API user of the environment guid
// with this arbitrary_id (compared byte for byte), or ErrNotFound.
func (s *Store) FindUserByArbitraryID(ctx context.Context, realm, guid, arbitraryID string) (*User, error) {
	return s.takeUser(ctx, "find user by arbitrary_id", "realm = ? AND environment_guid = ? AND arbitrary_id = ?", realm, guid, arbitraryID)
}

// UserStatus returns the id and status of the one user matching the
// lookup — by id (arbitraryID empty) or by environment guid and
// arbitrary_id — or ErrNotFound. It reads two columns, for the hot paths
// that need only whether a user exists and is active (every refresh and
// APT grant).
func (s *Store) UserStatus(ctx context.Context, realm, id, guid, arbitraryID string) (userID, status string, err error) {
	q, args := "SELECT id, status FROM users WHERE realm = ? AND id = ?", []any{realm, id}
	if arbitraryID != "" {
		q, args = "SELECT id, status FROM users WHERE realm = ? AND environment_guid = ? AND arbitrary_id = ?", []any{realm, guid, arbitraryID}
	}
	err = scanOne(s.reader(ctx).Raw(q, args...), &userID, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrNotFound
	}
	if err != nil {
		return "", "", mapErr("user status", err)
	}
	return userID, status, nil
}

// FindUserByLogin returns the user of realm whose username_norm (when
// byUsername) or email_norm (when byEmail) is norm, in one query. A user
// whose username matches wins over another whose email does. No match is
// ErrNotFound.
func (s *Store) FindUserByLogin(ctx context.Context, realm, norm string, byUsername, byEmail bool) (*User, error) {
	const op = "find user by login"
	if norm == "" || (!byUsername && !byEmail) {
		return nil, ErrNotFound
	}
	q := s.reader(ctx).Where("realm = ?", realm)
	switch {
	case byUsername && byEmail:
		q = q.Where("(username_norm = ? OR email_norm = ?)", norm, norm)
	case byUsername:
		q = q.Where("username_norm = ?", norm)
	default:
		q = q.Where("email_norm = ?", norm)
	}
	var rows []userRow
	if err := q.Limit(2).Find(&rows).Error; err != nil {
		return nil, mapErr(op, err)
	}
	switch {
	case len(rows) == 0:
		return nil, ErrNotFound
	case len(rows) == 2 && emptyIfNull(rows[1].UsernameNorm) == norm && byUsername:
		return rows[1].user(), nil
	}
	return rows[0].user(), nil
}

// ListUsers returns the users of realm, oldest first.
func (s *Store) ListUsers(ctx context.Context, realm string) ([]*User, error) {
	var rows []userRow
	if err := s.reader(ctx).Where("realm = ?", realm).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, mapErr("list users", err)
	}
	out := make([]*User, len(rows))
	for i := range rows {
		out[i] = rows[i].user()
	}
	return out, nil
}

// updateUser sets cols (and updated_at) on the user id of realm; no such
// user is ErrNotFound.
func (s *Store) updateUser(ctx context.Context, op, realm, id string, now time.Time, cols map[string]any) error {
	cols["updated_at"] = clampTime(now)
	res := s.db(ctx).Model(&userRow{}).Where("realm = ? AND id = ?", realm, id).Updates(cols)
	if res.Error != nil {
		return mapUserErr(op, res.Error)
	}
	if res.RowsAffected > 0 {
		return nil
	}
	// MySQL counts changed rows, not matched ones: an update that changed
	// nothing (same values, same microsecond) is not a missing user.
	var n int64
	if err := s.db(ctx).Model(&userRow{}).Where("realm = ? AND id = ?", realm, id).Count(&n).Error; err != nil {
		return mapErr(op, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetUserStatus sets the status of the user id of realm, at now.
func (s *Store) SetUserStatus(ctx context.Context, realm, id, status string, now time.Time) error {
	const op = "set user status"
	if status == "" || utf8.RuneCountInString(status) > maxStatusLen {
		return fmt.Errorf("%w: %s: status must be 1 to %d characters", ErrInvalidInput, op, maxStatusLen)
	}
	return s.updateUser(ctx, op, realm, id, now, map[string]any{"status": status})
}

// SetUserPassword replaces the password hash of the user id of realm, at
// now; "" removes the password.
func (s *Store) SetUserPassword(ctx context.Context, realm, id, hash string, now time.Time) error {
	const op = "set user password"
	if len(hash) > maxPasswordHash {
		return fmt.Errorf("%w: %s: hash longer than %d bytes", ErrInvalidInput, op, maxPasswordHash)
	}
	return s.updateUser(ctx, op, realm, id, now, map[string]any{"password_hash": nullIfEmpty(hash)})
}

// ProfileUpdate names the columns of a user that UpdateUserProfile sets; a
// nil field leaves its column as it is. Username and UsernameNorm go
// together (both nil or both set), and so do Email and EmailNorm. Empty
// norms and an empty PasswordHash are stored as NULL, as CreateUser stores
// them.
type ProfileUpdate struct {
	Username, UsernameNorm *string
	Email, EmailNorm       *string
	FirstName, LastName    *string
	Role                   *string
	PasswordHash           *string // "" removes the password
}

// UpdateUserProfile sets the columns p names, and updated_at to now, on the
// user id of realm, in one statement: columns it does not name keep what a
// concurrent update wrote. A collision on a unique key gives
// ErrUsernameExists or ErrEmailExists; no such user (also another realm's)
// is ErrNotFound; values the columns cannot hold are ErrInvalidInput,
// before any query.
func (s *Store) UpdateUserProfile(ctx context.Context, realm, id string, p ProfileUpdate, now time.Time) error {
	const op = "update user profile"
	if (p.Username == nil) != (p.UsernameNorm == nil) || (p.Email == nil) != (p.EmailNorm == nil) {
		return fmt.Errorf("%w: %s: a username or an email is set together with its norm", ErrInvalidInput, op)
	}
	cols := map[string]any{}
	for _, f := range []struct {
		name     string
		value    *string
		max      int
		required bool // may not be empty
		nullable bool // empty is NULL
	}{
		{"username", p.Username, maxUserTextLen, false, false},
		{"username_norm", p.UsernameNorm, maxUserTextLen, false, true},
		{"email", p.Email, maxUserTextLen, false, false},
		{"email_norm", p.EmailNorm, maxUserTextLen, false, true},
		{"first_name", p.FirstName, maxUserTextLen, false, false},
		{"last_name", p.LastName, maxUserTextLen, false, false},
		{"role", p.Role, maxRoleLen, true, false},
		{"password_hash", p.PasswordHash, maxPasswordHash, false, true},
	} {
		if f.value == nil {
			continue
		}
		v := *f.value
		switch {
		case !utf8.ValidString(v):
			return fmt.Errorf("%w: %s: %s is not valid UTF-8", ErrInvalidInput, op, f.name)
		case f.required && v == "":
			return fmt.Errorf("%w: %s: %s is required", ErrInvalidInput, op, f.name)
		case utf8.RuneCountInString(v) > f.max:
			return fmt.Errorf("%w: %s: %s longer than %d characters", ErrInvalidInput, op, f.name, f.max)
		}
		if f.nullable {
			cols[f.name] = nullIfEmpty(v)
		} else {
			cols[f.name] = v
		}
	}
	return s.updateUser(ctx, op, realm, id, now, cols)
}

// ReplacePasswordHash swaps the user's hash from oldHash to newHash only if
// it is still oldHash (one conditional UPDATE; updated_at is left alone): a
// re-hash with new parameters never overwrites a password set meanwhile. It
// reports whether it replaced it.
func (s *Store) ReplacePasswordHash(ctx context.Context, id, oldHash, newHash string) (bool, error) {
	const op = "replace password hash"
	if oldHash == "" || newHash == "" || len(newHash) > maxPasswordHash {
		return false, fmt.Errorf("%w: %s: hashes must be 1 to %d bytes", ErrInvalidInput, op, maxPasswordHash)
	}
	res := s.db(ctx).Model(&userRow{}).Where("id = ? AND password_hash = ?", id, oldHash).
		Update("password_hash", newHash)
	if res.Error != nil {
		return false, mapErr(op, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// RevokeSubjectExcept revokes every grant of subject except the grant
// keepRequestID, like RevokeSubject (access tokens deleted, refresh tokens
// deactivated) in one transaction. An empty keepRequestID revokes them all.
func (s *Store) RevokeSubjectExcept(ctx context.Context, subject, keepRequestID string) error {
	if keepRequestID == "" {
		return s.RevokeSubject(ctx, subject)
	}
	const op = "revoke subject except"
	return s.InTx(ctx, func(ctx context.Context) error {
		if err := s.db(ctx).Where("subject = ? AND request_id <> ?", subject, keepRequestID).
			Delete(&accessTokenRow{}).Error; err != nil {
			return mapErr(op, err)
		}
		return mapErr(op, s.db(ctx).Model(&refreshTokenRow{}).
			Where("subject = ? AND request_id <> ? AND active = ?", subject, keepRequestID, true).
			Update("active", false).Error)
	})
}
