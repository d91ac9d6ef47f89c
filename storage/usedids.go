package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Kinds of single-use ids, for UseOnce.
const (
	KindClientAssertion = "client_assertion" // jti of a private_key_jwt client assertion
	KindAPT             = "apt"              // jti of an APT
	KindServiceToken    = "service_token"    // nonce of a service token
)

// Column widths of used_ids, in characters.
const (
	maxKindLen   = 32
	maxIssuerLen = 255
	maxIDLen     = 255
)

// UseOnce records that id (a jti or nonce) of kind, issued by issuer, has been
// used, and fails with ErrAlreadyUsed if it was recorded before: one INSERT
// against the unique key (kind, issuer, id), so of any number of concurrent
// uses exactly one succeeds. Ids are compared byte for byte. expiresAt is when
// the id's token expires; the row is purged after it. Arguments longer than
// the columns (id and issuer 255 characters, kind 32), an empty kind or id,
// and a zero expiresAt are refused with ErrInvalidInput before any query.
func (s *Store) UseOnce(ctx context.Context, kind, issuer, id string, expiresAt time.Time) error {
	const op = "use once"
	switch {
	case kind == "" || utf8.RuneCountInString(kind) > maxKindLen:
		return fmt.Errorf("%w: %s: kind must be 1 to %d characters", ErrInvalidInput, op, maxKindLen)
	case utf8.RuneCountInString(issuer) > maxIssuerLen:
		return fmt.Errorf("%w: %s: issuer longer than %d characters", ErrInvalidInput, op, maxIssuerLen)
	case id == "" || utf8.RuneCountInString(id) > maxIDLen:
		return fmt.Errorf("%w: %s: id must be 1 to %d characters", ErrInvalidInput, op, maxIDLen)
	case !utf8.ValidString(kind) || !utf8.ValidString(issuer) || !utf8.ValidString(id):
		return fmt.Errorf("%w: %s: not valid UTF-8", ErrInvalidInput, op)
	case expiresAt.IsZero():
		return fmt.Errorf("%w: %s: no expiry", ErrInvalidInput, op)
	}
	row := &usedIDRow{kind: kind, issuer: issuer, id: id, expiresAt: clampTime(expiresAt)}
	var err error
	if s.txFrom(ctx) != nil {
		err = insertUsedIDs(s.db(ctx), []*usedIDRow{row})
	} else {
		err = s.usedInserts.insert(ctx, row) // group commit (batch.go)
	}
	err = mapErr(op, err)
	if errors.Is(err, ErrAlreadyExists) {
		return fmt.Errorf("%w (%s from %q)", ErrAlreadyUsed, kind, issuer)
	}
	return err
}

// usedIDRow is one row of used_ids to insert.
type usedIDRow struct {
	kind, issuer, id string
	expiresAt        time.Time
}

// insertUsedIDs writes rows as one multi-row INSERT; a duplicate anywhere
// fails the statement (the group committer then retries row by row, so
// exactly the duplicates fail).
func insertUsedIDs(db *gorm.DB, rows []*usedIDRow) error {
	var q strings.Builder
	q.WriteString("INSERT INTO used_ids (kind, issuer, id, expires_at) VALUES ")
	args := make([]any, 0, 4*len(rows))
	for i, r := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("(?,?,?,?)")
		args = append(args, r.kind, r.issuer, r.id, r.expiresAt)
	}
	return db.Exec(q.String(), args...).Error
}
